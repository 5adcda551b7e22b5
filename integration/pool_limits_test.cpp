// Pool limits and timeouts: min_pool_size, server_idle_timeout, server_lifetime, the reserve pool,
// max_db_connections, max_user_connections, query_timeout, idle_transaction_timeout,
// client_idle_timeout, and pool_mode per database and per user. Counts come from
// pg_stat_activity on the backend, for roles made by each test so that parallel tests do not
// disturb them.
#include <catch2/catch.hpp>

#include <set>
#include <thread>

#include "integration/harness.h"
#include "integration/limits_util.h"

using namespace shardpool::integration;

namespace {

// The error of the first query on a connection, whether it fails at login or at `sql`.
PgError errorOfFirstQuery(Conn& c, const std::string& sql, Ms timeout) {
  if (!c.ok()) return c.connectError();
  return c.expectError(sql, timeout);
}

std::string lastLogLines(const Proxy& proxy, size_t lines = 30) {
  std::string log = proxy.log();
  size_t pos = log.size();
  for (size_t i = 0; i <= lines && pos != std::string::npos && pos > 0; ++i)
    pos = log.rfind('\n', pos - 1);
  return pos == std::string::npos ? log : log.substr(pos + 1);
}

double seconds(Clock::duration d) {
  return std::chrono::duration_cast<Ms>(d).count() / 1000.0;
}

}  // namespace

TEST_CASE("pool limits: min_pool_size warms a forced-user pool before any client",
          "[integration][pool_limits]") {
  TempRole role("it_minpool");
  Proxy proxy(generalSection("pool_mode = \"transaction\"\nserver_idle_timeout = \"1s\"") +
              clusterDatabase("warm", "user = \"" + role.name() + "\"\npassword = \"" +
                                          role.password() +
                                          "\"\nmin_pool_size = 3\npool_size = 5") +
              userSection(role.name(), role.password()));
  auto started = Clock::now();
  BackendCounter counter;

  int n = 0;
  bool warmed = waitUntil([&] { return (n = counter.count(role.name())) >= 3; }, 3s);
  INFO("backends after " << seconds(Clock::now() - started) << " s: " << n << "\nproxy log:\n"
                         << lastLogLines(proxy));
  REQUIRE(warmed);
  CHECK(n == 3);

  // server_idle_timeout (1 s) passes: the min_pool_size servers stay.
  int lowest = n;
  int highest = n;
  auto until = Clock::now() + 2500ms;
  while (Clock::now() < until) {
    int c = counter.count(role.name());
    lowest = std::min(lowest, c);
    highest = std::max(highest, c);
    std::this_thread::sleep_for(100ms);
  }
  INFO("over 2.5 s with server_idle_timeout 1s: lowest " << lowest << ", highest " << highest);
  CHECK(lowest >= 3);
  CHECK(highest <= 3);
}

TEST_CASE("pool limits: min_pool_size above the pool size is capped, with a warning",
          "[integration][pool_limits]") {
  // PgBouncer accepts this and keeps pool_size servers; so does shardpool, and says so.
  TempRole role("it_mincap");
  Proxy proxy(generalSection() +
              clusterDatabase("capped", "user = \"" + role.name() + "\"\npassword = \"" +
                                            role.password() +
                                            "\"\nmin_pool_size = 5\npool_size = 2") +
              userSection(role.name(), role.password()));
  BackendCounter counter;
  int n = 0;
  bool warmed = waitUntil([&] { return (n = counter.count(role.name())) >= 2; }, 3s);
  INFO("backends: " << n << "\nproxy log:\n" << lastLogLines(proxy));
  REQUIRE(warmed);
  std::this_thread::sleep_for(1500ms);  // a few maintenance rounds
  CHECK(counter.count(role.name()) == 2);
  CHECK(contains(proxy.log(),
                 "databases.capped.min_pool_size: min_pool_size 5 exceeds the pool size 2 "
                 "(databases.capped.pool_size) of database \"capped\": capped at 2"));
}

