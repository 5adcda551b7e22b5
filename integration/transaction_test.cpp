// Transaction pooling: pgbench on a small pool, per-client session state on shared servers, and a
// backend that dies in the middle of a transaction.
#include <catch2/catch.hpp>

#include <mutex>
#include <regex>
#include <thread>

#include "integration/backend_watch.h"
#include "integration/harness.h"

using namespace shardpool::integration;

namespace {

std::string transactionConfig(int poolSize) {
  return standardConfig("pool_mode = \"transaction\"\ndefault_pool_size = " +
                        std::to_string(poolSize) + "\nquery_wait_timeout = \"20s\"");
}

long regexNumber(const std::string& out, const char* pattern) {
  std::regex re(pattern);
  std::smatch m;
  return std::regex_search(out, m, re) ? std::stol(m[1]) : -1;
}

std::vector<std::string> pgbenchArgs(uint16_t port, const std::string& user,
                                     std::vector<std::string> extra) {
  std::vector<std::string> args{"pgbench", "-h", "127.0.0.1", "-p", std::to_string(port),
                                "-U",      user};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back("sp_db");
  return args;
}

// pgbench -M MODE, 10 clients on a transaction pool of 2 servers, TPC-B-like and then -S.
// The role has its own schema and search_path, so its pgbench tables do not clash with those of
// other tests (pgbench -i drops and recreates them).
void pgbenchTransactionPool(const std::string& mode) {
  TempRole role("it_txbench");
  {
    Conn admin = adminConn();
    admin.query("CREATE SCHEMA " + role.name() + " AUTHORIZATION " + role.name());
    admin.query("ALTER ROLE " + role.name() + " SET search_path = " + role.name());
  }
  Proxy proxy(generalSection("pool_mode = \"transaction\"\ndefault_pool_size = 2\n"
                             "query_wait_timeout = \"20s\"") +
              clusterDatabase() + userSection(role.name(), role.password()));
  auto env = clientEnv(role.password());
  BackendWatch watch(role.name());

  auto init = runCommand(pgbenchArgs(proxy.port(), role.name(), {"-i", "-q", "-s", "1"}), env, 20s);
  INFO("pgbench -i:\n" << init.all());
  REQUIRE_FALSE(init.timedOut);
  REQUIRE(init.exitCode == 0);

  // pgbench -M prepared prepares each client's statements with a blocking PQprepare. With several
  // clients per pgbench thread, a thread blocked in PQprepare for one client cannot finish the
  // transaction another of its clients holds a server for; with 2 servers that stalls any
  // transaction pooler. One thread per client (-j = -c) avoids that, for every mode alike.
  for (const char* script : {"tpcb-like", "select-only"}) {
    std::vector<std::string> extra{"-T", "4", "-c", "10", "-j", "10", "-M", mode};
    if (std::string(script) == "select-only") extra.push_back("-S");
    auto run = runCommand(pgbenchArgs(proxy.port(), role.name(), extra), env, 20s);
    INFO("pgbench -M " << mode << " " << script << ":\n" << run.all());
    CHECK_FALSE(run.timedOut);
    CHECK(run.exitCode == 0);
    CHECK_FALSE(containsNoCase(run.all(), "error"));
    CHECK(regexNumber(run.out, R"(number of failed transactions: ([0-9]+))") == 0);
    CHECK(regexNumber(run.out, R"(number of transactions actually processed: ([0-9]+))") > 0);
  }

  int maxBackends = watch.stop();
  INFO("largest backend count seen: " << maxBackends << " over " << watch.samples() << " samples "
                                      << watch.error());
  CHECK(watch.error().empty());
  CHECK(maxBackends >= 1);
  CHECK(maxBackends <= 2);
  CHECK(backendCount(role.name()) <= 2);
}

// The client's view of a server-reported parameter (ParameterStatus), "" when never reported.
std::string reported(const Conn& c, const char* name) {
  const char* v = PQparameterStatus(c.get(), name);
  return v ? v : "";
}

}  // namespace

