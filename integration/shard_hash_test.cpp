// router/shard_hash against the real PostgreSQL 15 of the "pg" fixture: for random bigint and
// text keys, the remainder our hash sharding computes must satisfy PostgreSQL's own partition
// constraint function satisfies_hash_partition(parent, modulus, remainder, key), and rows
// inserted into a hash-partitioned table must land in the partition of that remainder.
#include <catch2/catch.hpp>

#include <cstdint>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "integration/extended_query.h"
#include "integration/harness.h"
#include "router/shard_hash.h"

using namespace shardpool::integration;
namespace router = shardpool::router;

namespace {

constexpr size_t kKeyCount = 2000;
constexpr uint32_t kModuli[] = {2, 3, 5, 8};
constexpr uint32_t kRoutedModulus = 8;  // partitions created for the tuple-routing check

// Appends `codepoint` as UTF-8.
void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Valid UTF-8 without NUL: mostly ASCII, some Latin-1, CJK and emoji; 0..40 code points.
std::string randomText(std::mt19937_64& rng) {
  static constexpr std::pair<uint32_t, uint32_t> kRanges[] = {
      {0x20, 0x7E}, {0x20, 0x7E}, {0x20, 0x7E}, {0xA0, 0xFF}, {0x4E00, 0x9FFF}, {0x1F300, 0x1F5FF}};
  std::string s;
  const size_t length = rng() % 41;
  for (size_t i = 0; i < length; ++i) {
    const auto& [lo, hi] = kRanges[rng() % std::size(kRanges)];
    appendUtf8(s, lo + static_cast<uint32_t>(rng() % (hi - lo + 1)));
  }
  return s;
}

// Full-range values, small ones (either sign) and int4-range ones.
int64_t randomInt(std::mt19937_64& rng) {
  switch (rng() % 3) {
    case 0:
      return static_cast<int64_t>(rng());
    case 1:
      return static_cast<int64_t>(rng() % 2001) - 1000;
    default:
      return static_cast<int32_t>(rng());
  }
}

// A PostgreSQL array literal element: quoted, with `"` and `\` escaped.
std::string arrayElement(const std::string& value) {
  std::string out = "\"";
  for (char ch : value) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "\"";
}

std::string arrayLiteral(const std::vector<std::string>& elements) {
  std::string out = "{";
  for (size_t i = 0; i < elements.size(); ++i) out += (i ? "," : "") + elements[i];
  return out + "}";
}

// `sql` with @P@ replaced by the parent table's name and @T@ by the key's SQL type.
std::string withNames(std::string sql, const std::string& parent, const std::string& sqlType) {
  for (auto [placeholder, value] : {std::pair{std::string_view("@P@"), &parent},
                                    std::pair{std::string_view("@T@"), &sqlType}}) {
    for (size_t at = sql.find(placeholder); at != std::string::npos;
         at = sql.find(placeholder, at + value->size())) {
      sql.replace(at, placeholder.size(), *value);
    }
  }
  return sql;
}

// Checks `keys` (whose array elements are `elements`) against a temporary table
// `PARTITION BY HASH (k)` with key type `sqlType`.
void checkAgainstPostgres(Conn& c, const std::string& sqlType,
                          const std::vector<router::KeyValue>& keys,
                          const std::vector<std::string>& elements) {
  const std::string parent = "it_shard_" + uniqueSuffix();
  c.query(withNames("CREATE TEMP TABLE @P@ (k @T@) PARTITION BY HASH (k)", parent, sqlType));
  for (uint32_t r = 0; r < kRoutedModulus; ++r) {
    const std::string bound =
        "(MODULUS " + std::to_string(kRoutedModulus) + ", REMAINDER " + std::to_string(r) + ")";
    c.query(withNames("CREATE TEMP TABLE @P@_p" + std::to_string(r) +
                          " PARTITION OF @P@ FOR VALUES WITH " + bound,
                      parent, sqlType));
  }

  // One row per (key, modulus): our remainder must satisfy the constraint, and the next
  // remainder must not (so the check is not vacuous).
  std::vector<std::string> k, m, r, routed;
  for (size_t i = 0; i < keys.size(); ++i) {
    for (uint32_t modulus : kModuli) {
      const auto shard = router::shardFor(router::ShardFunction::Hash, keys[i], modulus);
      REQUIRE(shard.status == router::ShardStatus::Ok);
      k.push_back(elements[i]);
      m.push_back(std::to_string(modulus));
      r.push_back(std::to_string(shard.shard));
      if (modulus == kRoutedModulus) routed.push_back(std::to_string(shard.shard));
    }
  }
  const std::string checkSql = withNames(R"(
      SELECT count(*) FILTER (WHERE NOT satisfies_hash_partition('@P@'::regclass, m, r, k)),
             count(*) FILTER (WHERE satisfies_hash_partition('@P@'::regclass, m, (r + 1) % m, k)),
             count(*),
             coalesce(string_agg(format('%L m=%s r=%s', k, m, r), ', ')
                        FILTER (WHERE NOT satisfies_hash_partition('@P@'::regclass, m, r, k)), '')
      FROM unnest($1::@T@[], $2::int[], $3::int[]) AS u(k, m, r))",
                                         parent, sqlType);
  auto checked = execParams(c, checkSql, {arrayLiteral(k), arrayLiteral(m), arrayLiteral(r)});
  INFO(describe(c, checked.get()));
  REQUIRE(succeeded(checked.get()));
  INFO("keys whose remainder PostgreSQL rejects: " << PQgetvalue(checked.get(), 0, 3));
  CHECK(std::string(PQgetvalue(checked.get(), 0, 2)) == std::to_string(k.size()));
  CHECK(std::string(PQgetvalue(checked.get(), 0, 0)) == "0");
  CHECK(std::string(PQgetvalue(checked.get(), 0, 1)) == "0");

