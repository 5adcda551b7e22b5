// Pool size, query_wait_timeout and max_client_conn.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <thread>

#include "integration/harness.h"

using namespace shardpool::integration;

TEST_CASE("200 concurrent clients share a session pool of 5 servers", "[integration][limits]") {
  TempRole backend("it_pool");
  Proxy proxy(generalSection("pool_mode = \"session\"\ndefault_pool_size = 5\n"
                             "max_client_conn = 1000\nquery_wait_timeout = \"60s\"") +
              clusterDatabase() + userSection(backend.name(), backend.password()));

  constexpr int kClients = 200;
  std::atomic<int> succeeded{0};
  std::atomic<bool> done{false};
  std::atomic<int> maxBackends{0};
  std::mutex mu;
  std::vector<std::string> failures;

  // Watch the server side while the clients run.
  std::thread watcher([&] {
    try {
      Conn admin = adminConn();
      std::string sql = "SELECT count(*) FROM pg_stat_activity WHERE usename = '" + backend.name() +
                        "' AND backend_type = 'client backend'";
      while (!done) {
        int n = std::stoi(admin.scalar(sql));
        if (n > maxBackends) maxBackends = n;
        std::this_thread::sleep_for(10ms);
      }
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(mu);
      failures.push_back(std::string("watcher: ") + e.what());
    }
  });

  std::vector<std::thread> clients;
  clients.reserve(kClients);
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      try {
        Conn c(proxy.conninfo(backend.name(), backend.password()), 25s);
        if (!c.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          failures.push_back("client " + std::to_string(i) + " connect: [" +
                             c.connectError().sqlstate + "] " + c.connectError().message);
          return;
        }
        if (c.scalar("select pg_sleep(0.05)::text || 'ok'", 25s) == "ok") ++succeeded;
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mu);
        failures.push_back("client " + std::to_string(i) + ": " + e.what());
      }
    });
  }
  for (auto& t : clients) t.join();
  done = true;
  watcher.join();

  std::string firstFailures;
  for (size_t i = 0; i < failures.size() && i < 5; ++i) firstFailures += failures[i] + "\n";
  INFO(failures.size() << " failures, first ones:\n" << firstFailures);
  CHECK(succeeded == kClients);
  CHECK(failures.empty());
  CHECK(maxBackends >= 1);
  CHECK(maxBackends <= 5);
  CHECK(backendCount(backend.name()) <= 5);
}

TEST_CASE("query_wait_timeout: a client waiting for a busy pool gets an error",
          "[integration][limits]") {
  Proxy proxy(
      standardConfig("pool_mode = \"session\"\ndefault_pool_size = 1\n"
                     "query_wait_timeout = \"1s\""));
  Conn a(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(a.ok());
  REQUIRE(a.scalar("select 1") == "1");  // A now holds the only server for the whole session

  auto t0 = Clock::now();
  Conn b(proxy.conninfo("sp_scram", "scram_pass"), 10s);
  PgError err;
  if (b.ok()) {
    // The wait may start at the first query instead of at login.
    err = b.expectError("select 1", 10s);
  } else {
    err = b.connectError();
  }
  auto elapsed = Clock::now() - t0;
  INFO("[" << err.sqlstate << "] " << err.message);
  CHECK(contains(err.message, "query_wait_timeout"));
  CHECK(elapsed >= 900ms);
  CHECK(elapsed < 3500ms);

  // A is unaffected.
  CHECK(a.scalar("select 'a still works'") == "a still works");
}

TEST_CASE("max_client_conn: the client over the limit gets 53300", "[integration][limits]") {
  Proxy proxy(standardConfig("max_client_conn = 3"));
  std::this_thread::sleep_for(200ms);  // let the proxy notice the readiness probe's disconnect

  std::vector<Conn> held;
  for (int i = 0; i < 3; ++i) {
    held.emplace_back(proxy.conninfo("sp_scram", "scram_pass"));
    INFO("client " << i << ": " << held.back().connectError().message);
    REQUIRE(held.back().ok());
    CHECK(held.back().scalar("select 1") == "1");
  }

  Conn fourth(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE_FALSE(fourth.ok());
  INFO("[" << fourth.connectError().sqlstate << "] " << fourth.connectError().message);
  CHECK(fourth.connectError().sqlstate == "53300");
  CHECK(contains(fourth.connectError().message, "max_client_conn"));

  // After one leaves, there is room again (give the proxy a moment to see the close).
  held.front().close();
  bool admitted = false;
  std::string lastError;
  auto deadline = Clock::now() + 3s;
  while (!admitted && Clock::now() < deadline) {
    Conn again(proxy.conninfo("sp_scram", "scram_pass"));
    if (again.ok() && again.scalar("select 1") == "1") {
      admitted = true;
    } else {
      lastError = again.connectError().message;
      std::this_thread::sleep_for(100ms);
    }
  }
  INFO(lastError);
  CHECK(admitted);
}
