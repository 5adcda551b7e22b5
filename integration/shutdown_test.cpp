// Signals: SIGINT and SIGTERM drain (PgBouncer's safe shutdown: finish open transactions,
// refuse new clients, exit 0); a second one, or SIGQUIT, exits at once. SIGUSR1 / SIGUSR2: PAUSE
// and RESUME of every pool.
#include <catch2/catch.hpp>

#include <signal.h>

#include <optional>
#include <thread>

#include "integration/harness.h"

using namespace shardpool::integration;

namespace {

// A client inside a transaction when `sig` arrives: new clients are refused, the transaction
// still commits (its rows are there), and the process exits 0 once the client has left.
void openTransactionCommitsThrough(int sig) {
  std::string table = "it_shutdown_" + uniqueSuffix();
  Conn admin = adminConn();
  admin.query("CREATE TABLE " + table + " (id int); GRANT ALL ON " + table + " TO PUBLIC");

  Proxy proxy(standardConfig("shutdown_timeout = \"20s\""));
  Conn a(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(a.ok());
  a.query("BEGIN");
  a.query("INSERT INTO " + table + " VALUES (1)");

  proxy.signal(sig);

  // New clients are refused soon after.
  bool refused = false;
  std::string lastNew;
  auto deadline = Clock::now() + 5s;
  while (!refused && Clock::now() < deadline) {
    Conn n(proxy.conninfo("sp_scram", "scram_pass"), 3s);
    if (!n.ok()) {
      refused = true;
      lastNew = n.connectError().message;
    } else {
      std::this_thread::sleep_for(100ms);
    }
  }
  INFO("new connection after the signal: " << lastNew);
  CHECK(refused);
  CHECK(proxy.running());  // still serving A

  // A finishes its work.
  a.query("INSERT INTO " + table + " VALUES (2)");
  a.query("COMMIT");
  CHECK(admin.scalar("SELECT count(*) FROM " + table) == "2");

  a.close();
  auto status = proxy.waitExit(5s);
  REQUIRE(status.has_value());
  CHECK(*status == 0);

  admin.query("DROP TABLE " + table);
}

// A client inside a transaction, then `first` and, when given, `second`: the process exits at
// once and the client's connection is gone.
void exitsAtOnce(int first, std::optional<int> second) {
  Proxy proxy(standardConfig("shutdown_timeout = \"20s\""));
  Conn a(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(a.ok());
  a.query("BEGIN");
  CHECK(a.scalar("select 1") == "1");

  proxy.signal(first);
  if (second) {
    std::this_thread::sleep_for(300ms);
    CHECK(proxy.running());  // the first one drains
    proxy.signal(*second);
  }
  auto t0 = Clock::now();
  auto status = proxy.waitExit(3s);
  REQUIRE(status.has_value());
  CHECK(Clock::now() - t0 < 3s);
  CHECK(*status != 128 + SIGKILL);

  // The client notices: its connection is gone.
  auto err = a.expectError("select 1", 5s);
  CHECK_FALSE(err.message.empty());
}

}  // namespace

TEST_CASE("SIGINT (PgBouncer's safe shutdown) lets an open transaction commit, then exits 0",
          "[integration][shutdown]") {
  openTransactionCommitsThrough(SIGINT);
}

TEST_CASE("SIGTERM lets an open transaction commit, then exits 0", "[integration][shutdown]") {
  openTransactionCommitsThrough(SIGTERM);
}

TEST_CASE("SIGTERM with only idle clients exits promptly", "[integration][shutdown]") {
  Proxy proxy(standardConfig("shutdown_timeout = \"20s\""));
  {
    Conn c(proxy.conninfo("sp_scram", "scram_pass"));
    REQUIRE(c.ok());
    CHECK(c.scalar("select 1") == "1");
  }
  proxy.signal(SIGTERM);
  auto status = proxy.waitExit(5s);
  REQUIRE(status.has_value());
  CHECK(*status == 0);
}

TEST_CASE("a second SIGINT during the shutdown exits at once", "[integration][shutdown]") {
  exitsAtOnce(SIGINT, SIGINT);
}

TEST_CASE("SIGQUIT exits at once even with a transaction open", "[integration][shutdown]") {
  exitsAtOnce(SIGQUIT, std::nullopt);
}

TEST_CASE("SIGUSR1 pauses every pool and SIGUSR2 resumes it, as PgBouncer's do",
          "[integration][shutdown]") {
  // Before: both signals had their default action, which ends the process.
  Proxy proxy(standardConfig("pool_mode = \"transaction\"\nquery_wait_timeout = \"30s\""));
  Conn c(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(c.ok());
  CHECK(c.scalar("select 1") == "1");
  proxy.signal(SIGUSR1);
  std::this_thread::sleep_for(300ms);
  REQUIRE(proxy.running());
  REQUIRE(PQsendQuery(c.get(), "select 2") == 1);
  CHECK_FALSE(c.waitReadable(1500ms));  // paused: the query waits for a server
  proxy.signal(SIGUSR2);
  auto results = c.collect(10s);
  REQUIRE(!results.empty());
  REQUIRE(results.back());
  CHECK(std::string(PQgetvalue(results.back().get(), 0, 0)) == "2");
  CHECK(proxy.running());
  CHECK(proxy.log().find("SIGUSR1: pausing") != std::string::npos);
}