  // Tuple routing: each inserted row lands in partition <parent>_p<our remainder>.
  const std::string routeSql = withNames(R"(
      WITH ins AS (INSERT INTO @P@ SELECT unnest($1::@T@[]) RETURNING tableoid, k),
           expected AS (SELECT k, ('@P@_p' || r)::regclass AS part
                        FROM unnest($1::@T@[], $2::int[]) AS u(k, r))
      SELECT count(*), count(*) FILTER (WHERE ins.tableoid <> expected.part),
             coalesce(string_agg(format('%L', ins.k), ', ')
                        FILTER (WHERE ins.tableoid <> expected.part), '')
      FROM ins JOIN expected ON ins.k = expected.k)",
                                         parent, sqlType);
  auto routing = execParams(c, routeSql, {arrayLiteral(elements), arrayLiteral(routed)});
  INFO(describe(c, routing.get()));
  REQUIRE(succeeded(routing.get()));
  INFO("keys routed elsewhere: " << PQgetvalue(routing.get(), 0, 2));
  CHECK(std::stoul(PQgetvalue(routing.get(), 0, 0)) >= keys.size());
  CHECK(std::string(PQgetvalue(routing.get(), 0, 1)) == "0");
}

}  // namespace

TEST_CASE("shard hash: remainders agree with satisfies_hash_partition and tuple routing",
          "[integration][router]") {
  const uint64_t seed = std::random_device{}();
  CAPTURE(seed);
  std::mt19937_64 rng(seed);
  Conn c = adminConn();
  REQUIRE(c.ok());

  SECTION("bigint keys") {
    std::vector<router::KeyValue> keys;
    std::vector<std::string> elements;
    for (int64_t v : {int64_t{0}, int64_t{-1}, INT64_MIN, INT64_MAX}) {
      keys.push_back(router::KeyValue::ofInteger(v));
      elements.push_back(std::to_string(v));
    }
    while (keys.size() < kKeyCount) {
      const int64_t v = randomInt(rng);
      keys.push_back(router::KeyValue::ofInteger(v));
      elements.push_back(std::to_string(v));
    }
    checkAgainstPostgres(c, "bigint", keys, elements);
  }

  SECTION("text keys") {
    std::vector<std::string> texts{"", "a", "abcdefghijkl", "abcdefghijklm"};
    while (texts.size() < kKeyCount) texts.push_back(randomText(rng));
    std::vector<router::KeyValue> keys;
    std::vector<std::string> elements;
    for (const auto& t : texts) {
      keys.push_back(router::KeyValue::ofText(t));
      elements.push_back(arrayElement(t));
    }
    checkAgainstPostgres(c, "text", keys, elements);
  }
}