TEST_CASE("pool limits: server_idle_timeout closes idle servers", "[integration][pool_limits]") {
  TempRole role("it_idle");
  Proxy proxy(generalSection("pool_mode = \"session\"\nserver_idle_timeout = \"1s\"") +
              clusterDatabase() + userSection(role.name(), role.password()));
  BackendCounter counter;
  {
    std::vector<Conn> clients;
    for (int i = 0; i < 3; ++i) {
      clients.emplace_back(proxy.conninfo(role.name(), role.password()));
      INFO("client " << i << ": " << clients.back().connectError().message);
      REQUIRE(clients.back().ok());
      REQUIRE(clients.back().scalar("select 1") == "1");
    }
    CHECK(counter.count(role.name()) == 3);
  }
  auto closed = Clock::now();

  // The servers outlive their clients: back in the pool, idle.
  std::this_thread::sleep_for(300ms);
  int idle = counter.count(role.name());
  INFO("backends 300 ms after the clients left: " << idle);
  CHECK(idle == 3);

  int n = -1;
  bool drained = waitUntil([&] { return (n = counter.count(role.name())) == 0; }, 3s);
  INFO("backends " << seconds(Clock::now() - closed) << " s after the clients left: " << n
                   << "\nproxy log:\n"
                   << lastLogLines(proxy));
  CHECK(drained);
}

TEST_CASE("pool limits: server_lifetime retires servers between transactions",
          "[integration][pool_limits]") {
  TempRole role("it_life");
  Proxy proxy(generalSection("pool_mode = \"transaction\"\nserver_lifetime = \"1s\"") +
              clusterDatabase() + userSection(role.name(), role.password()));
  Conn c(proxy.conninfo(role.name(), role.password()));
  REQUIRE(c.ok());

  std::set<std::string> pids;
  std::vector<std::string> errors;
  int queries = 0;
  auto until = Clock::now() + 3s;
  while (Clock::now() < until) {
    try {
      pids.insert(c.scalar("select pg_backend_pid()", 5s));
      ++queries;
    } catch (const std::exception& e) {
      errors.push_back(e.what());
    }
    std::this_thread::sleep_for(100ms);
  }
  std::string pidList;
  for (const auto& p : pids) pidList += p + " ";
  INFO(queries << " queries, backend pids seen: " << pidList << "\nfirst error: "
               << (errors.empty() ? "-" : errors.front()) << "\nproxy log:\n"
               << lastLogLines(proxy));
  CHECK(errors.empty());
  CHECK(pids.size() >= 2);
}

TEST_CASE("pool limits: reserve pool serves a client that waited reserve_pool_timeout",
          "[integration][pool_limits]") {
  TempRole role("it_reserve");
  Proxy proxy(generalSection("pool_mode = \"session\"\ndefault_pool_size = 1\n"
                             "reserve_pool_size = 1\nreserve_pool_timeout = \"500ms\"\n"
                             "query_wait_timeout = \"10s\"") +
              clusterDatabase() + userSection(role.name(), role.password()));
  Conn a(proxy.conninfo(role.name(), role.password()));
  REQUIRE(a.ok());
  REQUIRE(a.scalar("select 1") == "1");  // A holds the only regular server

  PendingClient b(proxy.conninfo(role.name(), role.password()), 10s);
  bool served = b.waitServed(2500ms);
  INFO("B served: " << served << " after " << b.elapsed().count() << " ms; error: " << b.error()
                    << "\nproxy log:\n"
                    << lastLogLines(proxy));
  CHECK(served);
  if (served) {
    CHECK(BackendCounter().count(role.name()) == 2);
    CHECK(a.scalar("select 'a still works'") == "a still works");
  }
}

