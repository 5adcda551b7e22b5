// The key -> shard map of directory sharding (sharding_function = "directory"), in a form built
// for millions of keys: integer keys and inclusive integer ranges as one sorted array of
// disjoint intervals (binary search), text keys in a flat open-addressing hash table whose keys
// live in one byte arena. Pure: no I/O. Built once per load (off the data path), then read by
// every worker without locks: lookup() allocates nothing.
//
// The map is built from the file's entries plus the rows read from the directory table
// (pooler/directory_loader.h). A key, point or range, that overlaps another, a repeated text
// key, or a shard that does not exist refuses the whole build with an error naming the entries:
// the caller keeps its previous map.
//
// The default shard given to build() (the directory's default_shard, else the database's) is
// the answer for keys in no entry.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/sharding.h"
#include "router/route.h"
#include "router/shard_hash.h"

namespace shardpool::router {

struct DirectoryBuildResult;

class DirectoryMap final : public KeyLookup {
 public:
  // How to build, and how to name things in errors.
  struct Options {
    uint32_t shardCount = 1;
    std::optional<uint32_t> defaultShard;  // the shard of keys not in the map
    std::vector<std::string> shardNames;   // optional: "shard 1 (\"s1\")" in messages
    std::string tableName;                 // the table the rows come from, for messages
  };

  // Builds the map of `fileEntries` (the configuration's, in file order) and `tableRows` (the
  // directory table's; each a DirectoryEntry too). O(n log n). On error the result has no map.
  [[nodiscard]] static DirectoryBuildResult build(
      const std::vector<config::DirectoryEntry>& fileEntries,
      const std::vector<config::DirectoryEntry>& tableRows, const Options& options);

  // The shard of `key`: its entry's, else the default shard, else nullopt. O(log n) for an
  // integer, O(1) expected for text; no allocation, no lock.
  std::optional<uint32_t> lookup(const KeyValue& key) const;
  // KeyLookup (router/route.h): lookup().
  std::optional<uint32_t> shardOf(const KeyValue& key) const override { return lookup(key); }
  // Only the map: nullopt for a key in no entry (the default shard is not applied).
  std::optional<uint32_t> find(const KeyValue& key) const;

  std::optional<uint32_t> defaultShard() const { return defaultShard_; }
  // What was loaded: every key and range (file and table), the ranges, the text keys.
  size_t entries() const { return entries_; }
  size_t ranges() const { return ranges_; }
  size_t textKeys() const { return textCount_; }
  size_t tableRows() const { return tableRows_; }
  // Disjoint intervals after adjacent ones of the same shard were merged (for tests).
  size_t intervals() const { return intervals_; }
  // The highest shard index any entry or the default names (0 for an empty map).
  uint32_t maxShard() const { return maxShard_; }
  // Approximate heap bytes held.
  size_t memoryBytes() const;

 private:
  struct TextSlot {
    uint32_t offset = kEmpty;  // into textArena_; kEmpty: a free slot
    uint32_t length = 0;
    uint32_t shard = 0;
    uint32_t tag = 0;  // the key hash's high bits, compared before the bytes
  };
  static constexpr uint32_t kEmpty = UINT32_MAX;

  DirectoryMap() = default;
  static uint64_t hashText(std::string_view text);
  std::optional<uint32_t> findInteger(int64_t key) const;
  std::optional<uint32_t> findText(std::string_view key) const;

  // The disjoint intervals [from, to] -> shard, sorted by `from` in descending order and laid
  // out in Eytzinger (breadth-first) order, node k's children at 2k and 2k+1 (index 0 unused):
  // the top levels share a few cache lines, the search is branch-free, and it prefetches the
  // nodes four levels ahead, so that the memory latency of the lower levels overlaps.
  struct IntervalEnd {
    int64_t to;
    uint32_t shard;
  };
  std::vector<int64_t> froms_;     // size intervals + 1
  std::vector<IntervalEnd> ends_;  // same indexes as froms_
  size_t intervals_ = 0;
  std::vector<TextSlot> textSlots_;  // power-of-two size, at most half full; empty when none
  std::string textArena_;
  uint64_t textMask_ = 0;
  std::optional<uint32_t> defaultShard_;
  size_t entries_ = 0, ranges_ = 0, textCount_ = 0, tableRows_ = 0;
  uint32_t maxShard_ = 0;

  friend class DirectoryBuilder;
};

struct DirectoryBuildResult {
  std::unique_ptr<DirectoryMap> map;  // null on error
  std::string error;                  // why, naming the entries and rows at fault
  bool ok() const { return map != nullptr; }
};

// "key 42", "key 'acme'", "range 1000..1999": an entry as messages name it.
std::string describeDirectoryKey(const config::DirectoryEntry& entry);

}  // namespace shardpool::router
