// Pool sizing, connection caps, client timeouts and prepared statements: decoding, defaults,
// overrides, the min_pool_size rule and the per-database / per-user helpers.
#include <catch2/catch.hpp>

#include <string>

#include "config/config.h"
#include "config_test_support.h"

namespace shardpool::config {
namespace {

using namespace std::chrono_literals;
using testing::formatAll;
using testing::kOneDatabase;
using testing::loadOk;
using testing::loadOneError;
using testing::loadOneWarning;

std::vector<Override> sets(std::initializer_list<std::string_view> texts) {
  std::vector<Override> out;
  for (auto text : texts) {
    auto parsed = parseOverride(text);
    REQUIRE(parsed);
    out.push_back(*parsed);
  }
  return out;
}

TEST_CASE("config: pool limits and client timeouts default to off", "[config]") {
  auto config = loadOk(std::string(kOneDatabase) + "[users.alice]\nauth_type = \"trust\"\n");
  const General& g = config->general;
  CHECK(g.minPoolSize == 0);
  CHECK(g.reservePoolSize == 0);
  CHECK(g.reservePoolTimeout == 5s);
  CHECK(g.maxDbConnections == 0);
  CHECK(g.maxUserConnections == 0);
  CHECK(g.queryTimeout == 0ms);
  CHECK(g.idleTransactionTimeout == 0ms);
  CHECK(g.clientIdleTimeout == 0ms);
  CHECK(g.clientLoginTimeout == 60s);  // PgBouncer's default
  CHECK(g.maxPreparedStatements == 200);

  const Database& db = config->databases.at("appdb");
  CHECK_FALSE(db.minPoolSize);
  CHECK_FALSE(db.reservePoolSize);
  CHECK_FALSE(db.maxDbConnections);
  const User& alice = config->users.at("alice");
  CHECK_FALSE(alice.maxUserConnections);

  CHECK(config->minPoolSizeFor(db) == 0);
  CHECK(config->reservePoolSizeFor(db) == 0);
  CHECK(config->maxDbConnectionsFor(db) == 0);
  CHECK(config->maxUserConnectionsFor(&alice) == 0);
  CHECK(config->maxUserConnectionsFor(nullptr) == 0);
}

TEST_CASE("config: pool limits and client timeouts decode into structs", "[config]") {
  auto config = loadOk(R"([general]
min_pool_size = 2
reserve_pool_size = 3
reserve_pool_timeout = "1.5s"
max_db_connections = 100
max_user_connections = 50
query_timeout = "30s"
idle_transaction_timeout = 60
client_idle_timeout = "15m"
client_login_timeout = "10s"
max_prepared_statements = 0

[databases.appdb]
min_pool_size = 4
reserve_pool_size = 0
max_db_connections = 0

[databases.other]

[users.alice]
auth_type = "trust"
max_user_connections = 7
)");
  const General& g = config->general;
  CHECK(g.minPoolSize == 2);
  CHECK(g.reservePoolSize == 3);
  CHECK(g.reservePoolTimeout == 1500ms);
  CHECK(g.maxDbConnections == 100);
  CHECK(g.maxUserConnections == 50);
  CHECK(g.queryTimeout == 30s);
  CHECK(g.idleTransactionTimeout == 60s);
  CHECK(g.clientIdleTimeout == 15min);
  CHECK(g.clientLoginTimeout == 10s);
  CHECK(g.maxPreparedStatements == 0);

  const Database& app = config->databases.at("appdb");
  CHECK(app.minPoolSize == 4u);
  CHECK(app.reservePoolSize == 0u);
  CHECK(app.maxDbConnections == 0u);
  CHECK(config->users.at("alice").maxUserConnections == 7u);
}

TEST_CASE("config: database and user limits override general", "[config]") {
  auto config = loadOk(R"([general]
min_pool_size = 2
reserve_pool_size = 3
max_db_connections = 100
max_user_connections = 50

[databases.plain]

[databases.tuned]
min_pool_size = 5
reserve_pool_size = 1
max_db_connections = 40

[databases.unlimited]
min_pool_size = 0
reserve_pool_size = 0
max_db_connections = 0

["databases"."*"]
max_db_connections = 10

[users.alice]
auth_type = "trust"
max_user_connections = 7

[users.bob]
auth_type = "trust"
max_user_connections = 0

[users.carol]
auth_type = "trust"
)");
  struct Case {
    std::string database;
    uint32_t min;
    uint32_t reserve;
    uint32_t maxDb;
  };
  auto c = GENERATE(values<Case>({
      {"plain", 2, 3, 100},
      {"tuned", 5, 1, 40},
      {"unlimited", 0, 0, 0},
      {"anything", 2, 3, 10},  // served by "*"
  }));
  INFO(c.database);
  const Database* db = config->findDatabase(c.database);
  REQUIRE(db != nullptr);
  CHECK(config->minPoolSizeFor(*db) == c.min);
  CHECK(config->reservePoolSizeFor(*db) == c.reserve);
  CHECK(config->maxDbConnectionsFor(*db) == c.maxDb);

  CHECK(config->maxUserConnectionsFor(config->findUser("alice")) == 7);
  CHECK(config->maxUserConnectionsFor(config->findUser("bob")) == 0);
  CHECK(config->maxUserConnectionsFor(config->findUser("carol")) == 50);
  CHECK(config->maxUserConnectionsFor(nullptr) == 50);
}

TEST_CASE("config: the new timeouts take durations, 0 turning them off", "[config]") {
  auto key = GENERATE(as<std::string>{}, "reserve_pool_timeout", "query_timeout",
                      "idle_transaction_timeout", "client_idle_timeout");
  struct Case {
    std::string value;
    Duration expected;
  };
  auto c = GENERATE(values<Case>({
      {"0", 0ms},
      {"\"0s\"", 0ms},
      {"2", 2s},
      {"0.5", 500ms},
      {"\"250ms\"", 250ms},
      {"\"5m\"", 5min},
      {"\"1h\"", 1h},
  }));
  INFO(key << " = " << c.value);
  auto config = loadOk("[general]\n" + key + " = " + c.value + "\n" + std::string(kOneDatabase));
  const General& g = config->general;
  Duration actual = key == "reserve_pool_timeout"       ? g.reservePoolTimeout
                    : key == "query_timeout"            ? g.queryTimeout
                    : key == "idle_transaction_timeout" ? g.idleTransactionTimeout
                                                        : g.clientIdleTimeout;
  CHECK(actual == c.expected);
}

TEST_CASE("config: bad pool limits and timeouts are errors at the value", "[config]") {
  struct Case {
    std::string section;  // table header, without brackets
    std::string line;
    std::string keyPath;
    uint32_t column;
    std::string message;
  };
  const std::string shape =
      "expected a duration (seconds as a number, or a string such as \"250ms\", \"1.5s\", \"5m\" "
      "or \"2h\"), got ";
  auto c = GENERATE_COPY(values<Case>({
      {"general", "min_pool_size = -1", "general.min_pool_size", 17,
       "expected an integer of at least 0, got -1"},
      {"general", "reserve_pool_size = \"3\"", "general.reserve_pool_size", 21,
       "expected an integer of at least 0, got \"3\""},
      {"general", "max_db_connections = 5000000000", "general.max_db_connections", 22,
       "expected an integer of at least 0, got 5000000000"},
      {"general", "max_user_connections = 1.5", "general.max_user_connections", 24,
       "expected an integer of at least 0, got 1.5"},
      {"general", "max_prepared_statements = true", "general.max_prepared_statements", 27,
       "expected an integer of at least 0, got true"},
      {"general", "reserve_pool_timeout = \"-1s\"", "general.reserve_pool_timeout", 24,
       "expected a duration between 0 and 365 days, got \"-1s\""},
      {"general", "query_timeout = \"5 seconds\"", "general.query_timeout", 17,
       shape + "\"5 seconds\""},
      {"general", "idle_transaction_timeout = \"8761h\"", "general.idle_transaction_timeout", 28,
       "expected a duration between 0 and 365 days, got \"8761h\""},
      {"general", "client_idle_timeout = [1]", "general.client_idle_timeout", 23,
       shape + "an array"},
      {"databases.appdb", "min_pool_size = \"2\"", "databases.appdb.min_pool_size", 17,
       "expected an integer of at least 0, got \"2\""},
      {"databases.appdb", "reserve_pool_size = -3", "databases.appdb.reserve_pool_size", 21,
       "expected an integer of at least 0, got -3"},
      {"databases.appdb", "max_db_connections = false", "databases.appdb.max_db_connections", 22,
       "expected an integer of at least 0, got false"},
      {"users.alice", "max_user_connections = -1", "users.alice.max_user_connections", 24,
       "expected an integer of at least 0, got -1"},
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

TEST_CASE("config: misspelt limit keys get suggestions", "[config]") {
  struct Case {
    std::string toml;
    std::string keyPath;
    std::string message;
  };
  auto c = GENERATE(values<Case>({
      {"[general]\nmin_pool_sise = 2\n", "general.min_pool_sise",
       "unknown key \"min_pool_sise\"; did you mean \"min_pool_size\"?"},
      {"[general]\nquery_timout = 2\n", "general.query_timout",
       "unknown key \"query_timout\"; did you mean \"query_timeout\"?"},
      {"[general]\nmax_prepared_statement = 2\n", "general.max_prepared_statement",
       "unknown key \"max_prepared_statement\"; did you mean \"max_prepared_statements\"?"},
      {"[general]\nidle_transaction_timeout_s = 2\n", "general.idle_transaction_timeout_s",
       "unknown key \"idle_transaction_timeout_s\"; did you mean "
       "\"idle_transaction_timeout\"?"},
      {"[databases.x]\nmax_db_connection = 2\n", "databases.x.max_db_connection",
       "unknown key \"max_db_connection\"; did you mean \"max_db_connections\"?"},
      {"[users.alice]\nauth_type = \"trust\"\nmax_user_conections = 2\n",
       "users.alice.max_user_conections",
       "unknown key \"max_user_conections\"; did you mean \"max_user_connections\"?"},
      {"[users.alice]\nauth_type = \"trust\"\nquery_timeout = 2\n", "users.alice.query_timeout",
       "unknown key \"query_timeout\""},
  }));
  INFO(c.toml);
  ConfigError e = loadOneError(std::string(kOneDatabase) + c.toml);
  CHECK(e.column == 1);
  CHECK(e.keyPath == c.keyPath);
  CHECK(e.message == c.message);

  ConfigError top = loadOneError("query_timeout = 2\n" + std::string(kOneDatabase));
  CHECK(top.message == "unknown key \"query_timeout\"; did you mean \"general.query_timeout\"?");
}

constexpr std::string_view kFile = R"([general]
min_pool_size = 1

[databases.appdb]
pool_size = 10

[users.alice]
auth_type = "trust"
)";

TEST_CASE("config: --set overrides pool limits and timeouts", "[config]") {
  auto config = loadOk(
      kFile, sets({"general.query_timeout=5s", "general.idle_transaction_timeout=1m",
                   "general.client_idle_timeout=0", "general.reserve_pool_timeout=250ms",
                   "general.min_pool_size=3", "general.reserve_pool_size=2",
                   "general.max_db_connections=80", "general.max_user_connections=40",
                   "general.max_prepared_statements=0", "databases.appdb.min_pool_size=10",
                   "databases.appdb.reserve_pool_size=4", "databases.appdb.max_db_connections=0",
                   "users.alice.max_user_connections=6"}));
  const General& g = config->general;
  CHECK(g.queryTimeout == 5s);
  CHECK(g.idleTransactionTimeout == 1min);
  CHECK(g.clientIdleTimeout == 0ms);
  CHECK(g.reservePoolTimeout == 250ms);
  CHECK(g.minPoolSize == 3);
  CHECK(g.reservePoolSize == 2);
  CHECK(g.maxDbConnections == 80);
  CHECK(g.maxUserConnections == 40);
  CHECK(g.maxPreparedStatements == 0);
  const Database& app = config->databases.at("appdb");
  CHECK(config->minPoolSizeFor(app) == 10);
  CHECK(config->reservePoolSizeFor(app) == 4);
  CHECK(config->maxDbConnectionsFor(app) == 0);
  CHECK(config->maxUserConnectionsFor(config->findUser("alice")) == 6);
}

TEST_CASE("config: bad limit overrides are reported against the override", "[config]") {
  struct Case {
    std::string set;
    std::string message;
  };
  auto c = GENERATE(values<Case>({
      {"general.query_timeout=5x",
       "expected a duration (seconds as a number, or a string such as \"250ms\", \"1.5s\", "
       "\"5m\" or \"2h\"), got \"5x\""},
      {"general.max_prepared_statements=-1", "expected an integer of at least 0, got -1"},
      {"databases.appdb.max_db_connections=lots",
       "expected an integer of at least 0, got \"lots\""},
      {"users.alice.max_user_connections=1.5", "expected an integer of at least 0, got 1.5"},
  }));
  INFO(c.set);
  ConfigError e = loadOneError(kFile, sets({c.set}));
  CHECK(e.file == "<override>");
  CHECK(e.line == 0);
  CHECK(e.keyPath == c.set.substr(0, c.set.find('=')));
  CHECK(e.message == c.message);
}

TEST_CASE("config: --set works for the new keys in sidecar mode", "[config]") {
  LoadResult result =
      fromSidecar({"", "postgres://app:pw@db:5432/appdb"},
                  sets({"general.query_timeout=5s", "databases.appdb.min_pool_size=2",
                        "users.app.max_user_connections=3"}));
  INFO(formatAll(result.errors));
  REQUIRE(result.ok());
  CHECK(result.config->general.queryTimeout == 5s);
  CHECK(result.config->minPoolSizeFor(result.config->databases.at("appdb")) == 2);
  CHECK(result.config->maxUserConnectionsFor(result.config->findUser("app")) == 3);
}

TEST_CASE("config: min_pool_size may equal the pool size", "[config]") {
  loadOk("[general]\nmin_pool_size = 20\n" + std::string(kOneDatabase));
  loadOk("[databases.appdb]\npool_size = 5\nmin_pool_size = 5\n");
  // A general min_pool_size above default_pool_size is fine when every database sets its own.
  loadOk("[general]\nmin_pool_size = 50\n[databases.appdb]\nmin_pool_size = 1\n");
  // ... or when every database's pool is large enough.
  loadOk("[general]\nmin_pool_size = 50\n[databases.appdb]\npool_size = 60\n");
}

TEST_CASE("config: min_pool_size above the pool size loads with a warning naming the pool",
          "[config]") {
  struct Case {
    std::string toml;
    uint32_t line;
    uint32_t column;
    std::string keyPath;
    std::string message;
  };
  auto c = GENERATE_COPY(values<Case>({
      {"[general]\nmin_pool_size = 21\n[databases.appdb]\n", 2, 17, "general.min_pool_size",
       "min_pool_size 21 exceeds the pool size 20 (general.default_pool_size) of database "
       "\"appdb\": capped at 20"},
      {"[general]\ndefault_pool_size = 4\nmin_pool_size = 5\n[databases.appdb]\n", 3, 17,
       "general.min_pool_size",
       "min_pool_size 5 exceeds the pool size 4 (general.default_pool_size) of database "
       "\"appdb\": capped at 4"},
      {"[general]\nmin_pool_size = 8\n[databases.appdb]\npool_size = 5\n", 2, 17,
       "general.min_pool_size",
       "min_pool_size 8 exceeds the pool size 5 (databases.appdb.pool_size) of database "
       "\"appdb\": capped at 5"},
      {"[databases.appdb]\npool_size = 5\nmin_pool_size = 10\n", 3, 17,
       "databases.appdb.min_pool_size",
       "min_pool_size 10 exceeds the pool size 5 (databases.appdb.pool_size) of database "
       "\"appdb\": capped at 5"},
      {"[general]\ndefault_pool_size = 8\n[databases.appdb]\nmin_pool_size = 9\n", 4, 17,
       "databases.appdb.min_pool_size",
       "min_pool_size 9 exceeds the pool size 8 (general.default_pool_size) of database "
       "\"appdb\": capped at 8"},
      // The user's pool_size beats the database's: its pools are smaller than min_pool_size.
      {"[databases.appdb]\npool_size = 10\nmin_pool_size = 3\n[users.alice]\nauth_type = "
       "\"trust\"\npool_size = 2\n",
       3, 17, "databases.appdb.min_pool_size",
       "min_pool_size 3 exceeds the pool size 2 (users.alice.pool_size) of database \"appdb\", "
       "user \"alice\": capped at 2"},
      {"[general]\nmin_pool_size = 3\n[databases.\"*\"]\n[users.\"a.b\"]\nauth_type = "
       "\"trust\"\npool_size = 1\n",
       2, 17, "general.min_pool_size",
       "min_pool_size 3 exceeds the pool size 1 (users.\"a.b\".pool_size) of database \"*\", "
       "user \"a.b\": capped at 1"},
  }));
  INFO(c.toml);
  ConfigError w = loadOneWarning(c.toml);
  CHECK(w.file == "test.toml");
  CHECK(w.line == c.line);
  CHECK(w.column == c.column);
  CHECK(w.keyPath == c.keyPath);
  CHECK(w.message == c.message);
}

TEST_CASE("config: a capped min_pool_size is reported once per pool", "[config]") {
  // general.min_pool_size applies to every database; alice's pool_size to every database too.
  LoadResult result = loadString(R"([general]
min_pool_size = 4

[databases.one]
pool_size = 4
[databases.three]
pool_size = 3

[users.alice]
auth_type = "trust"
pool_size = 2

[users.bob]
auth_type = "trust"
)",
                                 "test.toml");
  INFO(formatAll(result.errors) << formatAll(result.warnings));
  REQUIRE(result.ok());
  REQUIRE(result.warnings.size() == 3);
  CHECK(result.warnings[0].format() ==
        "test.toml:2:17: general.min_pool_size: min_pool_size 4 exceeds the pool size 2 "
        "(users.alice.pool_size) of database \"one\", user \"alice\": capped at 2");
  CHECK(result.warnings[1].format() ==
        "test.toml:2:17: general.min_pool_size: min_pool_size 4 exceeds the pool size 3 "
        "(databases.three.pool_size) of database \"three\": capped at 3");
  CHECK(result.warnings[2].format() ==
        "test.toml:2:17: general.min_pool_size: min_pool_size 4 exceeds the pool size 2 "
        "(users.alice.pool_size) of database \"three\", user \"alice\": capped at 2");
}

TEST_CASE("config: min_pool_size above the pool size through --set", "[config]") {
  SECTION("an overridden min_pool_size is reported against the override") {
    ConfigError w = loadOneWarning(kFile, sets({"general.min_pool_size=11"}));
    CHECK(w.format() ==
          "<override>: general.min_pool_size: min_pool_size 11 exceeds the pool size 10 "
          "(databases.appdb.pool_size) of database \"appdb\": capped at 10");
  }
  SECTION("an override that shrinks the pool is reported at the file's min_pool_size") {
    ConfigError w = loadOneWarning(
        "[general]\nmin_pool_size = 3\n[databases.appdb]\n[users.alice]\nauth_type = \"trust\"\n",
        sets({"users.alice.pool_size=2"}));
    CHECK(w.format() ==
          "test.toml:2:17: general.min_pool_size: min_pool_size 3 exceeds the pool size 2 "
          "(users.alice.pool_size) of database \"appdb\", user \"alice\": capped at 2");
  }
  SECTION("an override can lift the cap") {
    std::string toml = "[general]\nmin_pool_size = 25\n[databases.appdb]\n";
    loadOneWarning(toml);
    CHECK(loadString(toml, "test.toml", sets({"general.default_pool_size=25"})).warnings.empty());
    CHECK(
        loadString(toml, "test.toml", sets({"databases.appdb.min_pool_size=0"})).warnings.empty());
  }
}

TEST_CASE("config: a bad pool size is not judged against min_pool_size", "[config]") {
  ConfigError db = loadOneError("[databases.appdb]\npool_size = 0\nmin_pool_size = 10\n");
  CHECK(db.keyPath == "databases.appdb.pool_size");
  ConfigError general = loadOneError("[general]\ndefault_pool_size = \"x\"\nmin_pool_size = 25\n" +
                                     std::string(kOneDatabase));
  CHECK(general.keyPath == "general.default_pool_size");
  ConfigError user = loadOneError("[general]\nmin_pool_size = 5\n" + std::string(kOneDatabase) +
                                  "[users.alice]\nauth_type = \"trust\"\npool_size = -1\n");
  CHECK(user.keyPath == "users.alice.pool_size");
  ConfigError min = loadOneError("[databases.appdb]\npool_size = 5\nmin_pool_size = \"ten\"\n");
  CHECK(min.keyPath == "databases.appdb.min_pool_size");
}

}  // namespace
}  // namespace shardpool::config
