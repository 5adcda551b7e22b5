// Directory sharding's key map: integer keys, ranges, their bounds, text keys, the default shard,
// overlaps and repeats refused with the entries named, and a map of 2 million entries. The
// benchmark ([.bench], not run by default) prints nanoseconds per lookup:
//   build-dir/tests/unit_tests "directory: lookup benchmark"
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "router/directory.h"

namespace shardpool::router {
namespace {

using config::DirectoryEntry;
using Entries = std::vector<DirectoryEntry>;
using Clock = std::chrono::steady_clock;

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

DirectoryEntry point(int64_t key, uint32_t shard) {
  return {DirectoryEntry::Kind::Integer, key, key, {}, shard};
}
DirectoryEntry range(int64_t from, int64_t to, uint32_t shard) {
  return {DirectoryEntry::Kind::Range, from, to, {}, shard};
}
DirectoryEntry text(std::string key, uint32_t shard) {
  return {DirectoryEntry::Kind::Text, 0, 0, std::move(key), shard};
}

DirectoryMap::Options options(uint32_t shards, std::optional<uint32_t> defaultShard = {}) {
  DirectoryMap::Options o;
  o.shardCount = shards;
  o.defaultShard = defaultShard;
  o.tableName = "shard_directory";
  return o;
}

// A key to look up: integer or text.
struct Probe {
  bool isText = false;
  int64_t integer = 0;
  std::string textKey;
  std::optional<uint32_t> expected;
  KeyValue key() const { return isText ? KeyValue::ofText(textKey) : KeyValue::ofInteger(integer); }
};
Probe at(int64_t k, std::optional<uint32_t> shard) {
  return {false, k, {}, shard};
}
Probe atText(std::string k, std::optional<uint32_t> shard) {
  return {true, 0, std::move(k), shard};
}

struct LookupCase {
  const char* name;
  Entries file, table;
  std::optional<uint32_t> defaultShard;
  std::vector<Probe> probes;
};

std::string show(const Probe& p) {
  return p.isText ? "'" + p.textKey + "'" : std::to_string(p.integer);
}

}  // namespace

TEST_CASE("directory: keys, ranges, bounds, text keys and the default shard",
          "[router][directory]") {
  const std::vector<LookupCase> cases = {
      {"empty map, no default",
       {},
       {},
       std::nullopt,
       {at(1, std::nullopt), atText("a", std::nullopt)}},
      {"empty map, default", {}, {}, 2, {at(0, 2), at(kMin, 2), atText("x", 2)}},
      {"points",
       {point(42, 1), point(-7, 2)},
       {point(0, 3), point(43, 0)},
       std::nullopt,
       {at(42, 1), at(-7, 2), at(0, 3), at(43, 0), at(41, std::nullopt), at(44, std::nullopt),
        at(-6, std::nullopt)}},
      {"ranges include both ends",
       {range(1000, 1999, 1)},
       {range(2000, 2999, 2), range(-100, -1, 0)},
       3,
       {at(999, 3), at(1000, 1), at(1500, 1), at(1999, 1), at(2000, 2), at(2999, 2), at(3000, 3),
        at(-101, 3), at(-100, 0), at(-1, 0), at(0, 3)}},
      {"points inside gaps of ranges",
       {},
       {range(0, 9, 0), point(10, 1), range(11, 20, 0), point(25, 2)},
       std::nullopt,
       {at(9, 0), at(10, 1), at(11, 0), at(20, 0), at(21, std::nullopt), at(25, 2)}},
      {"INT64_MIN and INT64_MAX as points",
       {},
       {point(kMin, 1), point(kMax, 2)},
       0,
       {at(kMin, 1), at(kMax, 2), at(kMin + 1, 0), at(kMax - 1, 0)}},
      {"ranges reaching the bounds",
       {},
       {range(kMin, -1, 1), range(0, kMax, 2)},
       std::nullopt,
       {at(kMin, 1), at(-1, 1), at(0, 2), at(kMax, 2)}},
      {"one range over every key",
       {range(kMin, kMax, 1)},
       {},
       0,
       {at(kMin, 1), at(0, 1), at(kMax, 1), atText("0", 0)}},
      {"text keys",
       {text("acme", 1)},
       {text("globex", 2), text("ACME", 0), text("acme ", 3), text("日本", 2)},
       std::nullopt,
       {atText("acme", 1), atText("globex", 2), atText("ACME", 0), atText("acme ", 3),
        atText("日本", 2), atText("acm", std::nullopt), atText("", std::nullopt)}},
      {"integer and text keys never clash",
       {point(1, 1)},
       {text("1", 2)},
       0,
       {at(1, 1), atText("1", 2), at(2, 0), atText("2", 0)}},
      {"default shard for keys not in the map",
       {point(5, 1)},
       {text("k", 1)},
       2,
       {at(5, 1), at(6, 2), atText("k", 1), atText("j", 2)}},
  };
  for (const LookupCase& c : cases) {
    DYNAMIC_SECTION(c.name) {
      auto built = DirectoryMap::build(c.file, c.table, options(4, c.defaultShard));
      INFO(built.error);
      REQUIRE(built.ok());
      for (const Probe& p : c.probes) {
        INFO("key " << show(p));
        CHECK(built.map->lookup(p.key()) == p.expected);
      }
    }
  }
}

TEST_CASE("directory: counts, and adjacent intervals of one shard merged", "[router][directory]") {
  auto built = DirectoryMap::build({point(1, 0), range(10, 19, 1)},
                                   {point(2, 0), point(3, 0), point(4, 1), range(20, 29, 1),
                                    range(30, 39, 0), text("a", 0), text("b", 1)},
                                   options(2, 0));
  REQUIRE(built.ok());
  const DirectoryMap& m = *built.map;
  CHECK(m.entries() == 9);
  CHECK(m.tableRows() == 7);
  CHECK(m.ranges() == 3);
  CHECK(m.textKeys() == 2);
  CHECK(m.intervals() == 4);  // [1,3]->0, [4,4]->1, [10,29]->1, [30,39]->0
  CHECK(m.maxShard() == 1);
  for (int64_t k : {1, 2, 3}) CHECK(m.find(KeyValue::ofInteger(k)) == 0u);
  CHECK(m.find(KeyValue::ofInteger(4)) == 1u);
  CHECK(m.find(KeyValue::ofInteger(5)) == std::nullopt);
  CHECK(m.lookup(KeyValue::ofInteger(5)) == 0u);
  CHECK(m.find(KeyValue::ofInteger(25)) == 1u);
  CHECK(m.find(KeyValue::ofInteger(39)) == 0u);
  // Merging stops at INT64_MAX (no overflow).
  auto edge = DirectoryMap::build({}, {point(kMax - 1, 0), point(kMax, 0)}, options(1));
  REQUIRE(edge.ok());
  CHECK(edge.map->intervals() == 1);
  CHECK(edge.map->find(KeyValue::ofInteger(kMax)) == 0u);
  CHECK(edge.map->find(KeyValue::ofInteger(kMin)) == std::nullopt);
}

namespace {
struct RefusedCase {
  const char* name;
  Entries file, table;
  std::optional<uint32_t> defaultShard;
  std::vector<std::string> mentions;  // each must appear in the error
};
}  // namespace

TEST_CASE("directory: overlaps, repeats and bad shards refuse the whole map",
          "[router][directory]") {
  const std::vector<RefusedCase> cases = {
      {"a table key repeated",
       {},
       {point(7, 0), point(7, 1)},
       {},
       {"key 7 (table shard_directory) overlaps key 7 (table shard_directory)"}},
      {"a table key inside a file range",
       {range(1000, 1999, 1)},
       {point(1500, 0)},
       {},
       {"key 1500 (table shard_directory) overlaps range 1000..1999 (file entries[0])"}},
      {"two table ranges overlapping by one key",
       {},
       {range(0, 10, 0), range(10, 20, 1)},
       {},
       {"range 10..20", "overlaps range 0..10"}},
      {"a range inside a range",
       {},
       {range(0, 100, 0), range(40, 50, 1)},
       {},
       {"range 40..50 (table shard_directory) overlaps range 0..100"}},
      {"overlaps at the bounds",
       {},
       {range(kMin, 0, 0), point(kMin, 1)},
       {},
       {"key -9223372036854775808", "overlaps range -9223372036854775808..0"}},
      {"a later range overlapping an earlier wide one",
       {},
       {range(0, 100, 0), range(10, 20, 1), range(50, 60, 1)},
       {},
       {"range 10..20", "range 50..60 (table shard_directory) overlaps range 0..100"}},
      {"a text key repeated",
       {text("acme", 0)},
       {text("acme", 1)},
       {},
       {"key 'acme' (table shard_directory) repeats key 'acme' (file entries[0])"}},
      {"an empty text key",
       {},
       {text("", 0)},
       {},
       {"key '' (table shard_directory): a text key may not be empty"}},
      {"a shard out of range",
       {},
       {point(1, 0), point(2, 9)},
       {},
       {"key 2 (table shard_directory): shard 9 does not exist (the database has 4 shard(s))"}},
      {"a range backwards", {}, {range(5, 4, 0)}, {}, {"range 5..4", "greater than the last"}},
      {"a default shard out of range", {}, {point(1, 0)}, 4, {"the default shard: shard 4"}},
      {"many problems: three in full, the rest counted",
       {},
       {point(1, 0), point(1, 0), point(1, 0), point(1, 0), point(1, 0), point(1, 0)},
       {},
       {"(and 2 more problem(s))"}},
  };
  for (const RefusedCase& c : cases) {
    DYNAMIC_SECTION(c.name) {
      auto built = DirectoryMap::build(c.file, c.table, options(4, c.defaultShard));
      CHECK_FALSE(built.ok());
      for (const std::string& m : c.mentions) {
        INFO(built.error);
        CHECK_THAT(built.error, Catch::Contains(m));
      }
    }
  }
}

namespace {

// `n` entries: every fourth a range of 3 keys, the others points, spread over 16 shards in
// shuffled order; half of them text keys when `textShare`.
Entries manyEntries(size_t n, bool withText, uint64_t seed = 1) {
  Entries rows;
  rows.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    auto shard = static_cast<uint32_t>((i * 7) % 16);
    if (withText && i % 2 == 1) {
      rows.push_back(text("tenant-" + std::to_string(i), shard));
      continue;
    }
    auto k = static_cast<int64_t>(i) * 10 - 1'000'000'000;
    rows.push_back(i % 4 == 0 ? range(k, k + 2, shard) : point(k, shard));
  }
  std::shuffle(rows.begin(), rows.end(), std::mt19937_64(seed));
  return rows;
}

std::optional<uint32_t> expectedFor(const DirectoryEntry& e) {
  return e.shard;
}

}  // namespace

