// loadString / loadFile: TOML -> structs, defaults, durations, and every per-key error.
#include <catch2/catch.hpp>

#include <string>

#include "config/config.h"
#include "config_test_support.h"

namespace shardpool::config {
namespace {

using namespace std::chrono_literals;
using testing::kMd5Secret;
using testing::kOneDatabase;
using testing::kScramSecret;
using testing::loadOk;
using testing::loadOneError;

TEST_CASE("config: a full file decodes into structs", "[config]") {
  std::string toml = R"(
[general]
listen_addr = "0.0.0.0"
listen_port = 7432
workers = 4
max_client_conn = 5000
pool_mode = "transaction"
default_pool_size = 30
auth_type = "md5"
server_reset_query = ""
query_wait_timeout = "250ms"
server_idle_timeout = 90
server_lifetime = "1.5h"
server_connect_timeout = 2.5
shutdown_timeout = "5m"
log_level = "debug"

[databases.appdb]
host = "db1.internal"
port = 5433
dbname = "app_production"
user = "app"
password = "s3cret"
pool_size = 50
pool_mode = "session"

["databases"."*"]
host = "/var/run/postgresql"

[users.alice]
password = ")" + std::string(kMd5Secret) +
                     R"("
pool_size = 5
pool_mode = "statement"

[users.bob]
password = ")" + std::string(kScramSecret) +
                     R"("
auth_type = "scram-sha-256"

[users.carol]
auth_type = "trust"
)";
  auto config = loadOk(toml);
  CHECK(config->sourcePath == "test.toml");

  const General& g = config->general;
  CHECK(g.listenAddr == "0.0.0.0");
  CHECK(g.listenPort == 7432);
  CHECK(g.workers == 4);
  CHECK(g.maxClientConn == 5000);
  CHECK(g.poolMode == PoolMode::Transaction);
  CHECK(g.defaultPoolSize == 30);
  CHECK(g.authType == AuthType::Md5);
  CHECK(g.serverResetQuery.empty());
  CHECK(g.queryWaitTimeout == 250ms);
  CHECK(g.serverIdleTimeout == 90s);
  CHECK(g.serverLifetime == 90min);
  CHECK(g.serverConnectTimeout == 2500ms);
  CHECK(g.shutdownTimeout == 5min);
  CHECK(g.logLevel == LogLevel::Debug);

  REQUIRE(config->databases.size() == 2);
  const Database& app = config->databases.at("appdb");
  CHECK(app.name == "appdb");
  CHECK(app.host == "db1.internal");
  CHECK(app.port == 5433);
  CHECK(app.dbname == "app_production");
  CHECK(app.user == "app");
  CHECK(app.password == "s3cret");
  CHECK(app.poolSize == 50u);
  CHECK(app.poolMode == PoolMode::Session);

  const Database& fallback = config->databases.at("*");
  CHECK(fallback.name == "*");
  CHECK(fallback.host == "/var/run/postgresql");
  CHECK(fallback.port == 5432);
  CHECK(fallback.dbname.empty());
  CHECK_FALSE(fallback.user);
  CHECK_FALSE(fallback.password);
  CHECK_FALSE(fallback.poolSize);
  CHECK_FALSE(fallback.poolMode);

