// Query cancellation through the proxy: CancelRequest with the proxy's BackendKeyData.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include "integration/harness.h"

using namespace shardpool::integration;

namespace {

const PGresult* firstWithStatus(const std::vector<ResultPtr>& results, ExecStatusType st) {
  for (auto& r : results) {
    if (r && PQresultStatus(r.get()) == st) return r.get();
  }
  return nullptr;
}

}  // namespace

TEST_CASE("cancel reaches the right query and only that one", "[integration][cancel]") {
  Proxy proxy(standardConfig());
  Conn victim(proxy.conninfo("sp_scram", "scram_pass"));
  Conn bystander(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(victim.ok());
  REQUIRE(bystander.ok());

  REQUIRE(PQsendQuery(victim.get(), "select pg_sleep(30)") == 1);
  REQUIRE(PQsendQuery(bystander.get(), "select pg_sleep(3)::text || 'done'") == 1);
  std::this_thread::sleep_for(300ms);  // both queries are running on their servers

  auto t0 = Clock::now();
  PGcancel* cancel = PQgetCancel(victim.get());
  REQUIRE(cancel != nullptr);
  char errbuf[256] = {0};
  int sent = PQcancel(cancel, errbuf, sizeof errbuf);
  PQfreeCancel(cancel);
  INFO("PQcancel: " << errbuf);
  REQUIRE(sent == 1);

  auto victimResults = victim.collect(10s);
  auto elapsed = Clock::now() - t0;
  REQUIRE_FALSE(victimResults.empty());
  REQUIRE(victimResults.back());  // not a harness timeout
  const PGresult* err = firstWithStatus(victimResults, PGRES_FATAL_ERROR);
  REQUIRE(err != nullptr);
  INFO(PQresultErrorMessage(err));
  CHECK(errorFrom(err).sqlstate == "57014");
  CHECK(elapsed < 2s);

  // The other client's query was not cancelled.
  auto bystanderResults = bystander.collect(10s);
  REQUIRE_FALSE(bystanderResults.empty());
  REQUIRE(bystanderResults.back());
  const PGresult* ok = firstWithStatus(bystanderResults, PGRES_TUPLES_OK);
  REQUIRE(ok != nullptr);
  CHECK(std::string(PQgetvalue(ok, 0, 0)) == "done");

  // The cancelled session is still usable.
  CHECK(victim.scalar("select 'alive'") == "alive");
}

TEST_CASE("cancel with a wrong key is ignored", "[integration][cancel]") {
  Proxy proxy(standardConfig());
  Conn a(proxy.conninfo("sp_scram", "scram_pass"));
  Conn b(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(PQsendQuery(a.get(), "select pg_sleep(1.5)::text || 'done'") == 1);
  std::this_thread::sleep_for(200ms);

  // b's cancel key does not belong to a's query: b is idle, nothing may be cancelled.
  PGcancel* cancel = PQgetCancel(b.get());
  REQUIRE(cancel != nullptr);
  char errbuf[256] = {0};
  PQcancel(cancel, errbuf, sizeof errbuf);
  PQfreeCancel(cancel);

  auto results = a.collect(10s);
  REQUIRE_FALSE(results.empty());
  REQUIRE(results.back());
  const PGresult* ok = firstWithStatus(results, PGRES_TUPLES_OK);
  REQUIRE(ok != nullptr);
  CHECK(std::string(PQgetvalue(ok, 0, 0)) == "done");
  CHECK(b.scalar("select 1") == "1");
}

TEST_CASE("cancels fired at random moments never reach another client's statement",
          "[integration][cancel][transaction]") {
  // Two servers shared by eight clients: half of them cancel their own short queries at random
  // moments (often just as the query ends and the server changes hands), the other half never
  // cancel and must never see 57014.
  TempRole role("it_cancel_race");
  Proxy proxy(generalSection("pool_mode = \"transaction\"\ndefault_pool_size = 2\n"
                             "query_wait_timeout = \"20s\"") +
              clusterDatabase() + userSection(role.name(), role.password()));
  constexpr int kCancellers = 4, kBystanders = 4;
  const auto deadline = Clock::now() + 6s;
  std::atomic<int> cancelled{0}, cancelsSent{0}, bystanderQueries{0};
  std::mutex mu;
  std::vector<std::string> failures;
  auto fail = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    if (failures.size() < 20) failures.push_back(what);
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < kCancellers + kBystanders; ++i) {
    threads.emplace_back([&, i] {
      try {
        bool canceller = i < kCancellers;
        Conn c(proxy.conninfo(role.name(), role.password()), 20s);
        if (!c.ok()) return fail("connect: " + c.connectError().message);
        std::mt19937 rng(static_cast<unsigned>(i * 7919 + 1));
        while (Clock::now() < deadline) {
          // Now and then a longer query, which its cancel certainly finds running.
          bool longOne = canceller && rng() % 8 == 0;
          int sleepUs = longOne ? 300000 : static_cast<int>(rng() % 3000);
          std::string sql = "select pg_sleep(" + std::to_string(sleepUs / 1e6) + ")";
          if (!PQsendQuery(c.get(), sql.c_str())) return fail("send failed");
          if (canceller) {
            // Half of the cancels aim at the moment the query ends and the server is released.
            int delayUs = longOne      ? 100000
                          : rng() % 2 ? static_cast<int>(rng() % 3500)
                                      : sleepUs + static_cast<int>(rng() % 800);
            std::this_thread::sleep_for(std::chrono::microseconds(delayUs));
            PGcancel* k = PQgetCancel(c.get());
            char err[256];
            if (k && PQcancel(k, err, sizeof err)) ++cancelsSent;
            if (k) PQfreeCancel(k);
          }
          for (auto& r : c.collect(20s)) {
            if (!r) return fail("timeout");
            if (PQresultStatus(r.get()) != PGRES_FATAL_ERROR) continue;
            PgError e = errorFrom(r.get());
            if (canceller && e.sqlstate == "57014") {
              ++cancelled;
            } else {
              fail(std::string(canceller ? "canceller" : "bystander") + " " +
                   std::to_string(i) + ": [" + e.sqlstate + "] " + e.message);
            }
          }
          if (!canceller) ++bystanderQueries;
        }
      } catch (const std::exception& e) {
        fail(e.what());
      }
    });
  }
  for (auto& t : threads) t.join();
  INFO("cancels sent " << cancelsSent << ", queries cancelled " << cancelled
                       << ", bystander queries " << bystanderQueries);
  for (auto& f : failures) UNSCOPED_INFO(f);
  CHECK(failures.empty());
  CHECK(bystanderQueries > 100);
  CHECK(cancelled > 0);  // the cancels did reach their own queries
}
