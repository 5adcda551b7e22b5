// Protocol-level named prepared statements in transaction pooling: each client's names are mapped
// to server-side statements prepared on demand on whichever server the client gets.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <thread>

#include "integration/backend_watch.h"
#include "integration/extended_query.h"
#include "integration/harness.h"

using namespace shardpool::integration;

namespace {

std::string transactionConfig(int poolSize) {
  return standardConfig("pool_mode = \"transaction\"\ndefault_pool_size = " +
                        std::to_string(poolSize) + "\nquery_wait_timeout = \"20s\"");
}

}  // namespace

TEST_CASE("concurrent PQprepare: 20 clients, one statement name, two query texts, 3 servers",
          "[integration][prepared][transaction]") {
  TempRole role("it_prep");
  Proxy proxy(generalSection("pool_mode = \"transaction\"\ndefault_pool_size = 3\n"
                             "query_wait_timeout = \"20s\"") +
              clusterDatabase() + userSection(role.name(), role.password()));
  BackendWatch watch(role.name());

  constexpr int kClients = 20;
  constexpr int kExecutions = 50;
  std::atomic<int> executed{0};
  std::mutex mu;
  std::vector<std::string> failures;
  auto fail = [&](int client, const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    failures.push_back("client " + std::to_string(client) + ": " + what);
  };

  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      try {
        Conn c(proxy.conninfo(role.name(), role.password()), 20s);
        if (!c.ok()) return fail(i, "connect: " + c.connectError().message);
        // Same name everywhere; even clients and odd clients mean different queries by it.
        bool even = i % 2 == 0;
        std::string sql = even ? "select 'even:' || $1::text"
                               : "select 'odd:' || ($1::int * 7)::text || ':' || $1::text";
        auto prep = prepare(c, "s1", sql, 20s);
        if (!succeeded(prep.get())) return fail(i, "prepare s1: " + describe(c, prep.get()));
        for (int n = 0; n < kExecutions; ++n) {
          int v = i * 1000 + n;
          std::string expected = even ? "even:" + std::to_string(v)
                                      : "odd:" + std::to_string(v * 7) + ":" + std::to_string(v);
          auto r = execPrepared(c, "s1", {std::to_string(v)}, 20s);
          if (!succeeded(r.get()))
            return fail(i, "exec s1 #" + std::to_string(n) + ": " + describe(c, r.get()));
          std::string got = firstValue(r.get());
          if (got != expected) {
            return fail(i, "exec s1 #" + std::to_string(n) + ": expected '" + expected +
                               "', got '" + got + "'");
          }
          ++executed;
          // Mix in unnamed extended queries and simple queries between the executions.
          if (n % 10 == 5) {
            std::string s = std::to_string(v);
            auto u = execParams(c, "select $1::int - 1", {s}, 20s);
            if (firstValue(u.get()) != std::to_string(v - 1)) {
              return fail(i, "unnamed query: " + describe(c, u.get()) + " value '" +
                                 firstValue(u.get()) + "'");
            }
            if (c.scalar("select " + s + " + 2", 20s) != std::to_string(v + 2)) {
              return fail(i, "simple query returned a wrong value");
            }
          }
        }
      } catch (const std::exception& e) {
        fail(i, e.what());
      }
    });
  }
  for (auto& t : clients) t.join();
  int maxBackends = watch.stop();

  std::string first;
  for (size_t k = 0; k < failures.size() && k < 8; ++k) first += failures[k] + "\n";
  INFO(failures.size() << " failures, first ones:\n" << first << watch.error());
  CHECK(failures.empty());
  CHECK(executed == kClients * kExecutions);
  CHECK(watch.error().empty());
  CHECK(maxBackends >= 1);
  CHECK(maxBackends <= 3);
}

