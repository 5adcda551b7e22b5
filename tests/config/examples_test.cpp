// The example configs in examples/ must keep loading.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "config/config.h"
#include "config_test_support.h"
#include "tls_test_support.h"

namespace shardpool::config {
namespace {

using testing::formatAll;
using testing::ScopedEnv;
using testing::TempDir;

std::string examplePath(std::string_view name) {
  // This file is tests/config/examples_test.cpp; the examples are in <repo>/examples.
  std::filesystem::path repo =
      std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
  return (repo / "examples" / name).string();
}

TEST_CASE("config: examples/shardpool.toml loads", "[config]") {
  ScopedEnv password("APP_DB_PASSWORD", "example-password");
  ScopedEnv reporter("REPORTER_PASSWORD", std::nullopt);
  LoadResult result = loadFile(examplePath("shardpool.toml"));
  INFO(formatAll(result.errors));
  REQUIRE(result.ok());
  const Config& config = *result.config;
  CHECK(config.general.poolMode == PoolMode::Transaction);
  CHECK(config.databases.at("app").password == "example-password");
  CHECK(config.findDatabase("unlisted")->host == "/var/run/postgresql");
  CHECK(config.users.at("reporter").password == "change-me");
  CHECK(config.authTypeFor(config.findUser("legacy")) == AuthType::Md5);
  CHECK(config.general.reservePoolTimeout == std::chrono::seconds(3));
  CHECK(config.general.clientIdleTimeout == std::chrono::hours(1));
  CHECK(config.minPoolSizeFor(config.databases.at("app")) == 2);
  CHECK(config.maxDbConnectionsFor(config.databases.at("reports")) == 10);
  CHECK(config.maxUserConnectionsFor(config.findUser("reporter")) == 6);
}

TEST_CASE("config: examples/shardpool.toml names the variable it needs", "[config]") {
  ScopedEnv password("APP_DB_PASSWORD", std::nullopt);
  LoadResult result = loadFile(examplePath("shardpool.toml"));
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0].keyPath == "databases.app.password");
  CHECK(result.errors[0].message == "environment variable \"APP_DB_PASSWORD\" is not set");
}

// The example's commented-out TLS lines, uncommented, with each "/etc/..." path replaced by an
// empty file of the same name in `dir`. Counts the lines it uncommented in `uncommented`.
std::string withTlsEnabled(const std::string& text, const TempDir& dir, int& uncommented) {
  static const std::regex kTlsLine(R"(^# ((client_tls_|server_tls_|ssl)[a-z_]+ = .*)$)");
  static const std::regex kPath(R"re("/etc/[^"]*/([^/"]+)")re");
  std::istringstream in(text);
  std::string out;
  std::string line;
  uncommented = 0;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, kTlsLine)) {
      line = m[1].str();
      ++uncommented;
      std::smatch path;
      if (std::regex_search(line, path, kPath)) {
        line = path.prefix().str() + "\"" + dir.file(path[1].str()) + "\"" + path.suffix().str();
      }
    }
    out += line + "\n";
  }
  return out;
}

TEST_CASE("config: the commented TLS settings in examples/shardpool.toml load", "[config]") {
  ScopedEnv password("APP_DB_PASSWORD", "example-password");
  std::ifstream in(examplePath("shardpool.toml"));
  std::stringstream text;
  text << in.rdbuf();
  TempDir dir;
  int uncommented = 0;
  std::string toml = withTlsEnabled(text.str(), dir, uncommented);
  CHECK(uncommented == 8);
  LoadResult result = loadString(toml, "shardpool.toml");
  INFO(toml);
  INFO(formatAll(result.errors));
  REQUIRE(result.ok());
  const Config& config = *result.config;
  CHECK(config.general.clientTlsSslmode == TlsMode::Require);
  CHECK(config.general.clientTlsCertFile == dir.path("shardpool.crt"));
  CHECK(config.general.serverTlsSslmode == TlsMode::Prefer);
  const Database& app = config.databases.at("app");
  CHECK(config.serverTlsModeFor(app) == TlsMode::VerifyFull);
  CHECK(config.serverTlsCaFileFor(app) == dir.path("backend-ca.crt"));
  CHECK(config.serverTlsModeFor(config.databases.at("reports")) == TlsMode::Prefer);
}

TEST_CASE("config: examples/sharded.toml loads", "[config]") {
  ScopedEnv password("APP_DB_PASSWORD", std::nullopt);
  ScopedEnv mapPassword("MAP_PW", "map-secret");
  LoadResult result = loadFile(examplePath("sharded.toml"));
  INFO(formatAll(result.errors));
  REQUIRE(result.ok());
  const Config& config = *result.config;

  const Database& app = config.databases.at("app");
  CHECK(app.shardingFunction == ShardingFunction::Hash);
  CHECK(app.defaultShard == 0u);
  CHECK(app.tables.size() == 5);
  std::vector<Shard> shards = config.shardsOf(app);
  REQUIRE(shards.size() == 3);
  CHECK(shards[0].replicas.size() == 2);
  CHECK(shards[0].replicas[1].port == 5433);
  CHECK(shards[0].replicas[1].dbname == "app_s0");
  CHECK(shards[2].name == "shard2");
  CHECK(shards[2].primary.dbname == "app_s2");

  const Database& tenants = config.databases.at("tenants");
  CHECK(tenants.shardingFunction == ShardingFunction::Directory);
  REQUIRE(tenants.directory);
  CHECK(tenants.directory->entries.size() == 2);
  CHECK(tenants.directory->defaultShard == 0u);
  REQUIRE(tenants.directory->source);
  CHECK(tenants.directory->source->conninfo.find("password=map-secret") != std::string::npos);
  CHECK(config.shardsOf(tenants)[1].primary.dbname == "tenants");

  const Database& reports = config.databases.at("reports");
  CHECK_FALSE(reports.sharded());
  CHECK(reports.readFrom == ReadFrom::Replicas);
  CHECK(config.shardsOf(reports)[0].replicas.size() == 2);
}

TEST_CASE("config: examples/minimal.toml loads", "[config]") {
  LoadResult result = loadFile(examplePath("minimal.toml"));
  INFO(formatAll(result.errors));
  REQUIRE(result.ok());
  CHECK(result.config->findDatabase("anything") != nullptr);
}

}  // namespace
}  // namespace shardpool::config
