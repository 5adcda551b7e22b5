#include "pooler/mysql/shard_merge.h"

#include <algorithm>
#include <cctype>

#include "pooler/mysql/sql_scan.h"

namespace shardpool::pooler {

using namespace sqlscan;

bool needsMerge(std::string_view sql) {
  constexpr std::string_view kWords[] = {"ORDER",     "GROUP",  "LIMIT", "DISTINCT",
                                         "DISTINCTROW", "HAVING", "UNION", "INTERSECT",
                                         "EXCEPT",    "OFFSET", "OVER",  "WINDOW"};
  constexpr std::string_view kAggregates[] = {
      "COUNT", "SUM",      "MIN",      "MAX",        "AVG",         "GROUP_CONCAT",
      "STD",   "STDDEV",   "STDDEV_POP", "STDDEV_SAMP", "VARIANCE",  "VAR_POP",
      "VAR_SAMP", "BIT_AND", "BIT_OR",  "BIT_XOR",    "JSON_ARRAYAGG", "JSON_OBJECTAGG"};
  size_t i = 0;
  while (i < sql.size()) {
    char c = sql[i];
    if (size_t end = skipComment(sql, i); end != i) {
      i = end;
    } else if (c == '\'' || c == '"' || c == '`') {
      i = skipQuoted(sql, i, c);
    } else if (identChar(c)) {
      size_t start = i;
      while (i < sql.size() && identChar(sql[i])) ++i;
      std::string_view word = sql.substr(start, i - start);
      for (std::string_view w : kWords)
        if (equalsWord(word, w)) return true;
      size_t j = i;
      while (j < sql.size() && std::isspace(static_cast<unsigned char>(sql[j]))) ++j;
      if (j < sql.size() && sql[j] == '(')
        for (std::string_view a : kAggregates)
          if (equalsWord(word, a)) return true;
    } else {
      ++i;
    }
  }
  return false;
}

namespace {

// A decimal number text ("-12", "3.50") as a value scaled by 10^scale.
struct Decimal {
  __int128 value = 0;
  int scale = 0;
};

std::optional<Decimal> parseDecimal(std::string_view s) {
  Decimal d;
  bool negative = false, digits = false, point = false;
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) negative = s[i++] == '-';
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '.' && !point) {
      point = true;
    } else if (c >= '0' && c <= '9') {
      if (d.value > (static_cast<__int128>(1) << 120)) return std::nullopt;
      d.value = d.value * 10 + (c - '0');
      digits = true;
      if (point) ++d.scale;
    } else {
      return std::nullopt;
    }
  }
  if (!digits || d.scale > 30) return std::nullopt;
  if (negative) d.value = -d.value;
  return d;
}

__int128 scaled(const Decimal& d, int scale) {
  __int128 v = d.value;
  for (int k = d.scale; k < scale; ++k) v *= 10;
  return v;
}

std::string formatDecimal(__int128 v, int scale) {
  bool negative = v < 0;
  unsigned __int128 u = negative ? static_cast<unsigned __int128>(-v) : v;
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(u % 10)));
    u /= 10;
  } while (u != 0);
  while (static_cast<int>(digits.size()) <= scale) digits.insert(digits.begin(), '0');
  if (scale > 0) digits.insert(digits.end() - scale, '.');
  return negative ? "-" + digits : digits;
}

// Date and time texts compare as strings: 2026-12-07 10:00:00, 10:00:00.5.
bool dateLike(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || c == '-' || c == ':' || c == ' ' || c == '.')) return false;
  return s.find('-') != std::string_view::npos || s.find(':') != std::string_view::npos;
}

}  // namespace

