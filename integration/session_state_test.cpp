// A client's session state through transaction pooling, compared with a dedicated connection:
// each scenario runs the same steps directly against PostgreSQL and through shardpool (pool of
// one server shared by several clients) and the two transcripts must be identical.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <functional>
#include <string>
#include <vector>

#include "integration/extended_query.h"
#include "integration/gated_relay.h"
#include "integration/harness.h"

using namespace shardpool::integration;

namespace {

// One line per step: what ran, and its outcome (rows, or the SQLSTATE of the error).
class Transcript {
 public:
  // `reported`: also what the driver was told (ParameterStatus of two settings).
  void add(const std::string& step, const Conn& c, const PGresult* r, bool reported = false) {
    std::string line = step + " -> ";
    if (!r) {
      line += "no result";
    } else if (!succeeded(r)) {
      line += "ERROR " + errorOf(c, r).sqlstate;
    } else {
      line += PQcmdStatus(const_cast<PGresult*>(r));
      for (const char* p : {"application_name", "TimeZone"})
        if (const char* v = PQparameterStatus(c.get(), p); v && reported)
          line += std::string(" ") + p + "=" + v;
      for (int row = 0; row < PQntuples(r); ++row) {
        line += " |";
        for (int col = 0; col < PQnfields(r); ++col)
          line += std::string(" ") + (PQgetisnull(r, row, col) ? "NULL" : PQgetvalue(r, row, col));
      }
    }
    lines_.push_back(line);
  }
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  std::vector<std::string> lines_;
};

ResultPtr simple(Conn& c, const std::string& sql) {
  auto results = c.exec(sql, 10s);
  if (results.empty()) return nullptr;
  return firstErrorOrLast(std::move(results), sql, 10s);
}

// Runs `scenario` with `clients` connections made by `connect`, returns its transcript.
using Scenario = std::function<void(std::vector<Conn>&, Transcript&)>;
std::vector<std::string> run(const std::function<Conn()>& connect, int clients,
                             const Scenario& scenario) {
  std::vector<Conn> conns;
  for (int i = 0; i < clients; ++i) {
    conns.push_back(connect());
    if (!conns.back().ok()) throw std::runtime_error("connect: " + conns.back().connectError().message);
  }
  Transcript t;
  scenario(conns, t);
  return t.lines();
}

// The scenario directly and through a transaction pool of one server: identical transcripts.
void compareWithDirect(const std::string& table, int clients, const Scenario& scenario,
                       const std::function<void()>& reset = {}) {
  TempRole role("it_state");
  {
    Conn admin = adminConn();
    admin.query("grant all on schema public to " + role.name());
  }
  Proxy proxy(generalSection("pool_mode = \"transaction\"\ndefault_pool_size = 1\n"
                             "query_wait_timeout = \"10s\"") +
              clusterDatabase() + userSection(role.name(), role.password()));
  auto prepareTable = [&] {
    Conn admin = adminConn();
    admin.query("drop table if exists " + table + "; create table " + table +
                " (a int); insert into " + table + " values (1), (2); alter table " + table +
                " owner to " + role.name());
    if (reset) reset();
  };
  prepareTable();
  // The same startup parameters both ways (the harness names its connections differently).
  const std::string app = " application_name=state_test";
  auto direct = run([&] { return Conn(directConninfo(role.name(), role.password()) + app); },
                    clients, scenario);
  prepareTable();
  auto pooled = run([&] { return Conn(proxy.conninfo(role.name(), role.password()) + app); },
                    clients, scenario);
  adminConn().query("drop table if exists " + table);
  for (size_t i = 0; i < std::max(direct.size(), pooled.size()); ++i) {
    std::string d = i < direct.size() ? direct[i] : "-";
    std::string p = i < pooled.size() ? pooled[i] : "-";
    if (d != p) UNSCOPED_INFO("step " << i << "\n  direct: " << d << "\n  pooled: " << p);
  }
  CHECK(pooled == direct);
}

}  // namespace

