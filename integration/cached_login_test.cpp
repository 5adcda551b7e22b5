// Logins answered from the pool's cached login: no server is taken until the first query, in
// every pool mode, once a server of the pool has logged in with the same startup parameters.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "integration/harness.h"

using namespace shardpool::integration;

namespace {

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size()))
    ++n;
  return n;
}

const std::string kCached = "login complete (the pool's cached login";

}  // namespace

TEST_CASE("session mode: more clients than pool_size all log in and take turns",
          "[integration][cached_login]") {
  // pgbench connects every client before it runs: with logins that take a server, clients 6-8
  // never got one while 1-5 held theirs, and pgbench failed in its startup phase.
  Proxy proxy(standardConfig("pool_mode = \"session\"\ndefault_pool_size = 5\n"
                             "query_wait_timeout = \"30s\""));
  {
    Conn first(proxy.conninfo("sp_scram", "scram_pass"));  // teaches the pool its login
    REQUIRE(first.ok());
    REQUIRE(first.scalar("select 1") == "1");
  }
  TempDir dir;
  std::string script = dir.write("s.sql", "select pg_sleep(0.01);\n");
  auto run = runCommand({"pgbench", "-h", "127.0.0.1", "-p", std::to_string(proxy.port()), "-U",
                         "sp_scram", "-n", "-f", script, "-c", "8", "-j", "2", "-t", "20", "sp_db"},
                        clientEnv("scram_pass"), 60s);
  INFO(run.all());
  CHECK(run.exitCode == 0);
  CHECK(contains(run.out, "number of transactions actually processed: 160/160"));
  CHECK(count(proxy.log(), kCached) >= 8);
}

TEST_CASE("transaction mode: a login takes no server, and an unseen startup value is validated",
          "[integration][cached_login]") {
  TempRole role("it_cached_login");
  Proxy proxy(generalSection("pool_mode = \"transaction\"\ndefault_pool_size = 2\n"
                             "query_wait_timeout = \"20s\"") +
              clusterDatabase() + userSection(role.name(), role.password()));
  std::string info = proxy.conninfo(role.name(), role.password());
  {
    Conn first(info + " options='-c DateStyle=SQL,DMY'");  // a server validates this one
    REQUIRE(first.ok());
    CHECK(first.scalar("show datestyle") == "SQL, DMY");
  }
  CHECK(count(proxy.log(), kCached) == 0);
  // Both servers busy in transactions: a login with known parameters still completes at once.
  Conn a(info), b(info);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  a.query("begin; select 1");
  b.query("begin; select 1");
  Conn c(info + " options='-c DateStyle=SQL,DMY'", 5s);
  REQUIRE(c.ok());
  CHECK(count(proxy.log(), kCached) >= 1);
  // What the client reads is what PostgreSQL reports for its own parameters.
  CHECK(std::string(PQparameterStatus(c.get(), "DateStyle")) == "SQL, DMY");
  a.query("commit");
  CHECK(c.scalar("show datestyle") == "SQL, DMY");
  b.query("commit");
  // A value no server has accepted is still refused at login, as PostgreSQL refuses it.
  Conn bad(info + " options='-c DateStyle=nonsense'", 10s);
  CHECK_FALSE(bad.ok());
  CHECK(bad.connectError().sqlstate == "22023");
}

TEST_CASE("pgbench -M prepared with more clients than servers in one thread makes progress",
          "[integration][cached_login][prepared]") {
  // pgbench prepares with the blocking PQprepare while the other clients of its thread hold
  // every server inside their transactions: a Parse of a statement the pool has already
  // prepared is answered without a server, or the thread waits for itself forever.
  Proxy proxy(standardConfig("pool_mode = \"transaction\"\ndefault_pool_size = 4\n"
                             "query_wait_timeout = \"30s\""));
  TempDir dir;
  std::string script =
      dir.write("tx.sql", "BEGIN;\nSELECT 1;\nSELECT :client_id::int + 1;\nEND;\n");
  for (const char* jobs : {"1", "2"}) {
    auto run = runCommand({"pgbench", "-h", "127.0.0.1", "-p", std::to_string(proxy.port()), "-U",
                           "sp_scram", "-n", "-M", "prepared", "-f", script, "-c", "16", "-j", jobs,
                           "-t", "30", "sp_db"},
                          clientEnv("scram_pass"), 60s);
    INFO("-j " << jobs << "\n" << run.all());
    CHECK_FALSE(run.timedOut);
    CHECK(run.exitCode == 0);
    CHECK(contains(run.out, "number of transactions actually processed: 480/480"));
  }
}
