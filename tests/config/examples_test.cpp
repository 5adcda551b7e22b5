// The example configs in examples/ must keep loading.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "config/config.h"
#include "config_test_support.h"

namespace shardpool::config {
namespace {

using testing::formatAll;
using testing::ScopedEnv;

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

TEST_CASE("config: examples/minimal.toml loads", "[config]") {
  LoadResult result = loadFile(examplePath("minimal.toml"));
  INFO(formatAll(result.errors));
  REQUIRE(result.ok());
  CHECK(result.config->findDatabase("anything") != nullptr);
}

}  // namespace
}  // namespace shardpool::config
