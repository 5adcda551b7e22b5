// Query cancellation through the proxy: CancelRequest with the proxy's BackendKeyData.
#include <catch2/catch.hpp>

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