bool combineAggregate(Aggregate a, std::optional<std::string>& acc,
                      const std::optional<std::string_view>& value) {
  if (!value) return true;  // NULL: no rows there (SUM, MIN, MAX); COUNT is never NULL
  if (!acc) {
    acc = std::string(*value);
    return true;
  }
  auto x = parseDecimal(*acc), y = parseDecimal(*value);
  switch (a) {
    case Aggregate::Count:
    case Aggregate::Sum: {
      if (!x || !y) return false;
      int scale = std::max(x->scale, y->scale);
      __int128 sum = scaled(*x, scale) + scaled(*y, scale);
      acc = formatDecimal(sum, scale);
      return true;
    }
    case Aggregate::Min:
    case Aggregate::Max: {
      int cmp;
      if (x && y) {
        int scale = std::max(x->scale, y->scale);
        __int128 l = scaled(*x, scale), r = scaled(*y, scale);
        cmp = l < r ? -1 : l > r ? 1 : 0;
      } else if (dateLike(*acc) && dateLike(*value) && acc->size() == value->size()) {
        cmp = acc->compare(*value);
      } else {
        return false;
      }
      if ((a == Aggregate::Min && cmp > 0) || (a == Aggregate::Max && cmp < 0))
        acc = std::string(*value);
      return true;
    }
  }
  return false;
}

