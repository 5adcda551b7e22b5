// Statement pooling: a server goes back to the pool after every statement, so transaction blocks
// are refused (25001) and never leak into another client's statements.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <thread>

#include "integration/backend_watch.h"
#include "integration/extended_query.h"
#include "integration/harness.h"

using namespace shardpool::integration;

namespace {

void collectNotice(void* arg, const PGresult* res) {
  auto* notices = static_cast<std::string*>(arg);
  PgError e = errorFrom(res);
  *notices += "[" + e.sqlstate + "] " + e.message + "\n";
}

// Runs `sql`, then (if that did not fail) `followUp`; returns the first error either produced.
// Messages libpq did not attribute to a query (e.g. an ErrorResponse after ReadyForQuery, which
// libpq hands to the notice receiver) are appended to `notices`.
std::optional<PgError> firstError(Conn& c, const std::string& sql, const std::string& followUp,
                                  std::string& notices) {
  PQsetNoticeReceiver(c.get(), collectNotice, &notices);
  for (const std::string& q : {sql, followUp}) {
    if (!c.ok()) return errorFromText(PQerrorMessage(c.get()));
    auto results = c.exec(q, 10s);
    if (!results.empty() && !results.back()) throw std::runtime_error("timeout: " + q);
    for (auto& r : results) {
      auto st = PQresultStatus(r.get());
      if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE) {
        PgError e = errorFrom(r.get());
        if (e.sqlstate.empty()) e = errorFromText(PQerrorMessage(c.get()));
        return e;
      }
    }
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("statement mode: transaction blocks get 25001, single statements work",
          "[integration][statement]") {
  std::string table = "it_stmt_" + uniqueSuffix();
  Conn admin = adminConn();
  admin.query("CREATE TABLE " + table + " (id int); GRANT ALL ON " + table + " TO PUBLIC");
  Proxy proxy(
      standardConfig("pool_mode = \"statement\"\ndefault_pool_size = 1\n"
                     "query_wait_timeout = \"10s\""));

  Conn single(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(single.ok());
  CHECK(single.scalar("select 1") == "1");
  CHECK(single.scalar("select 2") == "2");
  {
    auto p = execParams(single, "select $1::int + 1", {"20"});
    INFO(describe(single, p.get()));
    CHECK(succeeded(p.get()));
    CHECK(firstValue(p.get()) == "21");
  }

  for (const char* block : {"BEGIN; SELECT 1", "BEGIN", "BEGIN; INSERT INTO @T VALUES (1)"}) {
    std::string sql = block;
    if (auto at = sql.find("@T"); at != std::string::npos) sql.replace(at, 2, table);
    INFO("client sends: " << sql);
    Conn c(proxy.conninfo("sp_scram", "scram_pass"));
    REQUIRE(c.ok());
    std::string notices;
    auto err = firstError(c, sql, "SELECT 1", notices);
    INFO("notices (not attributed to a query by libpq): " << notices);
    REQUIRE(err.has_value());
    INFO("error reported for the query: [" << err->sqlstate << "] " << err->message);
    CHECK(err->sqlstate == "25001");
    CHECK(contains(err->message, "transaction blocks are not allowed in statement pooling mode"));
  }

  // Nothing of those blocks reached another client: the next statement on the (only) server is
  // in a transaction of its own, and the INSERT was not committed.
  std::this_thread::sleep_for(50ms);
  Conn next(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(next.ok());
  CHECK(next.scalar("select now() = statement_timestamp()") == "t");
  CHECK(PQtransactionStatus(next.get()) == PQTRANS_IDLE);
  CHECK(next.scalar("select count(*) from " + table) == "0");
  CHECK(admin.scalar("select count(*) from " + table) == "0");
  CHECK(single.scalar("select 'still works'") == "still works");
  admin.query("DROP TABLE " + table);
}

TEST_CASE("statement mode: 5 concurrent clients x 20 statements on one server",
          "[integration][statement]") {
  TempRole role("it_stmtpool");
  Proxy proxy(generalSection("pool_mode = \"statement\"\ndefault_pool_size = 1\n"
                             "query_wait_timeout = \"20s\"") +
              clusterDatabase() + userSection(role.name(), role.password()));
  BackendWatch watch(role.name());

  constexpr int kClients = 5;
  constexpr int kStatements = 20;
  std::atomic<int> done{0};
  std::mutex mu;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      auto failed = [&](const std::string& what) {
        std::lock_guard<std::mutex> lock(mu);
        failures.push_back("client " + std::to_string(i) + ": " + what);
      };
      try {
        Conn c(proxy.conninfo(role.name(), role.password()), 20s);
        if (!c.ok()) return failed("connect: " + c.connectError().message);
        for (int n = 0; n < kStatements; ++n) {
          int v = i * 100 + n;
          std::string got;
          if (n % 2 == 0) {
            got = c.scalar("select " + std::to_string(v) + " * 2", 20s);
          } else {
            auto r = execParams(c, "select $1::int * 2", {std::to_string(v)}, 20s);
            if (!succeeded(r.get())) return failed("PQexecParams: " + describe(c, r.get()));
            got = firstValue(r.get());
          }
          if (got != std::to_string(v * 2)) return failed("wrong value '" + got + "'");
          ++done;
        }
      } catch (const std::exception& e) {
        failed(e.what());
      }
    });
  }
  for (auto& t : threads) t.join();
  int maxBackends = watch.stop();
  std::string all;
  for (auto& f : failures) all += f + "\n";
  INFO(all << watch.error());
  CHECK(failures.empty());
  CHECK(done == kClients * kStatements);
  CHECK(maxBackends >= 1);
  CHECK(maxBackends <= 1);
}
