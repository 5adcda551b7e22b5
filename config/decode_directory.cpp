// [databases.<name>.directory]: the key -> shard map of directory sharding, from the file and/or
// a PostgreSQL table. Entries from the file must not overlap; each overlap is reported at the
// later entry and names the earlier one's place.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "config/decode_sharding.h"
#include "config/suggest.h"
#include "config/text.h"
#include "config/tree_lookup.h"

namespace shardpool::config {

namespace {

constexpr std::string_view kDirectoryKeys[] = {"entries", "default_shard",    "conninfo",
                                               "table",   "refresh_interval", "notify_channel"};
constexpr std::string_view kSourceKeys[] = {"conninfo", "table", "refresh_interval",
                                            "notify_channel"};
constexpr std::string_view kEntryKeys[] = {"key", "from", "to", "shard"};
constexpr std::string_view kEntryShapes =
    "{ key = 42, shard = 1 }, { key = \"acme\", shard = \"s0\" } or { from = 1000, to = 1999, "
    "shard = 1 }";

// An entry that decoded, with where it is written.
struct Placed {
  DirectoryEntry entry;
  std::string path;
  toml::source_region where;
};

std::optional<int64_t> integerKey(const ValueReader& v) {
  if (const auto* n = v.node().as_integer()) return n->get();
  v.error(fmt::format("expected an integer, got {}", describe(v.node())));
  return std::nullopt;
}

std::optional<DirectoryEntry> readEntry(const toml::table& table, const std::string& path,
                                        const std::vector<Shard>& shards, Diagnostics& diag) {
  DirectoryEntry entry;
  bool ok = true;
  bool unknownKey = false;  // a misspelt key explains a missing one: reported alone
  for (auto&& [key, node] : table) {
    ValueReader v(node, joinKeyPath(path, key.str()), diag);
    if (key.str() == "key") {
      if (const auto* n = node.as_integer()) {
        entry.kind = DirectoryEntry::Kind::Integer;
        entry.from = entry.to = n->get();
      } else if (const auto* s = node.as_string(); s != nullptr && !s->get().empty()) {
        entry.kind = DirectoryEntry::Kind::Text;
        entry.text = s->get();
      } else {
        v.error(fmt::format("expected an integer or a non-empty string, got {}", describe(node)));
        ok = false;
      }
    } else if (key.str() == "from" || key.str() == "to") {
      auto n = integerKey(v);
      if (!n)
        ok = false;
      else
        (key.str() == "from" ? entry.from : entry.to) = *n;
    } else if (key.str() == "shard") {
      if (auto shard = readShardRef(v, shards))
        entry.shard = *shard;
      else
        ok = false;
    } else {
      diag.at(key.source(), v.keyPath(), unknownNameMessage("key", key.str(), kEntryKeys));
      unknownKey = true;
    }
  }
  if (unknownKey) return std::nullopt;
  bool hasKey = table.contains("key");
  bool hasFrom = table.contains("from");
  bool hasTo = table.contains("to");
  std::string_view problem;
  if (hasKey && (hasFrom || hasTo)) {
    problem = "an entry has either key (one key) or from and to (a range), not both";
  } else if (!hasKey && hasFrom != hasTo) {
    problem = "a range needs both from and to (the first and last keys, inclusive)";
  } else if (!hasKey && !hasFrom) {
    problem = "an entry needs key (one key) or from and to (a range)";
  } else if (!table.contains("shard")) {
    problem = "an entry needs a shard (an index or a name)";
  }
  if (!problem.empty()) {
    diag.at(table.source(), path, std::string(problem));
    return std::nullopt;
  }
  if (!ok) return std::nullopt;
  if (hasFrom) {
    entry.kind = DirectoryEntry::Kind::Range;
    if (entry.from > entry.to) {
      diag.at(valueRegion(&table, "to"), joinKeyPath(path, "to"),
              fmt::format("the range ends before it starts: to {} is less than from {}", entry.to,
                          entry.from));
      return std::nullopt;
    }
  }
  return entry;
}

std::string describeEntry(const DirectoryEntry& e) {
  switch (e.kind) {
    case DirectoryEntry::Kind::Integer:
      return fmt::format("key {}", e.from);
    case DirectoryEntry::Kind::Text:
      return fmt::format("key {}", quote(e.text));
    case DirectoryEntry::Kind::Range:
      return fmt::format("the range {} to {}", e.from, e.to);
  }
  return "an entry";
}

// Reports `later` (in file order) as clashing with `earlier`.
void reportClash(const Placed& later, const Placed& earlier, Diagnostics& diag) {
  const DirectoryEntry& a = later.entry;
  const DirectoryEntry& b = earlier.entry;
  bool sameKey = a.kind != DirectoryEntry::Kind::Range && a.kind == b.kind;
  std::string message =
      sameKey ? fmt::format("duplicate {}: {} at {} has it already", describeEntry(a), earlier.path,
                            diag.where(earlier.where))
              : fmt::format("{} overlaps {} ({} at {})", describeEntry(a), describeEntry(b),
                            earlier.path, diag.where(earlier.where));
  diag.at(later.where, later.path, std::move(message));
}

// Duplicate text keys, and integer keys or ranges that overlap. `placed` is in file order.
void checkOverlaps(const std::vector<Placed>& placed, Diagnostics& diag) {
  std::map<std::string_view, size_t> texts;
  std::vector<size_t> integers;  // indices into `placed`, sorted by first key below
  for (size_t i = 0; i < placed.size(); ++i) {
    if (placed[i].entry.kind != DirectoryEntry::Kind::Text) {
      integers.push_back(i);
      continue;
    }
    auto [first, added] = texts.emplace(placed[i].entry.text, i);
    if (!added) reportClash(placed[i], placed[first->second], diag);
  }
  std::stable_sort(integers.begin(), integers.end(),
                   [&](size_t a, size_t b) { return placed[a].entry.from < placed[b].entry.from; });
  std::set<size_t> reported;
  size_t reach = 0;  // among the entries seen so far, the one reaching furthest
  for (size_t n = 0; n < integers.size(); ++n) {
    size_t i = integers[n];
    if (n > 0 && placed[i].entry.from <= placed[reach].entry.to) {
      size_t later = std::max(i, reach);
      if (reported.insert(later).second)
        reportClash(placed[later], placed[std::min(i, reach)], diag);
    }
    if (n == 0 || placed[i].entry.to > placed[reach].entry.to) reach = i;
  }
}

void readEntries(const ValueReader& v, const std::vector<Shard>& shards, Directory& out) {
  Diagnostics& diag = v.diagnostics();
  const toml::array* array = v.node().as_array();
  if (array == nullptr) {
    v.error(fmt::format("expected an array of entries such as {}, got {}", kEntryShapes,
                        describe(v.node())));
    return;
  }
  std::vector<Placed> placed;
  for (size_t i = 0; i < array->size(); ++i) {
    std::string path = elementPath(v.keyPath(), i);
    const toml::node& node = *array->get(i);
    const toml::table* table = node.as_table();
    if (table == nullptr) {
      diag.at(node.source(), path,
              fmt::format("expected an entry such as {}, got {}", kEntryShapes, describe(node)));
      continue;
    }
    if (auto entry = readEntry(*table, path, shards, diag))
      placed.push_back({std::move(*entry), std::move(path), table->source()});
  }
  checkOverlaps(placed, diag);
  for (Placed& p : placed) out.entries.push_back(std::move(p.entry));
}

void readSource(const toml::table& table, const std::string& path, Directory& out,
                Diagnostics& diag) {
  bool any = false;
  for (std::string_view key : kSourceKeys) any = any || table.contains(key);
  if (!any) return;
  DirectorySource source;
  for (std::string_view key : kSourceKeys) {
    const toml::node* node = table.get(key);
    if (node == nullptr) continue;
    ValueReader v(*node, joinKeyPath(path, key), diag);
    if (key == "conninfo") {
      if (auto s = v.string(false)) source.conninfo = *s;
    } else if (key == "table") {
      if (auto s = v.string(false)) source.table = *s;
    } else if (key == "refresh_interval") {
      if (auto d = v.duration(true)) source.refreshInterval = *d;
    } else if (auto s = v.string(false)) {
      source.notifyChannel = *s;
    }
  }
  std::vector<std::string_view> missing;
  for (std::string_view key : {"conninfo", "table"})
    if (!table.contains(key)) missing.push_back(key);
  if (!missing.empty()) {
    diag.at(table.source(), joinKeyPath(path, missing.front()),
            fmt::format("a directory loaded from a PostgreSQL table needs conninfo and table: "
                        "set {}",
                        missing.size() == 2 ? "both" : missing.front()));
    return;
  }
  out.source = std::move(source);
}

}  // namespace

void decodeDirectory(const toml::node& node, const std::string& path,
                     const std::vector<Shard>& shards, Directory& out, Diagnostics& diag) {
  const toml::table* table = node.as_table();
  if (table == nullptr) {
    diag.at(node.source(), path,
            fmt::format("expected a table ([{}]), got {}", path, describe(node)));
    return;
  }
  for (auto&& [key, value] : *table) {
    if (std::find(std::begin(kDirectoryKeys), std::end(kDirectoryKeys), key.str()) ==
        std::end(kDirectoryKeys)) {
      diag.at(key.source(), joinKeyPath(path, key.str()),
              unknownNameMessage("key", key.str(), kDirectoryKeys));
    }
  }
  std::string entriesPath = joinKeyPath(path, "entries");
  if (const toml::node* entries = table->get("entries"))
    readEntries(ValueReader(*entries, entriesPath, diag), shards, out);
  if (const toml::node* shard = table->get("default_shard")) {
    out.defaultShard =
        readShardRef(ValueReader(*shard, joinKeyPath(path, "default_shard"), diag), shards);
  }
  readSource(*table, path, out, diag);
  if (out.entries.empty() && !out.source && !diag.hasErrorsUnder(path)) {
    diag.at(table->source(), path,
            "the directory has no entries and no table to load them from: add entries = [...], "
            "or conninfo and table");
  }
}

}  // namespace shardpool::config