TEST_CASE("unnamed statements stay with their client across a shared server",
          "[integration][session_state][transaction]") {
  compareWithDirect("it_unnamed_" + uniqueSuffix(), 2, [](std::vector<Conn>& c, Transcript& t) {
    // A prepares the unnamed statement, B replaces the server's with its own, A runs A's.
    t.add("A parse", c[0], prepare(c[0], "", "select $1::int + 1").get());
    t.add("B parse", c[1], prepare(c[1], "", "select $1::int * 100").get());
    t.add("A exec 5", c[0], execPrepared(c[0], "", {"5"}).get());
    t.add("B exec 5", c[1], execPrepared(c[1], "", {"5"}).get());
    t.add("A exec 7", c[0], execPrepared(c[0], "", {"7"}).get());
    // A simple query drops the client's unnamed statement (and only its own).
    t.add("A simple", c[0], simple(c[0], "select 42").get());
    t.add("A exec after simple", c[0], execPrepared(c[0], "", {"1"}).get());
    t.add("B exec 2", c[1], execPrepared(c[1], "", {"2"}).get());
    // Different parameter counts: a Bind meant for B's statement must not meet A's.
    t.add("A parse 2 params", c[0], prepare(c[0], "", "select $1::int + $2::int").get());
    t.add("B exec 3", c[1], execPrepared(c[1], "", {"3"}).get());
    t.add("A exec 2 params", c[0], execPrepared(c[0], "", {"3", "4"}).get());
    // A failed Parse leaves no unnamed statement.
    t.add("B bad parse", c[1], prepare(c[1], "", "select nonsense from nowhere").get());
    t.add("B exec after bad parse", c[1], execPrepared(c[1], "", {"3"}).get());
  });
}

TEST_CASE("SQL DEALLOCATE of a protocol-level statement behaves as on a dedicated connection",
          "[integration][session_state][transaction][prepared]") {
  compareWithDirect("it_dealloc_" + uniqueSuffix(), 2, [](std::vector<Conn>& c, Transcript& t) {
    t.add("prepare s1", c[0], prepare(c[0], "s1", "select $1::int + 10").get());
    t.add("exec s1", c[0], execPrepared(c[0], "s1", {"1"}).get());
    t.add("deallocate s1", c[0], simple(c[0], "DEALLOCATE s1").get());
    t.add("exec s1 gone", c[0], execPrepared(c[0], "s1", {"1"}).get());
    t.add("prepare s1 again", c[0], prepare(c[0], "s1", "select $1::int + 20").get());
    t.add("exec s1 again", c[0], execPrepared(c[0], "s1", {"1"}).get());
    // Names as PostgreSQL resolves them: unquoted folds to lower case, quoted is exact.
    t.add("prepare S2", c[0], prepare(c[0], "S2", "select 2").get());
    t.add("deallocate S2 unquoted", c[0], simple(c[0], "deallocate prepare S2").get());
    t.add("deallocate S2 quoted", c[0], simple(c[0], "DEALLOCATE \"S2\";").get());
    t.add("exec S2 gone", c[0], execPrepared(c[0], "S2", {}).get());
    // Another client's statement of the same name is not touched.
    t.add("B prepare s1", c[1], prepare(c[1], "s1", "select $1::int + 30").get());
    t.add("A deallocate s1", c[0], simple(c[0], "deallocate s1").get());
    t.add("B exec s1", c[1], execPrepared(c[1], "s1", {"1"}).get());
    // Inside a transaction, and in a failed one.
    t.add("prepare s3", c[0], prepare(c[0], "s3", "select 3").get());
    t.add("begin", c[0], simple(c[0], "begin").get());
    t.add("deallocate s3 in tx", c[0], simple(c[0], "deallocate s3").get());
    t.add("exec s3 in tx", c[0], execPrepared(c[0], "s3", {}).get());
    t.add("rollback", c[0], simple(c[0], "rollback").get());
    t.add("prepare s4", c[0], prepare(c[0], "s4", "select 4").get());
    t.add("begin 2", c[0], simple(c[0], "begin").get());
    t.add("fail", c[0], simple(c[0], "select 1/0").get());
    t.add("deallocate s4 aborted", c[0], simple(c[0], "deallocate s4").get());
    t.add("rollback 2", c[0], simple(c[0], "rollback").get());
    t.add("exec s4 kept", c[0], execPrepared(c[0], "s4", {}).get());
    t.add("deallocate unknown", c[0], simple(c[0], "deallocate nosuch").get());
    // The extended protocol (pgjdbc, psycopg 3 in pipeline mode send DEALLOCATE this way).
    t.add("prepare s5", c[0], prepare(c[0], "s5", "select 5").get());
    t.add("extended deallocate s5", c[0], execParams(c[0], "DEALLOCATE s5", {}).get());
    t.add("exec s5 gone", c[0], execPrepared(c[0], "s5", {}).get());
    t.add("prepare s5 again", c[0], prepare(c[0], "s5", "select 55").get());
    t.add("exec s5 again", c[0], execPrepared(c[0], "s5", {}).get());
    t.add("begin 3", c[0], simple(c[0], "begin").get());
    t.add("fail 3", c[0], simple(c[0], "select 1/0").get());
    t.add("extended deallocate aborted", c[0], execParams(c[0], "deallocate s5", {}).get());
    t.add("rollback 3", c[0], simple(c[0], "rollback").get());
    t.add("extended deallocate unknown", c[0], execParams(c[0], "deallocate nosuch", {}).get());
  });
}

