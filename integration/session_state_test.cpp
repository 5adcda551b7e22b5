// A client's session state through transaction pooling, compared with a dedicated connection:
// each scenario runs the same steps directly against PostgreSQL and through shardpool (pool of
// one server shared by several clients) and the two transcripts must be identical.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "integration/extended_query.h"
#include "integration/harness.h"

using namespace shardpool::integration;

namespace {

// One line per step: what ran, and its outcome (rows, or the SQLSTATE of the error).
class Transcript {
 public:
  void add(const std::string& step, const Conn& c, const PGresult* r) {
    std::string line = step + " -> ";
    if (!r) {
      line += "no result";
    } else if (!succeeded(r)) {
      line += "ERROR " + errorOf(c, r).sqlstate;
    } else {
      line += PQcmdStatus(const_cast<PGresult*>(r));
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
  auto direct = run([&] { return Conn(directConninfo(role.name(), role.password())); }, clients,
                    scenario);
  prepareTable();
  auto pooled =
      run([&] { return Conn(proxy.conninfo(role.name(), role.password())); }, clients, scenario);
  adminConn().query("drop table if exists " + table);
  std::string both;
  for (size_t i = 0; i < std::max(direct.size(), pooled.size()); ++i) {
    both += "direct: " + (i < direct.size() ? direct[i] : "-") + "\n";
    both += "pooled: " + (i < pooled.size() ? pooled[i] : "-") + "\n";
  }
  INFO(both);
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
