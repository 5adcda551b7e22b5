// Live reload (SIGHUP and the console's RELOAD) and SET: pool sizes, timeouts, users and
// passwords, added and removed databases take effect without dropping connected clients; an
// invalid configuration is refused and the running one kept.
#include <catch2/catch.hpp>

#include <signal.h>

#include <fstream>
#include <thread>

#include "integration/admin_util.h"

using namespace shardpool::integration;

namespace {

std::string txnConfig(const std::string& poolSize, const std::string& more = "") {
  return generalSection("pool_mode = \"transaction\"\ndefault_pool_size = " + poolSize +
                        "\nadmin_users = [\"sp_admin\"]\n" + more) +
         clusterDatabase() + userSection("sp_scram", "scram_pass") +
         userSection("sp_admin", "admin_pass");
}

}  // namespace

TEST_CASE("SIGHUP raises the pool size for clients already waiting, dropping nobody",
          "[integration][reload]") {
  Proxy proxy(txnConfig("1"));
  Conn a(proxy.conninfo("sp_scram", "scram_pass"));
  Conn b(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  a.query("BEGIN");
  a.query("SELECT 1");
  REQUIRE(PQsendQuery(b.get(), "SELECT 'b ran'"));
  CHECK_FALSE(finishedWithin(b, 700ms));  // the only server is in A's transaction

  proxy.rewriteConfig(txnConfig("2"));
  proxy.signal(SIGHUP);
  REQUIRE(finishedWithin(b, 5s));
  auto r = b.collect(1s);
  REQUIRE(!r.empty());
  REQUIRE(r.front());
  CHECK(std::string(PQgetvalue(r.front().get(), 0, 0)) == "b ran");
  CHECK(proxy.logShows("SIGHUP: configuration reloaded"));
  // A is still in its transaction and finishes it.
  CHECK(a.scalar("SELECT 2") == "2");
  a.query("COMMIT");

  Conn console = consoleConn(proxy);
  CHECK(findRow(showRows(console, "SHOW CONFIG"), "key", "default_pool_size").at("value") == "2");
}

TEST_CASE("an invalid configuration is refused and the running one kept", "[integration][reload]") {
  Proxy proxy(txnConfig("4", "query_timeout = \"30s\""));
  Conn a(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(a.ok());
  a.query("BEGIN");

  proxy.rewriteConfig(txnConfig("4", "query_timeout = \"30s\"\ndefault_pool_sise = 3"));
  proxy.signal(SIGHUP);
  CHECK(proxy.logShows("keeping the running one"));
  CHECK(proxy.logShows("default_pool_sise"));
  Conn console = consoleConn(proxy);
  REQUIRE(console.ok());
  PgError e = console.expectError("RELOAD");
  CHECK(e.sqlstate == "F0000");
  CHECK(contains(e.message, "default_pool_sise"));
  CHECK(contains(e.message, "did you mean \"default_pool_size\""));

  proxy.rewriteConfig("this is [not toml");
  CHECK(console.expectError("RELOAD").sqlstate == "F0000");

  CHECK(a.scalar("SELECT 1") == "1");
  a.query("COMMIT");
  Conn b(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(b.ok());
  CHECK(findRow(showRows(console, "SHOW CONFIG"), "key", "query_timeout").at("value") == "30s");
}

TEST_CASE("RELOAD adds and removes databases and changes passwords live", "[integration][reload]") {
  auto config = [](const std::string& appPassword, bool withExtra) {
    std::string text = generalSection("admin_users = [\"sp_admin\"]") + clusterDatabase() +
                       userSection("sp_scram", "scram_pass") +
                       userSection("sp_admin", "admin_pass") +
                       // A client-only user of databases that log in to the server as sp_scram.
                       userSection("app_user", appPassword) +
                       "[databases.fixed]\nhost = \"127.0.0.1\"\nport = @PGPORT@\n"
                       "dbname = \"sp_db\"\nuser = \"sp_scram\"\npassword = \"scram_pass\"\n\n";
    if (withExtra)
      text +=
          "[databases.extra]\nhost = \"127.0.0.1\"\nport = @PGPORT@\ndbname = \"sp_db\"\n"
          "user = \"sp_scram\"\npassword = \"scram_pass\"\n";
    return text;
  };
  Proxy proxy(config("first_pw", false));
  Conn console = consoleConn(proxy);
  REQUIRE(console.ok());
  Conn missing(proxy.conninfo("app_user", "first_pw", "extra"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.connectError().sqlstate == "3D000");

  proxy.rewriteConfig(config("first_pw", true));
  console.query("RELOAD");
  Conn extra(proxy.conninfo("app_user", "first_pw", "extra"));
  REQUIRE(extra.ok());
  CHECK(extra.scalar("SELECT current_user") == "sp_scram");

  // The password changes and the database goes: the connected client keeps working.
  proxy.rewriteConfig(config("second_pw", false));
  console.query("RELOAD");
  Conn oldPassword(proxy.conninfo("app_user", "first_pw", "fixed"));
  REQUIRE_FALSE(oldPassword.ok());
  CHECK(oldPassword.connectError().sqlstate == "28P01");
  Conn newPassword(proxy.conninfo("app_user", "second_pw", "fixed"));
  REQUIRE(newPassword.ok());
  CHECK(newPassword.scalar("SELECT current_user") == "sp_scram");
  Conn removed(proxy.conninfo("app_user", "second_pw", "extra"));
  REQUIRE_FALSE(removed.ok());
  CHECK(removed.connectError().sqlstate == "3D000");
  CHECK(extra.scalar("SELECT 'still here'") == "still here");
}

TEST_CASE("SET changes live settings, restart-only keys and bad values are refused",
          "[integration][reload]") {
  Proxy proxy(txnConfig("4"));
  Conn console = consoleConn(proxy);
  REQUIRE(console.ok());
  Conn a(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(a.ok());
  CHECK(a.scalar("SELECT 1") == "1");

  console.query("SET query_timeout = '300ms'");
  PgError e = a.expectError("SELECT pg_sleep(3)", 10s);
  CHECK(e.sqlstate == "57014");
  CHECK(contains(e.message, "query_timeout"));
  CHECK(findRow(showRows(console, "SHOW CONFIG"), "key", "query_timeout").at("value") == "300ms");

  e = console.expectError("SET listen_port = 1");
  CHECK(contains(e.message, "restart"));
  e = console.expectError("SET default_pool_size = 'many'");
  CHECK(contains(e.message, "default_pool_size"));
  e = console.expectError("SET no_such_setting = 1");
  CHECK(contains(e.message, "no_such_setting"));

  // A SET stays on top of the file across a RELOAD.
  console.query("RELOAD");
  CHECK(findRow(showRows(console, "SHOW CONFIG"), "key", "query_timeout").at("value") == "300ms");
  CHECK(a.scalar("SELECT 2") == "2");
}

TEST_CASE("a restart-only change is reported and not applied", "[integration][reload]") {
  Proxy proxy(txnConfig("4"));
  uint16_t other = freePort();
  std::string changed = txnConfig("4");
  changed.replace(changed.find("@LISTEN_PORT@"), 13, std::to_string(other));
  proxy.rewriteConfig(changed);
  proxy.signal(SIGHUP);
  CHECK(proxy.logShows("general.listen_port changed; it takes effect after a restart"));
  Conn a(proxy.conninfo("sp_scram", "scram_pass"));
  CHECK(a.ok());
}
