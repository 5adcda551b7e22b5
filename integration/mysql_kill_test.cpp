// KILL between MySQL clients through shardpool (CancelRegistry::kill, MysqlServer::killQuery,
// pooler/mysql/kill_sender.h): integration/drivers/mysql_kill.py runs the same KILLs directly
// against the fixture's MariaDB and through transaction pooling (2 servers, 2 workers), and the
// two must print the same (the mariadb CLI's Ctrl-C, which KILLs from a connection without a
// database, included); then the forms only shardpool refuses, and a server's own id.
#include <catch2/catch.hpp>

#include <string>

#include "integration/harness.h"
#include "integration/mariadb_client.h"

using namespace shardpool::integration;

namespace {

std::string killConfig(uint16_t backendPort) {
  const auto& primary = mariadbPrimary();
  return "[general]\nlisten_addr = \"127.0.0.1\"\nlisten_port = @LISTEN_PORT@\n"
         "mysql_listen_port = @MYSQL_LISTEN_PORT@\nlog_level = \"info\"\nworkers = 2\n"
         "pool_mode = \"transaction\"\ndefault_pool_size = 2\nquery_wait_timeout = \"20s\"\n"
         "\n[databases.sp_db]\nprotocol = \"mysql\"\nhost = \"127.0.0.1\"\nport = " +
         std::to_string(backendPort) + "\n\n[users.sp_app]\npassword = \"" +
         primary.value("SP_APP_PASSWORD") + "\"\n\n[users.sp_admin]\npassword = \"" +
         primary.value("SP_ADMIN_PASSWORD") + "\"\n";
}

std::string before(const std::string& out, const std::string& marker) {
  size_t at = out.find(marker);
  return at == std::string::npos ? out : out.substr(0, at);
}

}  // namespace

TEST_CASE("mysql kill: KILL QUERY and KILL between clients (and the CLI's Ctrl-C) act as on "
          "MariaDB, by shardpool's connection ids",
          "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  auto run = [&](uint16_t port, bool proxied) {
    std::vector<std::string> argv = {"/usr/bin/python3",
                                     sourceDir() + "/integration/drivers/mysql_kill.py",
                                     std::to_string(port), primary.value("SP_APP_PASSWORD"),
                                     primary.value("SP_ADMIN_PASSWORD")};
    if (proxied) argv.push_back("proxied");
    return runCommand(argv, {}, 120s);
  };
  auto direct = run(primary.port(), false);
  INFO("directly:\n" << direct.all());
  REQUIRE(direct.exitCode == 0);
  REQUIRE(contains(direct.out, "victim error 1317, in time"));
  REQUIRE(contains(direct.out, "cli ctrl-c: killed True in time\n"));

  Proxy proxy(killConfig(primary.port()));
  auto proxied = run(proxy.mysqlPort(), true);
  INFO("through shardpool:\n" << proxied.all() << proxy.log());
  REQUIRE(proxied.exitCode == 0);
  CHECK(before(proxied.out, "proxy-only:") == before(direct.out, "proxy-only:"));
  // Refused, never sent to a server (which would have run them on its own threads).
  CHECK(contains(proxied.out, "query id: error 1235\n"));
  CHECK(contains(proxied.out, "user: error 1235\n"));
  CHECK(contains(proxied.out, "expression: error 1235\n"));
  CHECK(contains(proxied.out, "with more: error 1235\n"));
  CHECK(contains(proxied.out, "behind another statement: error 1235\n"));
  CHECK(contains(proxied.out, "its victim untouched: ok [(32,)]\n"));
  // A server's connection id names no client: the KILL is not passed on to the server.
  CHECK(contains(proxied.out, "server id differs: True\n"));
  CHECK(contains(proxied.out, "a server's id: error 1094\n"));
  CHECK(contains(proxied.out, "its transaction goes on: ok [(29,)] ok []\n"));
  CHECK(contains(proxied.out, "no database: error 1046\n"));
  CHECK(contains(proxied.out, "\ndone\n"));
  CHECK(proxy.logShows("KILL QUERY"));
}
