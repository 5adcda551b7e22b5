// Config lookups and precedence, enum names, ConfigError::format.
#include <catch2/catch.hpp>

#include <string>

#include "config/config.h"
#include "config_test_support.h"

namespace shardpool::config {
namespace {

using testing::loadOk;

constexpr std::string_view kLayered = R"(
[general]
pool_mode = "session"
default_pool_size = 20
auth_type = "md5"

[databases.plain]

[databases.tuned]
pool_size = 50
pool_mode = "transaction"

["databases"."*"]
pool_size = 5

[users.alice]
password = "a"
pool_size = 2
pool_mode = "statement"
auth_type = "scram-sha-256"

[users.bob]
password = "b"
)";

TEST_CASE("config: findDatabase prefers the exact name, then \"*\"", "[config]") {
  auto config = loadOk(kLayered);
  REQUIRE(config->findDatabase("plain") != nullptr);
  CHECK(config->findDatabase("plain")->name == "plain");
  CHECK(config->findDatabase("tuned")->name == "tuned");
  REQUIRE(config->findDatabase("anything") != nullptr);
  CHECK(config->findDatabase("anything")->name == "*");
  CHECK(config->findDatabase("*")->name == "*");

  auto noFallback = loadOk("[databases.only]\n");
  CHECK(noFallback->findDatabase("only") != nullptr);
  CHECK(noFallback->findDatabase("other") == nullptr);
  CHECK(noFallback->findDatabase("") == nullptr);
}

TEST_CASE("config: findUser is exact", "[config]") {
  auto config = loadOk(kLayered);
  REQUIRE(config->findUser("alice") != nullptr);
  CHECK(config->findUser("alice")->name == "alice");
  CHECK(config->findUser("Alice") == nullptr);
  CHECK(config->findUser("carol") == nullptr);
}

TEST_CASE("config: user settings override database settings override general", "[config]") {
  auto config = loadOk(kLayered);
  struct Case {
    std::string database;
    std::string user;  // empty: no user entry
    PoolMode mode;
    uint32_t size;
  };
  auto c = GENERATE(values<Case>({
      {"plain", "", PoolMode::Session, 20},
      {"plain", "bob", PoolMode::Session, 20},
      {"plain", "alice", PoolMode::Statement, 2},
      {"tuned", "", PoolMode::Transaction, 50},
      {"tuned", "bob", PoolMode::Transaction, 50},
      {"tuned", "alice", PoolMode::Statement, 2},
      {"unlisted", "", PoolMode::Session, 5},
      {"unlisted", "alice", PoolMode::Statement, 2},
  }));
  INFO(c.database << " / " << c.user);
  const Database* db = config->findDatabase(c.database);
  REQUIRE(db != nullptr);
  const User* user = c.user.empty() ? nullptr : config->findUser(c.user);
  CHECK(config->poolModeFor(*db, user) == c.mode);
  CHECK(config->poolSizeFor(*db, user) == c.size);
}

TEST_CASE("config: authTypeFor uses the user's auth_type, else general's", "[config]") {
  auto config = loadOk(kLayered);
  CHECK(config->authTypeFor(config->findUser("alice")) == AuthType::ScramSha256);
  CHECK(config->authTypeFor(config->findUser("bob")) == AuthType::Md5);
  CHECK(config->authTypeFor(nullptr) == AuthType::Md5);
}

TEST_CASE("config: enum names match the TOML spelling", "[config]") {
  CHECK(toString(PoolMode::Session) == "session");
  CHECK(toString(PoolMode::Transaction) == "transaction");
  CHECK(toString(PoolMode::Statement) == "statement");
  CHECK(toString(AuthType::Trust) == "trust");
  CHECK(toString(AuthType::Password) == "password");
  CHECK(toString(AuthType::Md5) == "md5");
  CHECK(toString(AuthType::ScramSha256) == "scram-sha-256");
  CHECK(toString(LogLevel::Debug) == "debug");
  CHECK(toString(LogLevel::Info) == "info");
  CHECK(toString(LogLevel::Warn) == "warn");
  CHECK(toString(LogLevel::Error) == "error");
}

TEST_CASE("config: ConfigError::format omits what is unknown", "[config]") {
  struct Case {
    ConfigError error;
    std::string expected;
  };
  auto c = GENERATE(values<Case>({
      {{"a.toml", 3, 7, "general.workers", "bad"}, "a.toml:3:7: general.workers: bad"},
      {{"a.toml", 3, 0, "general.workers", "bad"}, "a.toml:3: general.workers: bad"},
      {{"a.toml", 0, 0, "databases", "none"}, "a.toml: databases: none"},
      {{"a.toml", 2, 1, "", "parse"}, "a.toml:2:1: parse"},
      {{"<override>", 0, 0, "general.x", "unknown"}, "<override>: general.x: unknown"},
      {{"", 0, 0, "--backend", "bad url"}, "--backend: bad url"},
      {{"", 0, 0, "", "just a message"}, "just a message"},
  }));
  CHECK(c.error.format() == c.expected);
}

TEST_CASE("config: a loaded Config is shared read-only", "[config]") {
  auto config = loadOk("[databases.appdb]\n");
  STATIC_REQUIRE(std::is_same_v<decltype(config), std::shared_ptr<const Config>>);
  CHECK(config.use_count() == 1);
}

}  // namespace
}  // namespace shardpool::config