TEST_CASE("pgbench -M simple in transaction mode: 10 clients, 2 servers",
          "[integration][transaction][pgbench]") {
  pgbenchTransactionPool("simple");
}

TEST_CASE("pgbench -M extended in transaction mode: 10 clients, 2 servers",
          "[integration][transaction][pgbench]") {
  pgbenchTransactionPool("extended");
}

TEST_CASE("pgbench -M prepared in transaction mode: 10 clients, 2 servers",
          "[integration][transaction][pgbench]") {
  pgbenchTransactionPool("prepared");
}

TEST_CASE("transaction mode: SET TimeZone and DateStyle stay with the client that ran them",
          "[integration][transaction]") {
  Proxy proxy(transactionConfig(1));  // one server: both clients run on it in turn
  std::string defaultTz = adminConn().scalar("show TimeZone");
  REQUIRE(defaultTz != "Asia/Tokyo");

  Conn a(proxy.conninfo("sp_scram", "scram_pass"));
  Conn b(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  a.query("SET TimeZone = 'Asia/Tokyo'");
  a.query("SET DateStyle = 'SQL, DMY'");

  for (int i = 0; i < 10; ++i) {
    INFO("round " << i);
    CHECK(b.scalar("show TimeZone") == defaultTz);
    CHECK(b.scalar("select '2024-01-02'::date::text") == "2024-01-02");
    CHECK(a.scalar("show TimeZone") == "Asia/Tokyo");
    CHECK(a.scalar("select '2024-01-02'::date::text") == "02/01/2024");
  }
  CHECK(reported(a, "TimeZone") == "Asia/Tokyo");
  CHECK(reported(b, "TimeZone") == defaultTz);
  CHECK(reported(b, "DateStyle") == "ISO, MDY");

  // Inside a transaction, and after SET LOCAL (undone at COMMIT).
  a.query("BEGIN");
  CHECK(a.scalar("show TimeZone") == "Asia/Tokyo");
  a.query("SET LOCAL TimeZone = 'UTC'");
  CHECK(a.scalar("show TimeZone") == "UTC");
  a.query("COMMIT");
  CHECK(b.scalar("show TimeZone") == defaultTz);
  CHECK(a.scalar("show TimeZone") == "Asia/Tokyo");
  CHECK(reported(a, "TimeZone") == "Asia/Tokyo");

  // RESET brings the client back to the server default.
  a.query("RESET TimeZone");
  CHECK(b.scalar("show TimeZone") == defaultTz);
  CHECK(a.scalar("show TimeZone") == defaultTz);
}

TEST_CASE("transaction mode: each client keeps its startup application_name on a shared server",
          "[integration][transaction]") {
  Proxy proxy(transactionConfig(1));
  constexpr int kClients = 4;
  constexpr int kRounds = 30;
  std::mutex mu;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      std::string name = "it_app_" + std::to_string(i);
      auto failed = [&](const std::string& what) {
        std::lock_guard<std::mutex> lock(mu);
        failures.push_back(name + ": " + what);
      };
      try {
        // libpq takes the last application_name of the conninfo string.
        Conn c(proxy.conninfo("sp_scram", "scram_pass") + " application_name=" + name, 20s);
        if (!c.ok()) return failed("connect: " + c.connectError().message);
        for (int r = 0; r < kRounds; ++r) {
          std::string got = c.scalar("show application_name", 20s);
          if (got != name) return failed("round " + std::to_string(r) + ": got '" + got + "'");
          std::string viaFn = c.scalar("select current_setting('application_name')", 20s);
          if (viaFn != name) return failed("round " + std::to_string(r) + ": got '" + viaFn + "'");
        }
        if (reported(c, "application_name") != name) {
          return failed("ParameterStatus application_name is '" + reported(c, "application_name") +
                        "'");
        }
      } catch (const std::exception& e) {
        failed(e.what());
      }
    });
  }
  for (auto& t : threads) t.join();
  std::string all;
  for (auto& f : failures) all += f + "\n";
  INFO(all);
  CHECK(failures.empty());
}

