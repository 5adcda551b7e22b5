#include "router/directory.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <functional>

namespace shardpool::router {

using Kind = config::DirectoryEntry::Kind;

std::string describeDirectoryKey(const config::DirectoryEntry& entry) {
  switch (entry.kind) {
    case Kind::Integer:
      return fmt::format("key {}", entry.from);
    case Kind::Text:
      return fmt::format("key '{}'", entry.text);
    case Kind::Range:
      return fmt::format("range {}..{}", entry.from, entry.to);
  }
  return "entry";
}

// Builds one DirectoryMap; collects the problems of the input (a few in full, the rest counted).
class DirectoryBuilder {
 public:
  DirectoryBuilder(const std::vector<config::DirectoryEntry>& file,
                   const std::vector<config::DirectoryEntry>& table,
                   const DirectoryMap::Options& options)
      : file_(file), table_(table), options_(options), map_(new DirectoryMap) {}

  DirectoryBuildResult run() {
    map_->defaultShard_ = options_.defaultShard;
    if (options_.defaultShard) checkShard(*options_.defaultShard, "the default shard");
    size_t total = file_.size() + table_.size();
    if (total >= UINT32_MAX)
      problem(fmt::format("{} entries are more than a directory holds", total));
    if (!problems_) {
      buildIntegers();
      buildText();
    }
    if (problems_) {
      std::string error = fmt::format("{}", fmt::join(messages_, "; "));
      if (problems_ > messages_.size())
        error += fmt::format(" (and {} more problem(s))", problems_ - messages_.size());
      return {nullptr, std::move(error)};
    }
    map_->entries_ = total;
    map_->tableRows_ = table_.size();
    return {std::move(map_), {}};
  }

 private:
  struct IntItem {
    int64_t from, to;
    uint32_t shard, src;
  };
  static constexpr size_t kDetailed = 3;

  const config::DirectoryEntry& entry(uint32_t src) const {
    return src < file_.size() ? file_[src] : table_[src - file_.size()];
  }

  // "range 1000..1999 (file entries[2])", "key 'acme' (table shard_directory)"
  std::string where(uint32_t src) const {
    const config::DirectoryEntry& e = entry(src);
    if (src < file_.size())
      return fmt::format("{} (file entries[{}])", describeDirectoryKey(e), src);
    if (options_.tableName.empty()) return fmt::format("{} (table row)", describeDirectoryKey(e));
    return fmt::format("{} (table {})", describeDirectoryKey(e), options_.tableName);
  }

  void problem(std::string message) {
    if (problems_++ < kDetailed) messages_.push_back(std::move(message));
  }

  std::string shardName(uint32_t shard) const {
    if (shard < options_.shardNames.size())
      return fmt::format("shard {} (\"{}\")", shard, options_.shardNames[shard]);
    return fmt::format("shard {}", shard);
  }

  bool checkShard(uint32_t shard, std::string_view what) {
    if (shard < options_.shardCount) {
      map_->maxShard_ = std::max(map_->maxShard_, shard);
      return true;
    }
    problem(fmt::format("{}: shard {} does not exist (the database has {} shard(s))", what, shard,
                        options_.shardCount));
    return false;
  }

  void buildIntegers() {
    std::vector<IntItem> items;
    size_t total = file_.size() + table_.size();
    for (uint32_t src = 0; src < total; ++src) {
      const config::DirectoryEntry& e = entry(src);
      if (e.kind == Kind::Text) continue;
      if (e.kind == Kind::Range) ++map_->ranges_;
      if (e.kind == Kind::Range && e.from > e.to) {
        problem(fmt::format("{}: the first key is greater than the last", where(src)));
        continue;
      }
      if (!checkShard(e.shard, where(src))) continue;
      if (items.empty()) items.reserve(total);
      int64_t to = e.kind == Kind::Integer ? e.from : e.to;
      items.push_back({e.from, to, e.shard, src});
    }
    std::sort(items.begin(), items.end(), [](const IntItem& a, const IntItem& b) {
      return a.from < b.from || (a.from == b.from && a.src < b.src);
    });
    // Sorted by first key, the intervals are disjoint exactly when each one ends before the
    // next one starts. An overlap is reported against the interval reaching furthest so far.
    size_t reach = 0;
    for (size_t i = 1; i < items.size(); ++i) {
      if (items[i].from <= items[reach].to) {
        problem(fmt::format("{} overlaps {}", where(items[i].src), where(items[reach].src)));
        if (items[i].to > items[reach].to) reach = i;
        continue;
      }
      reach = i;
    }
    if (problems_) return;
    // Adjacent intervals of one shard become one (dense point keys shrink to a few intervals).
    std::vector<IntItem> merged;
    merged.reserve(items.size());
    for (const IntItem& it : items) {
      if (!merged.empty() && merged.back().shard == it.shard && merged.back().to != INT64_MAX &&
          merged.back().to + 1 == it.from) {
        merged.back().to = it.to;
        continue;
      }
      merged.push_back(it);
    }
    items = {};
    layOut(merged);
  }

