// libpq pipeline mode through the proxy in transaction pooling: results come back in order per
// Sync segment, an error aborts only the rest of its segment, named statements survive errors and
// server changes, and a server stays with its client while a pipeline has not reached its Sync
// (and while a COPY runs).
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <thread>

#include "integration/backend_watch.h"
#include "integration/extended_query.h"
#include "integration/harness.h"
#include "integration/pipeline_util.h"

using namespace shardpool::integration;

namespace {

std::string transactionConfig(int poolSize) {
  return standardConfig("pool_mode = \"transaction\"\ndefault_pool_size = " +
                        std::to_string(poolSize) + "\nquery_wait_timeout = \"20s\"");
}

// True when the query sent earlier on `c` (PQsendQuery) has all its results within `timeout`
// (or the connection failed); false while it is still waiting.
bool completesWithin(Conn& c, Ms timeout) {
  auto deadline = Clock::now() + timeout;
  while (PQisBusy(c.get())) {
    auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now());
    if (left <= Ms(0) || !c.waitReadable(left)) return false;
    if (!PQconsumeInput(c.get())) return true;
  }
  return true;
}

// Lines for every result of an earlier PQsendQuery, "ERROR: timeout" when it did not finish.
std::vector<std::string> collectLines(Conn& c, Ms timeout) {
  std::vector<std::string> lines;
  for (auto& r : c.collect(timeout)) {
    lines.push_back(r ? pipelineLine(r.get()) : "ERROR: timeout");
  }
  return lines;
}

// Failures seen by client threads, collected under a mutex (Catch2 assertions are not thread-safe).
class Failures {
 public:
  void add(const std::string& who, const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    list_.push_back(who + ": " + what);
  }
  std::vector<std::string> list() const {
    std::lock_guard<std::mutex> lock(mu_);
    return list_;
  }
  std::string text() const {
    std::string s;
    for (auto& f : list()) s += f + "\n";
    return s;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> list_;
};

std::string join(const std::vector<std::string>& lines) {
  std::string s;
  for (auto& l : lines) s += (s.empty() ? "" : " | ") + l;
  return s;
}

// The proxy's last lines, for INFO when a pipeline went wrong.
std::string logTail(const Proxy& proxy) {
  std::string log = proxy.log();
  return log.size() > 3000 ? log.substr(log.size() - 3000) : log;
}

}  // namespace

