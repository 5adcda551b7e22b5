// analyzeMysql(): kinds, tables, sharding keys, writes, hints and garbage, written from what
// each MySQL statement means; then route() over the facts, to prove the MySQL engine can route
// with them.
#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "router/mysql_statement.h"
#include "router/route.h"

namespace shardpool::router {
namespace {

const TableRules& rules() {
  static const TableRules r = [] {
    TableRules t;
    t.sharded["orders"] = {"customer_id", KeyKind::Integer};
    t.sharded["items"] = {"customer_id", KeyKind::Integer};
    t.sharded["users"] = {"id", KeyKind::Integer};
    t.sharded["accounts"] = {"name", KeyKind::Text};
    t.replicated = {"countries"};
    t.pinned = {{"audit", 2}, {"logs", 2}, {"settings", 0}};
    return t;
  }();
  return r;
}

// The key sets as text: "5 | 7,8 | ?0 | 'acme'" ("" when none).
std::string keysOf(const StatementFacts& f) {
  std::string out;
  for (const std::vector<KeyRef>& set : f.keySets) {
    if (!out.empty()) out += " | ";
    for (size_t i = 0; i < set.size(); ++i) {
      if (i > 0) out += ",";
      const KeyRef& k = set[i];
      if (k.source == KeyRef::Source::Param) {
        out += "?" + std::to_string(k.paramIndex) + (k.isText ? "t" : "");
      } else if (k.isText) {
        out += "'" + k.text + "'";
      } else {
        out += std::to_string(k.integer);
      }
    }
  }
  return out;
}

std::string tablesOf(const StatementFacts& f) {
  std::string out;
  for (const std::string& t : f.tables) out += (out.empty() ? "" : ",") + t;
  return out;
}

struct KeyCase {
  std::string_view sql;
  std::string_view keys;  // keysOf()
  bool missing;           // keyMissing
};

void checkKeys(const KeyCase& c) {
  INFO(c.sql);
  StatementFacts f = analyzeMysql(c.sql, rules());
  INFO("parseError: " << f.parseError);
  CHECK(f.parsed);
  CHECK(keysOf(f) == c.keys);
  CHECK(f.keyMissing == c.missing);
}

TEST_CASE("mysql: SELECT keys from WHERE equalities", "[router][mysql_statement]") {
  const KeyCase cases[] = {
      {"SELECT * FROM orders WHERE customer_id = 5", "5", false},
      {"SELECT * FROM orders WHERE 5 = customer_id", "5", false},
      {"SELECT * FROM orders WHERE customer_id <=> 5", "5", false},
      {"SELECT * FROM orders WHERE customer_id = -5", "-5", false},
      {"SELECT * FROM orders WHERE customer_id = '7'", "7", false},
      {"SELECT * FROM orders WHERE customer_id = ' 7 '", "7", false},
      {"select * from ORDERS where CUSTOMER_ID = 5", "5", false},
      {"SELECT * FROM `orders` WHERE `customer_id` = 5", "5", false},
      {"SELECT * FROM shop.orders WHERE customer_id = 5", "5", false},
      {"SELECT * FROM `shop`.`Orders` o WHERE o.customer_id = 5", "5", false},
      {"SELECT * FROM orders AS o WHERE o.customer_id = 5", "5", false},
      {"SELECT * FROM orders o WHERE shop.o.customer_id = 5", "5", false},
      {"SELECT * FROM orders WHERE orders.customer_id = 5 AND status = 'x'", "5", false},
      {"SELECT * FROM orders WHERE status = 'x' && customer_id = 5", "5", false},
      {"SELECT * FROM orders WHERE customer_id IN (1, 2, 3)", "1,2,3", false},
      {"SELECT * FROM orders WHERE customer_id IN (1, '2', -3, 1)", "1,2,-3", false},
      {"SELECT * FROM orders WHERE (customer_id = 5 AND a = 1) AND (b = 2 OR c = 3)", "5", false},
      {"SELECT * FROM orders WHERE customer_id = 5 AND x BETWEEN 1 AND 3", "5", false},
      {"SELECT * FROM orders WHERE customer_id IN (1, 2) AND customer_id = 2", "2", false},
      {"SELECT * FROM orders WHERE customer_id = 5 ORDER BY id LIMIT 10", "5", false},
      {"SELECT * FROM orders WHERE customer_id = 5 GROUP BY a HAVING count(*) > 1", "5", false},
      {"SELECT * FROM orders FORCE INDEX (ix) WHERE customer_id = 5", "5", false},
      {"SELECT * FROM orders PARTITION (p1) AS o USE INDEX FOR JOIN (a) WHERE o.customer_id = 5",
       "5", false},
      {"SELECT * FROM accounts WHERE name = 'acme'", "'acme'", false},
      {"SELECT * FROM accounts WHERE name = 'it''s' AND x = 1", "'it's'", false},
      {"SELECT * FROM accounts WHERE name = 'a\\'b\\\\c'", "'a'b\\c'", false},
      {"SELECT * FROM accounts WHERE name = \"dq\"", "'dq'", false},
      {"SELECT * FROM accounts WHERE name = N'nat'", "'nat'", false},
      {"SELECT * FROM accounts WHERE name = _utf8mb4'u8'", "'u8'", false},
      {"SELECT * FROM accounts WHERE name = 42", "'42'", false},
      {"SELECT * FROM accounts WHERE name = 007", "'7'", false},
      {"SELECT * FROM users WHERE id = 9223372036854775807", "9223372036854775807", false},
      {"SELECT * FROM users WHERE id = -9223372036854775808", "-9223372036854775808", false},
  };
  for (const KeyCase& c : cases) checkKeys(c);
}

TEST_CASE("mysql: values and conditions that give no key", "[router][mysql_statement]") {
  const KeyCase cases[] = {
      {"SELECT * FROM orders", "", true},
      {"SELECT * FROM orders WHERE customer_id = 5 OR x = 2", "", true},
      {"SELECT * FROM orders WHERE x = 2 || customer_id = 5", "", true},
      {"SELECT * FROM orders WHERE customer_id = 5 XOR x = 2", "", true},
      {"SELECT * FROM orders WHERE NOT customer_id = 5", "", true},
      {"SELECT * FROM orders WHERE customer_id != 5", "", true},
      {"SELECT * FROM orders WHERE customer_id > 5", "", true},
      {"SELECT * FROM orders WHERE customer_id NOT IN (1, 2)", "", true},
      {"SELECT * FROM orders WHERE customer_id IN (1, x)", "", true},
      {"SELECT * FROM orders WHERE customer_id IN (SELECT c FROM t)", "", true},
      {"SELECT * FROM orders WHERE customer_id = 5 + 1", "", true},
      {"SELECT * FROM orders WHERE customer_id = 5.0", "", true},
      {"SELECT * FROM orders WHERE customer_id = 1e3", "", true},
      {"SELECT * FROM orders WHERE customer_id = 0x10", "", true},
      {"SELECT * FROM orders WHERE customer_id = '5abc'", "", true},
      {"SELECT * FROM orders WHERE customer_id = 99999999999999999999", "", true},
      {"SELECT * FROM orders WHERE customer_id = NULL", "", true},
      {"SELECT * FROM orders WHERE customer_id = @cid", "", true},
      {"SELECT * FROM orders WHERE customer_id = abs(5)", "", true},
      {"SELECT * FROM orders WHERE abs(customer_id) = 5", "", true},
      {"SELECT * FROM orders WHERE x = 'customer_id = 5'", "", true},
      {"SELECT * FROM orders WHERE x = 1 /* AND customer_id = 5 */", "", true},
      {"SELECT * FROM orders WHERE x = 1 -- AND customer_id = 5", "", true},
      {"SELECT * FROM orders WHERE x = 1 # AND customer_id = 5", "", true},
      {"SELECT * FROM orders WHERE x BETWEEN 1 AND customer_id = 5", "", true},
      {"SELECT * FROM orders WHERE CASE WHEN a AND customer_id = 5 AND b THEN 1 END", "", true},
      {"SELECT * FROM orders WHERE status = 'a' 'b' AND x = 1", "", true},
      {"SELECT * FROM accounts WHERE name = 'x' COLLATE utf8mb4_bin", "", true},
      {"SELECT * FROM accounts WHERE name = X'41'", "", true},
      {"SELECT * FROM orders o WHERE p.customer_id = 5", "", true},
      {"SELECT * FROM orders o WHERE o.other = 5", "", true},
      {"SELECT * FROM orders WHERE (customer_id = 5 OR customer_id = 6)", "", true},
  };
  for (const KeyCase& c : cases) checkKeys(c);
}

TEST_CASE("mysql: placeholders are numbered in text order", "[router][mysql_statement]") {
  const KeyCase cases[] = {
      {"SELECT * FROM orders WHERE customer_id = ?", "?0", false},
      {"SELECT * FROM orders WHERE a = ? AND b = '?' AND customer_id = ?", "?1", false},
      {"SELECT ? /* ? */, `?` FROM orders WHERE customer_id IN (?, 3, ?)", "?1,3,?2", false},
      {"SELECT * FROM accounts WHERE ? = name", "?0t", false},
      {"SELECT /*! ? , */ 1 FROM orders WHERE customer_id = ?", "?1", false},
  };
  for (const KeyCase& c : cases) checkKeys(c);
}

TEST_CASE("mysql: joins, subqueries, unions and CTEs", "[router][mysql_statement]") {
  const KeyCase cases[] = {
      {"SELECT * FROM orders o JOIN items i ON o.customer_id = i.customer_id "
       "WHERE o.customer_id = 5",
       "5", false},
      {"SELECT * FROM orders o, items i WHERE i.customer_id = o.customer_id AND "
       "i.customer_id IN (1, 2)",
       "1,2", false},
      {"SELECT * FROM orders o INNER JOIN items i ON i.customer_id = 5 AND o.customer_id = 5", "5",
       false},
      {"SELECT * FROM orders o LEFT JOIN items i ON o.customer_id = i.customer_id "
       "WHERE o.customer_id = 5",
       "5", true},
      {"SELECT * FROM orders o JOIN items i USING (customer_id) WHERE o.customer_id = 5", "5",
       true},
      {"SELECT * FROM orders o JOIN countries c ON c.code = o.country WHERE customer_id = 5", "5",
       false},
      {"SELECT * FROM orders WHERE customer_id = 5 AND x IN (SELECT y FROM items WHERE "
       "customer_id = 7)",
       "7 | 5", false},
      {"SELECT * FROM orders WHERE x IN (SELECT y FROM items WHERE customer_id = 7)", "7", true},
      {"SELECT * FROM orders o WHERE EXISTS (SELECT 1 FROM items i WHERE o.customer_id = 5)", "",
       true},
      {"SELECT * FROM (SELECT * FROM orders WHERE customer_id = 5) t WHERE t.x = 1", "5", false},
      {"SELECT * FROM (SELECT * FROM orders) AS t WHERE t.customer_id = 5", "", true},
      {"SELECT a FROM orders WHERE customer_id = 1 UNION ALL SELECT a FROM orders WHERE "
       "customer_id = 2",
       "1 | 2", false},
      {"(SELECT a FROM orders WHERE customer_id = 1) UNION (SELECT a FROM items)", "1", true},
      {"WITH c AS (SELECT * FROM orders WHERE customer_id = 3) SELECT * FROM c", "3", false},
      {"WITH RECURSIVE c (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 5) "
       "SELECT * FROM c",
       "", false},
      {"SELECT * FROM (orders o JOIN items i ON o.customer_id = i.customer_id) "
       "WHERE i.customer_id = 4",
       "4", false},
      {"SELECT (SELECT count(*) FROM items WHERE customer_id = 2) FROM orders WHERE "
       "customer_id = 2",
       "2", false},
  };
  for (const KeyCase& c : cases) checkKeys(c);
}

TEST_CASE("mysql: INSERT and REPLACE keys", "[router][mysql_statement]") {
  const KeyCase cases[] = {
      {"INSERT INTO orders (customer_id, total) VALUES (5, 10)", "5", false},
      {"INSERT INTO orders (total, customer_id) VALUES (10, ?)", "?0", false},
      {"INSERT orders (total, `customer_id`) VALUE (10, '8')", "8", false},
      {"INSERT INTO orders (customer_id, total) VALUES (1, 10), (2, 20), (1, 30)", "1,2,1", false},
      {"INSERT INTO orders (customer_id, total) VALUES ROW(1, 10), ROW(2, 20)", "1,2", false},
      {"REPLACE INTO orders (customer_id) VALUES (3)", "3", false},
      {"INSERT IGNORE INTO shop.orders (customer_id, note) VALUES (4, 'a,b')", "4", false},
      {"INSERT INTO orders (customer_id, t) VALUES (4, 1) AS new ON DUPLICATE KEY UPDATE "
       "t = new.t",
       "4", false},
      {"INSERT INTO orders SET customer_id = 6, total = 1", "6", false},
      {"INSERT INTO accounts (name) VALUES ('acme')", "'acme'", false},
      {"INSERT INTO orders VALUES (5, 10)", "", true},
      {"INSERT INTO orders (total) VALUES (10)", "", true},
      {"INSERT INTO orders (customer_id) VALUES (DEFAULT)", "", true},
      {"INSERT INTO orders (customer_id) VALUES (1), (1 + 1)", "", true},
      {"INSERT INTO orders (customer_id) SELECT customer_id FROM items WHERE customer_id = 5", "5",
       true},
      {"INSERT INTO orders SET total = 1", "", true},
      {"INSERT INTO countries (code) VALUES ('fr')", "", false},
  };
  for (const KeyCase& c : cases) checkKeys(c);
  CHECK(analyzeMysql("INSERT INTO orders (customer_id) VALUES (1), (2)", rules()).multiRowInsert);
  CHECK_FALSE(analyzeMysql("INSERT INTO orders (customer_id) VALUES (1)", rules()).multiRowInsert);
  CHECK(analyzeMysql("INSERT INTO orders (customer_id) VALUES (1) ON DUPLICATE KEY UPDATE "
                     "customer_id = 2",
                     rules())
            .updatesKey);
  CHECK_FALSE(analyzeMysql("INSERT INTO orders (customer_id) VALUES (1) ON DUPLICATE KEY "
                           "UPDATE total = total + 1",
                           rules())
                  .updatesKey);
}

TEST_CASE("mysql: UPDATE and DELETE keys", "[router][mysql_statement]") {
  const KeyCase cases[] = {
      {"UPDATE orders SET total = 1 WHERE customer_id = 5", "5", false},
      {"UPDATE LOW_PRIORITY orders o SET o.total = 1 WHERE o.customer_id = ? LIMIT 1", "?0", false},
      {"UPDATE orders SET total = 1 WHERE id = 5", "", true},
      {"UPDATE orders SET total = 1", "", true},
      {"UPDATE orders o JOIN items i ON i.customer_id = o.customer_id SET o.total = i.total "
       "WHERE o.customer_id = 3",
       "3", false},
      {"DELETE FROM orders WHERE customer_id = 5", "5", false},
      {"DELETE QUICK FROM orders WHERE customer_id IN (5, 6) ORDER BY id LIMIT 3", "5,6", false},
      {"DELETE FROM orders WHERE customer_id = 5 OR 1 = 1", "", true},
      {"DELETE o FROM orders o JOIN items i ON i.customer_id = o.customer_id WHERE "
       "o.customer_id = 8",
       "8", false},
      {"DELETE FROM o USING orders o WHERE o.customer_id = 9", "9", false},
      {"DELETE FROM countries WHERE code = 'fr'", "", false},
  };
  for (const KeyCase& c : cases) checkKeys(c);
  CHECK(
      analyzeMysql("UPDATE orders SET customer_id = 2 WHERE customer_id = 1", rules()).updatesKey);
  CHECK(analyzeMysql("UPDATE orders o SET o.customer_id = 2 WHERE customer_id = 1", rules())
            .updatesKey);
  CHECK_FALSE(
      analyzeMysql("UPDATE orders SET total = 2 WHERE customer_id = 1", rules()).updatesKey);
}

struct KindCase {
  std::string_view sql;
  StatementKind kind;
  bool write;
};

TEST_CASE("mysql: statement kinds and writes", "[router][mysql_statement]") {
  using K = StatementKind;
  const KindCase cases[] = {
      {"SELECT 1", K::Select, false},
      {"  (SELECT 1)", K::Select, false},
      {"WITH c AS (SELECT 1) SELECT * FROM c", K::Select, false},
      {"VALUES ROW(1, 2)", K::Select, false},
      {"TABLE countries", K::Select, false},
      {"SELECT * FROM countries FOR UPDATE", K::Select, true},
      {"SELECT * FROM countries FOR SHARE", K::Select, true},
      {"SELECT * FROM countries LOCK IN SHARE MODE", K::Select, true},
      {"SELECT * INTO OUTFILE '/tmp/x' FROM countries", K::Select, true},
      {"SELECT code INTO @c FROM countries LIMIT 1", K::Select, true},
      {"SELECT @n := 1", K::Select, true},
      {"SELECT GET_LOCK('x', 10)", K::Select, true},
      {"SELECT release_lock('x')", K::Select, true},
      {"SELECT IS_FREE_LOCK('x')", K::Select, true},
      {"SELECT LAST_INSERT_ID()", K::Select, true},
      {"SELECT FOUND_ROWS()", K::Select, true},
      {"SELECT ROW_COUNT()", K::Select, true},
      {"SELECT NEXTVAL(seq)", K::Select, true},
      {"SELECT NEXT VALUE FOR seq", K::Select, true},
      {"SELECT @@identity", K::Select, true},
      {"SELECT SQL_CALC_FOUND_ROWS * FROM countries LIMIT 1", K::Select, true},
      {"SELECT SLEEP(1)", K::Select, false},
      {"SELECT @var, 'get_lock(1)'", K::Select, false},
      {"INSERT INTO countries (code) VALUES ('fr')", K::Insert, true},
      {"REPLACE INTO countries (code) VALUES ('fr')", K::Insert, true},
      {"UPDATE countries SET a = 1", K::Update, true},
      {"DELETE FROM countries", K::Delete, true},
      {"WITH c AS (SELECT 1) UPDATE countries SET a = 1", K::Update, true},
      {"WITH c AS (SELECT 1) DELETE FROM countries", K::Delete, true},
      {"CREATE TABLE t (id int)", K::Ddl, true},
      {"ALTER TABLE t ADD COLUMN c int", K::Ddl, true},
      {"DROP TABLE IF EXISTS t", K::Ddl, true},
      {"TRUNCATE t", K::Ddl, true},
      {"RENAME TABLE a TO b", K::Ddl, true},
      {"GRANT SELECT ON db.* TO 'u'@'%'", K::Ddl, true},
      {"REVOKE ALL ON t FROM u", K::Ddl, true},
      {"BEGIN", K::TransactionControl, false},
      {"START TRANSACTION READ ONLY", K::TransactionControl, false},
      {"COMMIT", K::TransactionControl, false},
      {"ROLLBACK TO SAVEPOINT s", K::TransactionControl, false},
      {"SAVEPOINT s", K::TransactionControl, false},
      {"RELEASE SAVEPOINT s", K::TransactionControl, false},
      {"XA START 'x'", K::TransactionControl, false},
      {"SET autocommit = 0", K::Set, false},
      {"SET NAMES utf8mb4", K::Set, false},
      {"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", K::Set, false},
      {"SET GLOBAL max_connections = 10", K::Set, true},
      {"SET @@global.max_connections = 10", K::Set, true},
      {"SET PASSWORD = 'x'", K::Set, true},
      {"SHOW TABLES", K::Set, false},
      {"USE shop", K::Utility, false},
      {"CALL p(1)", K::Utility, true},
      {"DO SLEEP(1)", K::Utility, true},
      {"LOCK TABLES countries READ", K::Utility, true},
      {"UNLOCK TABLES", K::Utility, true},
      {"HANDLER countries OPEN", K::Utility, true},
      {"LOAD DATA INFILE 'f' INTO TABLE countries", K::Utility, true},
      {"EXPLAIN SELECT * FROM countries", K::Utility, false},
      {"DESCRIBE countries", K::Utility, false},
      {"EXPLAIN UPDATE countries SET a = 1", K::Utility, true},
      {"FLUSH TABLES", K::Utility, true},
      {"", K::Empty, false},
      {" ; ;", K::Empty, false},
      {"/* only */ -- a comment\n# another", K::Empty, false},
  };
  for (const KindCase& c : cases) {
    INFO(c.sql);
    StatementFacts f = analyzeMysql(c.sql, rules());
    INFO("parseError: " << f.parseError);
    CHECK(f.parsed);
    CHECK(statementKindName(f.kind) == statementKindName(c.kind));
    CHECK(f.isWrite == c.write);
  }
}

TEST_CASE("mysql: read replica eligibility", "[router][mysql_statement]") {
  CHECK(mysqlReadOnlySelect(analyzeMysql("SELECT * FROM orders WHERE customer_id = 1", rules())));
  CHECK(mysqlReadOnlySelect(analyzeMysql("SELECT SLEEP(1)", rules())));
  CHECK(mysqlReadOnlySelect(analyzeMysql("SELECT 1;", rules())));
  CHECK_FALSE(mysqlReadOnlySelect(analyzeMysql("SELECT 1; SELECT 2", rules())));
  CHECK_FALSE(mysqlReadOnlySelect(analyzeMysql("SELECT GET_LOCK('a', 1)", rules())));
  CHECK_FALSE(mysqlReadOnlySelect(analyzeMysql("SELECT LAST_INSERT_ID()", rules())));
  CHECK_FALSE(mysqlReadOnlySelect(analyzeMysql("SELECT * FROM countries FOR UPDATE", rules())));
  CHECK_FALSE(mysqlReadOnlySelect(analyzeMysql("SHOW TABLES", rules())));
  CHECK_FALSE(mysqlReadOnlySelect(analyzeMysql("SELECT * FROM", rules())));
  CHECK_FALSE(mysqlReadOnlySelect(analyzeMysql("UPDATE t SET a = 1", rules())));
}

TEST_CASE("mysql: tables, names and rules", "[router][mysql_statement]") {
  struct Case {
    std::string_view sql;
    std::string_view tables;
  };
  const Case cases[] = {
      {"SELECT * FROM a, b AS x, `C` y, db.d JOIN e ON e.i = d.i LEFT OUTER JOIN f USING (i)",
       "a,b,c,d,e,f"},
      {"SELECT * FROM a NATURAL JOIN b STRAIGHT_JOIN c ON c.i = b.i CROSS JOIN d", "a,b,c,d"},
      {"SELECT * FROM `we``ird`", "we`ird"},
      {"SELECT * FROM dual", ""},
      {"SELECT * FROM JSON_TABLE('[]', '$[*]' COLUMNS (x INT PATH '$')) AS j", ""},
      {"SELECT * FROM a WHERE x IN (SELECT y FROM b WHERE z = (SELECT 1 FROM c))", "a,b,c"},
      {"SELECT EXTRACT(YEAR FROM d), TRIM(LEADING 'x' FROM s) FROM a", "a"},
      {"WITH c AS (SELECT * FROM a) SELECT * FROM c JOIN b ON b.i = c.i", "a,b"},
      {"UPDATE a JOIN b ON a.i = b.i SET a.x = 1", "a,b"},
      {"DELETE a1 FROM a a1, b WHERE a1.i = b.i", "a,b"},
      {"INSERT INTO a (x) SELECT x FROM b", "a,b"},
      {"CREATE TABLE IF NOT EXISTS a (id int) ", "a"},
      {"CREATE TABLE a LIKE b", "a,b"},
      {"CREATE TABLE a AS SELECT * FROM b WHERE x LIKE 'y%'", "a,b"},
      {"CREATE VIEW v AS SELECT * FROM b", "b"},
      {"CREATE INDEX ix ON a (x)", "a"},
      {"DROP TABLE a, db.b", "a,b"},
      {"RENAME TABLE a TO b, c TO d", "a,b,c,d"},
      {"TRUNCATE TABLE a", "a"},
      {"ALTER TABLE a ADD COLUMN b int, ADD COLUMN c int", "a"},
      {"GRANT SELECT ON db.* TO u", ""},
      {"GRANT SELECT ON TABLE db.a TO u", "a"},
      {"LOCK TABLES a READ, b AS x WRITE", "a,b"},
      {"ANALYZE TABLE a, b", "a,b"},
      {"EXPLAIN SELECT * FROM a", "a"},
      {"SHOW COLUMNS FROM a", ""},
      {"SELECT * FROM a; UPDATE b SET x = 1", "a,b"},
      {"CREATE PROCEDURE p() BEGIN SELECT * FROM a; UPDATE b SET x = 1; END", ""},
  };
  for (const Case& c : cases) {
    INFO(c.sql);
    StatementFacts f = analyzeMysql(c.sql, rules());
    INFO("parseError: " << f.parseError);
    CHECK(f.parsed);
    CHECK(tablesOf(f) == c.tables);
  }

  StatementFacts f = analyzeMysql("SELECT * FROM countries JOIN audit JOIN logs", rules());
  CHECK(f.touchesReplicated);
  CHECK_FALSE(f.touchesSharded);
  CHECK(f.pinnedShard == std::optional<uint32_t>(2));
  f = analyzeMysql("SELECT * FROM audit, settings", rules());
  CHECK(f.conflictingPins);
  CHECK_FALSE(f.pinnedShard);
  f = analyzeMysql("DROP TABLE orders", rules());
  CHECK(f.touchesSharded);
  CHECK(f.keyMissing);
  f = analyzeMysql("LOCK TABLES orders WRITE", rules());
  CHECK(f.keyMissing);
}

TEST_CASE("mysql: several statements", "[router][mysql_statement]") {
  StatementFacts f = analyzeMysql(
      "SELECT * FROM orders WHERE customer_id = 1; UPDATE items SET a = 1 WHERE customer_id = 2;",
      rules());
  CHECK(f.parsed);
  CHECK(f.statementCount == 2);
  CHECK(f.kind == StatementKind::Select);
  CHECK(f.isWrite);
  CHECK(keysOf(f) == "1 | 2");
  CHECK_FALSE(f.keyMissing);
  f = analyzeMysql("SELECT ';' FROM orders WHERE customer_id = 1 -- ;\n", rules());
  CHECK(f.statementCount == 1);
  f = analyzeMysql(
      "CREATE TRIGGER t BEFORE INSERT ON audit FOR EACH ROW BEGIN SET @a = 1; "
      "SET @b = 2; END",
      rules());
  CHECK(f.parsed);
  CHECK(f.statementCount == 1);
  CHECK(f.kind == StatementKind::Ddl);
  CHECK(tablesOf(f) == "audit");
  CHECK(f.pinnedShard == std::optional<uint32_t>(2));
}

TEST_CASE("mysql: executable comments are code", "[router][mysql_statement]") {
  StatementFacts f =
      analyzeMysql("SELECT /*!40101 SQL_NO_CACHE */ * FROM orders WHERE customer_id = 5", rules());
  CHECK(f.parsed);
  CHECK(keysOf(f) == "5");
  f = analyzeMysql("SELECT * FROM orders /*!50001 WHERE customer_id = 6 */", rules());
  CHECK(keysOf(f) == "6");
  f = analyzeMysql("SELECT * FROM orders WHERE customer_id = 6 /*!50001 OR 1 = 1 */", rules());
  CHECK(keysOf(f).empty());
  CHECK(f.keyMissing);
  f = analyzeMysql("/*!40101 SET NAMES utf8mb4 */", rules());
  CHECK(f.kind == StatementKind::Set);
  f = analyzeMysql("SELECT 1 /*M!100100 , GET_LOCK('x', 1) */", rules());
  CHECK(f.isWrite);
  f = analyzeMysql("SELECT * FROM orders /*!50001 WHERE customer_id = 6", rules());
  CHECK_FALSE(f.parsed);
}

TEST_CASE("mysql: comment hints", "[router][mysql_statement]") {
  StatementFacts f = analyzeMysql("/* shard: 3 */ SELECT * FROM orders", rules());
  CHECK(f.commentShard == std::optional<uint32_t>(3));
  f = analyzeMysql("SELECT * FROM orders -- shard=1\n", rules());
  CHECK(f.commentShard == std::optional<uint32_t>(1));
  f = analyzeMysql("SELECT * FROM orders # sharding_key: 'ac''me'", rules());
  CHECK(f.commentShardingKey == std::optional<std::string>("ac'me"));
  f = analyzeMysql("SELECT 1 /* sharding_key: 42, shard: 2 */ /* shard: 5 */", rules());
  CHECK(f.commentShardingKey == std::optional<std::string>("42"));
  CHECK(f.commentShard == std::optional<uint32_t>(2));
  f = analyzeMysql("SELECT '/* shard: 3 */', \"-- shard: 4\", `# shard: 5`", rules());
  CHECK_FALSE(f.commentShard);
  f = analyzeMysql("SELECT 1 /*! shard: 3 */", rules());
  CHECK_FALSE(f.commentShard);
  f = analyzeMysql("SELECT 1 --shard: 3", rules());  // no space after --: not a comment
  CHECK_FALSE(f.commentShard);
  f = analyzeMysql("SELECT 1 /* shard: x */", rules());
  CHECK_FALSE(f.commentShard);
  CHECK_FALSE(f.hintError.empty());
  f = analyzeMysql("SELECT 'unterminated /* shard: 2 */", rules());
  CHECK_FALSE(f.parsed);
  CHECK_FALSE(f.commentShard);
  f = analyzeMysql("SELECT * FROM /* shard: 1 */", rules());
  CHECK_FALSE(f.parsed);
  CHECK(f.commentShard == std::optional<uint32_t>(1));
}

TEST_CASE("mysql: session hints with SET @shardpool_*", "[router][mysql_statement]") {
  StatementFacts f = analyzeMysql("SET @shardpool_shard = 1", rules());
  CHECK(f.parsed);
  CHECK(f.kind == StatementKind::Set);
  CHECK(f.setShard == std::optional<uint32_t>(1));
  CHECK_FALSE(f.setIsLocal);
  CHECK_FALSE(f.isWrite);
  CHECK(analyzeMysql("set @SHARDPOOL_SHARD := '2'", rules()).setShard ==
        std::optional<uint32_t>(2));
  CHECK(analyzeMysql("SET @`shardpool_shard` = 0", rules()).setShard == std::optional<uint32_t>(0));
  CHECK(analyzeMysql("SET @shardpool_sharding_key = 'acme'", rules()).setShardingKey ==
        std::optional<std::string>("acme"));
  CHECK(analyzeMysql("SET @shardpool_sharding_key = -42", rules()).setShardingKey ==
        std::optional<std::string>("-42"));
  f = analyzeMysql("SET @shardpool_shard = NULL", rules());
  CHECK(f.resetShard);
  CHECK(f.resetHint);
  CHECK_FALSE(f.setShard);
  f = analyzeMysql("SET @shardpool_sharding_key = DEFAULT", rules());
  CHECK(f.resetShardingKey);
  CHECK(f.resetHint);
  f = analyzeMysql("SET @shardpool_shard = 1; SET @shardpool_shard = NULL", rules());
  CHECK_FALSE(f.setShard);
  CHECK(f.resetShard);
  CHECK(f.statementCount == 2);
  for (std::string_view bad :
       {"SET @shardpool_shard = -1", "SET @shardpool_shard = 'x'", "SET @shardpool_shard = 1 + 1",
        "SET @shardpool_shard = ?", "SET @shardpool_shard = @x", "SET @shardpool_shards = 1",
        "SET @shardpool_shard = 1, @x = 2", "SET @shardpool_sharding_key = 1.5"}) {
    INFO(bad);
    f = analyzeMysql(bad, rules());
    CHECK_FALSE(f.hintError.empty());
    CHECK_FALSE(f.setShard);
  }
  f = analyzeMysql("SET @other = 1", rules());
  CHECK(f.hintError.empty());
  CHECK_FALSE(f.setShard);
}

TEST_CASE("mysql: text that does not parse", "[router][mysql_statement]") {
  for (std::string_view sql :
       {"SELECT 'abc", "SELECT `abc", "SELECT 1 /* open", "SELECT (1", "SELECT 1)", "SELECT (1; 2)",
        "FOO BAR", "42", "INSERT INTO", "INSERT INTO orders", "UPDATE orders",
        "UPDATE orders WHERE customer_id = 1", "DELETE orders", "SELECT * FROM orders o p q",
        "SELECT * FROM", "SELECT * FROM orders WHERE customer_id = 1; FOO",
        "SELECT * FROM orders WHERE", "DELETE FROM orders WHERE ORDER BY id"}) {
    INFO(sql);
    StatementFacts f = analyzeMysql(sql, rules());
    CHECK_FALSE(f.parsed);
    CHECK_FALSE(f.parseError.empty());
    CHECK(f.isWrite);
    CHECK(f.tables.empty());
    CHECK(f.keySets.empty());
  }
  StatementFacts f = analyzeMysql("UPDATE orders SET (", rules());
  CHECK(f.kind == StatementKind::Update);
  std::string deep(1000, '(');
  f = analyzeMysql("SELECT " + deep + "1" + std::string(1000, ')'), rules());
  CHECK_FALSE(f.parsed);
  f = analyzeMysql("SELECT " + std::string(150, '(') + "1" + std::string(150, ')'), rules());
  CHECK(f.parsed);
}

TEST_CASE("mysql: garbage and every prefix never crash", "[router][mysql_statement]") {
  const std::string_view samples[] = {
      "SELECT o.a, (SELECT 1 FROM items i WHERE i.customer_id = o.customer_id) FROM orders o "
      "JOIN items i ON o.customer_id = i.customer_id WHERE o.customer_id IN (1, ?, '3') /* "
      "shard: 1 */ ORDER BY 1 LIMIT 2 FOR UPDATE",
      "INSERT INTO orders (customer_id, note) VALUES (1, 'a\\'b'), (2, \"c\"\"d\") ON DUPLICATE "
      "KEY UPDATE note = VALUES(note) -- x\n",
      "WITH c AS (SELECT * FROM `or``ders` WHERE x BETWEEN 1 AND 2) UPDATE orders JOIN c SET "
      "a = 1 WHERE customer_id = 5 # end",
      "SET @shardpool_sharding_key = _utf8mb4'k', /*!40101 @x := 1 */ ; DELETE FROM o USING "
      "orders o WHERE o.customer_id <=> -7",
      "CREATE TRIGGER t AFTER INSERT ON audit FOR EACH ROW BEGIN IF 1 THEN SET @a = 1; END IF; END",
  };
  for (std::string_view s : samples) {
    for (size_t n = 0; n <= s.size(); ++n) {
      StatementFacts f = analyzeMysql(s.substr(0, n), rules());
      if (!f.parsed) CHECK(f.isWrite);
    }
    StatementFacts f = analyzeMysql(s, rules());
    INFO(s << " -> " << f.parseError);
    CHECK(f.parsed);
  }
  std::mt19937 rng(12345);
  const std::string alphabet = "()'\"`;,.=?@#-/*!\\ \n\tSELECTFROMWHEREANDORIN0123456789xyz";
  for (int round = 0; round < 3000; ++round) {
    std::string text(rng() % 200, '\0');
    for (char& c : text) {
      c = round % 2 == 0 ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()];
    }
    StatementFacts f = analyzeMysql(text, rules());
    if (!f.parsed) CHECK(f.isWrite);
  }
  std::string huge = "SELECT * FROM orders WHERE customer_id IN (";
  for (int i = 0; i < 100000; ++i) huge += std::to_string(i % 7) + ",";
  huge += "7)";
  StatementFacts f = analyzeMysql(huge, rules());
  CHECK(f.parsed);
  CHECK(f.keySets.size() == 1);
  CHECK(f.keySets[0].size() == 8);
}

// ---- route() over the facts ------------------------------------------------------------------

config::TableRule shardedRule(std::string key) {
  config::TableRule r;
  r.kind = config::TableRule::Kind::Sharded;
  r.keyColumn = std::move(key);
  return r;
}

// Two shards, modulo: orders by customer_id; countries replicated. No default_shard.
const ShardMap& twoShards() {
  static const ShardMap m = [] {
    config::Database db;
    db.name = "app";
    db.protocol = config::Protocol::MySql;
    for (const char* name : {"s0", "s1"}) {
      config::Shard s;
      s.name = name;
      db.shards.push_back(s);
    }
    db.shardingFunction = config::ShardingFunction::Modulo;
    config::TableRule replicated;
    replicated.kind = config::TableRule::Kind::Replicated;
    db.tables = {{"orders", shardedRule("customer_id")}, {"countries", replicated}};
    return buildShardMap(db);
  }();
  return m;
}

Route routeOf(std::string_view sql, const StatementParams* params = nullptr,
              const SessionHints& session = {}) {
  const ShardMap& m = twoShards();
  return route(analyzeMysql(sql, m.tables), m, session, params);
}

TEST_CASE("mysql: route() places MySQL statements", "[router][mysql_statement]") {
  Route r = routeOf("SELECT * FROM orders WHERE customer_id = 3");
  CHECK(r.kind == RouteKind::One);
  CHECK(r.source == RouteSource::Key);
  CHECK(r.shard == 1);
  CHECK_FALSE(r.write);

  r = routeOf("SELECT * FROM `Orders` o WHERE o.customer_id IN (2, 4)");
  CHECK(r.kind == RouteKind::One);
  CHECK(r.shard == 0);

  r = routeOf("SELECT * FROM orders");
  CHECK(r.kind == RouteKind::All);
  CHECK(r.source == RouteSource::Scatter);
  CHECK(r.shards == std::vector<uint32_t>{0, 1});

  r = routeOf("SELECT * FROM orders WHERE customer_id = 1 OR total > 5");
  CHECK(r.kind == RouteKind::All);

  r = routeOf("UPDATE orders SET total = 0");
  CHECK(r.kind == RouteKind::Refuse);
  CHECK(r.reason == RefusalReason::NotSupported);

  r = routeOf("UPDATE orders SET total = 0 WHERE customer_id = 4");
  CHECK(r.kind == RouteKind::One);
  CHECK(r.shard == 0);
  CHECK(r.write);

  r = routeOf("INSERT INTO orders (customer_id) VALUES (1), (2)");
  CHECK(r.kind == RouteKind::Refuse);

  r = routeOf("SET @shardpool_shard = 1");
  CHECK(r.kind == RouteKind::Local);
  CHECK(r.shard == 1);
  r = routeOf("SET @shardpool_sharding_key = 3");
  CHECK(r.kind == RouteKind::Local);
  CHECK(r.shard == 1);
  r = routeOf("SET @shardpool_shard = NULL");
  CHECK(r.kind == RouteKind::Local);
  r = routeOf("SET @shardpool_shard = 7");
  CHECK(r.kind == RouteKind::Refuse);
  r = routeOf("SET @shardpool_shard = 1, @x = 2");
  CHECK(r.kind == RouteKind::Refuse);

  r = routeOf("/* shard: 1 */ SELECT * FROM orders");
  CHECK(r.kind == RouteKind::One);
  CHECK(r.source == RouteSource::CommentHint);
  CHECK(r.shard == 1);

  SessionHints session;
  session.shard = 0;
  r = routeOf("UPDATE orders SET total = 0", nullptr, session);
  CHECK(r.kind == RouteKind::One);
  CHECK(r.source == RouteSource::SessionHint);

  // A `?` key takes its COM_STMT_EXECUTE value.
  StatementParams params;
  ParamValue v;
  v.form = ParamValue::Form::Integer;
  v.integer = 5;
  params.values = {ParamValue{}, v};
  r = routeOf("SELECT * FROM orders WHERE note = ? AND customer_id = ?", &params);
  CHECK(r.kind == RouteKind::One);
  CHECK(r.shard == 1);

  r = routeOf("SELECT * FROM countries");
  CHECK(r.kind == RouteKind::One);
  CHECK(r.anyShard);

  r = routeOf("DELETE FROM orders WHERE");  // not parsed: refused, as a write without a place
  CHECK(r.kind == RouteKind::Refuse);
  r = routeOf("/* shard: 0 */ DELETE FROM orders WHERE");  // ... unless a hint places it
  CHECK(r.kind == RouteKind::One);
}

TEST_CASE("mysql: refusals name hints and parameters as MySQL clients write them",
          "[router][mysql_statement]") {
  auto mentionsPostgres = [](const Route& r) {
    std::string all = r.message + " " + r.hint;
    return all.find("shardpool.") != std::string::npos || all.find('$') != std::string::npos ||
           all.find("RESET") != std::string::npos || all.find("PostgreSQL") != std::string::npos;
  };
  Route r = routeOf("SET @shardpool_shard = 7");
  REQUIRE(r.kind == RouteKind::Refuse);
  CHECK(r.message.find("@shardpool_shard =") != std::string::npos);
  CHECK(r.hint.find("SET @shardpool_shard = NULL") != std::string::npos);
  CHECK_FALSE(mentionsPostgres(r));

  r = routeOf("SET @shardpool_sharding_key = 'abc'");
  REQUIRE(r.kind == RouteKind::Refuse);
  CHECK(r.hint.find("SET @shardpool_sharding_key = 42") != std::string::npos);
  CHECK_FALSE(mentionsPostgres(r));

  r = routeOf("INSERT INTO orders (total) VALUES (1)");
  REQUIRE(r.kind == RouteKind::Refuse);
  CHECK(r.hint.find("a ? parameter") != std::string::npos);
  CHECK_FALSE(mentionsPostgres(r));

  r = routeOf("INSERT INTO orders (customer_id) VALUES (1), (2)");
  REQUIRE(r.kind == RouteKind::Refuse);
  CHECK(r.hint.find("SET @shardpool_sharding_key") != std::string::npos);
  CHECK_FALSE(mentionsPostgres(r));

  // A `?` whose value is no integer: the parameter is named by its position among the `?`s.
  StatementParams params;
  ParamValue v;
  v.form = ParamValue::Form::Text;
  v.bytes = "x1";
  params.values = {v};
  r = routeOf("SELECT * FROM orders WHERE customer_id = ?", &params);
  REQUIRE(r.kind == RouteKind::Refuse);
  CHECK(r.message.find("parameter 1 (?)") != std::string::npos);
  CHECK_FALSE(mentionsPostgres(r));

  r = routeOf("DELETE FROM orders WHERE");
  REQUIRE(r.kind == RouteKind::Refuse);
  CHECK(r.hint.find("valid MySQL") != std::string::npos);
  CHECK(r.hint.find("SET @shardpool_shard = N") != std::string::npos);
  CHECK_FALSE(mentionsPostgres(r));
}

}  // namespace
}  // namespace shardpool::router