TEST_CASE("a prepared statement broken by a schema change is prepared again, as drivers expect",
          "[integration][session_state][transaction][prepared]") {
  std::string table = "it_schema_" + uniqueSuffix();
  compareWithDirect(table, 2, [&](std::vector<Conn>& c, Transcript& t) {
    std::string sql = "select * from " + table + " order by a";
    t.add("prepare p1", c[0], prepare(c[0], "p1", sql).get());
    t.add("exec p1", c[0], execPrepared(c[0], "p1", {}).get());
    t.add("B prepare q1", c[1], prepare(c[1], "q1", sql).get());
    t.add("alter", c[0], simple(c[0], "alter table " + table + " add column b int default 7").get());
    t.add("exec p1 stale", c[0], execPrepared(c[0], "p1", {}).get());
    // The driver's recovery: prepare the same text again under a new name.
    t.add("prepare p2", c[0], prepare(c[0], "p2", sql).get());
    t.add("exec p2", c[0], execPrepared(c[0], "p2", {}).get());
    // Statements prepared before the change keep failing until their client prepares again.
    t.add("exec p1 still stale", c[0], execPrepared(c[0], "p1", {}).get());
    t.add("B exec q1 stale", c[1], execPrepared(c[1], "q1", {}).get());
    t.add("B prepare q2", c[1], prepare(c[1], "q2", sql).get());
    t.add("B exec q2", c[1], execPrepared(c[1], "q2", {}).get());
    t.add("exec p2 again", c[0], execPrepared(c[0], "p2", {}).get());
  });
}

TEST_CASE("settings a client changes follow it and never reach another client",
          "[integration][session_state][transaction]") {
  // Two clients on one server: everything one sets, resets, rolls back or discards, read by
  // both after each step.
  const std::string probe =
      "select current_setting('search_path'), current_setting('statement_timeout'), "
      "current_setting('work_mem'), current_setting('application_name'), "
      "current_setting('TimeZone'), "
      // A custom setting another client defined reads '' instead of NULL (docs/pooling.md).
      "coalesce(current_setting('myapp.tenant', true), ''), "
      "current_setting('default_transaction_isolation')";
  compareWithDirect("it_settings_" + uniqueSuffix(), 2, [&](std::vector<Conn>& c, Transcript& t) {
    auto both = [&](const std::string& step) {
      t.add(step + " A", c[0], simple(c[0], probe).get(), true);
      t.add(step + " B", c[1], simple(c[1], probe).get(), true);
    };
    both("start");
    t.add("A set", c[0],
          simple(c[0], "SET search_path = a_schema, public; set statement_timeout to 4321; "
                       "SET SESSION work_mem = '7MB'; SET application_name = 'leaky'; "
                       "SET TIME ZONE 'Asia/Tokyo'")
              .get());
    both("after set");
    t.add("B set_config", c[1],
          simple(c[1], "select set_config('myapp.tenant', 'b', false), "
                       "pg_catalog.set_config('work_mem', '9MB', false)")
              .get());
    both("after set_config");
    t.add("A rolled back", c[0],
          simple(c[0], "begin; set work_mem = '99MB'; set statement_timeout = 1; rollback").get());
    both("after rollback");
    t.add("A set local", c[0], simple(c[0], "begin; set local work_mem = '98MB'; commit").get());
    both("after set local");
    t.add("A savepoint", c[0],
          simple(c[0], "begin; set work_mem = '11MB'; savepoint s; set work_mem = '12MB'; "
                       "rollback to savepoint s; commit")
              .get());
    both("after savepoint");
    t.add("A characteristics", c[0],
          simple(c[0], "set session characteristics as transaction isolation level serializable")
              .get());
    both("after characteristics");
    t.add("A reset one", c[0], simple(c[0], "RESET statement_timeout").get());
    both("after reset");
    t.add("B set extended", c[1], execParams(c[1], "SET search_path TO b_schema", {}).get());
    both("after extended set");
    t.add("A reset all", c[0], simple(c[0], "RESET ALL").get());
    both("after reset all");
    t.add("B discard all", c[1], simple(c[1], "DISCARD ALL").get());
    both("after discard all");
  });
}

