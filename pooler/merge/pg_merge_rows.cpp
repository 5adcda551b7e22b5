// The rows of one result merged per a MergePlan (pg_merge_rows.h).
#include "pooler/merge/pg_merge_rows.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <unordered_map>

#include "pooler/merge/pg_merge_values.h"

namespace shardpool::protocol::pg::merge {
namespace {

// A DataRow's values: views into the message; nullopt for NULL.
using Cell = std::optional<std::string_view>;

// Reads DataRow `raw` (type byte included) into `out`; false unless it has exactly `n` values.
bool readRow(std::string_view raw, size_t n, std::vector<Cell>& out) {
  Frame f = frameMessage(Bytes(reinterpret_cast<const uint8_t*>(raw.data()), raw.size()));
  if (f.status != FrameStatus::Ok || f.type != 'D' || f.totalSize != raw.size()) return false;
  Reader r(f.body);
  int16_t count = r.i16();
  if (!r.ok() || count < 0 || static_cast<size_t>(count) != n) return false;
  for (size_t i = 0; i < n; ++i) {
    int32_t len = r.i32();
    if (!r.ok() || len < -1) return false;
    if (len == -1) {
      out.emplace_back(std::nullopt);
      continue;
    }
    Bytes b = r.bytes(static_cast<size_t>(len));
    if (!r.ok()) return false;
    out.emplace_back(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
  }
  return r.remaining() == 0;
}

struct Key {
  size_t column = 0;
  ColumnValue value;
  bool descending = false;
  bool nullsFirst = false;
};

class RowMerger {
 public:
  RowMerger(const MergePlan& plan, std::span<const Column> columns,
            std::span<const std::vector<std::string_view>> shardRows, const MergeOptions& options)
      : plan_(plan), columns_(columns), shardRows_(shardRows), options_(options) {}

  RowsOutcome run();

 private:
  bool refuse(std::string what, std::string hint = {}) {
    out_.status = MergeStatus::Refused;
    out_.sqlstate = "0A000";
    out_.message = refusalMessage(what);
    out_.hint = std::move(hint);
    return false;
  }
  bool malformed(int shard) {
    out_.status = MergeStatus::Malformed;
    out_.sqlstate = "08P01";
    out_.badShard = shard;
    out_.message = "a DataRow that does not match its RowDescription";
    return false;
  }
  void emitRaw(std::string_view raw) {
    out_.bytes.append(raw);
    ++out_.rows;
  }
  bool readAll();
  bool resolveKeys();
  int compareCells(const Cell* a, const Cell* b, bool& bad) const;
  bool sortMerge();
  bool aggregate();
  int64_t limit() const { return plan_.limit ? std::max<int64_t>(*plan_.limit, 0) : INT64_MAX; }

  const MergePlan& plan_;
  std::span<const Column> columns_;
  std::span<const std::vector<std::string_view>> shardRows_;
  const MergeOptions& options_;
  RowsOutcome out_;
  std::vector<Key> keys_;
  std::vector<std::vector<Cell>> cells_;  // per shard: its rows' values, row after row
};

RowsOutcome RowMerger::run() {
  switch (plan_.kind) {
    case MergeKind::Concat:
    case MergeKind::Refuse:
    case MergeKind::Limit: {
      int64_t left = plan_.kind == MergeKind::Limit ? limit() : INT64_MAX;
      for (const auto& rows : shardRows_) {
        for (std::string_view raw : rows) {
          if (left-- <= 0) return std::move(out_);
          emitRaw(raw);
        }
      }
      return std::move(out_);
    }
    case MergeKind::Sort:
    case MergeKind::Aggregate:
      break;
  }
  size_t total = 0;
  for (const auto& rows : shardRows_) total += rows.size();
  if (total == 0) return std::move(out_);
  if (columns_.empty()) {
    refuse("rows whose RowDescription the batch does not carry",
           "Describe the portal (not only the statement) before Execute");
    return std::move(out_);
  }
  if (!readAll()) return std::move(out_);
  if (plan_.kind == MergeKind::Sort) {
    if (resolveKeys()) sortMerge();
  } else {
    aggregate();
  }
  if (out_.status != MergeStatus::Ok) {
    out_.bytes.clear();
    out_.rows = 0;
  }
  return std::move(out_);
}

bool RowMerger::readAll() {
  cells_.resize(shardRows_.size());
  for (size_t s = 0; s < shardRows_.size(); ++s) {
    cells_[s].reserve(shardRows_[s].size() * columns_.size());
    for (std::string_view raw : shardRows_[s]) {
      if (!readRow(raw, columns_.size(), cells_[s])) return malformed(static_cast<int>(s));
    }
  }
  return true;
}

bool RowMerger::resolveKeys() {
  for (const SortKey& k : plan_.sortKeys) {
    int col = -1;
    std::string_view name = !k.starColumn.empty() ? k.starColumn : k.outputName;
    int matches = 0;
    for (size_t i = 0; i < columns_.size(); ++i) {
      if (!name.empty() && columns_[i].name == name && matches++ == 0) col = static_cast<int>(i);
    }
    if (!k.starColumn.empty() && matches != 1) {
      return refuse(fmt::format("ORDER BY {} where the output has {} columns of that name",
                                k.starColumn, matches),
                    "name the columns in the select list");
    }
    if (matches == 0) col = k.column;
    if (col < 0 || static_cast<size_t>(col) >= columns_.size()) {
      return refuse("an ORDER BY key that is not in the select list",
                    "put the expression in the select list, or refer to it by position");
    }
    std::string_view collation = k.collation;
    if (collation.empty() && static_cast<size_t>(col) < plan_.columnCollations.size()) {
      collation = plan_.columnCollations[static_cast<size_t>(col)];
    }
    std::string why;
    auto value = orderingFor(columns_[col].typeOid, columns_[col].format, collation, options_, why);
    if (!value) {
      bool text = why.find("COLLATE") != std::string::npos;
      return refuse(fmt::format("ORDER BY on {}", why),
                    text ? "add COLLATE \"C\" to the ORDER BY key: shardpool cannot know another "
                           "collation's order"
                         : std::string());
    }
    keys_.push_back(Key{static_cast<size_t>(col), *value, k.descending, k.nullsFirst});
  }
  return true;
}

int RowMerger::compareCells(const Cell* a, const Cell* b, bool& bad) const {
  for (const Key& k : keys_) {
    const Cell& x = a[k.column];
    const Cell& y = b[k.column];
    if (!x || !y) {
      if (!x && !y) continue;
      return !x == k.nullsFirst ? -1 : 1;
    }
    int r = compareValues(k.value, *x, *y, bad);
    if (r != 0) return k.descending ? -r : r;
  }
  return 0;
}

// A k-way merge: each shard's rows are already in order; ties go to the earlier shard.
bool RowMerger::sortMerge() {
  size_t n = columns_.size();
  size_t shards = shardRows_.size();
  std::vector<size_t> next(shards, 0);
  std::vector<size_t> heap;
  bool bad = false;
  auto cellsOf = [&](size_t s) { return cells_[s].data() + next[s] * n; };
  // "a after b" for the heap: a max-heap of that is a min-heap of rows.
  auto after = [&](size_t a, size_t b) {
    int r = compareCells(cellsOf(a), cellsOf(b), bad);
    return r != 0 ? r > 0 : a > b;
  };
  for (size_t s = 0; s < shards; ++s) {
    if (!shardRows_[s].empty()) heap.push_back(s);
  }
  std::make_heap(heap.begin(), heap.end(), after);
  int64_t left = limit();
  std::vector<Cell> last;  // WITH TIES: the last row within the limit
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), after);
    size_t s = heap.back();
    const Cell* row = cellsOf(s);
    if (left <= 0) {
      if (!plan_.withTies || last.empty() || compareCells(row, last.data(), bad) != 0) break;
    } else {
      --left;
      if (plan_.withTies && left == 0) last.assign(row, row + n);
    }
    emitRaw(shardRows_[s][next[s]]);
    if (++next[s] < shardRows_[s].size()) {
      // A shard whose rows are out of order by these comparisons sorts differently than
      // shardpool reads its type: merging would be silently wrong.
      if (compareCells(row, cellsOf(s), bad) > 0) {
        return refuse(
            fmt::format("ORDER BY on column {} (\"{}\") whose order on a shard differs "
                        "from shardpool's reading of its type",
                        keys_[0].column + 1, columns_[keys_[0].column].name));
      }
      std::push_heap(heap.begin(), heap.end(), after);
    } else {
      heap.pop_back();
    }
  }
  if (bad) {
    return refuse("ORDER BY on values shardpool could not read",
                  "the key column's text is not in the form its type outputs");
  }
  return true;
}

