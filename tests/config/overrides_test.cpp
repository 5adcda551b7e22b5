// `--set key.path=value` overrides on top of a file.
#include <catch2/catch.hpp>

#include <string>

#include "config/config.h"
#include "config_test_support.h"

namespace shardpool::config {
namespace {

using namespace std::chrono_literals;
using testing::loadOk;
using testing::loadOneError;
using testing::ScopedEnv;

constexpr std::string_view kFile = R"([general]
max_client_conn = 100

[databases.appdb]
pool_size = 10

["databases"."*"]
host = "/tmp"

[users.alice]
auth_type = "md5"
password = "secret"
)";

std::vector<Override> sets(std::initializer_list<std::string_view> texts) {
  std::vector<Override> out;
  for (auto text : texts) {
    auto parsed = parseOverride(text);
    REQUIRE(parsed);
    out.push_back(*parsed);
  }
  return out;
}

TEST_CASE("config: parseOverride splits at the first '='", "[config]") {
  auto o = parseOverride("general.pool_mode=transaction");
  REQUIRE(o);
  CHECK(o->keyPath == "general.pool_mode");
  CHECK(o->value == "transaction");

  o = parseOverride("general.server_reset_query=SET a=b");
  REQUIRE(o);
  CHECK(o->keyPath == "general.server_reset_query");
  CHECK(o->value == "SET a=b");

  o = parseOverride(" general.workers =4");
  REQUIRE(o);
  CHECK(o->keyPath == "general.workers");
  CHECK(o->value == "4");

  o = parseOverride("general.server_reset_query=");
  REQUIRE(o);
  CHECK(o->value.empty());

  CHECK_FALSE(parseOverride("general.workers"));
  CHECK_FALSE(parseOverride("=4"));
  CHECK_FALSE(parseOverride(""));
}

TEST_CASE("config: overrides replace file values", "[config]") {
  auto config =
      loadOk(kFile, sets({"general.max_client_conn=500", "databases.appdb.pool_size=3",
                          "general.pool_mode=transaction", "general.query_wait_timeout=5s",
                          "general.server_reset_query=", "databases.*.host=/var/run/postgresql",
                          "users.alice.pool_mode=\"statement\"", "general.listen_addr=::1"}));
  CHECK(config->general.maxClientConn == 500);
  CHECK(config->general.poolMode == PoolMode::Transaction);
  CHECK(config->general.queryWaitTimeout == 5s);
  CHECK(config->general.serverResetQuery.empty());
  CHECK(config->general.listenAddr == "::1");
  CHECK(config->databases.at("appdb").poolSize == 3u);
  CHECK(config->databases.at("*").host == "/var/run/postgresql");
  CHECK(config->users.at("alice").poolMode == PoolMode::Statement);
}

TEST_CASE("config: later overrides win and quoted key segments work", "[config]") {
  auto config =
      loadOk(kFile, sets({"databases.\"*\".port=6000", "general.workers=2", "general.workers=8"}));
  CHECK(config->databases.at("*").port == 6000);
  CHECK(config->general.workers == 8);
}

TEST_CASE("config: overrides apply before validation", "[config]") {
  std::string toml = "[databases.appdb]\n[users.bob]\nauth_type = \"md5\"\n";
  CHECK(loadString(toml, "test.toml").warnings.size() == 1);  // bob has no password
  LoadResult fixed = loadString(toml, "test.toml", sets({"users.bob.password=secret"}));
  REQUIRE(fixed.ok());
  CHECK(fixed.warnings.empty());
  CHECK(fixed.config->users.at("bob").password == "secret");
}

TEST_CASE("config: an override replaces a file value whose variable is unset", "[config]") {
  ScopedEnv unset("SHARDPOOL_TEST_UNSET", std::nullopt);
  std::string toml = "[databases.appdb]\nuser = \"app\"\npassword = \"${SHARDPOOL_TEST_UNSET}\"\n";
  CHECK(loadOneError(toml).keyPath == "databases.appdb.password");
  auto config = loadOk(toml, sets({"databases.appdb.password=given"}));
  CHECK(config->databases.at("appdb").password == "given");
}

TEST_CASE("config: an override value that fails to expand is reported once", "[config]") {
  ScopedEnv unset("SHARDPOOL_TEST_UNSET", std::nullopt);
  ConfigError e = loadOneError(kFile, sets({"general.listen_addr=${SHARDPOOL_TEST_UNSET}"}));
  CHECK(
      e.format() ==
      "<override>: general.listen_addr: environment variable \"SHARDPOOL_TEST_UNSET\" is not set");
}

TEST_CASE("config: override values expand ${NAME}", "[config]") {
  ScopedEnv pw("SHARDPOOL_TEST_PW", "from-env");
  ScopedEnv unset("SHARDPOOL_TEST_UNSET", std::nullopt);
  auto config = loadOk(kFile, sets({"users.alice.password=${SHARDPOOL_TEST_PW}"}));
  CHECK(config->users.at("alice").password == "from-env");

  ConfigError e = loadOneError(kFile, sets({"users.alice.password=${SHARDPOOL_TEST_UNSET}"}));
  CHECK(
      e.format() ==
      "<override>: users.alice.password: environment variable \"SHARDPOOL_TEST_UNSET\" is not set");
}

TEST_CASE("config: bad override keys are errors with suggestions", "[config]") {
  struct Case {
    std::string set;
    std::string keyPath;
    std::string message;
  };
  auto c = GENERATE(values<Case>({
      {"general.max_client_con=5", "general.max_client_con",
       "unknown key \"max_client_con\"; did you mean \"max_client_conn\"?"},
      {"genral.pool_mode=session", "genral.pool_mode",
       "unknown key \"genral\"; did you mean \"general\"?"},
      {"pool_mode=session", "pool_mode",
       "unknown key \"pool_mode\"; did you mean \"general.pool_mode\"?"},
      {"databases.apdb.pool_size=3", "databases.apdb.pool_size",
       "unknown database \"apdb\"; did you mean \"appdb\"? (--set cannot add entries)"},
      {"databases.newdb.host=h", "databases.newdb.host",
       "unknown database \"newdb\" (--set cannot add entries)"},
      {"users.alicia.pool_size=3", "users.alicia.pool_size",
       "unknown user \"alicia\"; did you mean \"alice\"? (--set cannot add entries)"},
      {"databases.appdb.poolsize=3", "databases.appdb.poolsize",
       "unknown key \"poolsize\"; did you mean \"pool_size\"?"},
      {"users.alice.host=h", "users.alice.host", "unknown key \"host\""},
      {"general=5", "general", "expected a key of the form general.<key>, e.g. general.pool_mode"},
      {"general.pool_mode.x=5", "general.pool_mode.x",
       "expected a key of the form general.<key>, e.g. general.pool_mode"},
      {"databases.appdb=5", "databases.appdb",
       "expected a key of the form databases.<name>.<key>, e.g. databases.appdb.pool_size"},
      {"general..workers=5", "general..workers", "empty key in key path"},
      {"databases.\"appdb.pool_size=3", "databases.\"appdb.pool_size",
       "unterminated quote in key path"},
  }));
  INFO(c.set);
  ConfigError e = loadOneError(kFile, sets({c.set}));
  CHECK(e.file == "<override>");
  CHECK(e.line == 0);
  CHECK(e.column == 0);
  CHECK(e.keyPath == c.keyPath);
  CHECK(e.message == c.message);
}

TEST_CASE("config: bad override values are reported against the override", "[config]") {
  struct Case {
    std::string set;
    std::string message;
  };
  auto c = GENERATE(values<Case>({
      {"databases.appdb.pool_size=abc", "expected an integer of at least 1, got \"abc\""},
      {"databases.appdb.pool_size=\"3\"", "expected an integer of at least 1, got \"3\""},
      {"databases.appdb.pool_size=0", "expected an integer of at least 1, got 0"},
      {"databases.appdb.pool_size=[1, 2]", "expected an integer of at least 1, got an array"},
      {"databases.appdb.pool_mode=txn",
       "expected one of \"session\", \"transaction\" or \"statement\", got \"txn\""},
  }));
  INFO(c.set);
  ConfigError e = loadOneError(kFile, sets({c.set}));
  CHECK(e.file == "<override>");
  CHECK(e.line == 0);
  CHECK(e.keyPath == c.set.substr(0, c.set.find('=')));
  CHECK(e.message == c.message);
}

TEST_CASE("config: override errors and file errors are both reported", "[config]") {
  LoadResult result = loadString("[general]\nworkers = 999\n[databases.appdb]\n", "test.toml",
                                 sets({"general.wrokers=1"}));
  REQUIRE(result.errors.size() == 2);
  CHECK(result.errors[0].format() ==
        "test.toml:2:11: general.workers: expected an integer between 0 and 256, got 999");
  CHECK(result.errors[1].format() ==
        "<override>: general.wrokers: unknown key \"wrokers\"; did you mean \"workers\"?");
}

}  // namespace
}  // namespace shardpool::config