  REQUIRE(config->users.size() == 3);
  const User& alice = config->users.at("alice");
  CHECK(alice.name == "alice");
  CHECK(alice.password == kMd5Secret);
  CHECK_FALSE(alice.authType);
  CHECK(alice.poolSize == 5u);
  CHECK(alice.poolMode == PoolMode::Statement);
  CHECK(config->users.at("bob").password == kScramSecret);
  CHECK(config->users.at("bob").authType == AuthType::ScramSha256);
  CHECK(config->users.at("carol").password.empty());
  CHECK(config->users.at("carol").authType == AuthType::Trust);
}

TEST_CASE("config: omitted keys keep their defaults", "[config]") {
  auto config = loadOk(kOneDatabase);
  const General defaults;
  const General& g = config->general;
  CHECK(g.listenAddr == "127.0.0.1");
  CHECK(g.listenPort == 6432);
  CHECK(g.workers == 0);
  CHECK(g.maxClientConn == 1000);
  CHECK(g.poolMode == PoolMode::Session);
  CHECK(g.defaultPoolSize == 20);
  CHECK(g.authType == AuthType::ScramSha256);
  CHECK(g.serverResetQuery == "DISCARD ALL");
  CHECK(g.queryWaitTimeout == 120s);
  CHECK(g.serverIdleTimeout == 600s);
  CHECK(g.serverLifetime == 3600s);
  CHECK(g.serverConnectTimeout == 15s);
  CHECK(g.shutdownTimeout == 30s);
  CHECK(g.logLevel == LogLevel::Info);
  CHECK(config->users.empty());
  CHECK(config->databases.at("appdb").port == 5432);
}

TEST_CASE("config: durations accept numbers and unit strings", "[config]") {
  struct Case {
    std::string value;
    Duration expected;
  };
  auto c = GENERATE(values<Case>({
      {"30", 30s},
      {"0", 0ms},
      {"0.25", 250ms},
      {"\"250ms\"", 250ms},
      {"\"1.5s\"", 1500ms},
      {"\"5m\"", 5min},
      {"\"2h\"", 2h},
      {"\"0s\"", 0ms},
      {"\"0.4ms\"", 1ms},  // never rounds a positive duration down to "disabled"
      {"\"8760h\"", 8760h},
  }));
  INFO(c.value);
  auto config =
      loadOk("[general]\nquery_wait_timeout = " + c.value + "\n" + std::string(kOneDatabase));
  CHECK(config->general.queryWaitTimeout == c.expected);
}

TEST_CASE("config: bad durations are errors at the value", "[config]") {
  struct Case {
    std::string key;
    std::string value;
    std::string message;
  };
  const std::string shape =
      "expected a duration (seconds as a number, or a string such as \"250ms\", \"1.5s\", \"5m\" "
      "or "
      "\"2h\"), got ";
  auto c = GENERATE_COPY(values<Case>({
      {"query_wait_timeout", "\"5 minutes\"", shape + "\"5 minutes\""},
      {"query_wait_timeout", "\"10d\"", shape + "\"10d\""},
      {"query_wait_timeout", "\"1.5\"", shape + "\"1.5\""},
      {"query_wait_timeout", "\".5s\"", shape + "\".5s\""},
      {"query_wait_timeout", "true", shape + "true"},
      {"query_wait_timeout", "\"-5s\"", "expected a duration between 0 and 365 days, got \"-5s\""},
      {"server_lifetime", "-1", "expected a duration between 0 and 365 days, got -1"},
      {"server_lifetime", "\"8761h\"", "expected a duration between 0 and 365 days, got \"8761h\""},
      {"server_connect_timeout", "0", "expected a duration greater than 0, got 0"},
      {"server_connect_timeout", "\"0ms\"", "expected a duration greater than 0, got \"0ms\""},
  }));
  INFO(c.key << " = " << c.value);
  ConfigError e =
      loadOneError("[general]\n" + c.key + " = " + c.value + "\n" + std::string(kOneDatabase));
  CHECK(e.file == "test.toml");
  CHECK(e.line == 2);
  CHECK(e.column == c.key.size() + 4);
  CHECK(e.keyPath == "general." + c.key);
  CHECK(e.message == c.message);
}

TEST_CASE("config: values of the wrong type or range are errors at the value", "[config]") {
  struct Case {
    std::string section;  // table header, without brackets
    std::string line;
    std::string keyPath;
    uint32_t column;
    std::string message;
  };
  auto c = GENERATE(values<Case>({
      {"general", "listen_port = \"abc\"", "general.listen_port", 15,
       "expected an integer between 1 and 65535, got \"abc\""},
      {"general", "listen_port = 0", "general.listen_port", 15,
       "expected an integer between 1 and 65535, got 0"},
      {"general", "listen_port = 70000", "general.listen_port", 15,
       "expected an integer between 1 and 65535, got 70000"},
      {"general", "workers = 257", "general.workers", 11,
       "expected an integer between 0 and 256, got 257"},
      {"general", "workers = 2.0", "general.workers", 11,
       "expected an integer between 0 and 256, got 2.0"},
      {"general", "max_client_conn = 0", "general.max_client_conn", 19,
       "expected an integer of at least 1, got 0"},
      {"general", "default_pool_size = 5000000000", "general.default_pool_size", 21,
       "expected an integer of at least 1, got 5000000000"},
      {"general", "listen_addr = 5", "general.listen_addr", 15, "expected a string, got 5"},
      {"general", "listen_addr = \"\"", "general.listen_addr", 15, "expected a non-empty string"},
      {"general", "server_reset_query = [\"x\"]", "general.server_reset_query", 22,
       "expected a string, got an array"},
      {"general", "log_level = { a = 1 }", "general.log_level", 13,
       "expected one of \"debug\", \"info\", \"warn\" or \"error\", got a table"},
      {"general", "log_level = \"warning\"", "general.log_level", 13,
       "expected one of \"debug\", \"info\", \"warn\" or \"error\", got \"warning\"; did you mean "
       "\"warn\"?"},
      {"general", "pool_mode = \"transacton\"", "general.pool_mode", 13,
       "expected one of \"session\", \"transaction\" or \"statement\", got \"transacton\"; did you "
       "mean "
       "\"transaction\"?"},
      {"general", "auth_type = \"scram\"", "general.auth_type", 13,
       "expected one of \"trust\", \"password\", \"md5\", \"scram-sha-256\", \"cert\" or \"hba\", "
       "got \"scram\"; did "
       "you mean "
       "\"scram-sha-256\"?"},
      {"general", "auth_type = \"ldap\"", "general.auth_type", 13,
       "expected one of \"trust\", \"password\", \"md5\", \"scram-sha-256\", \"cert\" or \"hba\", "
       "got \"ldap\""},
      {"general", "query_wait_timeout = 1979-05-27", "general.query_wait_timeout", 22,
       "expected a duration (seconds as a number, or a string such as \"250ms\", \"1.5s\", \"5m\" "
       "or "
       "\"2h\"), got the date 1979-05-27"},
      {"databases.appdb", "port = \"5432\"", "databases.appdb.port", 8,
       "expected an integer between 1 and 65535, got \"5432\""},
      {"databases.appdb", "pool_size = 0", "databases.appdb.pool_size", 13,
       "expected an integer of at least 1, got 0"},
      {"databases.appdb", "host = \"\"", "databases.appdb.host", 8, "expected a non-empty string"},
      {"databases.appdb", "user = true", "databases.appdb.user", 8, "expected a string, got true"},
      {"users.alice", "pool_size = -1", "users.alice.pool_size", 13,
       "expected an integer of at least 1, got -1"},
      {"users.alice", "pool_mode = 1", "users.alice.pool_mode", 13,
       "expected one of \"session\", \"transaction\" or \"statement\", got 1"},
  }));
  INFO(c.line);
  std::string toml = "[databases.other]\nhost = \"h\"\n[" + c.section + "]\n" + c.line + "\n";
  if (c.section.starts_with("users")) toml += "auth_type = \"trust\"\n";
  ConfigError e = loadOneError(toml);
  CHECK(e.file == "test.toml");
  CHECK(e.line == 4);
  CHECK(e.column == c.column);
  CHECK(e.keyPath == c.keyPath);
  CHECK(e.message == c.message);
}

TEST_CASE("config: unknown keys are rejected with a suggestion", "[config]") {
  struct Case {
    std::string toml;
    uint32_t line;
    uint32_t column;
    std::string keyPath;
    std::string message;
  };
  auto c = GENERATE(values<Case>({
      {"[databases.appdb]\nhost = \"h\"\npool_sise = 3\n", 3, 1, "databases.appdb.pool_sise",
       "unknown key \"pool_sise\"; did you mean \"pool_size\"?"},
      {"[databases.appdb]\nhostname = \"h\"\n", 2, 1, "databases.appdb.hostname",
       "unknown key \"hostname\"; did you mean \"host\"?"},
      {"[databases.appdb]\nsslcompression = true\n", 2, 1, "databases.appdb.sslcompression",
       "unknown key \"sslcompression\""},
      {"[general]\nmax_client_con = 5\n[databases.appdb]\n", 2, 1, "general.max_client_con",
       "unknown key \"max_client_con\"; did you mean \"max_client_conn\"?"},
      {"[general]\nlisten = \"x\"\n[databases.appdb]\n", 2, 1, "general.listen",
       "unknown key \"listen\"; did you mean \"listen_addr\"?"},
      {"[databases.appdb]\n[users.alice]\nauth_type = \"trust\"\npasswd = \"x\"\n", 4, 1,
       "users.alice.passwd", "unknown key \"passwd\"; did you mean \"password\"?"},
      {"[genral]\nworkers = 2\n[databases.appdb]\n", 1, 2, "genral",
       "unknown key \"genral\"; did you mean \"general\"?"},
      {"[databases.appdb]\n[user.alice]\n", 2, 2, "user",
       "unknown key \"user\"; did you mean \"users\"?"},
      {"listen_port = 6000\n[databases.appdb]\n", 1, 1, "listen_port",
       "unknown key \"listen_port\"; did you mean \"general.listen_port\"?"},
      {"[databases.appdb]\n[pools]\n", 2, 2, "pools", "unknown key \"pools\""},
  }));
  INFO(c.toml);
  ConfigError e = loadOneError(c.toml);
  CHECK(e.line == c.line);
  CHECK(e.column == c.column);
  CHECK(e.keyPath == c.keyPath);
  CHECK(e.message == c.message);
}

TEST_CASE("config: tables that must be tables", "[config]") {
  SECTION("general") {
    ConfigError e = loadOneError("general = 5\n" + std::string(kOneDatabase));
    CHECK(e.line == 1);
    CHECK(e.column == 11);
    CHECK(e.keyPath == "general");
    CHECK(e.message == "expected a table, got 5");
  }
  SECTION("a database entry") {
    ConfigError e =
        loadOneError("[databases]\nappdb = \"postgres://x\"\nother = { host = \"h\" }\n");
    CHECK(e.line == 2);
    CHECK(e.column == 9);
    CHECK(e.keyPath == "databases.appdb");
    CHECK(e.message == "expected a table, got \"postgres://x\"");
  }
}

TEST_CASE("config: all errors are collected, in file order", "[config]") {
  LoadResult result = loadString(R"([general]
listen_port = "abc"
pool_mode = "sesion"

[databases.appdb]
pool_sise = 3
port = 0

[users.alice]
password = "md5abc"
)",
                                 "test.toml");
  REQUIRE_FALSE(result.ok());
  REQUIRE(result.errors.size() == 5);
  CHECK(
      result.errors[0].format() ==
      "test.toml:2:15: general.listen_port: expected an integer between 1 and 65535, got \"abc\"");
  CHECK(result.errors[1].format() ==
        "test.toml:3:13: general.pool_mode: expected one of \"session\", \"transaction\" or "
        "\"statement\", "
        "got \"sesion\"; did you mean \"session\"?");
  CHECK(result.errors[2].format() ==
        "test.toml:6:1: databases.appdb.pool_sise: unknown key \"pool_sise\"; did you mean "
        "\"pool_size\"?");
  CHECK(result.errors[3].format() ==
        "test.toml:7:8: databases.appdb.port: expected an integer between 1 and 65535, got 0");
  CHECK(result.errors[4].format() ==
        "test.toml:10:12: users.alice.password: malformed md5 password: expected \"md5\" "
        "followed by 32 lowercase hex digits");
}

