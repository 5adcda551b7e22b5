// Sidecar mode (no config file: one backend from flags) and `--check` of config files.
#include <catch2/catch.hpp>

#include "integration/harness.h"

using namespace shardpool::integration;

TEST_CASE("sidecar mode serves one backend from command-line flags", "[integration][sidecar]") {
  Proxy proxy("", {"--listen", "127.0.0.1:@LISTEN_PORT@", "--backend",
                   "postgres://sp_scram:scram_pass@127.0.0.1:@PGPORT@/sp_db", "--pool-size", "2"});

  auto r = runCommand(
      psqlArgs(proxy.port(), "sp_scram", "select current_user || '@' || current_database()"),
      clientEnv("scram_pass"), 20s);
  INFO(r.all());
  CHECK_FALSE(r.timedOut);
  CHECK(r.exitCode == 0);
  CHECK(r.out == "sp_scram@sp_db\n");

  Conn c(proxy.conninfo("sp_scram", "scram_pass"));
  INFO(c.connectError().message);
  REQUIRE(c.ok());
  CHECK(c.scalar("select 1") == "1");
}

TEST_CASE("config check: --check accepts a good config and explains a bad one",
          "[integration][sidecar]") {
  TempDir dir;
  std::string good = dir.write("good.toml", substitute(standardConfig(), freePort()));
  auto ok = runCommand({shardpoolBin(), "--check", "-c", good}, {}, 10s);
  INFO(ok.all());
  CHECK_FALSE(ok.timedOut);
  CHECK(ok.exitCode == 0);

  // Line 3 has a misspelt key.
  std::string bad = dir.write("bad.toml",
                              "[general]\n"
                              "listen_addr = \"127.0.0.1\"\n"
                              "listen_prot = 6432\n"
                              "\n" +
                                  clusterDatabase());
  auto r = runCommand({shardpoolBin(), "--check", "-c", bad}, {}, 10s);
  INFO(r.all());
  CHECK_FALSE(r.timedOut);
  CHECK(r.exitCode != 0);
  CHECK(r.exitCode < 128);  // an error exit, not a crash
  CHECK(contains(r.all(), "bad.toml:3"));
  CHECK(containsNoCase(r.all(), "did you mean"));
  CHECK(contains(r.all(), "listen_port"));
}
