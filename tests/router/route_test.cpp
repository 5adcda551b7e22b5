// route(): the routing decision, read as SQL -> route. Every case runs the real analyze() over
// the SQL, then route() over a shard map built by buildShardMap() from config structs. Expected
// shards are written from the SQL's meaning: modulo by hand; hash from the PARTITION BY HASH
// remainders (MODULUS 4) that tests/router/shard_hash_test.cpp read from a real PostgreSQL 15.
#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "router/pg_params.h"
#include "router/pg_statement.h"
#include "router/pg_refusal.h"
#include "router/route.h"

namespace shardpool::router {
namespace {

// ---- shard maps ---------------------------------------------------------------------------

config::TableRule sharded(std::string key, config::KeyType type = config::KeyType::Integer) {
  config::TableRule r;
  r.kind = config::TableRule::Kind::Sharded;
  r.keyColumn = std::move(key);
  r.keyType = type;
  return r;
}
config::TableRule replicated() {
  config::TableRule r;
  r.kind = config::TableRule::Kind::Replicated;
  return r;
}
config::TableRule pinned(uint32_t shard) {
  config::TableRule r;
  r.kind = config::TableRule::Kind::Pinned;
  r.shard = shard;
  return r;
}

config::Database database(std::string name, std::vector<std::string> shardNames,
                          config::ShardingFunction function) {
  config::Database db;
  db.name = std::move(name);
  for (std::string& s : shardNames) {
    config::Shard shard;
    shard.name = std::move(s);
    db.shards.push_back(std::move(shard));
  }
  db.shardingFunction = function;
  return db;
}

// Two shards, modulo: orders/items by customer_id, users by id, "Invoices" by num (a quoted
// name), countries replicated, audit pinned to s1 and settings to s0. No default_shard.
config::Database twoShardDb() {
  config::Database db = database("app", {"s0", "s1"}, config::ShardingFunction::Modulo);
  db.tables = {{"orders", sharded("customer_id")},
               {"items", sharded("customer_id")},
               {"users", sharded("id")},
               {"Invoices", sharded("num")},
               {"countries", replicated()},
               {"audit", pinned(1)},
               {"settings", pinned(0)}};
  return db;
}

const ShardMap& m2() {
  static const ShardMap m = buildShardMap(twoShardDb());
  return m;
}
const ShardMap& m2Default() {  // default_shard = 1
  static const ShardMap m = [] {
    config::Database db = twoShardDb();
    db.defaultShard = 1;
    return buildShardMap(db);
  }();
  return m;
}
const ShardMap& m2Unkeyed() {  // allow_unkeyed_writes = true
  static const ShardMap m = [] {
    config::Database db = twoShardDb();
    db.allowUnkeyedWrites = true;
    return buildShardMap(db);
  }();
  return m;
}

// Four shards, hash: orders by an integer key, tenants by a text key (so hints read integers).
const ShardMap& m4() {
  static const ShardMap m = [] {
    config::Database db = database("shop", {"a", "b", "c", "d"}, config::ShardingFunction::Hash);
    db.tables = {{"orders", sharded("customer_id")},
                 {"tenants", sharded("slug", config::KeyType::Text)},
                 {"countries", replicated()}};
    return buildShardMap(db);
  }();
  return m;
}
const ShardMap& m4Text() {  // only text keys: hints are text
  static const ShardMap m = [] {
    config::Database db = database("saas", {"a", "b", "c", "d"}, config::ShardingFunction::Hash);
    db.tables = {{"tenants", sharded("slug", config::KeyType::Text)}};
    return buildShardMap(db);
  }();
  return m;
}

// A directory: 42 and 100..199 on shard 1, 'acme' on shard 0, 5 on shard 9 (a broken map).
struct FakeDirectory : KeyLookup {
  std::optional<uint32_t> defaultShard;
  std::optional<uint32_t> shardOf(const KeyValue& key) const override {
    if (key.kind == KeyKind::Text) {
      if (key.text == "acme") return 0u;
      return defaultShard;
    }
    if (key.integer == 42 || (key.integer >= 100 && key.integer <= 199)) return 1u;
    if (key.integer == 5) return 9u;
    return defaultShard;
  }
};

const FakeDirectory kDirectory;
const FakeDirectory kDirectoryWithDefault = [] {
  FakeDirectory d;
  d.defaultShard = 1;
  return d;
}();

ShardMap directoryMap(const KeyLookup* directory, std::optional<uint32_t> defaultShard = {}) {
  config::Database db = database("dir", {"d0", "d1"}, config::ShardingFunction::Directory);
  db.tables = {{"orders", sharded("customer_id")},
               {"tenants", sharded("slug", config::KeyType::Text)}};
  db.defaultShard = defaultShard;
  ShardMap m = buildShardMap(db);
  m.directory = directory;
  return m;
}

// ---- expectations -------------------------------------------------------------------------

struct Expect {
  RouteKind kind = RouteKind::One;
  RouteSource source = RouteSource::Any;
  std::vector<uint32_t> shards;  // One and Local: {shard}; All: every shard
  std::string_view sqlstate;     // Refuse
  bool anyShard = false;
};

Expect One(uint32_t shard, RouteSource source) {
  return {RouteKind::One, source, {shard}, {}, false};
}
Expect Any(uint32_t shard, RouteSource source) {
  return {RouteKind::One, source, {shard}, {}, true};
}
Expect All(std::vector<uint32_t> shards, RouteSource source) {
  return {RouteKind::All, source, std::move(shards), {}, false};
}
Expect Local(uint32_t shard) {
  return {RouteKind::Local, RouteSource::SessionHint, {shard}, {}, false};
}
Expect Refused(std::string_view sqlstate) {
  return {RouteKind::Refuse, RouteSource::Any, {}, sqlstate, false};
}

constexpr auto Key = RouteSource::Key;
constexpr auto Scatter = RouteSource::Scatter;
constexpr auto Broadcast = RouteSource::Broadcast;
constexpr auto Pinned = RouteSource::Pinned;
constexpr auto Replicated = RouteSource::Replicated;
constexpr auto Default = RouteSource::Default;
constexpr auto AnyShard = RouteSource::Any;
constexpr auto Session = RouteSource::SessionHint;
constexpr auto Comment = RouteSource::CommentHint;

void check(const Route& r, const Expect& e) {
  INFO("route: " << routeKindName(r.kind) << " " << routeSourceName(r.source) << " shard "
                 << r.shard << " | " << pgSqlstate(r.reason) << " " << r.message << " | hint: " << r.hint);
  REQUIRE(r.kind == e.kind);
  switch (r.kind) {
    case RouteKind::One:
    case RouteKind::Local:
      CHECK(r.source == e.source);
      CHECK(std::vector<uint32_t>{r.shard} == e.shards);
      CHECK(r.anyShard == e.anyShard);
      CHECK(r.shards.empty());
      break;
    case RouteKind::All:
      CHECK(r.source == e.source);
      CHECK(r.shards == e.shards);
      break;
    case RouteKind::Refuse:
      CHECK(pgSqlstate(r.reason) == e.sqlstate);
      CHECK_FALSE(r.message.empty());
      CHECK_FALSE(r.hint.empty());
      break;
  }
}

Route routeSql(std::string_view sql, const ShardMap& map, const SessionHints& session = {},
               const BindParams* bind = nullptr) {
  return routeBound(analyze(sql, map.tables), map, session, bind);
}

struct Case {
  std::string_view sql;
  Expect expect;
  bool write = false;
};

void checkCases(const ShardMap& map, const std::vector<Case>& cases,
                const SessionHints& session = {}) {
  for (const Case& c : cases) {
    INFO(c.sql);
    Route r = routeSql(c.sql, map, session);
    check(r, c.expect);
    if (r.kind == RouteKind::One || r.kind == RouteKind::All) CHECK(r.write == c.write);
  }
}

// ---- Bind values --------------------------------------------------------------------------

std::string int2(int16_t v) {
  auto u = static_cast<uint16_t>(v);
  return {static_cast<char>(u >> 8), static_cast<char>(u & 0xff)};
}
std::string int4(int32_t v) {
  auto u = static_cast<uint32_t>(v);
  std::string out;
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((u >> shift) & 0xff);
  return out;
}
std::string int8(int64_t v) {
  auto u = static_cast<uint64_t>(v);
  std::string out;
  for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((u >> shift) & 0xff);
  return out;
}

constexpr uint32_t kInt2 = 21, kInt4 = 23, kInt8 = 20, kText = 25, kVarchar = 1043, kNumeric = 1700;

// One parameter: `value` (nullopt: NULL) in `format` with type `type`.
struct ParamCase {
  std::optional<std::string> value;
  int16_t format;
  uint32_t type;
  Expect expect;
};

// The BindParams views c.value: a temporary ParamCase would leave it dangling.
BindParams oneParam(const ParamCase&& c) = delete;
BindParams oneParam(const ParamCase& c) {
  BindParams b;
  b.values.push_back(c.value ? std::optional<std::string_view>(*c.value) : std::nullopt);
  b.formats = {c.format};
  b.types = {c.type};
  return b;
}

// ---- tests --------------------------------------------------------------------------------

TEST_CASE("route: buildShardMap converts the database's shard map", "[router][route]") {
  const ShardMap& m = m2();
  CHECK(m.database == "app");
  CHECK(m.shardCount == 2);
  CHECK(m.shardNames == std::vector<std::string>{"s0", "s1"});
  CHECK(m.function == config::ShardingFunction::Modulo);
  CHECK_FALSE(m.defaultShard);
  CHECK_FALSE(m.allowUnkeyedWrites);
  CHECK(m.directory == nullptr);
  CHECK(m.hintKeyType == KeyKind::Integer);
  REQUIRE(m.tables.sharded.count("orders") == 1);
  CHECK(m.tables.sharded.at("orders").keyColumn == "customer_id");
  CHECK(m.tables.sharded.at("orders").keyType == KeyKind::Integer);
  CHECK(m.tables.sharded.count("Invoices") == 1);  // a quoted name keeps its spelling
  CHECK(m.tables.sharded.count("invoices") == 0);
  CHECK(m.tables.replicated == std::set<std::string, std::less<>>{"countries"});
  CHECK(m.tables.pinned ==
        std::map<std::string, uint32_t, std::less<>>{{"audit", 1}, {"settings", 0}});
  CHECK(m2Default().defaultShard == 1u);
  CHECK(m2Unkeyed().allowUnkeyedWrites);

  CHECK(m4().hintKeyType == KeyKind::Integer);  // integer and text keys disagree
  CHECK(m4Text().hintKeyType == KeyKind::Text);
  CHECK(m4().tables.sharded.at("tenants").keyType == KeyKind::Text);

  config::Database plain;
  plain.name = "solo";
  ShardMap solo = buildShardMap(plain);
  CHECK(solo.shardCount == 1);
  CHECK(solo.shardNames == std::vector<std::string>{"solo"});
  CHECK(solo.function == config::ShardingFunction::None);
  CHECK(solo.tables.sharded.empty());
  check(routeSql("SELECT * FROM anything", solo), Any(0, AnyShard));
  check(routeSql("UPDATE anything SET x = 1", solo), Any(0, AnyShard));
}

TEST_CASE("route: keyed statements go to their key's shard", "[router][route]") {
  checkCases(
      m2(),
      {
          {"SELECT * FROM orders WHERE customer_id = 5", One(1, Key)},
          {"SELECT * FROM orders WHERE customer_id = 4", One(0, Key)},
          {"SELECT * FROM orders WHERE customer_id = -1", One(1, Key)},
          {"SELECT * FROM orders WHERE customer_id = '7'", One(1, Key)},
          {"SELECT * FROM orders WHERE customer_id IN (2, 4, 6)", One(0, Key)},
          {"SELECT * FROM orders o JOIN items i USING (customer_id) "
           "WHERE o.customer_id = 3",
           One(1, Key)},
          {"SELECT * FROM orders o JOIN countries c ON true WHERE o.customer_id = 4", One(0, Key)},
          {"SELECT * FROM \"Invoices\" WHERE num = 3", One(1, Key)},
          {"SELECT * FROM orders WHERE customer_id = 3 FOR UPDATE", One(1, Key), true},
          {"INSERT INTO orders (customer_id, total) VALUES (3, 10)", One(1, Key), true},
          {"INSERT INTO orders (customer_id) VALUES (2), (4), (-6)", One(0, Key), true},
          {"UPDATE orders SET total = 1 WHERE customer_id = 3", One(1, Key), true},
          {"DELETE FROM orders WHERE customer_id = 2", One(0, Key), true},
      });
}

TEST_CASE("route: hash sharding over four shards", "[router][route]") {
  // MODULUS 4 remainders: 0->0, 1->0, -1->1, 2->2, 42->2, 1000000->3, 1000000000000->1;
  // 'hello'->0, 'abc'->1, 'a'->2, 'abcdefghijk'->3.
  checkCases(
      m4(), {
                {"SELECT * FROM orders WHERE customer_id = 1", One(0, Key)},
                {"SELECT * FROM orders WHERE customer_id = 1000000", One(3, Key)},
                {"SELECT * FROM orders WHERE customer_id = 1000000000000", One(1, Key)},
                {"SELECT * FROM orders WHERE customer_id IN (0, 1)", One(0, Key)},
                {"SELECT * FROM orders WHERE customer_id IN (1000000, 2, 42)", All({2, 3}, Key)},
                {"SELECT * FROM orders WHERE customer_id = 2 OR customer_id = -1 "
                 "OR customer_id = 1000000 OR customer_id = 0",
                 All({0, 1, 2, 3}, Key)},
                {"SELECT * FROM tenants WHERE slug = 'hello'", One(0, Key)},
                {"SELECT * FROM tenants WHERE slug = 'abc'", One(1, Key)},
                {"SELECT * FROM tenants WHERE slug IN ('a', 'abcdefghijk')", All({2, 3}, Key)},
                {"SELECT * FROM tenants", All({0, 1, 2, 3}, Scatter)},
                {"UPDATE tenants SET x = 1 WHERE slug IN ('abc', 'hello')", All({0, 1}, Key), true},
                {"SELECT * FROM countries", Any(0, Replicated)},
                {"INSERT INTO countries VALUES (1)", All({0, 1, 2, 3}, Replicated), true},
            });
}

TEST_CASE("route: reads across shards are scattered", "[router][route]") {
  checkCases(m2(), {
                       {"SELECT * FROM orders WHERE customer_id IN (1, 2)", All({0, 1}, Key)},
                       {"SELECT * FROM orders", All({0, 1}, Scatter)},
                       {"SELECT count(*) FROM orders WHERE total > 5", All({0, 1}, Scatter)},
                       {"SELECT * FROM orders WHERE customer_id = $1", All({0, 1}, Scatter)},
                       {"SELECT * FROM orders o JOIN countries c ON true", All({0, 1}, Scatter)},
                       {"COPY orders TO STDOUT", All({0, 1}, Scatter)},
                       {"EXPLAIN SELECT * FROM orders", All({0, 1}, Scatter)},
                   });
}

TEST_CASE("route: writes to several shards and writes without a key", "[router][route]") {
  checkCases(
      m2(),
      {
          // Keyed to several shards: a broadcast to those shards.
          {"UPDATE orders SET total = 1 WHERE customer_id IN (1, 2)", All({0, 1}, Key), true},
          {"DELETE FROM orders WHERE customer_id = 1 OR customer_id = 2", All({0, 1}, Key), true},
          // Rows of one INSERT on different shards: refused, not split.
          {"INSERT INTO orders (customer_id) VALUES (1), (2)", Refused("0A000")},
          // No usable key.
          {"UPDATE orders SET total = 1", Refused("0A000")},
          {"DELETE FROM orders WHERE total = 0", Refused("0A000")},
          {"SELECT * FROM orders FOR UPDATE", Refused("0A000")},
          {"INSERT INTO orders VALUES (1, 2)", Refused("0A000")},
          {"INSERT INTO orders (total) VALUES (1)", Refused("0A000")},
          {"INSERT INTO orders (customer_id) VALUES (DEFAULT)", Refused("0A000")},
          {"INSERT INTO orders (customer_id) SELECT customer_id FROM items", Refused("0A000")},
          {"INSERT INTO orders (customer_id) VALUES ($1)", Refused("0A000")},
          {"UPDATE orders SET customer_id = 2 WHERE customer_id = 1", Refused("0A000")},
          {"MERGE INTO orders o USING items i ON o.customer_id = i.customer_id "
           "WHEN MATCHED THEN DELETE",
           Refused("0A000")},
          {"COPY orders FROM STDIN", Refused("0A000")},
          {"LOCK TABLE orders", Refused("0A000")},
      });
  // allow_unkeyed_writes sends UPDATE and DELETE everywhere; INSERT, MERGE and COPY FROM stay
  // refused (broadcasting them would add rows on every shard).
  checkCases(m2Unkeyed(),
             {
                 {"UPDATE orders SET total = 1", All({0, 1}, Broadcast), true},
                 {"DELETE FROM orders WHERE total = 0", All({0, 1}, Broadcast), true},
                 {"UPDATE orders SET total = 1 WHERE customer_id = 3", One(1, Key), true},
                 {"INSERT INTO orders (total) VALUES (1)", Refused("0A000")},
                 {"MERGE INTO orders o USING items i ON o.customer_id = "
                  "i.customer_id WHEN MATCHED THEN DELETE",
                  Refused("0A000")},
                 {"COPY orders FROM STDIN", Refused("0A000")},
                 {"UPDATE orders SET customer_id = 2", Refused("0A000")},
             });
}

TEST_CASE("route: refusals explain themselves", "[router][route]") {
  Route r = routeSql("INSERT INTO orders (customer_id) VALUES (1), (2)", m2());
  REQUIRE(r.kind == RouteKind::Refuse);
  CHECK_THAT(r.message, Catch::Contains("\"orders\" (sharding key customer_id)"));
  CHECK_THAT(r.message,
             Catch::Contains("rows that belong to shard 0 (\"s0\") and shard 1 (\"s1\")"));
  CHECK_THAT(r.hint, Catch::Contains("one INSERT per shard"));
  CHECK_THAT(r.hint, Catch::Contains("sharding_key"));

  r = routeSql("UPDATE orders SET total = 1", m2());
  CHECK_THAT(r.message, Catch::StartsWith("UPDATE on sharded table \"orders\" (sharding key "
                                          "customer_id)"));
  CHECK_THAT(r.hint, Catch::Contains("allow_unkeyed_writes = true in [databases.app]"));
  CHECK_THAT(r.hint, Catch::Contains("`customer_id = value`"));

  r = routeSql("INSERT INTO orders (total) VALUES (1)", m2());
  CHECK_THAT(r.message, Catch::Contains("cannot tell which shard the row belongs to"));
  CHECK_THAT(r.hint, Catch::Contains("list customer_id in the column list"));

  r = routeSql("UPDATE orders SET customer_id = 2 WHERE customer_id = 1", m2());
  CHECK_THAT(r.message, Catch::Contains("moving a row to another shard is not supported"));
  CHECK_THAT(r.hint, Catch::Contains("DELETE the row and INSERT it again"));

  r = routeSql("COPY orders FROM STDIN", m2());
  CHECK_THAT(r.message, Catch::Contains("COPY FROM"));
  CHECK_THAT(r.hint, Catch::Contains("SET shardpool.shard"));

  r = routeSql("SELECT * FROM audit, settings", m2());
  CHECK_THAT(r.message,
             Catch::Contains("\"audit\" on shard 1 (\"s1\"), \"settings\" on shard 0 (\"s0\")"));

  r = routeSql("SELECT * FROM unruled", m2());
  CHECK_THAT(r.message, Catch::Contains("table \"unruled\" has no rule in databases.app.tables"));
  CHECK_THAT(r.hint, Catch::Contains("default_shard"));

  r = routeSql("SELECT * FROM orders WHERE customer_id = 1", m2(), {7u, {}});
  CHECK(pgSqlstate(r.reason) == "22023");
  CHECK_THAT(r.message, Catch::Contains("shardpool.shard = 7 is out of range: database \"app\" has "
                                        "2 shards: 0 \"s0\", 1 \"s1\""));
  CHECK_THAT(r.hint, Catch::Contains("RESET shardpool.shard"));
}

TEST_CASE("route: pinned tables", "[router][route]") {
  checkCases(
      m2(),
      {
          {"SELECT * FROM audit", One(1, Pinned)},
          {"INSERT INTO audit VALUES (1)", One(1, Pinned), true},
          {"SELECT * FROM settings s JOIN countries c ON true", One(0, Pinned)},
          {"CREATE INDEX ON audit (at)", One(1, Pinned), true},
          {"TRUNCATE audit", One(1, Pinned), true},
          // With a sharded table whose keys land on the pinned shard.
          {"SELECT * FROM audit a JOIN orders o ON true WHERE o.customer_id = 3", One(1, Key)},
          {"SELECT * FROM audit a JOIN orders o ON true WHERE o.customer_id IN "
           "(1, 3)",
           One(1, Key)},
          // ... or elsewhere, or everywhere.
          {"SELECT * FROM audit a JOIN orders o ON true WHERE o.customer_id = 2", Refused("0A000")},
          {"SELECT * FROM audit a JOIN orders o ON true WHERE o.customer_id IN "
           "(1, 2)",
           Refused("0A000")},
          {"SELECT * FROM audit a JOIN orders o ON true", Refused("0A000")},
          {"TRUNCATE audit, orders", Refused("0A000")},
          // Tables pinned to different shards.
          {"SELECT * FROM audit, settings", Refused("0A000")},
          {"/* shard: 1 */ SELECT * FROM audit, settings", One(1, Comment)},
      });
}

TEST_CASE("route: replicated tables", "[router][route]") {
  checkCases(m2(), {
                       {"SELECT * FROM countries", Any(0, Replicated)},
                       {"INSERT INTO countries VALUES (1)", All({0, 1}, Replicated), true},
                       {"UPDATE countries SET name = 'x'", All({0, 1}, Replicated), true},
                       {"ALTER TABLE countries ADD COLUMN c int", All({0, 1}, Broadcast), true},
                       {"TRUNCATE countries", All({0, 1}, Broadcast), true},
                   });
  checkCases(m2Default(), {{"SELECT * FROM countries", Any(1, Replicated)}});
}

TEST_CASE("route: DDL goes to every shard", "[router][route]") {
  checkCases(m2(), {
                       {"CREATE INDEX ON orders (total)", All({0, 1}, Broadcast), true},
                       {"ALTER TABLE orders ADD COLUMN note text", All({0, 1}, Broadcast), true},
                       {"TRUNCATE orders", All({0, 1}, Broadcast), true},
                       {"DROP TABLE orders", All({0, 1}, Broadcast), true},
                       {"CREATE TABLE new_t (id int)", All({0, 1}, Broadcast), true},
                       {"CREATE EXTENSION pgcrypto", All({0, 1}, Broadcast), true},
                       {"CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
                        All({0, 1}, Broadcast), true},
                   });
  checkCases(m2Default(), {{"CREATE TABLE new_t (id int)", All({0, 1}, Broadcast), true}});
}

TEST_CASE("route: statements without a table with a rule", "[router][route]") {
  checkCases(m2(), {
                       {"SELECT 1", Any(0, AnyShard)},
                       {"SELECT now()", Any(0, AnyShard)},
                       {"BEGIN", Any(0, AnyShard)},
                       {"COMMIT", Any(0, AnyShard)},
                       {"SHOW search_path", Any(0, AnyShard)},
                       {"SET search_path = app", Any(0, AnyShard)},
                       {"RESET ALL", Any(0, AnyShard)},
                       {"", Any(0, AnyShard)},
                       {"-- nothing", Any(0, AnyShard)},
                       // A table without a rule lives on default_shard; without one it is
                       // refused (docs/config.md, default_shard).
                       {"SELECT * FROM unruled", Refused("0A000")},
                       {"SELECT * FROM invoices WHERE num = 3", Refused("0A000")},
                   });
  checkCases(m2Default(), {
                              {"SELECT 1", One(1, Default)},
                              {"BEGIN", One(1, Default)},
                              {"SELECT * FROM unruled", One(1, Default)},
                              {"INSERT INTO unruled VALUES (1)", One(1, Default), true},
                              {"SELECT * FROM invoices WHERE num = 3", One(1, Default)},
                              {"", Any(1, AnyShard)},
                          });
}

TEST_CASE("route: statements the parser rejects", "[router][route]") {
  checkCases(m2(), {
                       {"SELEC * FROM orders", Refused("0A000")},
                       {"/* shard: 1 */ SELEC * FROM orders", One(1, Comment), true},
                       {"/* sharding_key: 4 */ SELEC * FROM orders", One(0, Comment), true},
                   });
  checkCases(m2(), {{"SELEC * FROM orders", One(0, Session), true}}, {0u, {}});
  checkCases(m2Default(), {{"SELEC * FROM orders", One(1, Default), true}});
  Route r = routeSql("SELEC * FROM orders", m2());
  CHECK_THAT(r.message, Catch::Contains("could not parse"));
  CHECK_THAT(r.message, Catch::Contains("syntax error"));
  CHECK_THAT(r.hint, Catch::Contains("/* shard: N */"));
}

TEST_CASE("route: hint precedence is session, then comment, then keys", "[router][route]") {
  const std::string_view keyed4 = "SELECT * FROM orders WHERE customer_id = 4";  // shard 0
  check(routeSql(keyed4, m2()), One(0, Key));
  check(routeSql(keyed4, m2(), {1u, {}}), One(1, Session));
  check(routeSql(keyed4, m2(), {{}, "5"}), One(1, Session));
  check(routeSql("/* shard: 1 */ SELECT * FROM orders WHERE customer_id = 4", m2()),
        One(1, Comment));
  check(routeSql("SELECT * FROM orders WHERE customer_id = 4 -- sharding_key: 3", m2()),
        One(1, Comment));
  check(routeSql("/* shard: 1 */ SELECT * FROM orders WHERE customer_id = 4", m2(), {0u, {}}),
        One(0, Session));
  check(routeSql("/* shard: 0 */ SELECT 1", m2(), {{}, "3"}), One(1, Session));
  // At one level a shard hint wins over a key hint.
  check(routeSql(keyed4, m2(), {0u, "5"}), One(0, Session));
  check(routeSql("/* sharding_key: 5, shard: 0 */ SELECT 1", m2()), One(0, Comment));
  // Hints route statements that would be refused or scattered.
  check(routeSql("UPDATE orders SET total = 1", m2(), {1u, {}}), One(1, Session));
  check(routeSql("SELECT * FROM unruled", m2(), {{}, "2"}), One(0, Session));
  check(routeSql("BEGIN", m2(), {1u, {}}), One(1, Session));
  // The write flag follows the statement.
  CHECK(routeSql("INSERT INTO orders (total) VALUES (1)", m2(), {1u, {}}).write);
  CHECK_FALSE(routeSql("SELECT * FROM orders", m2(), {1u, {}}).write);
  // Hint keys go through the sharding function: hash and text keys.
  check(routeSql("SELECT 1", m4(), {{}, "1000000"}), One(3, Session));
  check(routeSql("SELECT 1", m4Text(), {{}, "abc"}), One(1, Session));
  check(routeSql("/* sharding_key: 'abcdefghijk' */ SELECT 1", m4Text()), One(3, Comment));
  check(routeSql("SELECT 1", m2(), {{}, " -3 "}), One(1, Session));
}

TEST_CASE("route: unusable hints are refused", "[router][route]") {
  checkCases(m2(), {
                       {"/* shard: 2 */ SELECT 1", Refused("22023")},
                       {"/* shard: x */ SELECT 1", Refused("22023")},
                       {"/* sharding_key: abc */ SELECT 1", Refused("22P02")},
                       {"/* sharding_key: 99999999999999999999 */ SELECT 1", Refused("22003")},
                       {"SET shardpool.shard = 2", Refused("22023")},
                       {"SET shardpool.shard = 'x'", Refused("22023")},
                       {"SET shardpool.shrad = 1", Refused("22023")},
                       {"SET shardpool.sharding_key = 'abc'", Refused("22P02")},
                   });
  checkCases(m2(), {{"SELECT 1", Refused("22023")}}, {2u, {}});
  checkCases(m2(), {{"SELECT 1", Refused("22P02")}}, {{}, "1.5"});
  checkCases(m4(), {{"SELECT * FROM tenants WHERE slug = 'abc'", Refused("22P02")}}, {{}, "acme"});
  Route r = routeSql("/* shard: 2 */ SELECT 1", m2());
  CHECK_THAT(r.message, Catch::Contains("comment hint shard: 2 is out of range"));
  CHECK_THAT(r.message, Catch::Contains("2 shards"));
  r = routeSql("SELECT 1", m2(), {{}, "abc"});
  CHECK_THAT(
      r.message,
      Catch::Contains("shardpool.sharding_key = 'abc': invalid input syntax for type bigint"));
}

TEST_CASE("route: SET and RESET of shardpool settings are answered locally", "[router][route]") {
  checkCases(m2(), {
                       {"SET shardpool.shard = 1", Local(1)},
                       {"SET LOCAL shardpool.shard TO 0", Local(0)},
                       {"SET shardpool.sharding_key = 7", Local(1)},
                       {"SET shardpool.sharding_key = '-4'", Local(0)},
                       {"RESET shardpool.shard", Local(0)},
                       {"SET shardpool.sharding_key TO DEFAULT", Local(0)},
                   });
  checkCases(m4Text(), {{"SET shardpool.sharding_key = 'hello'", Local(0)}});
  // In a string of several statements the SET goes to the server with the rest, and routes it.
  checkCases(m2(), {
                       {"SET shardpool.shard = 1; SELECT * FROM orders", One(1, Session)},
                       {"SET shardpool.sharding_key = 4; SELECT * FROM orders", One(0, Session)},
                       {"SET shardpool.shard = 5; SELECT 1", Refused("22023")},
                   });
  // A SET of one hint replaces the other.
  checkCases(m2(),
             {
                 {"SET shardpool.sharding_key = 4; SELECT * FROM orders", One(0, Session)},
                 {"SET shardpool.shard = 0; SELECT 1", One(0, Session)},
             },
             {1u, {}});
  checkCases(m2(), {{"SET shardpool.shard = 0; SELECT 1", One(0, Session)}}, {{}, "3"});
  // A RESET in the string drops the session's hint for it.
  const SessionHints onShard1{1u, "3"};
  checkCases(m2(),
             {
                 {"RESET shardpool.shard; SELECT * FROM orders WHERE customer_id = 4",
                  One(1, Session)},  // the key hint is still set
                 {"RESET ALL", Any(0, AnyShard)},
                 {"RESET ALL; SELECT * FROM orders WHERE customer_id = 4", One(0, Key)},
                 {"SELECT * FROM orders WHERE customer_id = 4", One(1, Session)},
             },
             onShard1);
}

TEST_CASE("route: Bind values in text format", "[router][route]") {
  const ShardMap& m = m2();
  const StatementFacts f = analyze("SELECT * FROM orders WHERE customer_id = $1", m.tables);
  const std::vector<ParamCase> cases{
      {"5", 0, 0, One(1, Key)},
      {"4", 0, kInt8, One(0, Key)},
      {" +6 ", 0, kInt4, One(0, Key)},
      {"\t-1\n", 0, 0, One(1, Key)},
      {"-9223372036854775808", 0, kInt8, One(0, Key)},
      {"9223372036854775807", 0, kInt8, One(1, Key)},
      {"9223372036854775808", 0, kInt8, Refused("22003")},
      {"abc", 0, 0, Refused("22P02")},
      {"1.5", 0, kInt8, Refused("22P02")},
      {"", 0, kInt2, Refused("22P02")},
      {"- 1", 0, 0, Refused("22P02")},
      {"1.5", 0, kNumeric, All({0, 1}, Scatter)},  // not an integer type: PostgreSQL decides
      {"3", 0, kNumeric, One(1, Key)},
      {std::nullopt, 0, 0, All({0, 1}, Scatter)},  // NULL
  };
  for (const ParamCase& c : cases) {
    INFO("value " << c.value.value_or("NULL") << " type " << c.type);
    BindParams b = oneParam(c);
    check(routeBound(f, m, {}, &b), c.expect);
  }
  BindParams none;
  check(routeBound(f, m, {}, &none), All({0, 1}, Scatter));  // fewer values than parameters
  check(routeBound(f, m, {}, nullptr), All({0, 1}, Scatter));
  const ParamCase badCase{"x1", 0, 0, {}};  // named: the BindParams views its value
  BindParams bad = oneParam(badCase);
  Route r = routeBound(f, m, {}, &bad);
  CHECK_THAT(r.message, Catch::Contains("bind parameter $1 for the sharding key of table "
                                        "\"orders\" (sharding key customer_id)"));
}

TEST_CASE("route: Bind values in binary format", "[router][route]") {
  const ShardMap& m = m2();
  const StatementFacts f = analyze("SELECT * FROM orders WHERE customer_id = $1", m.tables);
  const std::vector<ParamCase> cases{
      {int2(5), 1, kInt2, One(1, Key)},
      {int2(-2), 1, kInt2, One(0, Key)},
      {int4(4), 1, kInt4, One(0, Key)},
      {int4(-3), 1, kInt4, One(1, Key)},
      {int8(7), 1, kInt8, One(1, Key)},
      {int8(-9223372036854775807 - 1), 1, kInt8, One(0, Key)},
      {int8(-1), 1, kInt8, One(1, Key)},
      // Unspecified type: the length says which integer.
      {int2(3), 1, 0, One(1, Key)},
      {int4(-1), 1, 0, One(1, Key)},
      {int8(10), 1, 0, One(0, Key)},
      // A length that does not fit the type.
      {int2(1), 1, kInt4, Refused("22P03")},
      {int8(1), 1, kInt2, Refused("22P03")},
      {std::string(3, '\0'), 1, 0, Refused("22P03")},
      // Text sent in binary is its bytes.
      {"11", 1, kText, One(1, Key)},
      {"12", 1, kVarchar, One(0, Key)},
      {"1.0", 1, kNumeric, All({0, 1}, Scatter)},
      {std::nullopt, 1, kInt8, All({0, 1}, Scatter)},
  };
  for (const ParamCase& c : cases) {
    INFO("type " << c.type << " bytes " << (c.value ? c.value->size() : 0));
    BindParams b = oneParam(c);
    check(routeBound(f, m, {}, &b), c.expect);
  }
}

TEST_CASE("route: Bind values of text keys", "[router][route]") {
  const ShardMap& m = m4();
  const StatementFacts f = analyze("SELECT * FROM tenants WHERE slug = $1", m.tables);
  const std::vector<ParamCase> cases{
      {"abc", 0, 0, One(1, Key)},
      {"hello", 0, kText, One(0, Key)},
      {"a", 1, kText, One(2, Key)},
      {"abcdefghijk", 1, kVarchar, One(3, Key)},
      {"abc", 1, 0, One(1, Key)},
      {int4(7), 1, kInt4, All({0, 1, 2, 3}, Scatter)},  // says nothing about the text
      {std::nullopt, 0, kText, All({0, 1, 2, 3}, Scatter)},
  };
  for (const ParamCase& c : cases) {
    INFO("value " << c.value.value_or("NULL") << " type " << c.type);
    BindParams b = oneParam(c);
    check(routeBound(f, m, {}, &b), c.expect);
  }
}

TEST_CASE("route: several Bind values and per-parameter formats", "[router][route]") {
  const ShardMap& m = m2();
  const StatementFacts f =
      analyze("INSERT INTO orders (total, customer_id) VALUES ($1, $2), ($3, $4)", m.tables);
  const std::string one = int8(1), three = int4(3), two = int8(2), total = "10";
  BindParams b;
  b.values = {std::string_view(total), std::string_view(one), std::string_view(total),
              std::string_view(three)};
  b.formats = {0, 1, 0, 1};
  b.types = {0, kInt8, 0, kInt4};
  check(routeBound(f, m, {}, &b), One(1, Key));
  CHECK(routeBound(f, m, {}, &b).write);

  b.values[3] = std::string_view(two);
  b.types[3] = kInt8;
  Route r = routeBound(f, m, {}, &b);
  check(r, Refused("0A000"));
  CHECK_THAT(r.message, Catch::Contains("shard 0 (\"s0\") and shard 1 (\"s1\")"));

  b.values[3] = std::nullopt;  // a NULL key: the row's shard is unknown
  check(routeBound(f, m, {}, &b), Refused("0A000"));

  // One format for every parameter.
  BindParams all1;
  all1.values = {std::string_view(one), std::string_view(one), std::string_view(one),
                 std::string_view(one)};
  all1.formats = {1};
  check(routeBound(f, m, {}, &all1), One(1, Key));

  // No formats: all text.
  const std::string five = "5", seven = "7";
  BindParams text;
  text.values = {std::string_view(total), std::string_view(five), std::string_view(total),
                 std::string_view(seven)};
  check(routeBound(f, m, {}, &text), One(1, Key));

  // A literal and a parameter in one IN list.
  const StatementFacts g = analyze("SELECT * FROM orders WHERE customer_id IN (2, $1)", m.tables);
  BindParams p;
  p.values = {std::string_view(seven)};
  check(routeBound(g, m, {}, &p), All({0, 1}, Key));
  p.values = {std::string_view(total)};
  check(routeBound(g, m, {}, &p), One(0, Key));
}

TEST_CASE("route: directory sharding", "[router][route]") {
  const ShardMap noDefault = directoryMap(&kDirectory);
  checkCases(noDefault, {
                            {"SELECT * FROM orders WHERE customer_id = 42", One(1, Key)},
                            {"SELECT * FROM orders WHERE customer_id = 150", One(1, Key)},
                            {"SELECT * FROM orders WHERE customer_id IN (42, 199)", One(1, Key)},
                            {"SELECT * FROM tenants WHERE slug = 'acme'", One(0, Key)},
                            {"SELECT * FROM orders WHERE customer_id = 7", Refused("22023")},
                            {"SELECT * FROM tenants WHERE slug = 'globex'", Refused("22023")},
                            {"SELECT * FROM orders WHERE customer_id = 5", Refused("55000")},
                            {"SELECT * FROM orders", All({0, 1}, Scatter)},
                        });
  checkCases(noDefault, {{"SELECT 1", One(1, Session)}}, {{}, "42"});
  checkCases(noDefault, {{"SET shardpool.sharding_key = 7", Refused("22023")}});
  Route r = routeSql("SELECT * FROM orders WHERE customer_id = 7", noDefault);
  CHECK_THAT(r.message, Catch::Contains("the key 7 is not in the shard directory of database "
                                        "\"dir\""));
  CHECK_THAT(r.hint, Catch::Contains("directory.default_shard"));

  // Keys not in the map: the directory's own default, else the database's.
  checkCases(directoryMap(&kDirectoryWithDefault),
             {{"SELECT * FROM orders WHERE customer_id IN (7, 8)", One(1, Key)},
              {"SELECT * FROM tenants WHERE slug IN ('acme', 'globex')", All({0, 1}, Key)}});
  checkCases(directoryMap(&kDirectory, 0u),
             {{"SELECT * FROM orders WHERE customer_id IN (7, 42)", All({0, 1}, Key)},
              {"SELECT * FROM tenants WHERE slug = 'globex'", One(0, Key)}});
  // No directory loaded yet.
  checkCases(directoryMap(nullptr),
             {{"SELECT * FROM orders WHERE customer_id = 42", Refused("55000")},
              {"SELECT * FROM orders", All({0, 1}, Scatter)}});
}

TEST_CASE("route: modulo cannot shard a text key", "[router][route]") {
  config::Database db = database("bad", {"s0", "s1"}, config::ShardingFunction::Modulo);
  db.tables = {{"tenants", sharded("slug", config::KeyType::Text)}};
  const ShardMap m = buildShardMap(db);
  Route r = routeSql("SELECT * FROM tenants WHERE slug = 'acme'", m);
  check(r, Refused("22023"));
  CHECK_THAT(r.message, Catch::Contains("modulo"));
  CHECK_THAT(r.message, Catch::Contains("'acme'"));
}

TEST_CASE("route: names of kinds and sources", "[router][route]") {
  CHECK(routeSourceName(RouteSource::SessionHint) == "session hint");
  CHECK(routeSourceName(RouteSource::Scatter) == "scatter");
  CHECK(routeSourceName(RouteSource::Any) == "any shard");
  CHECK(routeKindName(RouteKind::Refuse) == "refuse");
  CHECK(routeKindName(RouteKind::All) == "all");
}

}  // namespace
}  // namespace shardpool::router