  // Eytzinger order of the intervals sorted by `from` descending: an in-order walk of the
  // implicit tree (children of k at 2k, 2k+1) visits them in that order.
  void layOut(const std::vector<IntItem>& ascending) {
    size_t n = ascending.size();
    map_->intervals_ = n;
    if (n == 0) return;
    map_->froms_.assign(n + 1, 0);
    map_->ends_.assign(n + 1, {});
    size_t next = n;  // ascending[next - 1] is the next one in descending order
    size_t k = 1;
    std::vector<size_t> stack;
    while (k <= n || !stack.empty()) {
      if (k <= n) {
        stack.push_back(k);
        k = 2 * k;
        continue;
      }
      k = stack.back();
      stack.pop_back();
      const IntItem& it = ascending[--next];
      map_->froms_[k] = it.from;
      map_->ends_[k] = {it.to, it.shard};
      k = 2 * k + 1;
    }
  }

  void buildText() {
    size_t total = file_.size() + table_.size();
    size_t count = 0, bytes = 0;
    for (uint32_t src = 0; src < total; ++src) {
      const config::DirectoryEntry& e = entry(src);
      if (e.kind != Kind::Text) continue;
      ++count;
      bytes += e.text.size();
    }
    map_->textCount_ = count;
    if (count == 0) return;
    if (bytes >= UINT32_MAX) {
      problem(
          fmt::format("the text keys take {} bytes, more than a directory holds (4 GiB)", bytes));
      return;
    }
    size_t capacity = std::bit_ceil(std::max<size_t>(16, count * 2));  // at most half full
    map_->textSlots_.assign(capacity, {});
    map_->textMask_ = capacity - 1;
    map_->textArena_.reserve(bytes);
    std::vector<uint32_t> slotSrc(capacity, 0);  // for duplicate messages only
    for (uint32_t src = 0; src < total; ++src) {
      const config::DirectoryEntry& e = entry(src);
      if (e.kind != Kind::Text) continue;
      if (e.text.empty()) {
        problem(fmt::format("{}: a text key may not be empty", where(src)));
        continue;
      }
      if (!checkShard(e.shard, where(src))) continue;
      uint64_t h = DirectoryMap::hashText(e.text);
      auto tag = static_cast<uint32_t>(h >> 32);
      for (uint64_t i = h & map_->textMask_;; i = (i + 1) & map_->textMask_) {
        DirectoryMap::TextSlot& slot = map_->textSlots_[i];
        if (slot.offset == DirectoryMap::kEmpty) {
          slot = {static_cast<uint32_t>(map_->textArena_.size()),
                  static_cast<uint32_t>(e.text.size()), e.shard, tag};
          map_->textArena_.append(e.text);
          slotSrc[i] = src;
          break;
        }
        if (slot.tag == tag && slot.length == e.text.size() &&
            std::memcmp(map_->textArena_.data() + slot.offset, e.text.data(), slot.length) == 0) {
          problem(fmt::format("{} repeats {}", where(src), where(slotSrc[i])));
          break;
        }
      }
    }
  }

  const std::vector<config::DirectoryEntry>& file_;
  const std::vector<config::DirectoryEntry>& table_;
  const DirectoryMap::Options& options_;
  std::unique_ptr<DirectoryMap> map_;
  size_t problems_ = 0;
  std::vector<std::string> messages_;
};

DirectoryBuildResult DirectoryMap::build(const std::vector<config::DirectoryEntry>& fileEntries,
                                         const std::vector<config::DirectoryEntry>& tableRows,
                                         const Options& options) {
  return DirectoryBuilder(fileEntries, tableRows, options).run();
}

uint64_t DirectoryMap::hashText(std::string_view text) {
  return std::hash<std::string_view>{}(text);
}

std::optional<uint32_t> DirectoryMap::findInteger(int64_t key) const {
  // The first node, in descending order, whose interval starts at or before `key`: go right
  // while the node starts after it. The path's last left turn is the answer (k = 0: none).
  const size_t n = intervals_;
  const int64_t* froms = froms_.data();
  size_t k = 1;
  while (k <= n) {
    __builtin_prefetch(froms + std::min(16 * k, n));
    k = 2 * k + static_cast<size_t>(froms[k] > key);
  }
  k >>= std::countr_zero(~k) + 1;
  if (k == 0) return std::nullopt;
  const IntervalEnd& end = ends_[k];
  if (key > end.to) return std::nullopt;
  return end.shard;
}

std::optional<uint32_t> DirectoryMap::findText(std::string_view key) const {
  if (textSlots_.empty()) return std::nullopt;
  uint64_t h = hashText(key);
  auto tag = static_cast<uint32_t>(h >> 32);
  for (uint64_t i = h & textMask_;; i = (i + 1) & textMask_) {
    const TextSlot& slot = textSlots_[i];
    if (slot.offset == kEmpty) return std::nullopt;
    if (slot.tag == tag && slot.length == key.size() &&
        std::memcmp(textArena_.data() + slot.offset, key.data(), key.size()) == 0)
      return slot.shard;
  }
}

std::optional<uint32_t> DirectoryMap::find(const KeyValue& key) const {
  switch (key.kind) {
    case KeyValue::Kind::Integer:
      return findInteger(key.integer);
    case KeyValue::Kind::Text:
      return findText(key.text);
  }
  return std::nullopt;
}

std::optional<uint32_t> DirectoryMap::lookup(const KeyValue& key) const {
  if (auto shard = find(key)) return shard;
  return defaultShard_;
}

size_t DirectoryMap::memoryBytes() const {
  return froms_.capacity() * sizeof(int64_t) + ends_.capacity() * sizeof(IntervalEnd) +
         textSlots_.capacity() * sizeof(TextSlot) + textArena_.capacity();
}

}  // namespace shardpool::router
