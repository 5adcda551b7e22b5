// The admin console's SUSPEND (PgBouncer's): no socket is read and no connection accepted until
// RESUME, SUSPEND returns once every socket is flushed, and suspend_timeout closes the sockets
// that cannot be flushed.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "integration/admin_util.h"

using namespace shardpool::integration;

TEST_CASE("admin console: SUSPEND stops reading sockets and accepting until RESUME",
          "[integration][admin][suspend]") {
  Proxy proxy(consoleConfig("pool_mode = \"transaction\""));
  Conn console = consoleConn(proxy);
  REQUIRE(console.ok());
  Conn a(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(a.ok());
  CHECK(a.scalar("SELECT 1") == "1");

  auto suspended = console.exec("SUSPEND", 10s);
  REQUIRE_FALSE(suspended.empty());
  REQUIRE(suspended.back());
  INFO(errorFrom(suspended.back().get()).message);
  REQUIRE(PQresultStatus(suspended.back().get()) == PGRES_COMMAND_OK);
  CHECK(console.expectError("SUSPEND").sqlstate == "55000");  // already suspended
  CHECK(console.expectError("RESUME sp_db").sqlstate == "55000");
  // The console itself goes on.
  CHECK(findRow(showRows(console, "SHOW POOLS"), "user", "sp_scram").count("cl_active") == 1);

  // A connected client's query is not read...
  REQUIRE(PQsendQuery(a.get(), "SELECT 42"));
  CHECK_FALSE(finishedWithin(a, 800ms));
  // ...and a new client is not served (its connection waits, it is not refused).
  std::atomic<bool> done{false};
  std::string answer;
  std::thread late([&] {
    Conn b(proxy.conninfo("sp_scram", "scram_pass"), 20s);
    if (b.ok()) answer = b.scalar("SELECT 'late'");
    done = true;
  });
  std::this_thread::sleep_for(800ms);
  CHECK_FALSE(done.load());

  console.query("RESUME");
  REQUIRE(finishedWithin(a, 5s));
  auto results = a.collect(1s);
  REQUIRE_FALSE(results.empty());
  REQUIRE(results.front());
  CHECK(std::string(PQgetvalue(results.front().get(), 0, 0)) == "42");
  late.join();
  CHECK(answer == "late");
  CHECK(console.expectError("RESUME sp_db").sqlstate == "55000");  // neither suspended nor paused

  // Stats users may not suspend.
  Conn stats = consoleConn(proxy, "sp_md5", "md5_pass", "pgbouncer");
  REQUIRE(stats.ok());
  CHECK(stats.expectError("SUSPEND").sqlstate == "42501");
}

TEST_CASE("admin console: SUSPEND closes sockets it cannot flush within suspend_timeout",
          "[integration][admin][suspend]") {
  Proxy proxy(consoleConfig("suspend_timeout = \"1s\""));
  Conn console = consoleConn(proxy);
  REQUIRE(console.ok());
  // A client that asks for about 64 MB and reads none of it: shardpool's queue to it stays full.
  Conn stuck(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(stuck.ok());
  REQUIRE(PQsendQuery(stuck.get(), "SELECT repeat('x', 1048576) FROM generate_series(1, 64)"));
  std::this_thread::sleep_for(1s);

  auto start = Clock::now();
  auto suspended = console.exec("SUSPEND", 10s);
  auto took = Clock::now() - start;
  REQUIRE_FALSE(suspended.empty());
  REQUIRE(suspended.back());
  CHECK(PQresultStatus(suspended.back().get()) == PGRES_COMMAND_OK);
  CHECK(took >= 900ms);  // it waited for the flush...
  CHECK(took < 5s);      // ...no longer than suspend_timeout (and a tick)
  CHECK(contains(proxy.log(), "suspend_timeout (1000 ms): its socket could not be flushed"));
  console.query("RESUME");

  // The stuck client lost its connection; a new one is served.
  auto rest = stuck.collect(10s);
  CHECK(PQstatus(stuck.get()) == CONNECTION_BAD);
  Conn fresh(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(fresh.ok());
  CHECK(fresh.scalar("SELECT 7") == "7");
}
