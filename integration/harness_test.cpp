// Self-test of the harness against the test cluster directly (no proxy): if these fail, the
// other integration failures say nothing about shardpool.
#include <catch2/catch.hpp>

#include "integration/harness.h"

using namespace shardpool::integration;

TEST_CASE("harness: libpq helpers against PostgreSQL directly", "[integration][harness]") {
  Conn c(directConninfo("sp_scram", "scram_pass"));
  REQUIRE(c.ok());
  CHECK(c.scalar("select 40 + 2") == "42");
  const char* version = PQparameterStatus(c.get(), "server_version");
  REQUIRE(version != nullptr);
  CHECK(std::string(version).rfind("15", 0) == 0);

  auto rows = c.query("select 1, null::text union all select 2, 'b' order by 1");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0][0] == "1");
  CHECK_FALSE(rows[0][1].has_value());
  CHECK(rows[1][1] == "b");

  auto err = c.expectError("selec 1");
  CHECK(err.sqlstate == "42601");
  CHECK(c.scalar("select 'still usable'") == "still usable");

  SECTION("every role logs in with its hba method") {
    for (auto [user, password] : {std::pair{"sp_scram", "scram_pass"},
                                  {"sp_md5", "md5_pass"},
                                  {"sp_clear", "clear_pass"},
                                  {"sp_trust", ""},
                                  {"sp_admin", "admin_pass"}}) {
      INFO(user);
      Conn u(directConninfo(user, password));
      REQUIRE(u.ok());
      CHECK(u.scalar("select current_user") == user);
    }
  }

  SECTION("connection errors carry their SQLSTATE") {
    Conn bad(directConninfo("sp_scram", "wrong"));
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.connectError().sqlstate == "28P01");
    Conn nodb(directConninfo("sp_scram", "scram_pass", "no_such_db"));
    REQUIRE_FALSE(nodb.ok());
    CHECK(nodb.connectError().sqlstate == "3D000");
    Conn refused("host=127.0.0.1 port=" + std::to_string(freePort()) + " user=x dbname=x");
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.connectError().sqlstate.empty());
    CHECK(contains(refused.connectError().message, "refused"));
  }

  SECTION("backendCount and TempRole") {
    TempRole role("it_harness");
    CHECK(backendCount(role.name()) == 0);
    Conn r(directConninfo(role.name(), role.password()));
    REQUIRE(r.ok());
    CHECK(backendCount(role.name()) == 1);
  }
}

TEST_CASE("harness: runCommand runs clients and never hangs", "[integration][harness]") {
  auto r = runCommand(psqlArgs(pgPort(), "sp_scram", "select 1"), clientEnv("scram_pass"), 20s);
  CHECK(r.exitCode == 0);
  CHECK(r.out == "1\n");

  auto bad = runCommand(psqlArgs(pgPort(), "sp_scram", "select 1"), clientEnv("nope"), 20s);
  CHECK(bad.exitCode != 0);
  CHECK(contains(bad.err, "password authentication failed"));

  auto t0 = Clock::now();
  auto slow = runShell("echo started; sleep 20", {}, 300ms);
  CHECK(slow.timedOut);
  CHECK(slow.out == "started\n");
  CHECK(Clock::now() - t0 < 3s);

  auto env = runShell("echo \"$IT_FOO\"; exit 3", {{"IT_FOO", "bar"}});
  CHECK(env.exitCode == 3);
  CHECK(env.out == "bar\n");
}
