// ${NAME} substitution: the pure expander, and its use on file values.
#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "config/config.h"
#include "config/env_subst.h"
#include "config_test_support.h"

namespace shardpool::config {
namespace {

using testing::kOneDatabase;
using testing::loadOk;
using testing::loadOneError;
using testing::ScopedEnv;

EnvLookup fakeEnv() {
  static const std::map<std::string, std::string> vars = {
      {"USER_NAME", "alice"}, {"EMPTY", ""}, {"A1_b", "x"}};
  return [](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST_CASE("config: expandEnv substitutes, escapes and defaults", "[config]") {
  struct Case {
    std::string input;
    std::string expected;
  };
  auto c = GENERATE(values<Case>({
      {"plain", "plain"},
      {"", ""},
      {"${USER_NAME}", "alice"},
      {"user=${USER_NAME}; x=${A1_b}!", "user=alice; x=x!"},
      {"$${USER_NAME}", "${USER_NAME}"},
      {"cost: $5 and $$ and $", "cost: $5 and $$ and $"},
      {"SCRAM-SHA-256$4096:abc$def", "SCRAM-SHA-256$4096:abc$def"},
      {"${MISSING:-fallback}", "fallback"},
      {"${EMPTY:-fallback}", "fallback"},
      {"${USER_NAME:-fallback}", "alice"},
      {"${MISSING:-}", ""},
      {"${EMPTY}", ""},
      {"$$${USER_NAME}", "$${USER_NAME}"},  // a lone "$", then the "$${" escape
  }));
  INFO(c.input);
  EnvExpansion out = expandEnv(c.input, fakeEnv());
  CHECK(out.errors.empty());
  CHECK(out.value == c.expected);
}

TEST_CASE("config: expandEnv reports unset variables and bad syntax", "[config]") {
  struct Case {
    std::string input;
    std::vector<std::string> errors;
  };
  auto c = GENERATE(values<Case>({
      {"${MISSING}", {"environment variable \"MISSING\" is not set"}},
      {"${A}${B}",
       {"environment variable \"A\" is not set", "environment variable \"B\" is not set"}},
      {"${USER_NAME", {"unterminated \"${\" (write \"$${\" for a literal \"${\")"}},
      {"${}", {"invalid environment variable name \"\" in \"${...}\""}},
      {"${1ABC}", {"invalid environment variable name \"1ABC\" in \"${...}\""}},
      {"${A-B}", {"invalid environment variable name \"A-B\" in \"${...}\""}},
  }));
  INFO(c.input);
  CHECK(expandEnv(c.input, fakeEnv()).errors == c.errors);
}

TEST_CASE("config: ${NAME} in file values comes from the environment", "[config]") {
  ScopedEnv password("SHARDPOOL_TEST_DB_PASSWORD", "s3cret");
  ScopedEnv host("SHARDPOOL_TEST_DB_HOST", "db.internal");
  ScopedEnv unset("SHARDPOOL_TEST_UNSET", std::nullopt);
  auto config = loadOk(R"(
[general]
server_reset_query = "SELECT '$${not_a_var}'"
query_wait_timeout = "${SHARDPOOL_TEST_UNSET:-5s}"

[databases.appdb]
host = "${SHARDPOOL_TEST_DB_HOST}"
user = "app"
password = "${SHARDPOOL_TEST_DB_PASSWORD}"
)");
  CHECK(config->general.serverResetQuery == "SELECT '${not_a_var}'");
  CHECK(config->general.queryWaitTimeout == std::chrono::seconds(5));
  const Database& db = config->databases.at("appdb");
  CHECK(db.host == "db.internal");
  CHECK(db.password == "s3cret");
}

TEST_CASE("config: an unset variable names the key and the variable", "[config]") {
  ScopedEnv unset("SHARDPOOL_TEST_UNSET", std::nullopt);
  ConfigError e =
      loadOneError("[databases.appdb]\nuser = \"app\"\npassword = \"${SHARDPOOL_TEST_UNSET}\"\n");
  CHECK(e.format() ==
        "test.toml:3:12: databases.appdb.password: environment variable \"SHARDPOOL_TEST_UNSET\" "
        "is not set");
}

TEST_CASE("config: every unset variable is reported", "[config]") {
  ScopedEnv a("SHARDPOOL_TEST_A", std::nullopt);
  ScopedEnv b("SHARDPOOL_TEST_B", std::nullopt);
  LoadResult result = loadString(std::string(kOneDatabase) + "user = \"${SHARDPOOL_TEST_A}\"\n" +
                                     "password = \"${SHARDPOOL_TEST_B}\"\n",
                                 "test.toml");
  REQUIRE(result.errors.size() == 2);
  CHECK(result.errors[0].keyPath == "databases.appdb.user");
  CHECK(result.errors[0].line == 3);
  CHECK(result.errors[1].keyPath == "databases.appdb.password");
  CHECK(result.errors[1].line == 4);
}

}  // namespace
}  // namespace shardpool::config