TEST_CASE("duplicate Parse of a name gets 42P05 naming the client's statement",
          "[integration][prepared][transaction]") {
  Proxy proxy(transactionConfig(2));
  Conn c(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(c.ok());

  auto first = prepare(c, "dup", "select 'first'::text");
  INFO("first prepare: " << describe(c, first.get()));
  REQUIRE(succeeded(first.get()));

  // A different text under the same name.
  auto second = prepare(c, "dup", "select 'second'::text");
  INFO("second prepare: " << describe(c, second.get()));
  REQUIRE_FALSE(succeeded(second.get()));
  auto err = errorOf(c, second.get());
  CHECK(err.sqlstate == "42P05");
  CHECK(contains(err.message, "\"dup\""));
  CHECK(contains(err.message, "already exists"));

  // The same text again is a duplicate too (as on a plain PostgreSQL connection).
  auto third = prepare(c, "dup", "select 'first'::text");
  INFO("third prepare: " << describe(c, third.get()));
  REQUIRE_FALSE(succeeded(third.get()));
  auto err3 = errorOf(c, third.get());
  CHECK(err3.sqlstate == "42P05");
  CHECK(contains(err3.message, "\"dup\""));

  // The connection is still usable and "dup" is still the first statement.
  REQUIRE(c.ok());
  auto exec = execPrepared(c, "dup", {});
  INFO("exec dup: " << describe(c, exec.get()));
  REQUIRE(succeeded(exec.get()));
  CHECK(firstValue(exec.get()) == "first");
  CHECK(c.scalar("select 'usable'") == "usable");
  auto again = execPrepared(c, "dup", {});
  CHECK(firstValue(again.get()) == "first");
}

TEST_CASE("DEALLOCATE ALL and DISCARD ALL forget the client's statements, the name is reusable",
          "[integration][prepared][transaction]") {
  Proxy proxy(transactionConfig(2));
  Conn c(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(c.ok());
  // Another client that keeps a second server busy now and then, so that c moves between servers.
  Conn other(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(other.ok());

  for (const char* forget : {"DEALLOCATE ALL", "DISCARD ALL"}) {
    INFO("forgetting with " << forget);
    auto a = prepare(c, "s", "select 'A:' || $1::text");
    INFO("prepare s (A): " << describe(c, a.get()));
    REQUIRE(succeeded(a.get()));
    auto ea = execPrepared(c, "s", {"1"});
    INFO("exec s (A): " << describe(c, ea.get()));
    REQUIRE(succeeded(ea.get()));
    CHECK(firstValue(ea.get()) == "A:1");
    CHECK(other.scalar("select 1") == "1");

    c.query(forget);

    // As on PostgreSQL: the statement is gone ...
    auto gone = execPrepared(c, "s", {"2"});
    INFO("exec s after " << forget << ": " << describe(c, gone.get()));
    CHECK_FALSE(succeeded(gone.get()));
    CHECK(errorOf(c, gone.get()).sqlstate == "26000");

    // ... and the name can be prepared again with another query.
    auto b = prepare(c, "s", "select 'B:' || ($1::int * 2)::text");
    INFO("prepare s (B): " << describe(c, b.get()));
    REQUIRE(succeeded(b.get()));
    for (int i = 0; i < 5; ++i) {
      auto eb = execPrepared(c, "s", {std::to_string(i)});
      INFO("exec s (B) #" << i << ": " << describe(c, eb.get()));
      REQUIRE(succeeded(eb.get()));
      CHECK(firstValue(eb.get()) == "B:" + std::to_string(i * 2));
      CHECK(other.scalar("select 2") == "2");
    }
    c.query("DEALLOCATE ALL");  // start the next round clean
  }
  CHECK(c.scalar("select 'usable'") == "usable");
}

TEST_CASE("a Parse that fails is not remembered", "[integration][prepared][transaction]") {
  Proxy proxy(transactionConfig(2));
  Conn c(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(c.ok());

  auto bad = prepare(c, "bad", "selec 1");
  INFO("prepare bad (syntax error): " << describe(c, bad.get()));
  REQUIRE_FALSE(succeeded(bad.get()));
  CHECK(errorOf(c, bad.get()).sqlstate == "42601");

  auto missing = execPrepared(c, "bad", {});
  INFO("exec bad after the failed Parse: " << describe(c, missing.get()));
  CHECK_FALSE(succeeded(missing.get()));
  CHECK(errorOf(c, missing.get()).sqlstate == "26000");

  auto good = prepare(c, "bad", "select 1");
  INFO("prepare bad (valid): " << describe(c, good.get()));
  REQUIRE(succeeded(good.get()));
  auto exec = execPrepared(c, "bad", {});
  INFO("exec bad: " << describe(c, exec.get()));
  REQUIRE(succeeded(exec.get()));
  CHECK(firstValue(exec.get()) == "1");
}

TEST_CASE("max_prepared_statements: servers keep at most the cap, evicted statements come back",
          "[integration][prepared][transaction]") {
  TempRole role("it_prepcap");
  Proxy proxy(generalSection("pool_mode = \"transaction\"\ndefault_pool_size = 1\n"
                             "max_prepared_statements = 2\nquery_wait_timeout = \"20s\"") +
              clusterDatabase() + userSection(role.name(), role.password()));
  Conn c(proxy.conninfo(role.name(), role.password()));
  REQUIRE(c.ok());
  constexpr int kStatements = 5;
  for (int i = 0; i < kStatements; ++i) {
    auto p = prepare(c, "s" + std::to_string(i), "select " + std::to_string(i) + " + $1::int");
    INFO("prepare s" << i << ": " << describe(c, p.get()));
    REQUIRE(succeeded(p.get()));
  }
  // Round-robin over more statements than the server may hold: each is re-prepared on demand.
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < kStatements; ++i) {
      auto e = execPrepared(c, "s" + std::to_string(i), {"100"});
      INFO("round " << round << " exec s" << i << ": " << describe(c, e.get()));
      REQUIRE(succeeded(e.get()));
      CHECK(firstValue(e.get()) == std::to_string(100 + i));
    }
  }
  // The one server behind the pool holds no more than the cap.
  CHECK(std::stoi(c.scalar("select count(*) from pg_prepared_statements")) <= 2);
}

TEST_CASE("transaction mode refuses session-only features with 0A000",
          "[integration][prepared][transaction]") {
  Proxy proxy(transactionConfig(1));
  Conn c(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(c.ok());
  for (const char* sql : {"LISTEN it_chan", "CREATE TEMP TABLE it_tmp (a int)",
                          "SELECT pg_advisory_lock(4242)"}) {
    INFO(sql);
    auto err = c.expectError(sql);
    CHECK(err.sqlstate == "0A000");
    CHECK(err.message.find("transaction pooling") != std::string::npos);
    CHECK(c.scalar("select 1") == "1");  // the session goes on
  }
  // The supported forms work.
  c.query("BEGIN");
  c.query("CREATE TEMP TABLE it_tmp_ok (a int) ON COMMIT DROP");
  c.query("SELECT pg_advisory_xact_lock(4242)");
  c.query("COMMIT");
  // The same text through the extended protocol fails when executed.
  auto p = prepare(c, "lsn", "LISTEN it_chan");
  REQUIRE(succeeded(p.get()));
  auto e = execPrepared(c, "lsn", {});
  CHECK_FALSE(succeeded(e.get()));
  CHECK(errorOf(c, e.get()).sqlstate == "0A000");
}
