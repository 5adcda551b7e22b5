// Queries, server parameters, LISTEN/NOTIFY and big results through the proxy (session mode).
#include <catch2/catch.hpp>

#include <thread>

#include "integration/harness.h"

using namespace shardpool::integration;

TEST_CASE("psql and libpq queries through the proxy", "[integration][basic]") {
  Proxy proxy(standardConfig());

  auto r = runCommand(psqlArgs(proxy.port(), "sp_scram", "select 1"), clientEnv("scram_pass"), 20s);
  INFO(r.all());
  CHECK_FALSE(r.timedOut);
  CHECK(r.exitCode == 0);
  CHECK(r.out == "1\n");

  // psql prints the server version it got from ParameterStatus in its banner.
  auto banner = runShell("echo 'select 1;' | psql -X -h 127.0.0.1 -p " +
                             std::to_string(proxy.port()) + " -U sp_scram sp_db",
                         clientEnv("scram_pass"), 20s);
  INFO(banner.all());
  CHECK(banner.exitCode == 0);

  Conn c(proxy.conninfo("sp_scram", "scram_pass"));
  INFO(c.connectError().sqlstate << " " << c.connectError().message);
  REQUIRE(c.ok());
  CHECK(c.scalar("select 40 + 2") == "42");
  CHECK(c.scalar("select current_user") == "sp_scram");
  CHECK(c.scalar("select current_database()") == "sp_db");

  const char* version = PQparameterStatus(c.get(), "server_version");
  REQUIRE(version != nullptr);
  CHECK(std::string(version).rfind("15", 0) == 0);
  const char* encoding = PQparameterStatus(c.get(), "client_encoding");
  REQUIRE(encoding != nullptr);
  CHECK(std::string(encoding) == "UTF8");

  // The proxy hands out its own BackendKeyData, not the server's.
  int realPid = std::stoi(c.scalar("select pg_backend_pid()"));
  CHECK(PQbackendPID(c.get()) != realPid);

  // Several statements in one Query, errors, and the session staying usable afterwards.
  auto rows = c.query("select 1; select 2 union all select 3 order by 1");
  REQUIRE(rows.size() == 2);
  CHECK(rows[1][0] == "3");
  auto err = c.expectError("select * from it_no_such_table");
  CHECK(err.sqlstate == "42P01");
  CHECK(c.scalar("select 'usable'") == "usable");

  // Extended protocol: PQexecParams with a parameter, then a named prepared statement.
  const char* params[1] = {"21"};
  ResultPtr p(PQexecParams(c.get(), "select $1::int * 2", 1, nullptr, params, nullptr, nullptr, 0));
  REQUIRE(PQresultStatus(p.get()) == PGRES_TUPLES_OK);
  CHECK(std::string(PQgetvalue(p.get(), 0, 0)) == "42");
  ResultPtr prep(PQprepare(c.get(), "it_stmt", "select $1::text || '!'", 1, nullptr));
  REQUIRE(PQresultStatus(prep.get()) == PGRES_COMMAND_OK);
  const char* hello[1] = {"hello"};
  ResultPtr ex(PQexecPrepared(c.get(), "it_stmt", 1, hello, nullptr, nullptr, 0));
  REQUIRE(PQresultStatus(ex.get()) == PGRES_TUPLES_OK);
  CHECK(std::string(PQgetvalue(ex.get(), 0, 0)) == "hello!");

  // Session state survives between statements (session mode).
  c.query("SET application_name = 'it_basic'");
  CHECK(c.scalar("show application_name") == "it_basic");
}

TEST_CASE("unknown database is refused with 3D000 and PgBouncer's message",
          "[integration][basic]") {
  Proxy proxy(standardConfig());
  Conn c(proxy.conninfo("sp_scram", "scram_pass", "it_no_such_db"));
  REQUIRE_FALSE(c.ok());
  INFO(c.connectError().message);
  CHECK(c.connectError().sqlstate == "3D000");
  CHECK(c.connectError().message == "no such database: it_no_such_db");
  CHECK(c.connectTime() < 5s);
}

TEST_CASE("LISTEN/NOTIFY between two clients in session mode", "[integration][basic]") {
  Proxy proxy(standardConfig());
  Conn a(proxy.conninfo("sp_scram", "scram_pass"));
  Conn b(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  std::string channel = "it_chan_" + uniqueSuffix();
  a.query("LISTEN " + channel);
  b.query("NOTIFY " + channel + ", 'hello'");

  std::string gotChannel, gotPayload;
  auto deadline = Clock::now() + 5s;
  while (Clock::now() < deadline && gotChannel.empty()) {
    REQUIRE(PQconsumeInput(a.get()) == 1);
    while (PGnotify* n = PQnotifies(a.get())) {
      gotChannel = n->relname;
      gotPayload = n->extra;
      PQfreemem(n);
    }
    if (gotChannel.empty()) a.waitReadable(100ms);
  }
  CHECK(gotChannel == channel);
  CHECK(gotPayload == "hello");
}

TEST_CASE("a result of 100 MB streams through with bounded proxy memory",
          "[integration][basic][large]") {
  Proxy proxy(standardConfig());
  Conn c(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(c.ok());

  constexpr long kRows = 110000;
  constexpr long kWidth = 1000;
  REQUIRE(PQsendQuery(c.get(), ("select repeat('x', " + std::to_string(kWidth) +
                                ") from generate_series(1, " + std::to_string(kRows) + ")")
                                   .c_str()) == 1);
  REQUIRE(PQsetSingleRowMode(c.get()) == 1);

  long rows = 0;
  long long bytes = 0;
  long maxRss = 0;
  std::string error;
  bool timedOut = false;
  auto deadline = Clock::now() + 45s;
  for (;;) {
    while (PQisBusy(c.get())) {
      if (Clock::now() >= deadline) {
        timedOut = true;
        break;
      }
      if (!c.waitReadable(500ms)) continue;
      if (!PQconsumeInput(c.get())) break;
    }
    if (timedOut) break;
    PGresult* raw = PQgetResult(c.get());
    if (!raw) break;
    ResultPtr r(raw);
    switch (PQresultStatus(r.get())) {
      case PGRES_SINGLE_TUPLE:
        ++rows;
        bytes += PQgetlength(r.get(), 0, 0);
        if (rows % 5000 == 0) maxRss = std::max(maxRss, proxy.rssKiB());
        break;
      case PGRES_TUPLES_OK:
        break;
      default:
        error = PQresultErrorMessage(r.get());
        break;
    }
  }
  INFO("error: " << error);
  CHECK_FALSE(timedOut);
  CHECK(error.empty());
  CHECK(rows == kRows);
  CHECK(bytes == kRows * kWidth);

  // The proxy forwards rows without buffering the whole result.
  long rss = proxy.rssKiB();
  long peak = proxy.peakRssKiB();
  INFO("proxy VmRSS " << rss << " KiB, sampled max " << maxRss << " KiB, VmHWM " << peak << " KiB");
  CHECK(rss > 0);
  CHECK(rss < 200 * 1024);
  CHECK(maxRss < 200 * 1024);
  CHECK(peak < 200 * 1024);
  CHECK(c.scalar("select 'after'") == "after");
}
