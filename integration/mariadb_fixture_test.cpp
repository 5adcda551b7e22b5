// The MariaDB servers of the ctest fixture "mariadb" (scripts/mariadb-cluster.sh), talked to
// directly: the setup the MySQL engine's tests rely on.
#include <catch2/catch.hpp>

#include "integration/harness.h"
#include "integration/mariadb_client.h"

using namespace shardpool::integration;

namespace {

MariaDbCli appOn(const MariaDbServer& server) {
  return MariaDbCli(server.port(), "sp_app", server.value("SP_APP_PASSWORD"));
}

MariaDbCli adminOn(const MariaDbServer& server) {
  return MariaDbCli(server.port(), "sp_admin", server.value("SP_ADMIN_PASSWORD"));
}

}  // namespace

TEST_CASE("mariadb fixture: the primary logs in sp_app with mysql_native_password over TCP",
          "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  auto app = appOn(primary);
  auto admin = adminOn(primary);

  // The most specific account wins (no anonymous ''@localhost in the way).
  CHECK(app.scalar("SELECT CURRENT_USER()") == "sp_app@127.0.0.1");
  CHECK(app.query("SELECT @@read_only, @@log_bin, @@binlog_format, @@skip_name_resolve") ==
        std::vector<MyRow>{{"0", "1", "ROW", "1"}});
  CHECK(app.scalar("SELECT @@version LIKE '10.11.%'") == "1");
  CHECK(admin.scalar("SELECT COUNT(*) FROM mysql.user WHERE user = ''") == "0");
  CHECK(admin.scalar("SELECT GROUP_CONCAT(DISTINCT plugin) FROM mysql.user "
                     "WHERE user IN ('sp_app', 'sp_admin', 'sp_repl')") == "mysql_native_password");
  // root only over the server's own unix socket.
  CHECK(admin.scalar("SELECT GROUP_CONCAT(host) FROM mysql.user WHERE user = 'root'") ==
        "localhost");

  auto wrong = MariaDbCli(primary.port(), "sp_app", "not_the_password").expectError("SELECT 1");
  CHECK(wrong.code == 1045);
  CHECK(wrong.sqlstate == "28000");
  CHECK(contains(wrong.message, "Access denied for user 'sp_app'@'127.0.0.1'"));

  std::string table = "it_fixture_" + uniqueSuffix();
  app.run("DROP TABLE IF EXISTS " + table);
  CHECK(app.query("CREATE TABLE " + table + " (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO " +
                  table + " VALUES (1, 'one'), (2, NULL); SELECT id, v FROM " + table +
                  " ORDER BY id") == std::vector<MyRow>{{"1", "one"}, {"2", "NULL"}});
  auto dup = app.expectError("INSERT INTO " + table + " VALUES (1, 'again')");
  CHECK(dup.code == 1062);
  CHECK(dup.sqlstate == "23000");
  app.query("DROP TABLE " + table);
}

TEST_CASE("mariadb fixture: the replica replays a write made on the primary",
          "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  const auto& replica = mariadbReplica();
  REQUIRE(replica.value("ROLE") == "replica");
  REQUIRE(replica.value("PRIMARY_PORT") == std::to_string(primary.port()));

  std::string table = "it_replica_" + uniqueSuffix();
  appOn(primary).query("CREATE TABLE " + table + " (id INT PRIMARY KEY, v VARCHAR(40)); " +
                       "INSERT INTO " + table + " VALUES (1, 'written on the primary')");
  std::string pos = adminOn(primary).scalar("SELECT @@gtid_binlog_pos");
  REQUIRE_FALSE(pos.empty());
  CHECK(adminOn(replica).scalar("SELECT MASTER_GTID_WAIT('" + pos + "', 20)") == "0");

  auto app = appOn(replica);
  CHECK(app.query("SELECT id, v FROM " + table) ==
        std::vector<MyRow>{{"1", "written on the primary"}});
  CHECK(app.scalar("SELECT @@read_only") == "1");
  auto readOnly = app.expectError("INSERT INTO " + table + " VALUES (2, 'on the replica')");
  CHECK(readOnly.code == 1290);
  CHECK(contains(readOnly.message, "--read-only"));

  appOn(primary).query("DROP TABLE " + table);
}