// ---- aggregates ----------------------------------------------------------------------------

struct Accumulator {
  Cell value;           // Key (first seen), Min, Max; Sum over numeric: in `text`
  bool any = false;     // a non-NULL input was seen
  int64_t integer = 0;  // Count; Sum over int8
  std::string text;     // Sum over numeric
  bool flag = false;    // BoolAnd / BoolOr
};

enum class SumType : uint8_t { Integer, Numeric };

bool RowMerger::aggregate() {
  size_t n = columns_.size();
  std::vector<ColumnOp> ops = plan_.columns;
  if (ops.empty()) ops.assign(n, ColumnOp::Key);
  if (ops.size() != n) {
    return refuse(
        fmt::format("a select list of {} entries that returns {} columns", ops.size(), n));
  }
  std::vector<ColumnValue> values(n);
  std::vector<SumType> sums(n, SumType::Integer);
  for (size_t c = 0; c < n; ++c) {
    const Column& col = columns_[c];
    std::string why;
    std::optional<ColumnValue> v;
    switch (ops[c]) {
      case ColumnOp::Key:
        if (!plan_.grouped) {  // not compared: the first shard's value is kept
          v = ColumnValue{};
          break;
        }
        v = groupingFor(col.typeOid, col.format, options_, why);
        if (!v) return refuse(fmt::format("GROUP BY or DISTINCT on {}", why));
        break;
      case ColumnOp::Count:
      case ColumnOp::Sum:
        if (col.typeOid == oid::kInt8) {
          v = ColumnValue{ValueKind::Integer, col.format == 1};
        } else if (ops[c] == ColumnOp::Sum && col.typeOid == oid::kNumeric && col.format == 0) {
          v = ColumnValue{ValueKind::Numeric, false};
          sums[c] = SumType::Numeric;
        } else {
          return refuse(fmt::format("{}() of type {}{}", ops[c] == ColumnOp::Sum ? "sum" : "count",
                                    col.format == 1 ? "binary " : "", typeName(col.typeOid)),
                        ops[c] == ColumnOp::Sum
                            ? "only sums of integer and numeric columns are exact across shards"
                            : "");
        }
        break;
      case ColumnOp::Min:
      case ColumnOp::Max: {
        std::string_view collation =
            c < plan_.columnCollations.size() ? std::string_view(plan_.columnCollations[c]) : "";
        v = orderingFor(col.typeOid, col.format, collation, options_, why);
        if (!v) {
          return refuse(fmt::format("{}() of {}", ops[c] == ColumnOp::Min ? "min" : "max", why),
                        why.find("COLLATE") != std::string::npos
                            ? "write the argument with COLLATE \"C\": min(name COLLATE \"C\")"
                            : "");
        }
        break;
      }
      case ColumnOp::BoolAnd:
      case ColumnOp::BoolOr:
        if (col.typeOid != oid::kBool) return refuse("bool_and()/bool_or() of another type");
        v = ColumnValue{ValueKind::Bool, col.format == 1};
        break;
    }
    values[c] = *v;
  }

  std::vector<std::vector<Accumulator>> groups;
  std::unordered_map<std::string, size_t> index;
  std::string key;
  bool bad = false;
  for (size_t s = 0; s < shardRows_.size() && !bad; ++s) {
    for (size_t r = 0; r < shardRows_[s].size(); ++r) {
      const Cell* row = cells_[s].data() + r * n;
      key.clear();
      if (plan_.grouped) {
        for (size_t c = 0; c < n; ++c) {
          if (ops[c] != ColumnOp::Key) continue;
          if (!row[c]) {
            key.push_back('N');
          } else if (!appendKey(values[c], *row[c], key)) {
            return malformed(static_cast<int>(s));
          }
        }
      }
      auto [it, fresh] = index.try_emplace(key, groups.size());
      if (fresh) groups.emplace_back(n);
      std::vector<Accumulator>& g = groups[it->second];
      for (size_t c = 0; c < n && !bad; ++c) {
        Accumulator& a = g[c];
        const Cell& v = row[c];
        if (ops[c] == ColumnOp::Key) {
          if (fresh) a.value = v;
          continue;
        }
        if (!v) continue;  // aggregates skip NULL (count never returns one)
        switch (ops[c]) {
          case ColumnOp::Key:
            break;
          case ColumnOp::Count:
          case ColumnOp::Sum:
            if (sums[c] == SumType::Numeric) {
              auto x = parseDecimal(*v);
              auto y = parseDecimal(a.any ? std::string_view(a.text) : std::string_view("0"));
              if (!x || !y) return malformed(static_cast<int>(s));
              a.text = addDecimal(*y, *x);
            } else {
              auto x = readInteger(values[c], *v);
              if (!x) return malformed(static_cast<int>(s));
              if (__builtin_add_overflow(a.integer, *x, &a.integer)) {
                out_.status = MergeStatus::Refused;
                out_.sqlstate = "22003";
                out_.message = "bigint out of range";
                return false;
              }
            }
            break;
          case ColumnOp::Min:
          case ColumnOp::Max:
            if (!a.any) {
              a.value = v;
            } else {
              int r2 = compareValues(values[c], *v, *a.value, bad);
              if (ops[c] == ColumnOp::Min ? r2 < 0 : r2 > 0) a.value = v;
            }
            break;
          case ColumnOp::BoolAnd:
          case ColumnOp::BoolOr: {
            auto x = readBool(values[c], *v);
            if (!x) return malformed(static_cast<int>(s));
            bool isAnd = ops[c] == ColumnOp::BoolAnd;
            if (!a.any) a.flag = isAnd;
            a.flag = isAnd ? (a.flag && *x) : (a.flag || *x);
            break;
          }
        }
        a.any = true;
      }
    }
  }
  if (bad) return refuse("min() or max() of values shardpool could not read");

  // The merged rows as values, then ordered and cut.
  std::vector<std::vector<std::optional<std::string>>> rows;
  rows.reserve(groups.size());
  for (const auto& g : groups) {
    auto& row = rows.emplace_back(n);
    for (size_t c = 0; c < n; ++c) {
      const Accumulator& a = g[c];
      bool binary = values[c].binary;
      switch (ops[c]) {
        case ColumnOp::Key:
        case ColumnOp::Min:
        case ColumnOp::Max:
          if (a.value) row[c] = std::string(*a.value);
          break;
        case ColumnOp::Count:
        case ColumnOp::Sum:
          if (!a.any && ops[c] == ColumnOp::Sum) break;  // sum of nothing is NULL
          if (sums[c] == SumType::Numeric) {
            row[c] = a.text;
          } else if (binary) {
            std::string b(8, '\0');
            for (int i = 0; i < 8; ++i) {
              b[7 - i] = static_cast<char>(static_cast<uint64_t>(a.integer) >> (8 * i));
            }
            row[c] = std::move(b);
          } else {
            row[c] = std::to_string(a.integer);
          }
          break;
        case ColumnOp::BoolAnd:
        case ColumnOp::BoolOr:
          if (a.any) row[c] = binary ? std::string(1, a.flag ? '\1' : '\0') : (a.flag ? "t" : "f");
          break;
      }
    }
  }
  if (!plan_.sortKeys.empty()) {
    if (!resolveKeys()) return false;
    std::vector<std::vector<Cell>> views(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      for (const auto& v : rows[i]) views[i].emplace_back(v ? Cell(*v) : Cell());
    }
    std::vector<size_t> order(rows.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return compareCells(views[a].data(), views[b].data(), bad) < 0;
    });
    if (bad) return refuse("ORDER BY on values shardpool could not read");
    std::vector<std::vector<std::optional<std::string>>> sorted;
    sorted.reserve(rows.size());
    for (size_t i : order) sorted.push_back(std::move(rows[i]));
    rows = std::move(sorted);
  }
  int64_t left = limit();
  Writer w;
  for (const auto& row : rows) {
    if (left-- <= 0) break;
    putDataRow(w, row);
    ++out_.rows;
  }
  if (w.failed()) return malformed(-1);
  out_.bytes = w.take();
  return true;
}

}  // namespace

RowsOutcome mergeRows(const MergePlan& plan, std::span<const Column> columns,
                      std::span<const std::vector<std::string_view>> shardRows,
                      const MergeOptions& options) {
  return RowMerger(plan, columns, shardRows, options).run();
}

}  // namespace shardpool::protocol::pg::merge
