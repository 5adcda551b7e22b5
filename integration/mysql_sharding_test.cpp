// Sharded MySQL databases: two shards as two schemas of the fixture's MariaDB primary, a table
// sharded by `id` (modulo), clients through transaction pooling. Rows must land on the shard
// their key picks (checked directly in each schema), keyed reads and writes find them,
// transactions stay on one shard, hints pick a shard, and what shardpool cannot do (a statement
// for several shards, a transaction across shards) is refused with a MySQL error.
#include <catch2/catch.hpp>

#include "integration/mariadb_client.h"

#include <thread>

using namespace shardpool::integration;

namespace {

MariaDbCli rootCli() {
  const auto& primary = mariadbPrimary();
  return MariaDbCli(primary.port(), "sp_admin", primary.value("SP_ADMIN_PASSWORD"));
}

// Two schemas, each with an `orders` table, that sp_app may use (dropped at the end).
struct ShardSchemas {
  std::string a = "sp_shard_a_" + uniqueSuffix(), b = "sp_shard_b_" + uniqueSuffix();
  ShardSchemas() {
    for (const auto& s : {a, b})
      rootCli().query("CREATE DATABASE " + s + "; CREATE TABLE " + s +
                      ".orders (id INT PRIMARY KEY, v VARCHAR(20)); GRANT ALL ON " + s +
                      ".* TO 'sp_app'@'%'; GRANT ALL ON " + s + ".* TO 'sp_app'@'127.0.0.1'");
  }
  ~ShardSchemas() {
    for (const auto& s : {a, b}) rootCli().run("DROP DATABASE IF EXISTS " + s);
  }
  // The ids in schema `s`, in order, comma-separated.
  std::string ids(const std::string& s) const {
    std::string out;
    for (const auto& row : rootCli().query("SELECT id FROM " + s + ".orders ORDER BY id"))
      out += (out.empty() ? "" : ",") + row.at(0);
    return out;
  }
  // `extra` goes into the database's section; `replicaPort` (non-zero) gives each shard the
  // fixture's replica (which replays both schemas) as its replica.
  std::string config(const std::string& extra = "", uint16_t replicaPort = 0,
                     const std::string& tables = "") const {
    const auto& primary = mariadbPrimary();
    std::string port = std::to_string(primary.port());
    std::string replicas =
        replicaPort ? "replicas = [ { host = \"127.0.0.1\", port = " +
                          std::to_string(replicaPort) + " } ]\n"
                    : "";
    return "[general]\nlisten_addr = \"127.0.0.1\"\nlisten_port = @LISTEN_PORT@\n"
           "mysql_listen_port = @MYSQL_LISTEN_PORT@\nlog_level = \"info\"\n"
           "pool_mode = \"transaction\"\ndefault_pool_size = 2\n\n"
           "[databases.shop]\nprotocol = \"mysql\"\nhost = \"127.0.0.1\"\nport = " + port +
           "\nsharding_function = \"modulo\"\n" + extra +
           "[[databases.shop.shards]]\nname = \"even\"\nhost = \"127.0.0.1\"\nport = " + port +
           "\ndbname = \"" + a + "\"\n" + replicas +
           "[[databases.shop.shards]]\nname = \"odd\"\nhost = \"127.0.0.1\"\nport = " + port +
           "\ndbname = \"" + b + "\"\n" + replicas +
           "[databases.shop.tables]\norders = { key = \"id\" }\n" + tables + "\n"
           "[users.sp_app]\npassword = \"" + primary.value("SP_APP_PASSWORD") + "\"\n";
  }
};

}  // namespace

