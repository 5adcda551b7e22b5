// analyze(): sharding keys, tables, statement kinds, SELECT shape, hints and parse errors.
// Every case parses real SQL with libpg_query; the expected facts are written from the SQL's
// meaning, not from this code's output.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "router/pg_statement.h"

namespace shardpool::router {

// Catch prints KeyRefs in failure messages through this.
std::ostream& operator<<(std::ostream& os, const KeyRef& k) {
  if (k.source == KeyRef::Source::Param) {
    return os << '$' << (k.paramIndex + 1) << (k.isText ? "::text" : "::int");
  }
  if (k.isText) return os << '\'' << k.text << '\'';
  return os << k.integer;
}

namespace {

using Sets = std::vector<std::vector<KeyRef>>;

KeyRef I(int64_t v) {
  return KeyRef::ofInteger(v);
}
KeyRef T(std::string v) {
  return KeyRef::ofText(std::move(v));
}
KeyRef P(int index) {
  return KeyRef::ofParam(index, false);
}
KeyRef PT(int index) {
  return KeyRef::ofParam(index, true);
}

const TableRules& rules() {
  static const TableRules r = [] {
    TableRules t;
    t.sharded["orders"] = {"customer_id", KeyKind::Integer};
    t.sharded["items"] = {"customer_id", KeyKind::Integer};
    t.sharded["users"] = {"id", KeyKind::Integer};
    t.sharded["accounts"] = {"name", KeyKind::Text};
    t.replicated = {"countries", "currencies"};
    t.pinned = {{"audit", 2}, {"logs", 2}, {"settings", 0}};
    return t;
  }();
  return r;
}

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

struct KeyCase {
  std::string_view sql;
  Sets keySets;
  bool keyMissing = false;
};

// Rules: orders and items by customer_id, users by id (integers); accounts by name (text).
const std::vector<KeyCase>& keyCases() {
  static const std::vector<KeyCase> cases{
      // Literals and parameters.
      {"SELECT * FROM orders WHERE customer_id = 5", {{I(5)}}},
      {"SELECT * FROM orders WHERE 5 = customer_id", {{I(5)}}},
      {"SELECT * FROM orders WHERE customer_id = '5'", {{I(5)}}},
      {"SELECT * FROM orders WHERE customer_id = ' +12 '", {{I(12)}}},
      {"SELECT * FROM orders WHERE customer_id = -5", {{I(-5)}}},
      {"SELECT * FROM orders WHERE customer_id = 0", {{I(0)}}},
      {"SELECT * FROM orders WHERE customer_id = - 7", {{I(-7)}}},
      {"SELECT * FROM orders WHERE customer_id = -(8)", {{I(-8)}}},
      {"SELECT * FROM orders WHERE customer_id = 9999999999", {{I(9999999999)}}},
      {"SELECT * FROM orders WHERE customer_id = -2147483648", {{I(-2147483648LL)}}},
      {"SELECT * FROM orders WHERE customer_id = -9223372036854775808", {{I(kMin)}}},
      {"SELECT * FROM orders WHERE customer_id = $1", {{P(0)}}},
      {"SELECT * FROM orders WHERE customer_id = $2::bigint", {{P(1)}}},
      {"SELECT * FROM orders WHERE customer_id = CAST('7' AS bigint)", {{I(7)}}},
      {"SELECT * FROM orders WHERE customer_id = 'abc'", {}, true},
      {"SELECT * FROM orders WHERE customer_id = 1.5", {}, true},
      {"SELECT * FROM orders WHERE customer_id = NULL", {}, true},
      {"SELECT * FROM orders WHERE customer_id IS NULL", {}, true},
      {"SELECT * FROM orders WHERE customer_id = other_column", {}, true},
      {"SELECT * FROM orders WHERE customer_id = abs(-3)", {}, true},
      // IN and ANY.
      {"SELECT * FROM orders WHERE customer_id IN (1, 2, 3)", {{I(1), I(2), I(3)}}},
      {"SELECT * FROM orders WHERE customer_id IN ($1, $2)", {{P(0), P(1)}}},
      {"SELECT * FROM orders WHERE customer_id IN (1, -2, '3')", {{I(1), I(-2), I(3)}}},
      {"SELECT * FROM orders WHERE customer_id IN (1, abs(2))", {}, true},
      {"SELECT * FROM orders WHERE customer_id NOT IN (1, 2)", {}, true},
      {"SELECT * FROM orders WHERE customer_id = ANY('{1,2}')", {{I(1), I(2)}}},
      {"SELECT * FROM orders WHERE customer_id = ANY('{1,2}'::bigint[])", {{I(1), I(2)}}},
      {"SELECT * FROM orders WHERE customer_id = ANY(ARRAY[4, -5])", {{I(4), I(-5)}}},
      {"SELECT * FROM orders WHERE customer_id = ANY($1)", {}, true},
      {"SELECT * FROM orders WHERE customer_id = ANY('{1,NULL}')", {}, true},
      {"SELECT * FROM orders WHERE customer_id = ANY('{}')", {}, true},
      // Other operators constrain nothing.
      {"SELECT * FROM orders WHERE customer_id <> 1", {}, true},
      {"SELECT * FROM orders WHERE customer_id > 1", {}, true},
      {"SELECT * FROM orders WHERE customer_id BETWEEN 1 AND 1", {}, true},
      {"SELECT * FROM orders WHERE NOT customer_id = 1", {}, true},
      // AND / OR.
      {"SELECT * FROM orders WHERE customer_id = 5 AND status = 'open'", {{I(5)}}},
      {"SELECT * FROM orders WHERE status = 'open' AND customer_id = 5", {{I(5)}}},
      {"SELECT * FROM orders WHERE customer_id = 1 OR customer_id = 2", {{I(1), I(2)}}},
      {"SELECT * FROM orders WHERE customer_id = 1 OR status = 'x'", {}, true},
      {"SELECT * FROM orders WHERE (customer_id = 1 OR customer_id IN (2, 3)) AND total > 3",
       {{I(1), I(2), I(3)}}},
      {"SELECT * FROM orders WHERE customer_id IN (1, 2) AND customer_id = 2", {{I(2)}}},
      {"SELECT * FROM orders WHERE (customer_id = 1 AND a = 1) OR (customer_id = 2 AND b = 2)",
       {{I(1), I(2)}}},
      {"SELECT * FROM orders", {}, true},
      {"SELECT * FROM orders WHERE status = 'open'", {}, true},
      // Qualified names, aliases, case.
      {"SELECT * FROM orders o WHERE o.customer_id = 5", {{I(5)}}},
      {"SELECT * FROM orders WHERE orders.customer_id = 5", {{I(5)}}},
      {"SELECT * FROM public.orders WHERE public.orders.customer_id = 5", {{I(5)}}},
      {"SELECT * FROM orders o WHERE x.customer_id = 5", {}, true},
      {"SELECT * FROM ORDERS WHERE Customer_ID = 1", {{I(1)}}},
      {"SELECT * FROM orders WHERE \"customer_id\" = 1", {{I(1)}}},
      {"SELECT * FROM orders WHERE \"Customer_id\" = 1", {}, true},
      {"SELECT * FROM \"Orders\" WHERE customer_id = 1", {}},  // another table
      {"SELECT * FROM orders TABLESAMPLE SYSTEM (10) WHERE customer_id = 3", {{I(3)}}},
      // Joins.
      {"SELECT * FROM orders o JOIN items i ON i.customer_id = o.customer_id "
       "WHERE o.customer_id = 5",
       {{I(5)}}},
      {"SELECT * FROM orders JOIN items USING (customer_id) WHERE customer_id = 5", {{I(5)}}},
      {"SELECT * FROM orders o, items i WHERE o.customer_id = i.customer_id "
       "AND i.customer_id = $1",
       {{P(0)}}},
      {"SELECT * FROM orders o JOIN items i ON i.order_id = o.id WHERE o.customer_id = 5",
       {{I(5)}},
       true},
      {"SELECT * FROM orders o JOIN items i ON i.customer_id = o.customer_id", {}, true},
      {"SELECT * FROM orders o JOIN users u ON u.id = o.customer_id WHERE o.customer_id = 5",
       {{I(5)}}},
      {"SELECT * FROM orders o JOIN items i ON i.customer_id = 7 AND o.customer_id = 7", {{I(7)}}},
      {"SELECT * FROM orders o, users u WHERE o.customer_id = 1 AND u.id = 2", {{I(1)}, {I(2)}}},
      {"SELECT * FROM orders NATURAL JOIN items WHERE customer_id = 1", {{I(1)}}, true},
      // Outer joins: ON filters only the nullable side.
      {"SELECT * FROM orders o LEFT JOIN items i ON i.customer_id = o.customer_id "
       "WHERE o.customer_id = 5",
       {{I(5)}}},
      {"SELECT * FROM orders o LEFT JOIN items i ON i.customer_id = o.customer_id "
       "WHERE i.customer_id = 5",
       {{I(5)}},
       true},
      {"SELECT * FROM orders o LEFT JOIN items i ON o.customer_id = 5 AND i.customer_id = 5",
       {{I(5)}},
       true},
      {"SELECT * FROM items i RIGHT JOIN orders o ON i.customer_id = o.customer_id "
       "WHERE o.customer_id = 5",
       {{I(5)}}},
      {"SELECT * FROM orders o FULL JOIN items i ON i.customer_id = o.customer_id "
       "AND o.customer_id = 5 AND i.customer_id = 5",
       {},
       true},
      // Text keys.
      {"SELECT * FROM accounts WHERE name = 'acme'", {{T("acme")}}},
      {"SELECT * FROM accounts WHERE name = $1", {{PT(0)}}},
      {"SELECT * FROM accounts WHERE name = 42", {{T("42")}}},
      {"SELECT * FROM accounts WHERE name IN ('a', 'b''c')", {{T("a"), T("b'c")}}},
      {"SELECT * FROM accounts WHERE name = ANY('{\"a b\", c}')", {{T("a b"), T("c")}}},
      {"SELECT * FROM accounts WHERE name = E'caf\\u00e9'", {{T("caf\xc3\xa9")}}},
      // Subqueries and CTEs: levels of their own.
      {"SELECT * FROM orders WHERE customer_id = 5 AND EXISTS "
       "(SELECT 1 FROM items i WHERE i.customer_id = orders.customer_id)",
       {{I(5)}}},
      {"SELECT * FROM orders o WHERE o.customer_id = 5 AND EXISTS "
       "(SELECT 1 FROM items i WHERE i.order_id = o.id)",
       {{I(5)}},
       true},
      {"SELECT * FROM orders t WHERE t.customer_id = 1 AND EXISTS "
       "(SELECT 1 FROM countries t WHERE t.customer_id = 2)",
       {{I(1)}}},
      {"SELECT * FROM orders o WHERE EXISTS "
       "(SELECT 1 FROM items i WHERE i.customer_id = o.customer_id)",
       {},
       true},
      {"SELECT * FROM countries c WHERE c.code IN (SELECT country FROM users WHERE id = 3)",
       {{I(3)}}},
      {"SELECT * FROM orders WHERE customer_id IN (SELECT id FROM users WHERE id = 3)",
       {{I(3)}},
       true},
      {"SELECT (SELECT count(*) FROM items WHERE customer_id = 2) FROM users WHERE id = 1",
       {{I(1)}, {I(2)}}},
      {"SELECT * FROM (SELECT * FROM orders WHERE customer_id = 8) s", {{I(8)}}},
      {"SELECT * FROM (SELECT * FROM orders) s WHERE s.customer_id = 8", {}, true},
      {"SELECT * FROM orders o, LATERAL (SELECT * FROM items i "
       "WHERE i.customer_id = o.customer_id) x WHERE o.customer_id = 3",
       {{I(3)}}},
      {"WITH o AS (SELECT * FROM orders WHERE customer_id = 4) SELECT * FROM o", {{I(4)}}},
      {"WITH orders AS (SELECT 1 AS customer_id) SELECT * FROM orders", {}},
      {"WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) "
       "SELECT * FROM t JOIN users u ON u.id = t.n WHERE u.id = 1",
       {{I(1)}}},
      {"SELECT * FROM orders WHERE customer_id = 1 UNION ALL "
       "SELECT * FROM orders WHERE customer_id = 2",
       {{I(1)}, {I(2)}}},
      // INSERT.
      {"INSERT INTO orders (id, customer_id, total) VALUES (1, 7, 9.5)", {{I(7)}}},
      {"INSERT INTO orders (customer_id, id) VALUES (1, 10), (2, 11), (1, 12)",
       {{I(1), I(2), I(1)}}},
      {"INSERT INTO orders (id, customer_id) VALUES ($1, $2)", {{P(1)}}},
      {"INSERT INTO orders (id, customer_id) VALUES ($1, $2), ($3, $4)", {{P(1), P(3)}}},
      {"INSERT INTO orders (id, customer_id) VALUES (1, -3)", {{I(-3)}}},
      {"INSERT INTO accounts (name, plan) VALUES ('acme', 'pro') RETURNING *", {{T("acme")}}},
      {"INSERT INTO orders VALUES (1, 2)", {}, true},
      {"INSERT INTO orders (id) VALUES (1)", {}, true},
      {"INSERT INTO orders (id, customer_id) VALUES (1, DEFAULT)", {}, true},
      {"INSERT INTO orders (id, customer_id) VALUES (1, 5), (2, abs(-6))", {}, true},
      {"INSERT INTO orders DEFAULT VALUES", {}, true},
      {"INSERT INTO orders (id, customer_id) SELECT id, customer_id FROM staging", {}, true},
      {"INSERT INTO orders (id, customer_id) SELECT id, customer_id FROM items "
       "WHERE customer_id = 3",
       {{I(3)}},
       true},
      {"INSERT INTO orders (id, customer_id) VALUES (1, 3) "
       "ON CONFLICT (id) DO UPDATE SET total = excluded.total",
       {{I(3)}}},
      {"INSERT INTO countries (code) VALUES ('fr')", {}},
      {"INSERT INTO orders (id, customer_id) VALUES (1, (SELECT 2))", {}, true},
      // UPDATE / DELETE.
      {"UPDATE orders SET total = 1 WHERE customer_id = 5", {{I(5)}}},
      {"UPDATE orders SET total = 1 WHERE other = 1", {}, true},
      {"UPDATE orders SET total = 1", {}, true},
      {"UPDATE orders o SET total = i.total FROM items i "
       "WHERE i.customer_id = o.customer_id AND o.customer_id = $1",
       {{P(0)}}},
      {"UPDATE accounts SET plan = 'free' WHERE name = $2 AND plan = $1", {{PT(1)}}},
      {"DELETE FROM orders WHERE customer_id = 5", {{I(5)}}},
      {"DELETE FROM orders WHERE customer_id IN (1, 2)", {{I(1), I(2)}}},
      {"DELETE FROM ONLY public.orders AS o WHERE o.customer_id = 9", {{I(9)}}},
      {"DELETE FROM orders", {}, true},
      {"DELETE FROM orders WHERE CURRENT OF c", {}, true},
      {"DELETE FROM orders o USING items i WHERE i.customer_id = o.customer_id "
       "AND i.customer_id = 4",
       {{I(4)}}},
      {"WITH d AS (DELETE FROM orders WHERE customer_id = 1 RETURNING *) SELECT * FROM d",
       {{I(1)}}},
      // Several statements: keys of all.
      {"SELECT * FROM orders WHERE customer_id = 1; DELETE FROM items WHERE customer_id = 2",
       {{I(1)}, {I(2)}}},
      // Tables that are not sharded need no key.
      {"SELECT * FROM countries WHERE code = 'fr'", {}},
      {"SELECT 1", {}},
  };
  return cases;
}

TEST_CASE("analyze: sharding keys", "[router][pg_statement]") {
  for (const KeyCase& c : keyCases()) {
    INFO(c.sql);
    StatementFacts f = analyze(c.sql, rules());
    REQUIRE(f.parsed);
    CHECK(f.keySets == c.keySets);
    CHECK(f.keyMissing == c.keyMissing);
  }
}

TEST_CASE("analyze: INSERT and UPDATE flags", "[router][pg_statement]") {
  struct Case {
    std::string_view sql;
    bool multiRowInsert;
    bool updatesKey;
  };
  const Case cases[] = {
      {"INSERT INTO orders (id, customer_id) VALUES (1, 2)", false, false},
      {"INSERT INTO orders (id, customer_id) VALUES (1, 2), (3, 4)", true, false},
      {"INSERT INTO countries (code) VALUES ('a'), ('b')", true, false},
      {"UPDATE orders SET customer_id = 6 WHERE customer_id = 5", false, true},
      {"UPDATE orders SET (total, customer_id) = (1, 2) WHERE customer_id = 5", false, true},
      {"UPDATE orders SET total = 6 WHERE customer_id = 5", false, false},
      {"UPDATE countries SET customer_id = 1", false, false},
      {"INSERT INTO orders (id, customer_id) VALUES (1, 2) "
       "ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id",
       false, true},
      {"INSERT INTO orders (id, customer_id) VALUES (1, 2) ON CONFLICT DO NOTHING", false, false},
  };
  for (const Case& c : cases) {
    INFO(c.sql);
    StatementFacts f = analyze(c.sql, rules());
    CHECK(f.multiRowInsert == c.multiRowInsert);
    CHECK(f.updatesKey == c.updatesKey);
  }
}

struct KindCase {
  std::string_view sql;
  StatementKind kind;
  std::vector<std::string> tables;
  bool isWrite;
};

TEST_CASE("analyze: kinds, tables and writes", "[router][pg_statement]") {
  using K = StatementKind;
  const std::vector<KindCase> cases{
      {"SELECT 1", K::Select, {}, false},
      {"select * from Orders o join ITEMS using (customer_id)",
       K::Select,
       {"orders", "items"},
       false},
      {"SELECT * FROM public.orders, \"Mixed\".\"CaseTable\"",
       K::Select,
       {"orders", "CaseTable"},
       false},
      {"SELECT * FROM orders WHERE customer_id = 1 FOR UPDATE", K::Select, {"orders"}, true},
      {"SELECT * FROM orders o JOIN items i USING (customer_id) FOR SHARE OF o",
       K::Select,
       {"orders", "items"},
       true},
      {"SELECT * INTO archive FROM orders", K::Select, {"archive", "orders"}, true},
      {"SELECT * FROM orders WHERE id IN (SELECT order_id FROM items)",
       K::Select,
       {"orders", "items"},
       false},
      {"SELECT * FROM users WHERE id = (SELECT max(id) FROM users)", K::Select, {"users"}, false},
      {"WITH x AS (INSERT INTO logs (m) VALUES ('a') RETURNING id) SELECT * FROM x",
       K::Select,
       {"logs"},
       true},
      {"VALUES (1), (2)", K::Select, {}, false},
      {"TABLE orders", K::Select, {"orders"}, false},
      {"INSERT INTO orders (id, customer_id) VALUES (1, 2)", K::Insert, {"orders"}, true},
      {"INSERT INTO orders SELECT * FROM staging", K::Insert, {"orders", "staging"}, true},
      {"UPDATE orders SET total = 0 WHERE customer_id = 1", K::Update, {"orders"}, true},
      {"DELETE FROM orders USING items WHERE items.customer_id = orders.customer_id",
       K::Delete,
       {"orders", "items"},
       true},
      // DDL (TRUNCATE included).
      {"CREATE TABLE orders (id bigint, customer_id bigint)", K::Ddl, {"orders"}, true},
      {"CREATE TABLE lines (id int REFERENCES countries (code))",
       K::Ddl,
       {"lines", "countries"},
       true},
      {"ALTER TABLE orders ADD COLUMN note text", K::Ddl, {"orders"}, true},
      {"DROP TABLE IF EXISTS s.orders, items CASCADE", K::Ddl, {"orders", "items"}, true},
      {"DROP INDEX orders_idx", K::Ddl, {}, true},
      {"CREATE INDEX CONCURRENTLY ON orders (customer_id)", K::Ddl, {"orders"}, true},
      {"TRUNCATE orders, countries", K::Ddl, {"orders", "countries"}, true},
      {"CREATE VIEW v AS SELECT * FROM orders", K::Ddl, {"v", "orders"}, true},
      {"CREATE TABLE a2 AS SELECT * FROM orders", K::Ddl, {"orders", "a2"}, true},
      {"GRANT SELECT ON orders TO app", K::Ddl, {"orders"}, true},
      {"CREATE EXTENSION IF NOT EXISTS pgcrypto", K::Ddl, {}, true},
      // Transaction control and settings.
      {"BEGIN", K::TransactionControl, {}, false},
      {"START TRANSACTION ISOLATION LEVEL SERIALIZABLE", K::TransactionControl, {}, false},
      {"COMMIT", K::TransactionControl, {}, false},
      {"ROLLBACK", K::TransactionControl, {}, false},
      {"SAVEPOINT sp1", K::TransactionControl, {}, false},
      {"RELEASE SAVEPOINT sp1", K::TransactionControl, {}, false},
      {"ROLLBACK TO SAVEPOINT sp1", K::TransactionControl, {}, false},
      {"PREPARE TRANSACTION 'x'", K::TransactionControl, {}, false},
      {"SET search_path = app, public", K::Set, {}, false},
      {"SET TRANSACTION READ ONLY", K::Set, {}, false},
      {"RESET ALL", K::Set, {}, false},
      {"SHOW shardpool.shard", K::Set, {}, false},
      // Utility.
      {"COPY orders FROM STDIN", K::Utility, {"orders"}, true},
      {"COPY orders (id) TO STDOUT", K::Utility, {"orders"}, false},
      {"COPY (SELECT * FROM orders) TO STDOUT", K::Utility, {"orders"}, false},
      {"EXPLAIN SELECT * FROM orders", K::Utility, {"orders"}, false},
      {"EXPLAIN ANALYZE DELETE FROM orders", K::Utility, {"orders"}, true},
      {"PREPARE p AS SELECT * FROM orders WHERE customer_id = $1", K::Utility, {"orders"}, false},
      {"PREPARE p AS UPDATE orders SET total = 0", K::Utility, {"orders"}, true},
      {"EXECUTE p(1)", K::Utility, {}, true},
      {"DECLARE c CURSOR FOR SELECT * FROM orders", K::Utility, {"orders"}, false},
      {"FETCH 10 FROM c", K::Utility, {}, false},
      {"VACUUM ANALYZE orders", K::Utility, {"orders"}, true},
      {"LOCK TABLE orders IN SHARE MODE", K::Utility, {"orders"}, true},
      {"LISTEN channel", K::Utility, {}, false},
      {"DISCARD ALL", K::Utility, {}, false},
      {"CALL refresh_all()", K::Utility, {}, true},
      {"DO $$ BEGIN PERFORM 1; END $$", K::Utility, {}, true},
      {"MERGE INTO orders o USING items i ON o.customer_id = i.customer_id "
       "WHEN MATCHED THEN DELETE",
       K::Utility,
       {"orders", "items"},
       true},
      // Empty text and several statements.
      {"", K::Empty, {}, false},
      {" ; ; ", K::Empty, {}, false},
      {"-- nothing here\n", K::Empty, {}, false},
      {"/* nothing */", K::Empty, {}, false},
      {"SELECT * FROM orders; DELETE FROM items", K::Select, {"orders", "items"}, true},
      {"BEGIN; UPDATE users SET a = 1 WHERE id = 1; COMMIT",
       K::TransactionControl,
       {"users"},
       true},
  };
  for (const KindCase& c : cases) {
    INFO(c.sql);
    StatementFacts f = analyze(c.sql, rules());
    REQUIRE(f.parsed);
    CHECK(statementKindName(f.kind) == statementKindName(c.kind));
    CHECK(f.tables == c.tables);
    CHECK(f.isWrite == c.isWrite);
  }
}

TEST_CASE("analyze: statement count", "[router][pg_statement]") {
  CHECK(analyze("", rules()).statementCount == 0);
  CHECK(analyze("SELECT 1", rules()).statementCount == 1);
  CHECK(analyze("SELECT 1; SELECT 2;", rules()).statementCount == 2);
  CHECK(analyze("SELECT ';'; SELECT $$;$$", rules()).statementCount == 2);
}

TEST_CASE("analyze: sharded, replicated and pinned tables", "[router][pg_statement]") {
  struct Case {
    std::string_view sql;
    bool sharded, replicated;
    std::optional<uint32_t> pinned;
    bool conflicting;
  };
  const Case cases[] = {
      {"SELECT 1", false, false, std::nullopt, false},
      {"SELECT * FROM orders", true, false, std::nullopt, false},
      {"SELECT * FROM countries", false, true, std::nullopt, false},
      {"SELECT * FROM orders JOIN countries USING (code)", true, true, std::nullopt, false},
      {"SELECT * FROM audit JOIN logs USING (id)", false, false, 2u, false},
      {"SELECT * FROM audit, settings", false, false, std::nullopt, true},
      {"SELECT * FROM audit, settings, logs", false, false, std::nullopt, true},
      {"SELECT * FROM settings s JOIN countries c USING (code)", false, true, 0u, false},
      {"INSERT INTO audit SELECT * FROM logs", false, false, 2u, false},
      {"SELECT * FROM other_schema.audit", false, false, 2u, false},
      {"SELECT * FROM \"Audit\"", false, false, std::nullopt, false},
  };
  for (const Case& c : cases) {
    INFO(c.sql);
    StatementFacts f = analyze(c.sql, rules());
    CHECK(f.touchesSharded == c.sharded);
    CHECK(f.touchesReplicated == c.replicated);
    CHECK(f.pinnedShard == c.pinned);
    CHECK(f.conflictingPins == c.conflicting);
  }
}

TEST_CASE("analyze: DDL, TRUNCATE and utility statements on sharded tables need every shard",
          "[router][pg_statement]") {
  for (std::string_view sql :
       {"CREATE TABLE orders (id int)", "ALTER TABLE orders ADD COLUMN x int", "DROP TABLE orders",
        "CREATE INDEX ON orders (customer_id)", "TRUNCATE orders", "VACUUM orders",
        "COPY orders FROM STDIN", "LOCK orders",
        "MERGE INTO orders o USING staging s ON s.id = o.id WHEN MATCHED THEN DELETE"}) {
    INFO(sql);
    StatementFacts f = analyze(sql, rules());
    CHECK(f.touchesSharded);
    CHECK(f.keyMissing);
    CHECK(f.keySets.empty());
  }
  StatementFacts f = analyze("TRUNCATE countries", rules());
  CHECK_FALSE(f.keyMissing);
  CHECK(f.kind == StatementKind::Ddl);
}

TEST_CASE("analyze: SELECT shape", "[router][pg_statement]") {
  struct Case {
    std::string_view sql;
    bool orderBy, limit, aggregate, groupBy, distinct;
  };
  const Case cases[] = {
      {"SELECT * FROM orders", false, false, false, false, false},
      {"SELECT * FROM orders ORDER BY id LIMIT 5", true, true, false, false, false},
      {"SELECT * FROM orders OFFSET 10", false, true, false, false, false},
      {"SELECT * FROM orders FETCH FIRST 3 ROWS ONLY", false, true, false, false, false},
      {"SELECT count(*) FROM orders", false, false, true, false, false},
      {"SELECT customer_id, sum(total) FROM orders GROUP BY 1", false, false, true, true, false},
      {"SELECT customer_id FROM orders GROUP BY 1", false, false, false, true, false},
      {"SELECT customer_id FROM orders GROUP BY 1 HAVING true", false, false, true, true, false},
      {"SELECT pg_catalog.max(total) + 1 FROM orders", false, false, true, false, false},
      {"SELECT my_agg(x ORDER BY y) FROM orders", false, false, true, false, false},
      {"SELECT my_agg(DISTINCT x) FROM orders", false, false, true, false, false},
      {"SELECT my_agg(x) FILTER (WHERE y) FROM orders", false, false, true, false, false},
      {"SELECT lower(name) FROM orders", false, false, false, false, false},
      {"SELECT rank() OVER (ORDER BY total) FROM orders", false, false, false, false, false},
      {"SELECT sum(total) OVER () FROM orders", false, false, false, false, false},
      {"SELECT sum(count(*)) OVER () FROM orders GROUP BY a", false, false, true, true, false},
      {"SELECT (SELECT count(*) FROM items) FROM orders", false, false, false, false, false},
      {"SELECT DISTINCT customer_id FROM orders", false, false, false, false, true},
      {"SELECT DISTINCT ON (customer_id) * FROM orders", false, false, false, false, true},
      {"SELECT a FROM orders UNION SELECT a FROM items", false, false, false, false, true},
      {"SELECT a FROM orders UNION ALL SELECT count(*) FROM items ORDER BY 1 LIMIT 3", true, true,
       true, false, false},
      {"INSERT INTO orders SELECT count(*) FROM items ORDER BY 1", false, false, false, false,
       false},
      {"SELECT 1; SELECT count(*) FROM orders", false, false, false, false, false},
  };
  for (const Case& c : cases) {
    INFO(c.sql);
    StatementFacts f = analyze(c.sql, rules());
    CHECK(f.hasOrderBy == c.orderBy);
    CHECK(f.hasLimit == c.limit);
    CHECK(f.hasAggregate == c.aggregate);
    CHECK(f.hasGroupBy == c.groupBy);
    CHECK(f.hasDistinct == c.distinct);
  }
}

TEST_CASE("analyze: SET hints", "[router][pg_statement]") {
  struct Case {
    std::string_view sql;
    std::optional<uint32_t> shard;
    std::optional<std::string> key;
    bool local, resetShard, resetKey;
    bool error;
  };
  const Case cases[] = {
      {"SET shardpool.shard = 2", 2u, {}, false, false, false, false},
      {"SET shardpool.shard TO 2", 2u, {}, false, false, false, false},
      {"SET shardpool.shard TO '3'", 3u, {}, false, false, false, false},
      {"SET SESSION shardpool.shard = 0", 0u, {}, false, false, false, false},
      {"SET ShardPool.Shard = 4294967295", 4294967295u, {}, false, false, false, false},
      {"SET LOCAL shardpool.shard = 1", 1u, {}, true, false, false, false},
      {"SET LOCAL shardpool.sharding_key = 'acme'", {}, "acme", true, false, false, false},
      {"SET shardpool.sharding_key TO 42", {}, "42", false, false, false, false},
      {"SET shardpool.sharding_key = -42", {}, "-42", false, false, false, false},
      {"SET shardpool.sharding_key = 0", {}, "0", false, false, false, false},
      {"SET shardpool.shard = 'x'", {}, {}, false, false, false, true},
      {"SET shardpool.shard = -1", {}, {}, false, false, false, true},
      {"SET shardpool.shard = 4294967296", {}, {}, false, false, false, true},
      {"SET shardpool.shard = 1.5", {}, {}, false, false, false, true},
      {"SET shardpool.shard = 1, 2", {}, {}, false, false, false, true},
      {"SET shardpool.shrad = 1", {}, {}, false, false, false, true},
      {"SET search_path = shardpool", {}, {}, false, false, false, false},
      {"RESET shardpool.shard", {}, {}, false, true, false, false},
      {"RESET shardpool.sharding_key", {}, {}, false, false, true, false},
      {"SET shardpool.shard TO DEFAULT", {}, {}, false, true, false, false},
      {"RESET ALL", {}, {}, false, true, true, false},
      {"SET shardpool.shard = 1; SELECT * FROM orders", 1u, {}, false, false, false, false},
      {"SET shardpool.shard = 1; RESET shardpool.shard", {}, {}, false, true, false, false},
      {"RESET shardpool.shard; SET shardpool.shard = 5", 5u, {}, false, false, false, false},
      {"SET shardpool.shard = 1; SET shardpool.sharding_key = 'k'", 1u, "k", false, false, false,
       false},
  };
  for (const Case& c : cases) {
    INFO(c.sql);
    StatementFacts f = analyze(c.sql, rules());
    REQUIRE(f.parsed);
    CHECK(f.setShard == c.shard);
    CHECK(f.setShardingKey == c.key);
    CHECK(f.setIsLocal == c.local);
    CHECK(f.resetShard == c.resetShard);
    CHECK(f.resetShardingKey == c.resetKey);
    CHECK(f.resetHint == (c.resetShard || c.resetKey));
    CHECK(f.hintError.empty() == !c.error);
  }
  CHECK(analyze("SET shardpool.shard = 3", rules()).kind == StatementKind::Set);
}

TEST_CASE("analyze: comment hints", "[router][pg_statement]") {
  struct Case {
    std::string_view sql;
    std::optional<uint32_t> shard;
    std::optional<std::string> key;
    bool error = false;
  };
  const Case cases[] = {
      {"/* shard: 3 */ SELECT 1", 3u, {}},
      {"SELECT 1 -- shard: 4", 4u, {}},
      {"SELECT 1 -- SHARD=4\n", 4u, {}},
      {"SELECT /* sharding_key: 42 */ 1", {}, "42"},
      {"/* sharding_key: 'acme corp' */ SELECT 1", {}, "acme corp"},
      {"/* sharding_key: 'o''brien' */ SELECT 1", {}, "o'brien"},
      {"/* shard=5, sharding_key=x-1 */ SELECT 1", 5u, "x-1"},
      {"/*shard:6*/SELECT 1", 6u, {}},
      {"/* app: web, shard: 7 */ SELECT 1", 7u, {}},
      {"/* outer /* inner */ shard: 6 */ SELECT 1", 6u, {}},
      {"/* shard: 1 */ SELECT 1 /* shard: 2 */", 1u, {}},
      {"SELECT 1 /* shard: 8 */; SELECT 2", 8u, {}},
      {"SELECT '/* shard: 3 */'", {}, {}},
      {"SELECT '-- shard: 3'", {}, {}},
      {"SELECT 'it''s /* shard: 3 */'", {}, {}},
      {"SELECT E'\\' /* shard: 3 */'", {}, {}},
      {"SELECT $$ -- shard: 3 $$", {}, {}},
      {"SELECT $tag$ /* shard: 3 */ $tag$", {}, {}},
      {"SELECT \"a -- shard: 2\" FROM t", {}, {}},
      {"SELECT a$b /* shard: 2 */ FROM t", 2u, {}},
      {"SELECT $1 /* shard: 2 */", 2u, {}},
      {"/* myshard: 3 */ SELECT 1", {}, {}},
      {"/* shards: 3 */ SELECT 1", {}, {}},
      {"/* shard 3 */ SELECT 1", {}, {}},
      {"/* shard: x */ SELECT 1", {}, {}, true},
      {"/* sharding_key: */ SELECT 1", {}, {}, true},
      {"SELECT 1", {}, {}},
  };
  for (const Case& c : cases) {
    INFO(c.sql);
    StatementFacts f = analyze(c.sql, rules());
    CHECK(f.commentShard == c.shard);
    CHECK(f.commentShardingKey == c.key);
    CHECK(f.hintError.empty() == !c.error);
  }
}

TEST_CASE("analyze: parse errors", "[router][pg_statement]") {
  struct Case {
    std::string_view sql;
    StatementKind guessed;
  };
  const Case cases[] = {
      {"SELEC * FROM orders", StatementKind::Utility},
      {"SELECT * FROM orders WHERE", StatementKind::Select},
      {"/* c */ (insert into orders values (", StatementKind::Insert},
      {"UPDATE orders SET", StatementKind::Update},
      {"create tabel x ()", StatementKind::Ddl},
      {"BEGIN foo", StatementKind::TransactionControl},
      {"SET = 1", StatementKind::Set},
      {"SELECT 'unterminated", StatementKind::Select},
  };
  for (const Case& c : cases) {
    INFO(c.sql);
    StatementFacts f = analyze(c.sql, rules());
    CHECK_FALSE(f.parsed);
    CHECK_FALSE(f.parseError.empty());
    CHECK(f.kind == c.guessed);
    CHECK(f.isWrite);
    CHECK(f.tables.empty());
    CHECK(f.keySets.empty());
  }
  StatementFacts f = analyze("SELEC * FROM orders /* shard: 2 */ -- sharding_key: 9", rules());
  CHECK_FALSE(f.parsed);
  CHECK(f.parseError.find("syntax error") != std::string::npos);
  CHECK(f.commentShard == 2u);
  CHECK(f.commentShardingKey == "9");
}

TEST_CASE("analyze: deep nesting is refused, not followed", "[router][pg_statement]") {
  std::string ok = "SELECT * FROM orders WHERE ";
  for (int i = 0; i < 100; ++i) ok += "NOT ";
  ok += "true AND customer_id = 1";
  StatementFacts shallow = analyze(ok, rules());
  CHECK(shallow.parsed);
  CHECK(shallow.keySets == Sets{{I(1)}});

  std::string deep = "SELECT * FROM orders WHERE ";
  for (int i = 0; i < 3000; ++i) deep += "NOT ";
  deep += "true";
  StatementFacts f = analyze(deep, rules());
  CHECK_FALSE(f.parsed);
  CHECK(f.parseError.find("nests too deeply") != std::string::npos);
  CHECK(f.kind == StatementKind::Select);
  CHECK(f.isWrite);
}

TEST_CASE("analyze: random bytes do not crash", "[router][pg_statement]") {
  uint32_t seed = 12345;
  auto next = [&] {
    seed = seed * 1103515245u + 12345u;
    return static_cast<char>((seed >> 16) & 0xFF);
  };
  const std::string_view alphabet = "SELECT*FROMWHERE=$1'\"()-/;,.:  \n{}0123456789shard";
  for (int round = 0; round < 300; ++round) {
    std::string sql;
    int len = 1 + round % 60;
    for (int i = 0; i < len; ++i) {
      char c = next();
      sql += round % 2 == 0 ? c : alphabet[static_cast<unsigned char>(c) % alphabet.size()];
    }
    StatementFacts f = analyze(sql, rules());
    CHECK((f.parsed || !f.parseError.empty()));
  }
}

TEST_CASE("KeyRef: literal as a KeyValue", "[router][pg_statement]") {
  KeyRef i = KeyRef::ofInteger(-7);
  CHECK(i.value().kind == KeyValue::Kind::Integer);
  CHECK(i.value().integer == -7);
  KeyRef t = KeyRef::ofText("acme");
  CHECK(t.value().kind == KeyValue::Kind::Text);
  CHECK(t.value().text == "acme");
  CHECK(shardFor(ShardFunction::Modulo, i.value(), 4).shard == 1);
}

}  // namespace
}  // namespace shardpool::router
