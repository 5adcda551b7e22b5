// Real workloads through transaction pooling with many more clients than servers: pgbench's
// default script in its three query modes with one and two threads, and sysbench oltp_read_write
// with its PostgreSQL driver (server-side prepared statements).
#include <catch2/catch.hpp>

#include <regex>

#include "integration/harness.h"

using namespace shardpool::integration;

namespace {

std::string transactionPool(int size) {
  return standardConfig("pool_mode = \"transaction\"\ndefault_pool_size = " +
                        std::to_string(size) + "\nquery_wait_timeout = \"30s\"");
}

}  // namespace

TEST_CASE("pgbench default script, all query modes, 8x more clients than servers, -j 1 and 2",
          "[integration][workload][pgbench]") {
  Proxy proxy(transactionPool(4));
  std::vector<std::string> base{"pgbench", "-h", "127.0.0.1", "-p", std::to_string(proxy.port()),
                                "-U", "sp_scram"};
  auto args = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    a.push_back("sp_db");
    return a;
  };
  auto init = runCommand(args({"-i", "-s", "1", "-q"}), clientEnv("scram_pass"), 60s);
  REQUIRE(init.exitCode == 0);
  for (const char* mode : {"simple", "extended", "prepared"}) {
    for (const char* jobs : {"1", "2"}) {
      auto run = runCommand(args({"-M", mode, "-c", "32", "-j", jobs, "-t", "10"}),
                            clientEnv("scram_pass"), 90s);
      INFO("-M " << mode << " -j " << jobs << "\n" << run.all());
      CHECK_FALSE(run.timedOut);
      CHECK(run.exitCode == 0);
      CHECK(contains(run.out, "number of transactions actually processed: 320/320"));
    }
  }
}

TEST_CASE("sysbench oltp_read_write, prepared statements, 16 threads over 4 servers",
          "[integration][workload][sysbench]") {
  Proxy proxy(transactionPool(4));
  std::vector<std::string> common{"sysbench",
                                  "oltp_read_write",
                                  "--db-driver=pgsql",
                                  "--pgsql-host=127.0.0.1",
                                  "--pgsql-port=" + std::to_string(proxy.port()),
                                  "--pgsql-user=sp_scram",
                                  "--pgsql-password=scram_pass",
                                  "--pgsql-db=sp_db",
                                  "--tables=1",
                                  "--table-size=2000"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = common;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  runCommand(with({"cleanup"}), {}, 60s);
  auto prep = runCommand(with({"prepare"}), {}, 120s);
  INFO(prep.all());
  REQUIRE(prep.exitCode == 0);
  auto run = runCommand(with({"--threads=16", "--time=5", "--db-ps-mode=auto", "run"}), {}, 60s);
  INFO(run.all());
  CHECK_FALSE(run.timedOut);
  CHECK(run.exitCode == 0);
  // Any error but the ones sysbench ignores by design (deadlocks and duplicate keys between its
  // own threads, which it counts as "ignored errors" directly against PostgreSQL too) ends the
  // run with a failure.
  std::smatch m;
  static const std::regex tx(R"(transactions:\s+(\d+))");
  REQUIRE(std::regex_search(run.out, m, tx));
  CHECK(std::stoi(m[1]) > 50);
  runCommand(with({"cleanup"}), {}, 60s);
}