TEST_CASE("transaction mode: options=-c extra_float_digits=3 applies to that client only",
          "[integration][transaction]") {
  Proxy proxy(transactionConfig(1));
  std::string serverDefault = adminConn().scalar("show extra_float_digits");
  REQUIRE(serverDefault != "3");

  Conn with(proxy.conninfo("sp_scram", "scram_pass") + " options='-c extra_float_digits=3'");
  Conn without(proxy.conninfo("sp_scram", "scram_pass"));
  INFO(with.connectError().message << without.connectError().message);
  REQUIRE(with.ok());
  REQUIRE(without.ok());
  for (int i = 0; i < 10; ++i) {
    INFO("round " << i);
    CHECK(with.scalar("show extra_float_digits") == "3");
    CHECK(without.scalar("show extra_float_digits") == serverDefault);
  }
  // A client connecting after both still gets the server default.
  Conn later(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(later.ok());
  CHECK(later.scalar("show extra_float_digits") == serverDefault);
  CHECK(with.scalar("show extra_float_digits") == "3");
}

TEST_CASE("transaction mode: a backend killed mid-transaction fails only its own client",
          "[integration][transaction]") {
  Proxy proxy(
      standardConfig("pool_mode = \"transaction\"\ndefault_pool_size = 1\n"
                     "query_wait_timeout = \"5s\""));
  Conn a(proxy.conninfo("sp_scram", "scram_pass"));
  Conn b(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(b.scalar("select 'b before'") == "b before");  // b is connected and idle, holding nothing

  a.query("BEGIN");
  std::string pid = a.scalar("select pg_backend_pid()");  // the real backend behind a
  Conn admin = adminConn();
  CHECK(admin.scalar("select pg_terminate_backend(" + pid + ")") == "t");
  auto deadline = Clock::now() + 5s;
  while (admin.scalar("select count(*) from pg_stat_activity where pid = " + pid) != "0" &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  REQUIRE(admin.scalar("select count(*) from pg_stat_activity where pid = " + pid) == "0");
  std::this_thread::sleep_for(200ms);

  // a's next query fails (its connection may be closed).
  auto results = a.exec("select 1", 10s);
  REQUIRE_FALSE(results.empty());
  REQUIRE(results.back());  // not a harness timeout
  PgError err;
  bool failed = false;
  for (auto& r : results) {
    auto st = PQresultStatus(r.get());
    if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE) {
      failed = true;
      err = errorFrom(r.get());
      if (err.sqlstate.empty()) err = errorFromText(PQerrorMessage(a.get()));
      break;
    }
  }
  INFO("a's query after the kill: [" << err.sqlstate << "] " << err.message
                                     << " / libpq: " << PQerrorMessage(a.get()));
  REQUIRE(failed);
  CHECK((err.sqlstate.rfind("08", 0) == 0 || err.sqlstate == "57P01"));

  // b, idle all along, and a new client c work, on a live server that is not the dead one.
  for (int i = 0; i < 3; ++i) {
    std::string bPid = b.scalar("select pg_backend_pid()");
    CHECK(bPid != pid);
  }
  Conn c(proxy.conninfo("sp_scram", "scram_pass"));
  INFO(c.connectError().message);
  REQUIRE(c.ok());
  CHECK(c.scalar("select pg_backend_pid()") != pid);
  CHECK(c.scalar("select 'c works'") == "c works");
  CHECK(b.scalar("select 'b after'") == "b after");
  // Between their transactions neither b nor c holds the only server: a third client gets it.
  Conn d(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(d.ok());
  CHECK(d.scalar("select 'd works'") == "d works");
  CHECK(b.scalar("select 'b again'") == "b again");
  CHECK(c.scalar("select 'c again'") == "c again");
}