TEST_CASE("mysql sharding: rows land on their key's shard, keyed statements find them",
          "[integration][mysql]") {
  ShardSchemas schemas;
  Proxy proxy(schemas.config());
  MariaDbCli app(proxy.mysqlPort(), "sp_app", mariadbPrimary().value("SP_APP_PASSWORD"), "shop");
  app.query(
      "INSERT INTO orders (id, v) VALUES (1, 'a'); INSERT INTO orders (id, v) VALUES (2, 'b');"
      "INSERT INTO orders (id, v) VALUES (3, 'c'), (5, 'e'); INSERT INTO orders SET id = 4, "
      "v = 'd'; INSERT INTO `orders` (`v`, `id`) VALUES ('f', 6)");
  INFO(proxy.log());
  CHECK(schemas.ids(schemas.a) == "2,4,6");
  CHECK(schemas.ids(schemas.b) == "1,3,5");
  CHECK(app.scalar("SELECT v FROM orders WHERE id = 3") == "c");
  CHECK(app.scalar("SELECT v FROM orders o WHERE o.id IN (4) AND v <> 'x'") == "d");
  app.query("UPDATE orders SET v = 'A' WHERE id = 1; DELETE FROM orders WHERE id = 6");
  CHECK(app.scalar("SELECT v FROM orders WHERE id = 1") == "A");
  CHECK(schemas.ids(schemas.a) == "2,4");
  // A session in the database's default schema is in each shard's own schema.
  CHECK(app.scalar("SELECT DATABASE() FROM orders WHERE id = 5") == schemas.b);
  CHECK(app.scalar("SELECT DATABASE() FROM orders WHERE id = 4") == schemas.a);
}

TEST_CASE("mysql sharding: several shards at once are refused, transactions stay on one shard",
          "[integration][mysql]") {
  ShardSchemas schemas;
  Proxy proxy(schemas.config());
  MariaDbCli app(proxy.mysqlPort(), "sp_app", mariadbPrimary().value("SP_APP_PASSWORD"), "shop");
  app.query("INSERT INTO orders (id, v) VALUES (1, 'a'); INSERT INTO orders (id, v) VALUES (2, "
            "'b'); INSERT INTO orders (id, v) VALUES (3, 'c')");
  INFO(proxy.log());
  // Without a key, a read whose rows would need merging: refused.
  MyError e = app.expectError("SELECT AVG(id) FROM orders");
  CHECK(e.code == 1235);
  CHECK(e.sqlstate == "42000");
  CHECK(contains(e.message, "needs shards 0, 1"));
  CHECK(app.expectError("UPDATE orders SET v = 'x'").code == 1235);
  CHECK(app.expectError("INSERT INTO orders (id, v) VALUES (7, 'x'), (8, 'y')").code == 1235);
  CHECK(schemas.ids(schemas.a) == "2");
  // A transaction runs on the shard of its first statement (its BEGIN waits for it).
  auto rows = app.query(
      "BEGIN; UPDATE orders SET v = 'x' WHERE id = 1; SELECT v FROM orders WHERE id = 3; "
      "UPDATE orders SET v = 'y' WHERE id = 3; COMMIT; SELECT v FROM orders WHERE id = 1");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].at(0) == "c");
  CHECK(rows[1].at(0) == "x");
  CHECK(rootCli().scalar("SELECT v FROM " + schemas.b + ".orders WHERE id = 3") == "y");
  // Another shard inside it: refused, and the transaction (on its server) is not committed.
  e = app.expectError("BEGIN; UPDATE orders SET v = 'z' WHERE id = 1; "
                      "UPDATE orders SET v = 'z' WHERE id = 2; COMMIT");
  CHECK(e.code == 1235);
  CHECK(contains(e.message, "belongs to shard \"even\", but the transaction runs on shard \"odd\""));
  CHECK(app.scalar("SELECT v FROM orders WHERE id = 1") == "x");
  CHECK(app.scalar("SELECT v FROM orders WHERE id = 2") == "b");
  // An empty transaction is answered; one that only reads a table-less statement runs anywhere.
  CHECK(app.query("BEGIN; COMMIT; START TRANSACTION; ROLLBACK").empty());
  CHECK(app.scalar("BEGIN; SELECT 1 + 1; COMMIT") == "2");
}