TEST_CASE("settings leak probe: 12 clients with their own settings on 3 servers",
          "[integration][session_state][transaction]") {
  TempRole role("it_leak");
  Proxy proxy(generalSection("pool_mode = \"transaction\"\ndefault_pool_size = 3\n"
                             "query_wait_timeout = \"20s\"") +
              clusterDatabase() + userSection(role.name(), role.password()));
  const std::string probe =
      "select current_setting('search_path') || '|' || current_setting('statement_timeout') || "
      "'|' || current_setting('work_mem') || '|' || current_setting('application_name') || '|' "
      "|| current_setting('TimeZone') || '|' || coalesce(current_setting('myapp.t', true), '')";
  // What a client that sets nothing sees: the values of a fresh direct connection.
  const std::string app = " application_name=leak_probe";
  std::string defaults = Conn(directConninfo(role.name(), role.password()) + app).scalar(probe);
  constexpr int kClients = 12, kRounds = 40;
  std::mutex mu;
  std::vector<std::string> failures;
  std::atomic<int> reads{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      auto fail = [&](const std::string& what) {
        std::lock_guard<std::mutex> lock(mu);
        if (failures.size() < 20) failures.push_back("client " + std::to_string(i) + ": " + what);
      };
      try {
        Conn c(proxy.conninfo(role.name(), role.password()) + app, 20s);
        if (!c.ok()) return fail("connect: " + c.connectError().message);
        std::string expected = defaults;
        for (int round = 0; round < kRounds; ++round) {
          if (i % 2 == 0 && round == 5) {  // even clients set their own values, once
            std::string n = std::to_string(i);
            c.query("set search_path = s" + n + ", public; set statement_timeout = " +
                    std::to_string(1000 + i) + "; set work_mem = '" + std::to_string(64 + i) +
                    "MB'; set application_name = 'c" + n + "'; set timezone = 'Etc/GMT-" +
                    std::to_string(i % 12) + "'; select set_config('myapp.t', '" + n +
                    "', false)");
            expected = c.scalar(probe);  // as it reads on this client's own server now
            if (expected == defaults) return fail("the SETs had no effect");
          }
          std::string got = c.scalar(probe);
          ++reads;
          if (got != expected) fail("round " + std::to_string(round) + ": " + got + " != " + expected);
        }
      } catch (const std::exception& e) {
        fail(e.what());
      }
    });
  }
  for (auto& t : threads) t.join();
  INFO("defaults: " << defaults << "; reads " << reads);
  for (auto& f : failures) UNSCOPED_INFO(f);
  CHECK(failures.empty());
  CHECK(reads == kClients * kRounds);
}

TEST_CASE("a client's settings go to its new server in the same round trip as its statement",
          "[integration][session-state]") {
  // The relay holds PostgreSQL's replies back: the client's statement must reach the server
  // before shardpool has heard how the settings query went (before: it waited for that reply).
  TempRole role("it_trip");
  GatedRelay relay(pgPort());
  Proxy proxy(generalSection("pool_mode = \"transaction\"\ndefault_pool_size = 1\n"
                             "query_wait_timeout = \"10s\"") +
              "[databases.sp_db]\nhost = \"127.0.0.1\"\nport = " +
              std::to_string(relay.port()) + "\ndbname = \"sp_db\"\n\n" +
              userSection(role.name(), role.password()));
  Conn a(proxy.conninfo(role.name(), role.password()));
  REQUIRE(a.ok());
  a.query("set statement_timeout = '1234s'");
  REQUIRE(a.scalar("show statement_timeout") == "1234s");
  Conn b(proxy.conninfo(role.name(), role.password()));
  REQUIRE(b.ok());

  // B on the server A left: A's setting is undone ahead of B's statement.
  relay.clearSent();
  relay.holdReplies(true);
  REQUIRE(PQsendQuery(b.get(), "select 'b-marker', current_setting('statement_timeout')") == 1);
  bool pipelined = relay.waitSent("b-marker", 5s);
  std::string sent = relay.sent();
  relay.holdReplies(false);
  CHECK(pipelined);
  CHECK(sent.find("statement_timeout") < sent.find("b-marker"));
  auto results = b.collect(10s);
  REQUIRE(!results.empty());
  REQUIRE(results.back());
  REQUIRE(succeeded(results.back().get()));
  CHECK(std::string(PQgetvalue(results.back().get(), 0, 1)) == "0");

  // And A's own setting comes back with A's next statement, again in one round trip.
  relay.clearSent();
  relay.holdReplies(true);
  REQUIRE(PQsendQuery(a.get(), "select 'a-marker', current_setting('statement_timeout')") == 1);
  pipelined = relay.waitSent("a-marker", 5s);
  relay.holdReplies(false);
  CHECK(pipelined);
  results = a.collect(10s);
  REQUIRE(!results.empty());
  REQUIRE(results.back());
  REQUIRE(succeeded(results.back().get()));
  CHECK(std::string(PQgetvalue(results.back().get(), 0, 1)) == "1234s");
}