TEST_CASE("directory: 2 million entries build, and every kind of key is found",
          "[router][directory]") {
  Entries rows = manyEntries(2'000'000, true);
  auto t0 = Clock::now();
  auto built = DirectoryMap::build({}, rows, options(16));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  INFO(built.error);
  REQUIRE(built.ok());
  WARN("2M entries (1M integer, 1M text) built in "
       << ms << " ms, " << built.map->memoryBytes() / 1024 / 1024 << " MiB");
  CHECK(built.map->entries() == 2'000'000);
  CHECK(built.map->textKeys() == 1'000'000);
  for (size_t i = 0; i < rows.size(); i += 997) {
    const DirectoryEntry& e = rows[i];
    KeyValue key =
        e.kind == DirectoryEntry::Kind::Text ? KeyValue::ofText(e.text) : KeyValue::ofInteger(e.to);
    INFO(describeDirectoryKey(e));
    CHECK(built.map->find(key) == expectedFor(e));
  }
  CHECK(built.map->find(KeyValue::ofInteger(-1'000'000'000 + 5)) == std::nullopt);
  CHECK(built.map->find(KeyValue::ofText("tenant-2")) == std::nullopt);  // an integer slot

  // One overlap among 2 million is found and named.
  rows.push_back(point(-1'000'000'000 + 1, 3));  // inside the range of entry 0
  auto refused = DirectoryMap::build({}, rows, options(16));
  CHECK_FALSE(refused.ok());
  CHECK_THAT(refused.error, Catch::Contains("key -999999999 (table shard_directory) overlaps "
                                            "range -1000000000..-999999998"));
}

namespace {

template <class F>
double nsPerCall(size_t calls, F&& f) {
  auto t0 = Clock::now();
  f();
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
  return static_cast<double>(ns) / static_cast<double>(calls);
}

}  // namespace

TEST_CASE("directory: lookup benchmark", "[.bench]") {
  for (size_t n : {1'000'000, 2'000'000, 5'000'000}) {
    // Integer map: n points and ranges.
    Entries ints = manyEntries(n, false);
    auto t0 = Clock::now();
    auto intMap = DirectoryMap::build({}, ints, options(16));
    double buildMs = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    REQUIRE(intMap.ok());
    // Text map: n keys.
    Entries texts;
    texts.reserve(n);
    for (size_t i = 0; i < n; ++i)
      texts.push_back(text("tenant-" + std::to_string(i * 2654435761u % 1'000'000'007u),
                           static_cast<uint32_t>(i % 16)));
    t0 = Clock::now();
    auto textMap = DirectoryMap::build({}, texts, options(16));
    double textBuildMs = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    REQUIRE(textMap.ok());

    // Random probes, prepared up front (half hits, half misses for integers).
    constexpr size_t kProbes = 4'000'000;
    std::mt19937_64 rng(7);
    std::vector<int64_t> intKeys(kProbes);
    for (auto& k : intKeys) k = static_cast<int64_t>(rng() % (n * 10)) - 1'000'000'000;
    std::vector<std::string> textKeys(1 << 20);
    for (auto& k : textKeys) k = texts[rng() % n].text;

    uint64_t sink = 0;
    double intNs = nsPerCall(kProbes, [&] {
      for (int64_t k : intKeys) sink += intMap.map->lookup(KeyValue::ofInteger(k)).value_or(99);
    });
    double textNs = nsPerCall(kProbes, [&] {
      for (size_t i = 0; i < kProbes; ++i)
        sink += textMap.map->lookup(KeyValue::ofText(textKeys[i & 0xFFFFF])).value_or(99);
    });
    // Reference points: a plain binary search over the same intervals, and the standard
    // containers the text map could have used.
    std::vector<std::tuple<int64_t, int64_t, uint32_t>> intervals;
    intervals.reserve(n);
    for (const auto& e : ints) intervals.emplace_back(e.from, e.to, e.shard);
    std::sort(intervals.begin(), intervals.end());
    std::vector<int64_t> froms;
    for (const auto& iv : intervals) froms.push_back(std::get<0>(iv));
    double binaryNs = nsPerCall(kProbes, [&] {
      for (int64_t k : intKeys) {
        auto it = std::upper_bound(froms.begin(), froms.end(), k);
        if (it == froms.begin()) continue;
        const auto& iv = intervals[static_cast<size_t>(it - froms.begin()) - 1];
        sink += k <= std::get<1>(iv) ? std::get<2>(iv) : 99;
      }
    });
    std::vector<std::pair<std::string, uint32_t>> sorted;
    sorted.reserve(n);
    for (const auto& e : texts) sorted.emplace_back(e.text, e.shard);
    std::sort(sorted.begin(), sorted.end());
    double sortedNs = nsPerCall(kProbes, [&] {
      for (size_t i = 0; i < kProbes; ++i) {
        const std::string& k = textKeys[i & 0xFFFFF];
        auto it = std::lower_bound(sorted.begin(), sorted.end(), k,
                                   [](const auto& a, const std::string& b) { return a.first < b; });
        sink += it != sorted.end() && it->first == k ? it->second : 99;
      }
    });
    std::unordered_map<std::string, uint32_t> hashed(sorted.begin(), sorted.end());
    double unorderedNs = nsPerCall(kProbes, [&] {
      for (size_t i = 0; i < kProbes; ++i) {
        auto it = hashed.find(textKeys[i & 0xFFFFF]);
        sink += it != hashed.end() ? it->second : 99;
      }
    });
    std::printf(
        "%zu entries: integer build %.0f ms, lookup %.1f ns (std::upper_bound %.1f ns) | text "
        "build %.0f ms, lookup %.1f ns (sorted vector %.1f ns, std::unordered_map %.1f ns) | "
        "%zu MiB + %zu MiB [%llu]\n",
        n, buildMs, intNs, binaryNs, textBuildMs, textNs, sortedNs, unorderedNs,
        intMap.map->memoryBytes() >> 20, textMap.map->memoryBytes() >> 20,
        static_cast<unsigned long long>(sink % 10));
  }
}

}  // namespace shardpool::router