TEST_CASE("config: TOML syntax errors carry toml++'s position", "[config]") {
  SECTION("missing value") {
    ConfigError e = loadOneError("[general]\nworkers = \n");
    CHECK(e.file == "test.toml");
    CHECK(e.line == 2);
    CHECK(e.column == 11);
    CHECK(e.keyPath.empty());
    CHECK_THAT(e.message, Catch::Contains("expected value"));
  }
  SECTION("duplicate key") {
    ConfigError e = loadOneError("[general]\nworkers = 1\nworkers = 2\n");
    CHECK(e.line == 3);
    CHECK_THAT(e.message, Catch::Contains("workers"));
  }
  SECTION("unclosed table header") {
    ConfigError e = loadOneError("[databases.appdb\nhost = \"h\"\n");
    CHECK(e.line == 1);
    CHECK(e.column > 0);
  }
}

TEST_CASE("config: loadFile of a missing file is a clear error", "[config]") {
  LoadResult result = loadFile("/nonexistent/shardpool.toml");
  REQUIRE_FALSE(result.ok());
  REQUIRE(result.errors.size() == 1);
  CHECK(
      result.errors[0].format() ==
      "/nonexistent/shardpool.toml: cannot open the configuration file: No such file or directory");
}

TEST_CASE("config: loadFile of a directory is a clear error", "[config]") {
  LoadResult result = loadFile("/tmp");
  REQUIRE_FALSE(result.ok());
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0].message == "cannot read the configuration file: it is a directory");
}

}  // namespace
}  // namespace shardpool::config