namespace {

// A position in SQL text that steps over spaces and comments, reads words and (qualified)
// names: the small parser of simpleOrder and simpleGrouping.
struct Cursor {
  std::string_view sql;
  size_t i = 0;
  void skipSpace() {
    for (;;) {
      while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
      if (i >= sql.size()) return;
      size_t end = skipComment(sql, i);
      if (end == i) return;
      i = end;
    }
  }
  std::string_view word() {
    skipSpace();
    size_t start = i;
    while (i < sql.size() && identChar(sql[i])) ++i;
    return sql.substr(start, i - start);
  }
  // a.b.c: its last part; empty when no name is there.
  std::string_view name() {
    std::string_view w = word();
    while (!w.empty() && i < sql.size() && sql[i] == '.') {
      ++i;
      w = word();
    }
    return w;
  }
  bool at(char c) {
    skipSpace();
    return i < sql.size() && sql[i] == c;
  }
  // Nothing but spaces, comments and one `;` up to the end.
  bool atEnd() {
    if (at(';')) ++i;
    skipSpace();
    return i == sql.size();
  }
};

// Where the top-level (outside parentheses, strings and comments) `<first> BY` clause starts
// (its first word) and where its list starts (after BY), and the first top-level LIMIT.
struct Clauses {
  size_t orderStart = std::string_view::npos, orderList = std::string_view::npos;
  size_t groupStart = std::string_view::npos, groupList = std::string_view::npos;
  size_t limit = std::string_view::npos;
};

Clauses topLevelClauses(std::string_view sql, size_t from) {
  Clauses c;
  size_t depth = 0, previousStart = 0;
  std::string_view previous;
  for (size_t i = from; i < sql.size();) {
    char ch = sql[i];
    if (size_t end = skipComment(sql, i); end != i) {
      i = end;
    } else if (ch == '\'' || ch == '"' || ch == '`') {
      i = skipQuoted(sql, i, ch);
    } else if (ch == '(') {
      ++depth;
      ++i;
    } else if (ch == ')') {
      if (depth > 0) --depth;
      ++i;
    } else if (identChar(ch)) {
      size_t start = i;
      while (i < sql.size() && identChar(sql[i])) ++i;
      std::string_view w = sql.substr(start, i - start);
      if (depth == 0 && equalsWord(w, "BY")) {
        if (equalsWord(previous, "ORDER") && c.orderList == std::string_view::npos) {
          c.orderStart = previousStart;
          c.orderList = i;
        } else if (equalsWord(previous, "GROUP") && c.groupList == std::string_view::npos) {
          c.groupStart = previousStart;
          c.groupList = i;
        }
      }
      if (depth == 0 && equalsWord(w, "LIMIT") && c.limit == std::string_view::npos) c.limit = start;
      previous = w;
      previousStart = start;
    } else {
      ++i;
    }
  }
  return c;
}

bool sameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) ==
                  std::toupper(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::optional<OrderSpec> simpleOrder(std::string_view sql) {
  Clauses c = topLevelClauses(sql, 0);
  if (c.orderList == std::string_view::npos && c.limit == std::string_view::npos)
    return std::nullopt;
  size_t head = c.orderList != std::string_view::npos ? c.orderStart : c.limit;
  if (!equalsWord(leadingWords(sql).first, "SELECT") || needsMerge(sql.substr(0, head)))
    return std::nullopt;
  OrderSpec spec;
  Cursor cur{sql, c.orderList != std::string_view::npos ? c.orderList : c.limit};
  if (c.orderList != std::string_view::npos) {
    do {
      OrderItem item;
      if (cur.at('`')) {
        size_t end = skipQuoted(sql, cur.i, '`');
        item.name = std::string(sql.substr(cur.i + 1, end - cur.i - 2));
        cur.i = end;
      } else {
        std::string_view w = cur.name();
        if (w.empty()) return std::nullopt;
        bool number = true;
        for (char ch : w) number = number && ch >= '0' && ch <= '9';
        if (number) {
          if (w.size() > 4) return std::nullopt;
          for (char ch : w) item.position = item.position * 10 + static_cast<size_t>(ch - '0');
          if (item.position == 0) return std::nullopt;
        } else {
          item.name = std::string(w);
        }
      }
      size_t save = cur.i;
      std::string_view dir = cur.word();
      if (equalsWord(dir, "DESC")) {
        item.descending = true;
      } else if (!equalsWord(dir, "ASC")) {
        cur.i = save;
      }
      spec.items.push_back(std::move(item));
    } while (cur.at(',') && ++cur.i);
  }
  auto number = [&]() -> std::optional<uint64_t> {
    std::string_view n = cur.word();
    uint64_t v = 0;
    if (n.empty() || n.size() > 15) return std::nullopt;
    for (char ch : n) {
      if (ch < '0' || ch > '9') return std::nullopt;
      v = v * 10 + static_cast<uint64_t>(ch - '0');
    }
    return v;
  };
  cur.skipSpace();
  size_t save = cur.i;
  if (equalsWord(cur.word(), "LIMIT")) {
    spec.limitBegin = save;
    std::optional<uint64_t> n = number();
    if (!n) return std::nullopt;
    spec.limit = n;
    if (cur.at(',')) {  // LIMIT offset, count
      ++cur.i;
      std::optional<uint64_t> count = number();
      if (!count) return std::nullopt;
      spec.offset = *n;
      spec.limit = count;
    } else {
      size_t before = cur.i;
      if (equalsWord(cur.word(), "OFFSET")) {
        std::optional<uint64_t> offset = number();
        if (!offset) return std::nullopt;
        spec.offset = *offset;
      } else {
        cur.i = before;
      }
    }
    spec.limitEnd = cur.i;
  } else {
    cur.i = save;
  }
  // Nothing else may follow (FOR UPDATE, INTO, ...).
  if (!cur.atEnd()) return std::nullopt;
  return spec;
}

std::optional<int> compareValues(const std::optional<std::string_view>& a,
                                 const std::optional<std::string_view>& b) {
  if (!a || !b) return a ? 1 : b ? -1 : 0;
  auto x = parseDecimal(*a), y = parseDecimal(*b);
  if (x && y) {
    int scale = std::max(x->scale, y->scale);
    __int128 l = scaled(*x, scale), r = scaled(*y, scale);
    return l < r ? -1 : l > r ? 1 : 0;
  }
  if (dateLike(*a) && dateLike(*b) && a->size() == b->size()) {
    int c = a->compare(*b);
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  return std::nullopt;
}

std::optional<Grouping> simpleGrouping(std::string_view sql) {
  Cursor cur{sql};
  if (!equalsWord(cur.word(), "SELECT")) return std::nullopt;
  // SELECT DISTINCT a, b: every column is a group column (GROUP BY a, b).
  size_t afterSelect = cur.i;
  bool distinct = equalsWord(cur.word(), "DISTINCT");
  if (!distinct) cur.i = afterSelect;
  Grouping g;
  std::vector<std::string_view> names, aliases;  // per column (no name for an aggregate)
  for (;;) {
    size_t itemStart = cur.i;
    std::string_view fn = cur.word();
    std::optional<Aggregate> a;
    if (cur.at('(')) {
      if (equalsWord(fn, "COUNT")) {
        a = Aggregate::Count;
      } else if (equalsWord(fn, "SUM")) {
        a = Aggregate::Sum;
      } else if (equalsWord(fn, "MIN")) {
        a = Aggregate::Min;
      } else if (equalsWord(fn, "MAX")) {
        a = Aggregate::Max;
      } else {
        return std::nullopt;
      }
      // The argument: balanced parentheses, strings skipped; DISTINCT or ALL is not merged.
      size_t depth = 0, argStart = cur.i + 1, i = cur.i;
      for (; i < sql.size(); ++i) {
        char ch = sql[i];
        if (ch == '\'' || ch == '"' || ch == '`') {
          i = skipQuoted(sql, i, ch) - 1;
        } else if (ch == '(') {
          ++depth;
        } else if (ch == ')' && --depth == 0) {
          break;
        }
      }
      if (i >= sql.size()) return std::nullopt;
      Leading arg = leadingWords(sql.substr(argStart, i - argStart));
      if (equalsWord(arg.first, "DISTINCT") || equalsWord(arg.first, "ALL")) return std::nullopt;
      cur.i = i + 1;
      names.emplace_back();
    } else {
      cur.i = itemStart;
      std::string_view n = cur.name();
      if (n.empty() || equalsWord(n, "DISTINCT") || equalsWord(n, "DISTINCTROW"))
        return std::nullopt;
      names.push_back(n);
    }
    g.columns.push_back(a);
    std::string_view next = cur.word();
    std::string_view alias;
    if (equalsWord(next, "AS")) {
      alias = cur.word();
      if (alias.empty()) return std::nullopt;
      next = cur.word();
    } else if (!next.empty() && !equalsWord(next, "FROM")) {
      alias = next;
      next = cur.word();
    }
    aliases.push_back(alias);
    if (equalsWord(next, "FROM")) break;
    if (!next.empty() || !cur.at(',')) return std::nullopt;
    ++cur.i;
  }
  Clauses c = topLevelClauses(sql, cur.i);
  bool anyGroupColumn = false;
  for (const auto& column : g.columns) anyGroupColumn = anyGroupColumn || !column;
  if (distinct) {
    if (c.groupList != std::string_view::npos || needsMerge(sql.substr(cur.i))) return std::nullopt;
    for (size_t k = 0; k < g.columns.size(); ++k) {
      if (g.columns[k]) return std::nullopt;  // DISTINCT with aggregates: not merged
      g.groupBy.push_back(k);
    }
    return g;
  }
  if (c.groupList == std::string_view::npos) {
    if (anyGroupColumn || needsMerge(sql.substr(cur.i))) return std::nullopt;
    return g;
  }
  if (needsMerge(sql.substr(cur.i, c.groupStart - cur.i))) return std::nullopt;
  cur.i = c.groupList;
  do {
    std::string_view item;
    size_t position = 0;
    if (cur.at('`')) {
      size_t end = skipQuoted(sql, cur.i, '`');
      item = sql.substr(cur.i + 1, end - cur.i - 2);
      cur.i = end;
    } else {
      item = cur.name();
      if (item.empty()) return std::nullopt;
      bool number = true;
      for (char ch : item) number = number && ch >= '0' && ch <= '9';
      if (number) {
        if (item.size() > 4) return std::nullopt;
        for (char ch : item) position = position * 10 + static_cast<size_t>(ch - '0');
      }
    }
    size_t column = g.columns.size();
    for (size_t k = 0; k < g.columns.size() && column == g.columns.size(); ++k) {
      if (position > 0) {
        if (k + 1 == position) column = k;
      } else if ((!names[k].empty() && sameName(names[k], item)) ||
                 (!aliases[k].empty() && sameName(aliases[k], item))) {
        column = k;
      }
    }
    if (column == g.columns.size() || g.columns[column]) return std::nullopt;
    if (std::find(g.groupBy.begin(), g.groupBy.end(), column) != g.groupBy.end())
      return std::nullopt;
    g.groupBy.push_back(column);
  } while (cur.at(',') && ++cur.i);
  if (!cur.atEnd()) return std::nullopt;  // HAVING, ORDER BY, LIMIT, WITH ROLLUP, ...
  // Every group column is grouped by.
  for (size_t k = 0; k < g.columns.size(); ++k)
    if (!g.columns[k] && std::find(g.groupBy.begin(), g.groupBy.end(), k) == g.groupBy.end())
      return std::nullopt;
  return g;
}

bool groupableValue(std::string_view value) { return parseDecimal(value) || dateLike(value); }

}  // namespace shardpool::pooler
