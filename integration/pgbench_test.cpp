// pgbench (TPC-B-like, 8 clients) through the proxy in session mode, all three query modes.
#include <catch2/catch.hpp>

#include <regex>

#include "integration/harness.h"

using namespace shardpool::integration;

namespace {

double parseTps(const std::string& out) {
  static const std::regex re(R"(tps = ([0-9.]+) \(without initial connection time\))");
  std::smatch m;
  return std::regex_search(out, m, re) ? std::stod(m[1]) : -1.0;
}

std::vector<std::string> pgbenchArgs(uint16_t port, std::vector<std::string> extra) {
  std::vector<std::string> args{"pgbench", "-h",      "127.0.0.1", "-p", std::to_string(port),
                                "-U",      "sp_scram"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back("sp_db");
  return args;
}

}  // namespace

TEST_CASE("pgbench init and simple/extended/prepared runs through the proxy",
          "[integration][pgbench]") {
  Proxy proxy(standardConfig("default_pool_size = 10\npool_mode = \"session\""));
  auto env = clientEnv("scram_pass");

  auto init = runCommand(pgbenchArgs(proxy.port(), {"-i", "-s", "2"}), env, 60s);
  INFO(init.all());
  REQUIRE_FALSE(init.timedOut);
  REQUIRE(init.exitCode == 0);
  CHECK_FALSE(containsNoCase(init.all(), "error"));

  for (const char* mode : {"simple", "extended", "prepared"}) {
    auto run = runCommand(pgbenchArgs(proxy.port(), {"-T", "5", "-c", "8", "-j", "2", "-M", mode}),
                          env, 40s);
    INFO("mode " << mode << "\n" << run.all());
    CHECK_FALSE(run.timedOut);
    CHECK(run.exitCode == 0);
    CHECK_FALSE(containsNoCase(run.all(), "error"));
    CHECK(parseTps(run.out) > 0);
  }
}
