#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "config/config.h"

using namespace shardpool::config;

namespace {
const char* kBase = R"(
[general]
listen_port = 7000
default_pool_size = 5
admin_users = "ops, dba"
[databases.app]
port = 5432
[users.ops]
password = "x"
[users.dba]
password = "y"
)";

std::string writeTemp(const std::string& text) {
  char path[] = "/tmp/shardpool_live_test_XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  ::close(fd);
  std::ofstream(path) << text;
  return path;
}
}  // namespace

TEST_CASE("admin_users accepts a list or PgBouncer's comma-separated string", "[config][live]") {
  auto r = loadString(kBase, "t.toml");
  REQUIRE(r.ok());
  CHECK(r.config->general.adminUsers == std::vector<std::string>{"ops", "dba"});
  auto r2 = loadString(std::string(kBase) + "", "t.toml", {{"general.stats_users", "[\"ops\"]"}});
  REQUIRE(r2.ok());
  CHECK(r2.config->general.statsUsers == std::vector<std::string>{"ops"});
}

TEST_CASE("console users that are not configured get a warning, reserved names are refused",
          "[config][live]") {
  // PgBouncer accepts such a list; the name alone cannot log in.
  auto r = loadString(kBase, "t.toml", {{"general.stats_users", "[\"ghost\"]"}});
  REQUIRE(r.ok());
  REQUIRE(r.warnings.size() == 1);
  CHECK(r.warnings[0].keyPath == "general.stats_users");
  CHECK(r.warnings[0].message.find("ghost") != std::string::npos);

  auto reserved = loadString(std::string(kBase) + "[databases.pgbouncer]\nport = 5432\n", "t.toml");
  REQUIRE_FALSE(reserved.ok());
  CHECK(reserved.errors[0].keyPath == "databases.pgbouncer");

  auto clash = loadString(kBase, "t.toml", {{"general.metrics_port", "7000"}});
  REQUIRE_FALSE(clash.ok());
  CHECK(clash.errors[0].keyPath == "general.metrics_port");
}

TEST_CASE("reloadConfig re-reads the file with the same overrides plus new ones",
          "[config][live]") {
  std::string path = writeTemp(kBase);
  auto first = loadFile(path, {{"general.query_timeout", "\"2s\""}});
  REQUIRE(first.ok());
  CHECK(first.config->origin.kind == ConfigOrigin::Kind::File);

  std::ofstream(path) << std::string(kBase) << "";
  {
    std::ofstream out(path);
    std::string text = kBase;
    text.replace(text.find("default_pool_size = 5"), 21, "default_pool_size = 9");
    out << text;
  }
  auto second = reloadConfig(*first.config, {{"general.min_pool_size", "2"}});
  REQUIRE(second.ok());
  CHECK(second.config->general.defaultPoolSize == 9);
  CHECK(second.config->general.queryTimeout == std::chrono::seconds(2));
  CHECK(second.config->general.minPoolSize == 2);
  auto third = reloadConfig(*second.config);  // the SET survives
  REQUIRE(third.ok());
  CHECK(third.config->general.minPoolSize == 2);

  std::ofstream(path) << "[general\n";
  auto broken = reloadConfig(*third.config);
  CHECK_FALSE(broken.ok());
  std::remove(path.c_str());

  auto text = loadString(kBase, "t.toml");
  REQUIRE(text.ok());
  CHECK_FALSE(reloadConfig(*text.config).ok());
}

TEST_CASE("restart-only keys are found and kept", "[config][live]") {
  CHECK(needsRestart("general.listen_port"));
  CHECK(needsRestart("listen_addr"));
  CHECK(needsRestart("workers"));
  CHECK(needsRestart("metrics_port"));
  CHECK_FALSE(needsRestart("client_tls_cert_file"));  // new clients get the new files
  CHECK(needsRestart("unix_socket_dir"));
  CHECK_FALSE(needsRestart("default_pool_size"));
  CHECK_FALSE(needsRestart("general.query_timeout"));
  CHECK_FALSE(needsRestart("databases.app.port"));

  auto a = loadString(kBase, "t.toml");
  auto b = loadString(kBase, "t.toml",
                      {{"general.listen_port", "7001"}, {"general.default_pool_size", "8"}});
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  auto changes = restartOnlyChanges(*a.config, *b.config);
  CHECK(changes == std::vector<std::string>{"general.listen_port"});
  Config next = *b.config;
  keepRestartOnly(next, *a.config);
  CHECK(next.general.listenPort == 7000);
  CHECK(next.general.defaultPoolSize == 8);
}

TEST_CASE("SHOW CONFIG lists every general key with value and default", "[config][live]") {
  auto a = loadString(kBase, "t.toml");
  REQUIRE(a.ok());
  auto rows = describeGeneral(*a.config);
  bool found = false;
  for (const auto& r : rows) {
    if (r.key != "default_pool_size") continue;
    found = true;
    CHECK(r.value == "5");
    CHECK(r.defaultValue == "20");
    CHECK(r.changeable);
  }
  CHECK(found);
  CHECK(rows.size() >= 30);
}