TEST_CASE("mysql sharding: shard hints, in the session and in a comment", "[integration][mysql]") {
  ShardSchemas schemas;
  Proxy proxy(schemas.config());
  MariaDbCli app(proxy.mysqlPort(), "sp_app", mariadbPrimary().value("SP_APP_PASSWORD"), "shop");
  app.keepComments();
  app.query("INSERT INTO orders (id, v) VALUES (1, 'a'); INSERT INTO orders (id, v) VALUES (2, "
            "'b'); INSERT INTO orders (id, v) VALUES (3, 'c')");
  INFO(proxy.log());
  auto rows = app.query(
      "SET @shardpool_shard = 1; SELECT COUNT(*) FROM orders; SET @shardpool_shard = 0; "
      "SELECT COUNT(*) FROM orders; SET @shardpool_sharding_key = 3; SELECT COUNT(*) FROM "
      "orders; SET @shardpool_sharding_key = NULL; /* shard: 1 */ SELECT MAX(id) FROM orders");
  REQUIRE(rows.size() == 4);
  CHECK(rows[0].at(0) == "2");
  CHECK(rows[1].at(0) == "1");
  CHECK(rows[2].at(0) == "2");
  CHECK(rows[3].at(0) == "3");
  // Unusable hints are refused, never sent elsewhere.
  CHECK(app.expectError("SET @shardpool_shard = 7").code == 1231);
  CHECK(app.expectError("/* shard: 9 */ SELECT 1").code == 1231);
  CHECK(app.expectError("SET @shardpool_shard = 1, @x = 2").code != 0);
  // With no hint left, an unkeyed read is refused again.
  CHECK(app.expectError("SET @shardpool_shard = NULL; SELECT AVG(id) FROM orders").code == 1235);
}

TEST_CASE("mysql sharding: node mysql2 prepared statements are routed by their parameters",
          "[integration][mysql]") {
  ShardSchemas schemas;
  Proxy proxy(schemas.config());
  std::string nodeDir = std::getenv("SHARDPOOL_IT_NODE_DIR") ? std::getenv("SHARDPOOL_IT_NODE_DIR")
                                                             : "/tmp/shardpool-it-node";
  auto r = runCommand({"node", sourceDir() + "/integration/drivers/mysql_node_sharded.js"},
                      {{"MYSQL_HOST", "127.0.0.1"},
                       {"MYSQL_PORT", std::to_string(proxy.mysqlPort())},
                       {"MYSQL_USER", "sp_app"},
                       {"MYSQL_PASSWORD", mariadbPrimary().value("SP_APP_PASSWORD")},
                       {"MYSQL_DATABASE", "shop"},
                       {"NODE_PATH", nodeDir + "/node_modules"}},
                      60s);
  INFO(r.all() << proxy.log());
  REQUIRE(r.exitCode == 0);
  CHECK(schemas.ids(schemas.a) == "10,12,14");
  CHECK(schemas.ids(schemas.b) == "11,13,15");
  for (int id = 10; id < 16; ++id)
    CHECK(contains(r.out, "read " + std::to_string(id) + ": n" + std::to_string(id) + "@" +
                              (id % 2 == 0 ? schemas.a : schemas.b) + "\n"));
  CHECK(contains(r.out, "read '13': n13\n"));
  CHECK(contains(r.out, "gathered: 10,11,12,13,14,15\n"));
  CHECK(contains(r.out, "unkeyed: 1235\n"));
  CHECK(contains(r.out, "done\n"));
}