TEST_CASE("pool limits: without a reserve the waiting client hits query_wait_timeout",
          "[integration][pool_limits]") {
  TempRole role("it_noreserve");
  Proxy proxy(generalSection("pool_mode = \"session\"\ndefault_pool_size = 1\n"
                             "reserve_pool_size = 0\nreserve_pool_timeout = \"500ms\"\n"
                             "query_wait_timeout = \"2s\"") +
              clusterDatabase() + userSection(role.name(), role.password()));
  Conn a(proxy.conninfo(role.name(), role.password()));
  REQUIRE(a.ok());
  REQUIRE(a.scalar("select 1") == "1");

  auto t0 = Clock::now();
  Conn b(proxy.conninfo(role.name(), role.password()), 10s);
  PgError err = errorOfFirstQuery(b, "select 1", 10s);
  auto elapsed = Clock::now() - t0;
  INFO("B: [" << err.sqlstate << "] " << err.message << " after " << seconds(elapsed) << " s");
  CHECK(contains(err.message, "query_wait_timeout"));
  CHECK(elapsed >= 1800ms);
  CHECK(elapsed < 4500ms);
  CHECK(BackendCounter().count(role.name()) == 1);
  CHECK(a.scalar("select 'a still works'") == "a still works");
}

TEST_CASE("pool limits: max_db_connections caps a database over all its users",
          "[integration][pool_limits]") {
  TempRole user1("it_dbcap_a");
  TempRole user2("it_dbcap_b");
  Proxy proxy(generalSection("pool_mode = \"session\"\nquery_wait_timeout = \"15s\"") +
              clusterDatabase("sp_db", "pool_size = 5\nmax_db_connections = 2") +
              userSection(user1.name(), user1.password()) +
              userSection(user2.name(), user2.password(), "auth_type = \"md5\""));
  std::vector<std::string> both{user1.name(), user2.name()};
  PeakWatcher watcher(both);
  BackendCounter counter;

  Conn first(proxy.conninfo(user1.name(), user1.password()));
  Conn second(proxy.conninfo(user1.name(), user1.password()));
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  REQUIRE(first.scalar("select 1") == "1");
  REQUIRE(second.scalar("select 1") == "1");
  CHECK(counter.count(user1.name()) == 2);

  PendingClient other(proxy.conninfo(user2.name(), user2.password()), 12s);
  std::this_thread::sleep_for(1s);
  INFO("user2 finished early: " << other.finished() << " error: " << other.error());
  CHECK_FALSE(other.finished());  // waiting: the database is at its cap

  first.close();
  auto released = Clock::now();
  bool served = other.waitServed(3s);
  INFO("user2 served " << seconds(other.endTime() - released)
                       << " s after a user1 client left: " << served << "; error: "
                       << other.error() << "\nproxy log:\n"
                       << lastLogLines(proxy));
  CHECK(served);
  if (served) {
    CHECK(counter.count(user2.name()) == 1);
    CHECK(counter.count(both) <= 2);
  }
  CHECK(second.scalar("select 'user1 still works'") == "user1 still works");

  watcher.stop();
  INFO("watcher error: " << watcher.error());
  CHECK(watcher.error().empty());
  CHECK(watcher.peak() <= 2);
}

TEST_CASE("pool limits: max_user_connections caps a user over all databases",
          "[integration][pool_limits]") {
  TempRole role("it_usercap");
  Proxy proxy(generalSection("pool_mode = \"session\"\nquery_wait_timeout = \"15s\"") +
              clusterDatabase("a") + clusterDatabase("b") +
              userSection(role.name(), role.password(), "max_user_connections = 1"));
  PeakWatcher watcher({role.name()});

  Conn onA(proxy.conninfo(role.name(), role.password(), "a"));
  REQUIRE(onA.ok());
  REQUIRE(onA.scalar("select 1") == "1");

  PendingClient onB(proxy.conninfo(role.name(), role.password(), "b"), 12s);
  std::this_thread::sleep_for(1s);
  INFO("client to b finished early: " << onB.finished() << " error: " << onB.error());
  CHECK_FALSE(onB.finished());  // waiting: the user is at its cap

  onA.close();
  auto released = Clock::now();
  bool served = onB.waitServed(3s);
  INFO("client to b served " << seconds(onB.endTime() - released)
                             << " s after the client to a left: " << served << "; error: "
                             << onB.error() << "\nproxy log:\n"
                             << lastLogLines(proxy));
  CHECK(served);

  watcher.stop();
  INFO("watcher error: " << watcher.error());
  CHECK(watcher.error().empty());
  CHECK(watcher.peak() <= 1);
}