TEST_CASE("pipeline: 10 parameterized queries and one Sync, results in order",
          "[integration][pipeline]") {
  Proxy proxy(transactionConfig(1));
  Conn c(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(c.ok());
  {
    Pipeline p(c);
    INFO(p.error());
    REQUIRE(p.ok());
    std::vector<std::string> expected;
    for (int i = 1; i <= 10; ++i) {
      REQUIRE(p.query("select $1::int * 2", {std::to_string(i)}));
      expected.push_back(std::to_string(i * 2));
    }
    REQUIRE(p.sync());
    auto got = p.readSyncs(1);
    INFO("proxy log tail:\n" << logTail(proxy));
    CHECK(got == tuplesThenSync(expected));
    CHECK(p.exit());
  }
  CHECK(PQpipelineStatus(c.get()) == PQ_PIPELINE_OFF);
  CHECK(c.scalar("select 'after the pipeline'") == "after the pipeline");
  // The only server went back to the pool after the Sync.
  Conn other(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(other.ok());
  CHECK(other.scalar("select 'other'", 5s) == "other");
}

TEST_CASE("pipeline: an error aborts the rest of its Sync segment only",
          "[integration][pipeline]") {
  Proxy proxy(transactionConfig(1));
  Conn c(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(c.ok());
  Pipeline p(c);
  INFO(p.error());
  REQUIRE(p.ok());

  // Segment 1: three good queries, 1/0, two more (aborted). Segment 2: three good queries.
  for (int i = 1; i <= 3; ++i) REQUIRE(p.query("select $1::int * 2", {std::to_string(i)}));
  REQUIRE(p.query("select 1/0"));
  for (int i = 5; i <= 6; ++i) REQUIRE(p.query("select $1::int * 2", {std::to_string(i)}));
  REQUIRE(p.sync());
  for (int i = 7; i <= 9; ++i) REQUIRE(p.query("select $1::int * 2", {std::to_string(i)}));
  REQUIRE(p.sync());

  std::vector<std::string> expected{"TUPLES_OK 2",       "TUPLES_OK 4",      "TUPLES_OK 6",
                                    "FATAL_ERROR 22012", "PIPELINE_ABORTED", "PIPELINE_ABORTED",
                                    "PIPELINE_SYNC",     "TUPLES_OK 14",     "TUPLES_OK 16",
                                    "TUPLES_OK 18",      "PIPELINE_SYNC"};
  auto got = p.readSyncs(2);
  INFO("proxy log tail:\n" << logTail(proxy));
  CHECK(got == expected);
  CHECK(p.exit());
  CHECK(PQtransactionStatus(c.get()) == PQTRANS_IDLE);
  CHECK(c.scalar("select 'usable'") == "usable");
  Conn other(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(other.ok());
  CHECK(other.scalar("select 'other'", 5s) == "other");
}

TEST_CASE("pipeline: a named statement survives an error in a later Sync segment",
          "[integration][pipeline]") {
  Proxy proxy(transactionConfig(1));
  Conn c(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(c.ok());
  Conn other(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(other.ok());
  {
    Pipeline p(c);
    INFO(p.error());
    REQUIRE(p.ok());

    // Segment 1: prepare p1 and run it three times.
    REQUIRE(p.prepare("p1", "select 100 / $1::int"));
    for (const char* v : {"1", "2", "4"}) REQUIRE(p.execPrepared("p1", {v}));
    REQUIRE(p.sync());
    // Segment 2: p1 fine, p1 dividing by zero, two more p1 executions (aborted).
    REQUIRE(p.execPrepared("p1", {"5"}));
    REQUIRE(p.execPrepared("p1", {"0"}));
    REQUIRE(p.execPrepared("p1", {"10"}));
    REQUIRE(p.execPrepared("p1", {"20"}));
    REQUIRE(p.sync());
    // Segment 3: p1 still exists.
    REQUIRE(p.execPrepared("p1", {"50"}));
    REQUIRE(p.execPrepared("p1", {"100"}));
    REQUIRE(p.sync());

    std::vector<std::string> expected{"COMMAND_OK",        "TUPLES_OK 100",    "TUPLES_OK 50",
                                      "TUPLES_OK 25",      "PIPELINE_SYNC",    "TUPLES_OK 20",
                                      "FATAL_ERROR 22012", "PIPELINE_ABORTED", "PIPELINE_ABORTED",
                                      "PIPELINE_SYNC",     "TUPLES_OK 2",      "TUPLES_OK 1",
                                      "PIPELINE_SYNC"};
    auto got = p.readSyncs(3);
    INFO("proxy log tail:\n" << logTail(proxy));
    CHECK(got == expected);

    // Another client uses the server between segments; p1 is still there after it.
    CHECK(other.scalar("select 'other'", 5s) == "other");
    REQUIRE(p.query("select 1/0"));
    REQUIRE(p.execPrepared("p1", {"1"}));
    REQUIRE(p.sync());
    REQUIRE(p.execPrepared("p1", {"4"}));
    REQUIRE(p.sync());
    auto again = p.readSyncs(2);
    CHECK(again == std::vector<std::string>{"FATAL_ERROR 22012", "PIPELINE_ABORTED",
                                            "PIPELINE_SYNC", "TUPLES_OK 25", "PIPELINE_SYNC"});
    CHECK(p.exit());
  }
  // Outside pipeline mode too.
  auto r = execPrepared(c, "p1", {"5"});
  INFO("exec p1 after the pipeline: " << describe(c, r.get()));
  REQUIRE(succeeded(r.get()));
  CHECK(firstValue(r.get()) == "20");
}

TEST_CASE("pipeline: three Sync segments while two other clients share the only server",
          "[integration][pipeline]") {
  Proxy proxy(transactionConfig(1));
  constexpr int kRounds = 20;
  std::atomic<bool> done{false};
  std::atomic<int> otherQueries[2] = {0, 0};
  Failures failures;

  // Two other clients: simple queries and unnamed extended queries, each checking its own values.
  std::vector<std::thread> others;
  for (int k = 0; k < 2; ++k) {
    others.emplace_back([&, k] {
      std::string who = k == 0 ? "simple client" : "extended client";
      try {
        Conn o(proxy.conninfo("sp_scram", "scram_pass"), 20s);
        if (!o.ok()) return failures.add(who, "connect: " + o.connectError().message);
        for (int n = 0; !done || n < 5; ++n) {
          std::string want = (k == 0 ? "simple:" : "extended:") + std::to_string(n);
          std::string got;
          if (k == 0) {
            got = o.scalar("select '" + want + "'", 20s);
          } else {
            auto r = execParams(o, "select $1::text", {want}, 20s);
            if (!succeeded(r.get())) return failures.add(who, describe(o, r.get()));
            got = firstValue(r.get());
          }
          if (got != want) return failures.add(who, "expected '" + want + "', got '" + got + "'");
          ++otherQueries[k];
        }
      } catch (const std::exception& e) {
        failures.add(who, e.what());
      }
    });
  }

  std::vector<std::string> mismatches;
  try {
    Conn c(proxy.conninfo("sp_scram", "scram_pass"), 20s);
    if (!c.ok()) throw std::runtime_error("connect: " + c.connectError().message);
    Pipeline p(c);
    if (!p.ok()) throw std::runtime_error("enter pipeline mode: " + p.error());
    for (int r = 0; r < kRounds; ++r) {
      // Round r % 3: 0 sends all three segments at once, 1 pauses between segments (the server
      // may go to another client in between), 2 reads each segment before sending the next.
      std::vector<std::string> expected, got;
      for (int s = 0; s < 3; ++s) {
        std::vector<std::string> values;
        for (int q = 0; q < 3; ++q) {
          values.push_back("pipe:" + std::to_string(r) + ":" + std::to_string(s) + ":" +
                           std::to_string(q));
          if (!p.query("select $1::text", {values.back()})) throw std::runtime_error(p.error());
        }
        if (!p.sync()) throw std::runtime_error("sync: " + p.error());
        auto lines = tuplesThenSync(values);
        expected.insert(expected.end(), lines.begin(), lines.end());
        if (r % 3 == 1) {
          p.flush();
          std::this_thread::sleep_for(5ms);
        } else if (r % 3 == 2) {
          auto part = p.readSyncs(1);
          got.insert(got.end(), part.begin(), part.end());
        }
      }
      if (r % 3 != 2) got = p.readSyncs(3);
      if (got != expected) {
        mismatches.push_back("round " + std::to_string(r) + ": expected [" + join(expected) +
                             "]\n  got [" + join(got) + "]");
        break;
      }
    }
    if (!p.exit()) failures.add("pipeline client", "exit pipeline mode: " + p.error());
  } catch (const std::exception& e) {
    failures.add("pipeline client", e.what());
  }
  done = true;
  for (auto& t : others) t.join();

  INFO("failures:\n" << failures.text() << "proxy log tail:\n" << logTail(proxy));
  INFO("pipeline mismatch: " << (mismatches.empty() ? "none" : mismatches.front()));
  CHECK(mismatches.empty());
  CHECK(failures.list().empty());
  CHECK(otherQueries[0] >= 5);
  CHECK(otherQueries[1] >= 5);
}

TEST_CASE("pipeline: Flush without Sync keeps the only server until the Sync",
          "[integration][pipeline]") {
  Proxy proxy(transactionConfig(1));
  Conn a(proxy.conninfo("sp_scram", "scram_pass"));
  Conn b(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(b.scalar("select 'b idle'") == "b idle");  // b is logged in and holds nothing

  Pipeline p(a);
  INFO(p.error());
  REQUIRE(p.ok());
  REQUIRE(p.query("select $1::int * 2", {"21"}));
  REQUIRE(p.flushRequest());
  REQUIRE(p.flush());
  std::string why;
  auto first = p.next(10s, &why);
  INFO("first result before any Sync: " << why << "\nproxy log tail:\n" << logTail(proxy));
  REQUIRE(first);
  CHECK(pipelineLine(first.get()) == "TUPLES_OK 42");

  // a's pipeline has not reached a Sync: b's query must wait for the server.
  REQUIRE(PQsendQuery(b.get(), "select 'b ran'") == 1);
  CHECK_FALSE(completesWithin(b, 1500ms));

  // a keeps using the server meanwhile.
  REQUIRE(p.query("select $1::int * 2", {"50"}));
  REQUIRE(p.flushRequest());
  auto second = p.next(10s, &why);
  INFO("second result before any Sync: " << why);
  REQUIRE(second);
  CHECK(pipelineLine(second.get()) == "TUPLES_OK 100");
  CHECK_FALSE(completesWithin(b, 500ms));

  // The Sync ends a's implicit transaction: the server goes to b.
  REQUIRE(p.sync());
  CHECK(p.readSyncs(1) == std::vector<std::string>{"PIPELINE_SYNC"});
  CHECK(p.exit());
  CHECK(completesWithin(b, 10s));
  CHECK(collectLines(b, 10s) == std::vector<std::string>{"TUPLES_OK b ran"});
  CHECK(a.scalar("select 'a after'", 5s) == "a after");
  CHECK(b.scalar("select 'b after'", 5s) == "b after");
}

TEST_CASE("pipeline: 6 clients prepare one name with different texts on 2 servers",
          "[integration][pipeline]") {
  TempRole role("it_pipeprep");
  Proxy proxy(generalSection("pool_mode = \"transaction\"\ndefault_pool_size = 2\n"
                             "query_wait_timeout = \"20s\"") +
              clusterDatabase() + userSection(role.name(), role.password()));
  BackendWatch watch(role.name());
  constexpr int kClients = 6;
  constexpr int kRounds = 30;
  constexpr int kBatch = 5;  // Sync segments sent before their results are read
  std::atomic<int> executed{0};
  Failures failures;

  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      std::string who = "client " + std::to_string(i);
      std::string tag = "c" + std::to_string(i) + ":";
      auto value = [&](int v) { return tag + std::to_string(v * (i + 1)); };
      try {
        Conn c(proxy.conninfo(role.name(), role.password()), 20s);
        if (!c.ok()) return failures.add(who, "connect: " + c.connectError().message);
        {
          Pipeline p(c);
          if (!p.ok()) return failures.add(who, "enter pipeline mode: " + p.error());
          // Same name everywhere, a different text per client.
          std::string sql =
              "select '" + tag + "' || ($1::int * " + std::to_string(i + 1) + ")::text";
          if (!p.prepare("shared", sql) || !p.execPrepared("shared", {"1"}) || !p.sync())
            return failures.add(who, p.error());
          auto first = p.readSyncs(1);
          std::vector<std::string> want{"COMMAND_OK", "TUPLES_OK " + value(1), "PIPELINE_SYNC"};
          if (first != want) return failures.add(who, "prepare segment: got [" + join(first) + "]");

          for (int r = 0; r < kRounds; r += kBatch) {
            std::vector<std::string> expected;
            for (int k = r; k < r + kBatch; ++k) {
              // Two executions with an unnamed query between them, then a Sync.
              bool sent = p.execPrepared("shared", {std::to_string(k)}) &&
                          p.query("select $1::int + 1", {std::to_string(k)}) &&
                          p.execPrepared("shared", {std::to_string(k + 1000)}) && p.sync();
              if (!sent) return failures.add(who, "send: " + p.error());
              auto lines = tuplesThenSync({value(k), std::to_string(k + 1), value(k + 1000)});
              expected.insert(expected.end(), lines.begin(), lines.end());
            }
            auto got = p.readSyncs(kBatch, 15s);
            if (got != expected) {
              return failures.add(who, "rounds " + std::to_string(r) + "..: expected [" +
                                           join(expected) + "]\n  got [" + join(got) + "]");
            }
            executed += 2 * kBatch;
          }
          if (!p.exit()) return failures.add(who, "exit pipeline mode: " + p.error());
        }
        // The statement is still the client's own outside pipeline mode.
        auto r = execPrepared(c, "shared", {"7"}, 20s);
        if (firstValue(r.get()) != value(7))
          return failures.add(who, "after the pipeline: " + describe(c, r.get()));
      } catch (const std::exception& e) {
        failures.add(who, e.what());
      }
    });
  }
  for (auto& t : clients) t.join();
  int maxBackends = watch.stop();

  INFO("failures:\n"
       << failures.text() << watch.error() << "\nproxy log tail:\n"
       << logTail(proxy));
  CHECK(failures.list().empty());
  CHECK(executed == kClients * kRounds * 2);
  CHECK(watch.error().empty());
  CHECK(maxBackends >= 1);
  CHECK(maxBackends <= 2);
}

TEST_CASE("pipeline: COPY FROM STDIN in transaction mode keeps the only server until it ends",
          "[integration][pipeline][copy]") {
  std::string table = "it_pipecopy_" + uniqueSuffix();
  Conn admin = adminConn();
  admin.query("CREATE TABLE " + table + " (id int, name text); GRANT ALL ON " + table +
              " TO PUBLIC");
  Proxy proxy(transactionConfig(1));
  Conn a(proxy.conninfo("sp_scram", "scram_pass"));
  Conn b(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(b.scalar("select 'b idle'") == "b idle");

  auto rows = [](int from, int to) {
    std::string s;
    for (int i = from; i < to; ++i) s += std::to_string(i) + "\tname_" + std::to_string(i) + "\n";
    return s;
  };
  auto put = [&](const std::string& data) {
    return PQputCopyData(a.get(), data.data(), static_cast<int>(data.size())) == 1 &&
           PQflush(a.get()) == 0;
  };

  auto start = a.exec("COPY " + table + " FROM STDIN");
  REQUIRE(start.size() == 1);
  REQUIRE(start.back());
  INFO(PQresultErrorMessage(start.back().get()));
  REQUIRE(PQresultStatus(start.back().get()) == PGRES_COPY_IN);
  REQUIRE(put(rows(0, 500)));

  // b's query waits while a's COPY holds the only server.
  REQUIRE(PQsendQuery(b.get(), ("select count(*) from " + table).c_str()) == 1);
  CHECK_FALSE(completesWithin(b, 1500ms));

  REQUIRE(put(rows(500, 1000)));
  CHECK_FALSE(completesWithin(b, 300ms));
  REQUIRE(PQputCopyEnd(a.get(), nullptr) == 1);
  auto done = a.collect(20s);
  REQUIRE_FALSE(done.empty());
  REQUIRE(done.back());
  INFO("COPY end: " << PQresultErrorMessage(done.back().get()) << "\nproxy log tail:\n"
                    << logTail(proxy));
  CHECK(PQresultStatus(done.back().get()) == PGRES_COMMAND_OK);
  CHECK(std::string(PQcmdTuples(done.back().get())) == "1000");

  // b ran after the COPY committed: it sees every row.
  CHECK(completesWithin(b, 10s));
  CHECK(collectLines(b, 10s) == std::vector<std::string>{"TUPLES_OK 1000"});
  CHECK(admin.scalar("select count(*) from " + table) == "1000");
  CHECK(admin.scalar("select sum(id) from " + table) == "499500");
  CHECK(a.scalar("select 'a after copy'", 5s) == "a after copy");
  admin.query("DROP TABLE " + table);
}