TEST_CASE("mysql sharding: read_from replicas reads a shard's replica, writes its primary",
          "[integration][mysql]") {
  ShardSchemas schemas;
  const auto& replica = mariadbReplica();
  Proxy proxy(schemas.config("read_from = \"replicas\"\n",
                             replica.port()));
  MariaDbCli app(proxy.mysqlPort(), "sp_app", mariadbPrimary().value("SP_APP_PASSWORD"), "shop");
  app.query("INSERT INTO orders (id, v) VALUES (1, 'a'); INSERT INTO orders (id, v) VALUES (2, "
            "'b')");
  INFO(proxy.log());
  // The replica replays both schemas; wait for the rows.
  MariaDbCli direct(replica.port(), "sp_admin", mariadbPrimary().value("SP_ADMIN_PASSWORD"));
  auto deadline = Clock::now() + 10s;
  while (direct.scalar("SELECT COUNT(*) FROM " + schemas.a + ".orders") != "1" &&
         Clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  auto rows = app.query(
      "SELECT @@port, v, DATABASE() FROM orders WHERE id = 1; "
      "SELECT @@port, v, DATABASE() FROM orders WHERE id = 2; "
      "BEGIN; SELECT @@port, v, DATABASE() FROM orders WHERE id = 2; COMMIT");
  REQUIRE(rows.size() == 3);
  const std::string r = std::to_string(replica.port()),
                    p = std::to_string(mariadbPrimary().port());
  CHECK(rows[0] == MyRow{r, "a", schemas.b});
  CHECK(rows[1] == MyRow{r, "b", schemas.a});
  CHECK(rows[2] == MyRow{p, "b", schemas.a});  // inside a transaction: the primary
}

TEST_CASE("mysql sharding: DDL and replicated-table writes go to every shard, unmerged reads are "
          "gathered",
          "[integration][mysql]") {
  ShardSchemas schemas;
  Proxy proxy(schemas.config("", 0, "countries = { replicated = true }\nitems = { key = \"id\" }\n"));
  MariaDbCli app(proxy.mysqlPort(), "sp_app", mariadbPrimary().value("SP_APP_PASSWORD"), "shop");
  INFO(proxy.log());
  app.query("CREATE TABLE countries (code CHAR(2) PRIMARY KEY, name VARCHAR(20)); "
            "INSERT INTO countries (code, name) VALUES ('fr', 'France'); "
            "INSERT INTO orders (id, v) VALUES (1, 'a'); INSERT INTO orders (id, v) VALUES (2, "
            "'b'); INSERT INTO orders (id, v) VALUES (3, 'c'); INSERT INTO orders (id, v) VALUES "
            "(4, 'd')");
  for (const auto& s : {schemas.a, schemas.b})
    CHECK(rootCli().scalar("SELECT name FROM " + s + ".countries") == "France");
  // A read of a replicated table: one shard.
  CHECK(app.scalar("SELECT name FROM countries WHERE code = 'fr'") == "France");
  // Rows of every shard, shard after shard, one set of columns.
  auto rows = app.query("SELECT id, v FROM orders WHERE v <> 'zzz'");
  REQUIRE(rows.size() == 4);
  CHECK(rows[0] == MyRow{"2", "b"});
  CHECK(rows[1] == MyRow{"4", "d"});
  CHECK(rows[2] == MyRow{"1", "a"});
  CHECK(rows[3] == MyRow{"3", "c"});
  CHECK(app.query("SELECT id FROM orders WHERE v = 'nothing'").empty());
  MyError e;
  // Aggregates alone are combined from each shard's row.
  CHECK(app.query("SELECT COUNT(*), SUM(id), MIN(id), MAX(id) FROM orders") ==
        std::vector<MyRow>{{"4", "10", "1", "4"}});
  CHECK(app.query("SELECT COUNT(*) AS n, SUM(id) FROM orders WHERE v = 'nothing'") ==
        std::vector<MyRow>{{"0", "NULL"}});
  e = app.expectError("SELECT MIN(v) FROM orders");
  CHECK(e.code == 1235);
  CHECK(contains(e.message, "could not combine"));
  // By group: one row per group, combined across shards, in group order.
  app.query("CREATE TABLE items (id INT PRIMARY KEY, cat INT, price DECIMAL(10,2)); "
            "INSERT INTO items (id, cat, price) VALUES (1, 1, 10.00); "
            "INSERT INTO items (id, cat, price) VALUES (2, 1, 5.50); "
            "INSERT INTO items (id, cat, price) VALUES (3, 2, 1.25); "
            "INSERT INTO items (id, cat, price) VALUES (4, 2, 2.00); "
            "INSERT INTO items (id, cat, price) VALUES (5, NULL, 3.00)");
  CHECK(app.query("SELECT cat, COUNT(*), SUM(price), MIN(price), MAX(id) FROM items GROUP BY "
                  "cat") == std::vector<MyRow>{{"NULL", "1", "3.00", "3.00", "5"},
                                               {"1", "2", "15.50", "5.50", "2"},
                                               {"2", "2", "3.25", "1.25", "4"}});
  e = app.expectError("SELECT v, COUNT(*) FROM orders GROUP BY v");  // text groups: collation
  CHECK(e.code == 1235);
  CHECK(contains(e.message, "could not combine"));
  // ORDER BY result columns and LIMIT: sorted and cut across shards.
  CHECK(app.query("SELECT id, v FROM orders ORDER BY id") ==
        std::vector<MyRow>{{"1", "a"}, {"2", "b"}, {"3", "c"}, {"4", "d"}});
  CHECK(app.query("SELECT id AS n FROM orders o ORDER BY n DESC LIMIT 3") ==
        std::vector<MyRow>{{"4"}, {"3"}, {"2"}});
  CHECK(app.query("SELECT * FROM orders ORDER BY 1 LIMIT 2") ==
        std::vector<MyRow>{{"1", "a"}, {"2", "b"}});
  CHECK(app.query("SELECT id FROM orders LIMIT 3").size() == 3);
  e = app.expectError("SELECT v FROM orders ORDER BY v");  // text: the collation's order
  CHECK(e.code == 1235);
  CHECK(contains(e.message, "could not sort"));
  // OFFSET: each shard runs LIMIT offset + n, shardpool skips the offset.
  CHECK(app.query("SELECT id FROM orders ORDER BY id LIMIT 2 OFFSET 1") ==
        std::vector<MyRow>{{"2"}, {"3"}});
  CHECK(app.query("SELECT id FROM orders ORDER BY id DESC LIMIT 1, 2") ==
        std::vector<MyRow>{{"3"}, {"2"}});
  CHECK(app.query("SELECT id FROM orders LIMIT 10 OFFSET 3").size() == 1);
  // Still refused: rows that would need merging.
  e = app.expectError("SELECT id, COUNT(*) FROM orders GROUP BY id ORDER BY id");
  CHECK(e.code == 1235);
  CHECK(contains(e.message, "merging"));
  // One shard fails: its error, named, ends the statement (the other shard keeps its write).
  rootCli().query("INSERT INTO " + schemas.b + ".countries VALUES ('de', 'Deutschland')");
  e = app.expectError("INSERT INTO countries (code, name) VALUES ('de', 'Germany')");
  CHECK(e.code == 1062);
  CHECK(contains(e.message, "shard \"odd\": Duplicate entry"));
  CHECK(rootCli().scalar("SELECT name FROM " + schemas.a + ".countries WHERE code = 'de'") ==
        "Germany");
  app.query("DROP TABLE countries");
  for (const auto& s : {schemas.a, schemas.b})
    CHECK(rootCli().query("SHOW TABLES FROM " + s + " LIKE 'countries'").empty());
}

TEST_CASE("mysql sharding: differential, one schema directly against two shards through shardpool",
          "[integration][mysql]") {
  ShardSchemas schemas;
  std::string single = "sp_single_" + uniqueSuffix();
  rootCli().query("CREATE DATABASE " + single + "; GRANT ALL ON " + single +
                  ".* TO 'sp_app'@'%'; GRANT ALL ON " + single + ".* TO 'sp_app'@'127.0.0.1'");
  Proxy proxy(schemas.config("", 0, "items = { key = \"id\" }\n"));
  const auto& primary = mariadbPrimary();
  auto r = runCommand({"/usr/bin/python3", sourceDir() + "/integration/drivers/mysql_shard_diff.py",
                       "127.0.0.1", std::to_string(primary.port()), single,
                       std::to_string(proxy.mysqlPort()), "shop", "sp_app",
                       primary.value("SP_APP_PASSWORD")},
                      {}, 120s);
  rootCli().run("DROP DATABASE IF EXISTS " + single);
  INFO(r.all() << proxy.log());
  CHECK(r.exitCode == 0);
  CHECK(contains(r.out, " 0 differ"));
  size_t at = r.out.find("checked ");
  REQUIRE(at != std::string::npos);
  CHECK(std::stoi(r.out.substr(at + 8)) > 400);
  // Both shards hold rows: the statements were spread.
  CHECK(rootCli().scalar("SELECT COUNT(*) > 50 FROM " + schemas.a + ".items") == "1");
  CHECK(rootCli().scalar("SELECT COUNT(*) > 50 FROM " + schemas.b + ".items") == "1");
}