TEST_CASE("pool limits: query_timeout cancels a long query", "[integration][pool_limits]") {
  Proxy proxy(standardConfig("pool_mode = \"transaction\"\nquery_timeout = \"1s\""));
  Conn c(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(c.ok());

  auto t0 = Clock::now();
  PgError err = c.expectError("select pg_sleep(5)", 10s);
  auto elapsed = Clock::now() - t0;
  INFO("[" << err.sqlstate << "] " << err.message << " after " << seconds(elapsed) << " s");
  CHECK(err.sqlstate == "57014");
  CHECK(contains(err.message, "query_timeout"));
  CHECK(elapsed < 3s);

  CHECK(c.scalar("select 1") == "1");
}

TEST_CASE("pool limits: idle_transaction_timeout disconnects a client idle in a transaction",
          "[integration][pool_limits]") {
  TempRole role("it_idletx");
  Proxy proxy(generalSection("pool_mode = \"transaction\"\nidle_transaction_timeout = \"1s\"") +
              clusterDatabase() + userSection(role.name(), role.password()));
  Conn c(proxy.conninfo(role.name(), role.password()));
  REQUIRE(c.ok());
  c.query("BEGIN");
  REQUIRE(c.scalar("select 1") == "1");
  std::this_thread::sleep_for(2500ms);

  PgError err = c.expectError("select 1", 5s);
  std::string text = err.message + " " + PQerrorMessage(c.get());
  std::string log = proxy.log();
  INFO("[" << err.sqlstate << "] " << text << "\nproxy log:\n" << lastLogLines(proxy));
  CHECK(PQstatus(c.get()) == CONNECTION_BAD);
  CHECK((contains(text, "idle_transaction_timeout") || contains(log, "idle_transaction_timeout")));

  BackendCounter counter;
  int inTx = -1;
  bool gone = waitUntil(
      [&] { return (inTx = counter.count(role.name(), "state = 'idle in transaction'")) == 0; },
      2s);
  INFO("backends idle in transaction: " << inTx << ", all backends of the role: "
                                        << counter.count(role.name()));
  CHECK(gone);
}

TEST_CASE("pool limits: client_idle_timeout disconnects idle clients only",
          "[integration][pool_limits]") {
  Proxy proxy(standardConfig("pool_mode = \"transaction\"\nclient_idle_timeout = \"1s\""));
  Conn idle(proxy.conninfo("sp_scram", "scram_pass"));
  Conn busy(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(idle.ok());
  REQUIRE(busy.ok());
  REQUIRE(idle.scalar("select 1") == "1");
  auto idleSince = Clock::now();

  std::vector<std::string> busyErrors;
  int busyQueries = 0;
  std::thread busyLoop([&] {
    auto until = Clock::now() + 3s;
    while (Clock::now() < until) {
      try {
        if (busy.scalar("select 1", 5s) == "1") ++busyQueries;
      } catch (const std::exception& e) {
        busyErrors.push_back(e.what());
      }
      std::this_thread::sleep_for(300ms);
    }
  });

  // The proxy's FATAL (or the close) makes the idle client's socket readable.
  bool kicked = idle.waitReadable(4s);
  auto after = Clock::now() - idleSince;
  busyLoop.join();

  INFO("idle client disconnected: " << kicked << " after " << seconds(after) << " s");
  CHECK(kicked);
  CHECK(after >= 900ms);
  CHECK(after <= 2500ms);
  PgError err = idle.expectError("select 1", 5s);
  INFO("idle client's next query: [" << err.sqlstate << "] " << err.message << "\nproxy log:\n"
                                     << lastLogLines(proxy));
  CHECK(contains(proxy.log(), "client_idle_timeout"));

  INFO(busyQueries << " busy queries; first error: "
                   << (busyErrors.empty() ? "-" : busyErrors.front()));
  CHECK(busyErrors.empty());
  CHECK(busyQueries >= 8);
  CHECK(busy.scalar("select 'busy still works'") == "busy still works");
}

TEST_CASE("pool limits: pool_mode per database and per user", "[integration][pool_limits]") {
  Proxy proxy(generalSection("pool_mode = \"session\"\nquery_wait_timeout = \"1500ms\"") +
              clusterDatabase("t", "pool_mode = \"transaction\"\npool_size = 1") +
              clusterDatabase("s", "pool_size = 1") + userSection("sp_scram", "scram_pass") +
              userSection("sp_md5", "md5_pass",
                          "auth_type = \"md5\"\npool_mode = \"statement\""));

  SECTION("transaction-mode database: two clients share its one server") {
    Conn t1(proxy.conninfo("sp_scram", "scram_pass", "t"));
    REQUIRE(t1.ok());
    std::string pid1 = t1.scalar("select pg_backend_pid()");
    auto t0 = Clock::now();
    Conn t2(proxy.conninfo("sp_scram", "scram_pass", "t"), 5s);
    INFO("t2 connect: [" << t2.connectError().sqlstate << "] " << t2.connectError().message);
    REQUIRE(t2.ok());
    std::string pid2 = t2.scalar("select pg_backend_pid()", 5s);
    CHECK(Clock::now() - t0 < 1s);
    CHECK(pid1 == pid2);  // pool_size 1: the same server, lent per transaction
    CHECK(t1.scalar("select 'one'") == "one");
    CHECK(t2.scalar("select 'two'") == "two");
  }

  SECTION("session-mode database: the second client waits") {
    Conn s1(proxy.conninfo("sp_scram", "scram_pass", "s"));
    REQUIRE(s1.ok());
    REQUIRE(s1.scalar("select 1") == "1");
    auto t0 = Clock::now();
    Conn s2(proxy.conninfo("sp_scram", "scram_pass", "s"), 5s);
    PgError err = errorOfFirstQuery(s2, "select 1", 5s);
    auto elapsed = Clock::now() - t0;
    INFO("s2: [" << err.sqlstate << "] " << err.message << " after " << seconds(elapsed) << " s");
    CHECK(contains(err.message, "query_wait_timeout"));
    CHECK(elapsed >= 1300ms);
    CHECK(s1.scalar("select 'first still works'") == "first still works");
  }

  SECTION("statement-mode user: BEGIN is refused on either database") {
    for (const char* db : {"t", "s"}) {
      INFO("database " << db);
      Conn m(proxy.conninfo("sp_md5", "md5_pass", db));
      INFO("connect: [" << m.connectError().sqlstate << "] " << m.connectError().message);
      REQUIRE(m.ok());
      CHECK(m.scalar("select 1") == "1");

      PgError err;
      bool beginFailed = false;
      std::string beginStatus;
      for (auto& r : m.exec("BEGIN", 5s)) {
        if (!r) {
          beginStatus += "timeout ";
          continue;
        }
        beginStatus += std::string(PQresStatus(PQresultStatus(r.get()))) + " ";
        if (PQresultStatus(r.get()) == PGRES_FATAL_ERROR && !beginFailed) {
          err = errorFrom(r.get());
          beginFailed = true;
        }
      }
      // When BEGIN itself succeeds, record what the client meets next (for the report).
      std::string next = "-";
      if (!beginFailed) {
        try {
          PgError e = m.expectError("select 1", 5s);
          next = "[" + e.sqlstate + "] " + e.message;
        } catch (const std::exception& e) {
          next = e.what();
        }
      }
      INFO("BEGIN results: " << beginStatus << "error: [" << err.sqlstate << "] " << err.message
                             << "; next query on the connection: " << next
                             << "\nproxy log:\n" << lastLogLines(proxy, 6));
      CHECK(beginFailed);
      CHECK(err.sqlstate == "25001");
    }
  }
}
