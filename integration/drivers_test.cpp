// Real client drivers with server-side prepared statements through transaction pooling:
// psycopg 3 (Debian python3-psycopg) and node-postgres (pg@8 from npm, ctest fixture "node").
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>

#include "integration/backend_watch.h"
#include "integration/harness.h"

using namespace shardpool::integration;

namespace {

std::string driverScript(const std::string& name) {
  return sourceDir() + "/integration/drivers/" + name;
}

// Where the "node" fixture (integration/drivers/npm-install.sh) put node_modules.
std::string nodeDir() {
  if (const char* d = std::getenv("SHARDPOOL_IT_NODE_DIR"); d && *d) return d;
#ifdef SHARDPOOL_IT_NODE_DIR_DEFAULT
  return SHARDPOOL_IT_NODE_DIR_DEFAULT;
#else
  return "";
#endif
}

std::string transactionPool(const TempRole& role, int poolSize) {
  return generalSection("pool_mode = \"transaction\"\ndefault_pool_size = " +
                        std::to_string(poolSize) + "\nquery_wait_timeout = \"20s\"") +
         clusterDatabase() + userSection(role.name(), role.password());
}

}  // namespace

TEST_CASE("psycopg 3: concurrent connections with prepared statements, transaction mode",
          "[integration][drivers][transaction]") {
  TempRole role("it_psycopg");
  Proxy proxy(transactionPool(role, 2));
  std::string dsn = "host=127.0.0.1 port=" + std::to_string(proxy.port()) +
                    " dbname=sp_db user=" + role.name() + " password=" + role.password() +
                    " sslmode=disable gssencmode=disable application_name=it_psycopg";
  BackendWatch watch(role.name());

  // 10 connections x 2 queries x 20 executions each.
  for (const char* threshold : {"default", "0"}) {
    auto r = runCommand(
        {"/usr/bin/python3", driverScript("psycopg_prepared.py"), dsn, threshold, "10", "20"}, {},
        25s);
    INFO("prepare_threshold " << threshold << ":\n" << r.all());
    CHECK_FALSE(r.timedOut);
    CHECK(r.exitCode == 0);
    CHECK(contains(r.out, std::string("PSYCOPG OK threshold=") + threshold +
                              " connections=10 executions=400"));
  }
  int maxBackends = watch.stop();
  INFO(watch.error());
  CHECK(maxBackends >= 1);
  CHECK(maxBackends <= 2);
}

TEST_CASE("node-postgres: concurrent clients with named queries, transaction mode",
          "[integration][drivers][transaction]") {
  std::string dir = nodeDir();
  INFO("node-postgres directory: " << dir);
  REQUIRE_FALSE(dir.empty());
  // Installed by the ctest fixture test integration_node_setup; never skipped when missing.
  bool installed = std::filesystem::exists(dir + "/node_modules/pg/package.json");
  if (!installed) {
    FAIL("node-postgres is not installed in "
         << dir
         << "/node_modules: the ctest fixture "
            "integration_node_setup (integration/drivers/npm-install.sh: npm install pg@8) failed "
            "or did not run");
  }

  TempRole role("it_nodepg");
  Proxy proxy(transactionPool(role, 2));
  BackendWatch watch(role.name());
  std::map<std::string, std::string> env{{"NODE_PATH", dir + "/node_modules"},
                                         {"PGHOST", "127.0.0.1"},
                                         {"PGPORT", std::to_string(proxy.port())},
                                         {"PGUSER", role.name()},
                                         {"PGPASSWORD", role.password()},
                                         {"PGDATABASE", "sp_db"},
                                         {"PGSSLMODE", "disable"}};
  auto r = runCommand({"node", driverScript("node_named_queries.js"), "10", "30"}, env, 28s);
  INFO(r.all());
  CHECK_FALSE(r.timedOut);
  CHECK(r.exitCode == 0);
  CHECK(contains(r.out, "NODE OK clients=10 queries=600"));
  int maxBackends = watch.stop();
  INFO(watch.error());
  CHECK(maxBackends >= 1);
  CHECK(maxBackends <= 2);
}
