// Signals: SIGTERM drains (finish open transactions, refuse new clients, exit 0); SIGINT is
// immediate.
#include <catch2/catch.hpp>

#include <signal.h>

#include <thread>

#include "integration/harness.h"

using namespace shardpool::integration;

TEST_CASE("SIGTERM lets an open transaction commit, then exits 0", "[integration][shutdown]") {
  std::string table = "it_shutdown_" + uniqueSuffix();
  Conn admin = adminConn();
  admin.query("CREATE TABLE " + table + " (id int); GRANT ALL ON " + table + " TO PUBLIC");

  Proxy proxy(standardConfig("shutdown_timeout = \"20s\""));
  Conn a(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(a.ok());
  a.query("BEGIN");
  a.query("INSERT INTO " + table + " VALUES (1)");

  proxy.signal(SIGTERM);

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
  INFO("new connection after SIGTERM: " << lastNew);
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

TEST_CASE("SIGINT exits immediately even with a transaction open", "[integration][shutdown]") {
  Proxy proxy(standardConfig("shutdown_timeout = \"20s\""));
  Conn a(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(a.ok());
  a.query("BEGIN");
  CHECK(a.scalar("select 1") == "1");

  auto t0 = Clock::now();
  proxy.signal(SIGINT);
  auto status = proxy.waitExit(3s);
  REQUIRE(status.has_value());
  CHECK(Clock::now() - t0 < 3s);
  CHECK(*status != 128 + SIGKILL);

  // The client notices: its connection is gone.
  auto err = a.expectError("select 1", 5s);
  CHECK_FALSE(err.message.empty());
}