TEST_CASE("a setting that no longer applies on a new server ends that client's session, not the pool",
          "[integration][session-state]") {
  // default_text_search_config names a configuration; dropped after the client chose it, a
  // server can no longer take it. The client is told why; the others go on.
  TempRole role("it_tsc");
  adminConn().query("drop text search configuration if exists public.it_tsc; "
                    "create text search configuration public.it_tsc (copy = english)");
  Proxy proxy(generalSection("pool_mode = \"transaction\"\ndefault_pool_size = 1\n"
                             "query_wait_timeout = \"10s\"") +
              clusterDatabase() + userSection(role.name(), role.password()));
  Conn a(proxy.conninfo(role.name(), role.password()));
  Conn b(proxy.conninfo(role.name(), role.password()));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  a.query("set default_text_search_config = 'public.it_tsc'");
  CHECK(b.scalar("select 1") == "1");  // the server drops A's setting for B
  adminConn().query("drop text search configuration public.it_tsc");
  auto results = a.exec("select 2", 10s);
  REQUIRE(!results.empty());
  REQUIRE(results.back());
  PgError e = errorOf(a, results.back().get());
  CHECK(e.message.find("could not restore the session settings") != std::string::npos);
  CHECK(e.message.find("it_tsc") != std::string::npos);
  CHECK(PQstatus(a.get()) == CONNECTION_BAD);
  CHECK(b.scalar("select 3") == "3");
  CHECK(Conn(proxy.conninfo(role.name(), role.password())).scalar("select 4") == "4");
}

TEST_CASE("a role to restore is applied before the client's statement is sent",
          "[integration][session-state]") {
  // docs/pooling.md: SET ROLE is the exception to the single round trip. Were that SET to fail,
  // the statement must not run with the login role's rights, so it waits for the reply.
  TempRole role("it_trip_role");
  const std::string target = role.name() + "_r";
  adminConn().query("drop role if exists " + target + "; create role " + target + "; grant " +
                    target + " to " + role.name());
  GatedRelay relay(pgPort());
  Proxy proxy(generalSection("pool_mode = \"transaction\"\ndefault_pool_size = 1\n"
                             "query_wait_timeout = \"10s\"") +
              "[databases.sp_db]\nhost = \"127.0.0.1\"\nport = " +
              std::to_string(relay.port()) + "\ndbname = \"sp_db\"\n\n" +
              userSection(role.name(), role.password()));
  {
    Conn a(proxy.conninfo(role.name(), role.password()));
    Conn b(proxy.conninfo(role.name(), role.password()));
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    a.query("set role " + target);
    CHECK(b.scalar("select current_user") == role.name());  // B's switch resets the role

    relay.clearSent();
    relay.holdReplies(true);
    REQUIRE(PQsendQuery(a.get(), "select 'role-marker', current_user") == 1);
    bool sentEarly = relay.waitSent("role-marker", 1500ms);
    relay.holdReplies(false);
    CHECK_FALSE(sentEarly);
    auto results = a.collect(10s);
    REQUIRE(!results.empty());
    REQUIRE(results.back());
    REQUIRE(succeeded(results.back().get()));
    CHECK(std::string(PQgetvalue(results.back().get(), 0, 1)) == target);
  }
  adminConn().query("drop role if exists " + target);
}
