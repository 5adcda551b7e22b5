// protocol = "mysql" on a database and [general] mysql_listen_port: defaults, and what a MySQL
// database may not have yet (config/validate_mysql.cpp).
#include <catch2/catch.hpp>

#include <string>

#include "config/config.h"
#include "config_test_support.h"

namespace shardpool::config {
namespace {

using testing::kMd5Secret;
using testing::kScramSecret;
using testing::loadOk;
using testing::loadOneError;
using testing::loadOneWarning;

// A MySQL database on line 3 (its header) with keys appended after it.
std::string mysqlDb(std::string_view extra = "") {
  return "[general]\nmysql_listen_port = 6033\n[databases.shop]\nprotocol = \"mysql\"\n" +
         std::string(extra);
}

TEST_CASE("config: protocol and mysql_listen_port defaults", "[config][mysql]") {
  auto cfg = loadOk("[databases.app]\n");
  CHECK(cfg->general.mysqlListenPort == 0);
  CHECK(cfg->databases.at("app").protocol == Protocol::Postgres);
  CHECK(cfg->databases.at("app").port == 5432);

  cfg = loadOk(mysqlDb() + "[databases.app]\n");
  CHECK(cfg->general.mysqlListenPort == 6033);
  CHECK(cfg->databases.at("shop").protocol == Protocol::MySql);
  CHECK(cfg->databases.at("shop").port == 3306);  // MySQL's port when none is given
  CHECK(cfg->databases.at("app").port == 5432);
  CHECK(loadOk(mysqlDb("port = 3307\n"))->databases.at("shop").port == 3307);
  CHECK(loadOk("[databases.app]\nprotocol = \"postgres\"\n")->databases.at("app").protocol ==
        Protocol::Postgres);
}

TEST_CASE("config: mysql_default_auth names the greeting's plugin", "[config][mysql]") {
  CHECK_FALSE(loadOk(mysqlDb())->general.mysqlCachingSha2);
  auto with = [](std::string_view plugin) {
    return "[general]\nmysql_listen_port = 6033\nmysql_default_auth = \"" + std::string(plugin) +
           "\"\n[databases.shop]\nprotocol = \"mysql\"\n";
  };
  CHECK_FALSE(loadOk(with("mysql_native_password"))->general.mysqlCachingSha2);
  CHECK(loadOk(with("caching_sha2_password"))->general.mysqlCachingSha2);
  ConfigError e = loadOneError(with("sha256_password"));
  CHECK(e.keyPath == "general.mysql_default_auth");
  CHECK(e.message.find("\"caching_sha2_password\"") != std::string::npos);
}

TEST_CASE("config: protocol takes postgres or mysql", "[config][mysql]") {
  ConfigError e = loadOneError("[databases.app]\nprotocol = \"mariadb\"\n");
  CHECK(e.keyPath == "databases.app.protocol");
  CHECK(e.line == 2);
  CHECK(e.message.find("\"postgres\"") != std::string::npos);
  CHECK(e.message.find("\"mysql\"") != std::string::npos);
}

TEST_CASE("config: mysql_listen_port must not clash with the other ports", "[config][mysql]") {
  ConfigError e = loadOneError("[general]\nmysql_listen_port = 6432\n[databases.app]\n");
  CHECK(e.keyPath == "general.mysql_listen_port");
  CHECK(e.message == "mysql_listen_port 6432 is the listen_port; pick another port");
  e = loadOneError("[general]\nmetrics_port = 9100\nmysql_listen_port = 9100\n[databases.app]\n");
  CHECK(e.message == "mysql_listen_port 9100 is the metrics_port; pick another port");
  CHECK(loadOneError("[general]\nmysql_listen_port = 70000\n[databases.app]\n").keyPath ==
        "general.mysql_listen_port");
}

TEST_CASE("config: a MySQL database refuses PostgreSQL-only keys", "[config][mysql]") {
  struct Case {
    std::string_view line;
    std::string_view key;
  };
  const Case cases[] = {
      {"connect_query = \"SET NAMES utf8mb4\"", "connect_query"},
  };
  for (const Case& c : cases) {
    INFO(c.line);
    ConfigError e = loadOneError(mysqlDb(std::string(c.line) + "\n"));
    CHECK(e.keyPath == "databases.shop." + std::string(c.key));
    CHECK(e.line == 5);
    CHECK(e.message ==
          std::string(c.key) + " is not supported on a MySQL database (protocol = \"mysql\") yet");
  }
}

TEST_CASE("config: a MySQL database takes auth_user, auth_query and auth_dbname", "[config][mysql]") {
  auto cfg = loadOk(mysqlDb("auth_user = \"lookup\"\nauth_query = \"SELECT u, p FROM t WHERE u = ?\"\n"
                            "auth_dbname = \"mysql\"\n"));
  const Database& db = cfg->databases.at("shop");
  CHECK(cfg->authUserFor(db) == "lookup");
  CHECK(cfg->authQueryFor(db) == "SELECT u, p FROM t WHERE u = ?");
  CHECK(cfg->authDbnameFor(db) == "mysql");
}

TEST_CASE("config: a MySQL database may be sharded, its table rules in lower case",
          "[config][mysql]") {
  auto cfg = loadOk(
      mysqlDb("pool_mode = \"transaction\"\nsharding_function = \"modulo\"\n[[databases.shop.shards]]\nhost = \"a\"\n"
              "[[databases.shop.shards]]\nhost = \"b\"\n"
              "[databases.shop.tables]\norders = { key = \"id\" }\n"));
  const Database& db = cfg->databases.at("shop");
  CHECK(db.sharded());
  CHECK(cfg->shardsOf(db).size() == 2);
  CHECK(cfg->shardsOf(db)[1].primary.port == 3306);  // MySQL's port by default
  ConfigError e = loadOneError(
      mysqlDb("pool_mode = \"transaction\"\nsharding_function = \"modulo\"\n[[databases.shop.shards]]\nhost = \"a\"\n"
              "[[databases.shop.shards]]\nhost = \"b\"\n"
              "[databases.shop.tables]\nOrders = { key = \"id\" }\n"));
  CHECK(e.keyPath == "databases.shop.tables.Orders");
  CHECK(e.message ==
        "a MySQL database's table rules are matched without regard to case: write the table name "
        "in lower case");
  e = loadOneError(
      mysqlDb("pool_mode = \"transaction\"\nsharding_function = \"modulo\"\n[[databases.shop.shards]]\nhost = \"a\"\n"
              "[[databases.shop.shards]]\nhost = \"b\"\n"
              "[databases.shop.tables]\norders = { key = \"Id\" }\n"));
  CHECK(e.message ==
        "a MySQL database's table rules are matched without regard to case: write the key column "
        "in lower case");
}

TEST_CASE("config: a MySQL database takes replicas (health checks, failover)", "[config][mysql]") {
  auto cfg = loadOk(mysqlDb("replicas = [{ host = \"10.0.0.2\" }, { host = \"10.0.0.3\", port = 3307 }]\n"));
  const Database& db = cfg->databases.at("shop");
  std::vector<Shard> shards = cfg->shardsOf(db);
  REQUIRE(shards.size() == 1);
  REQUIRE(shards[0].replicas.size() == 2);
  CHECK(shards[0].replicas[0].host == "10.0.0.2");
  CHECK(shards[0].replicas[0].port == db.port);  // the database's port by default
  CHECK(shards[0].replicas[1].port == 3307);
  cfg = loadOk(mysqlDb("read_from = \"replicas\"\nreplicas = [{ host = \"10.0.0.2\" }]\n"));
  CHECK(cfg->databases.at("shop").readFrom == ReadFrom::Replicas);
}

TEST_CASE("config: a MySQL database has TCP hosts and a plaintext password",
          "[config][mysql]") {
  auto list = loadOk(mysqlDb("host = \"10.0.0.1,10.0.0.2\"\nport = \"3306,3307\"\n"));
  CHECK(list->databases.at("shop").hosts.size() == 2);
  ConfigError e = loadOneError(mysqlDb("host = \"/run/mysqld\"\n"));
  CHECK(e.keyPath == "databases.shop.host");
  CHECK(e.message == "a MySQL database's hosts are TCP hosts (no unix socket for now)");
  CHECK(loadOneError(mysqlDb("host = \"10.0.0.1,/run/mysqld\"\n")).keyPath ==
        "databases.shop.host");

  e = loadOneError(mysqlDb("user = \"app\"\npassword = \"" + std::string(kMd5Secret) + "\"\n"));
  CHECK(e.keyPath == "databases.shop.password");
  CHECK(e.message == "a MySQL database's backend password must be the plaintext password");
  auto cfg = loadOk(mysqlDb("user = \"app\"\npassword = \"secret\"\n"));
  CHECK(cfg->databases.at("shop").password == "secret");
}

TEST_CASE("config: no fallback MySQL database, TLS towards MySQL servers as for PostgreSQL",
          "[config][mysql]") {
  ConfigError e = loadOneError("[general]\nmysql_listen_port = 6033\n"
                               "[databases.\"*\"]\nprotocol = \"mysql\"\n");
  CHECK(e.keyPath == "databases.\"*\".protocol");
  CHECK(e.line == 4);

  auto cfg = loadOk("[general]\nmysql_listen_port = 6033\nserver_tls_sslmode = \"require\"\n"
                    "[databases.shop]\nprotocol = \"mysql\"\n");
  CHECK(cfg->serverTlsModeFor(cfg->databases.at("shop")) == TlsMode::Require);
  cfg = loadOk(mysqlDb("sslmode = \"verify-full\"\nsslrootcert = \"/etc/hostname\"\n"));
  CHECK(cfg->serverTlsModeFor(cfg->databases.at("shop")) == TlsMode::VerifyFull);
}

TEST_CASE("config: warnings for MySQL databases nobody can reach or log in to",
          "[config][mysql]") {
  ConfigError w = loadOneWarning("[databases.shop]\nprotocol = \"mysql\"\n");
  CHECK(w.keyPath == "general.mysql_listen_port");
  CHECK(w.line == 1);

  // Users serve both protocols: an md5 or SCRAM secret is fine for PostgreSQL, a warning for
  // MySQL; plaintext and mysql.user's *HEX are not.
  loadOk(mysqlDb("[users.alice]\npassword = \"secret\"\n"
                 "[users.bob]\npassword = \"*14E65567ABDB5135D0CFD9A70B3032C179A49EE7\"\n"));
  w = loadOneWarning(mysqlDb("[users.alice]\nauth_type = \"md5\"\npassword = \"" +
                             std::string(kMd5Secret) + "\"\n"));
  CHECK(w.keyPath == "users.alice");
  CHECK(w.message.find("an md5 hash: it cannot log in to MySQL databases") != std::string::npos);
  w = loadOneWarning(mysqlDb("[users.alice]\npassword = \"" + std::string(kScramSecret) + "\"\n"));
  CHECK(w.message.find("a SCRAM secret") != std::string::npos);
  // Without a MySQL database nothing is said.
  loadOk("[databases.app]\n[users.alice]\npassword = \"" + std::string(kScramSecret) + "\"\n");
}

TEST_CASE("config: mysql_listen_port needs a restart and shows in SHOW CONFIG", "[config][mysql]") {
  CHECK(needsRestart("general.mysql_listen_port"));
  auto running = loadOk(mysqlDb());
  auto next = loadOk("[general]\nmysql_listen_port = 6034\n[databases.shop]\nprotocol = \"mysql\"\n");
  CHECK(restartOnlyChanges(*running, *next) == std::vector<std::string>{"general.mysql_listen_port"});
  bool shown = false;
  for (const SettingView& s : describeGeneral(*running))
    if (s.key == "mysql_listen_port") shown = s.value == "6033" && s.defaultValue == "0";
  CHECK(shown);
}

}  // namespace
}  // namespace shardpool::config
