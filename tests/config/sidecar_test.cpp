// Sidecar mode: one backend from --backend URL and --listen, then overrides.
#include <catch2/catch.hpp>

#include <string>

#include "config/config.h"
#include "config/sidecar_url.h"
#include "config_test_support.h"

namespace shardpool::config {
namespace {

using testing::formatAll;
using testing::ScopedEnv;

std::shared_ptr<const Config> sidecarOk(const SidecarOptions& opts,
                                        const std::vector<Override>& overrides = {}) {
  LoadResult result = fromSidecar(opts, overrides);
  INFO(formatAll(result.errors));
  REQUIRE(result.ok());
  return result.config;
}

ConfigError sidecarOneError(const SidecarOptions& opts,
                            const std::vector<Override>& overrides = {}) {
  LoadResult result = fromSidecar(opts, overrides);
  INFO(formatAll(result.errors));
  REQUIRE_FALSE(result.ok());
  REQUIRE(result.errors.size() == 1);
  return result.errors.front();
}

TEST_CASE("config: a backend URL becomes one database and one user", "[config]") {
  ScopedEnv pg("PGPASSWORD", std::nullopt);
  auto config = sidecarOk({"127.0.0.1:7432", "postgres://app:pw@db.example.com:5433/appdb"});
  CHECK(config->sourcePath.empty());
  CHECK(config->general.listenAddr == "127.0.0.1");
  CHECK(config->general.listenPort == 7432);

  REQUIRE(config->databases.size() == 1);
  const Database& db = config->databases.at("appdb");
  CHECK(db.host == "db.example.com");
  CHECK(db.port == 5433);
  CHECK(db.dbname == "appdb");
  CHECK(db.user == "app");
  CHECK(db.password == "pw");

  REQUIRE(config->users.size() == 1);
  const User& user = config->users.at("app");
  CHECK(user.password == "pw");
  CHECK(user.authType == AuthType::ScramSha256);
}

TEST_CASE("config: a mysql:// backend URL is a MySQL database served on the --listen port",
          "[config]") {
  ScopedEnv pwd("MYSQL_PWD", std::nullopt);
  auto config = sidecarOk({"127.0.0.1:7033", "mysql://app:pw@db.example.com/shop"});
  CHECK(config->general.mysqlListenPort == 7033);
  CHECK(config->general.listenPort == General{}.listenPort);  // the console's
  const Database& db = config->databases.at("shop");
  CHECK(db.protocol == Protocol::MySql);
  CHECK(db.port == 3306);
  CHECK(db.user == "app");
  CHECK(db.password == "pw");
  CHECK(config->users.at("app").password == "pw");
  // Without --listen: ProxySQL's port; mariadb:// too; the password from MYSQL_PWD.
  ScopedEnv withPwd("MYSQL_PWD", "from-env");
  config = sidecarOk({"", "mariadb://app@db:3307/shop"});
  CHECK(config->general.mysqlListenPort == 6033);
  CHECK(config->databases.at("shop").port == 3307);
  CHECK(config->users.at("app").password == "from-env");
}

TEST_CASE("config: backend URL variants", "[config]") {
  struct Case {
    std::string url;
    std::string user;
    std::optional<std::string> password;
    std::string host;
    uint16_t port;
    std::string dbname;
  };
  auto c = GENERATE(values<Case>({
      {"postgres://app:pw@db:5433/appdb", "app", "pw", "db", 5433, "appdb"},
      {"postgresql://app:pw@db/appdb", "app", "pw", "db", 5432, "appdb"},
      {"postgres://app@db", "app", std::nullopt, "db", 5432, "app"},
      {"postgres://app:pw@db/", "app", "pw", "db", 5432, "app"},
      {"postgres://app:@db/x", "app", "", "db", 5432, "x"},
      {"postgres://my%40user:p%40ss%3Aw%2Frd@db/my%20db", "my@user", "p@ss:w/rd", "db", 5432,
       "my db"},
      {"postgres://app:p@ss@db/appdb", "app", "p@ss", "db", 5432, "appdb"},
      {"postgres://app:pw@%2Fvar%2Frun%2Fpostgresql/appdb", "app", "pw", "/var/run/postgresql",
       5432, "appdb"},
      {"postgres://app:pw@%2Ftmp:5433/appdb", "app", "pw", "/tmp", 5433, "appdb"},
      {"postgres://app:pw@[::1]:6000/appdb", "app", "pw", "::1", 6000, "appdb"},
      {"postgres://app:pw@[fe80::1]/appdb", "app", "pw", "fe80::1", 5432, "appdb"},
      {"postgres://app:pw@db:5432/appdb?sslmode=require&application_name=x", "app", "pw", "db",
       5432, "appdb"},
      {"postgres://app:pw@db?sslmode=disable", "app", "pw", "db", 5432, "app"},
  }));
  INFO(c.url);
  Parsed<BackendUrl> parsed = parseBackendUrl(c.url);
  INFO(parsed.error);
  REQUIRE(parsed.value);
  CHECK(parsed.value->user == c.user);
  CHECK(parsed.value->password == c.password);
  CHECK(parsed.value->host == c.host);
  CHECK(parsed.value->port == c.port);
  CHECK(parsed.value->dbname == c.dbname);
}

TEST_CASE("config: bad backend URLs are errors on --backend", "[config]") {
  struct Case {
    std::string url;
    std::string message;
  };
  auto c = GENERATE(values<Case>({
      {"", "a backend URL is required (postgres://user:password@host:port/dbname)"},
      {"mysql://app:pw@%2Fvar%2Frun%2Fmysqld/appdb",
       "invalid backend URL: a MySQL backend is reached over TCP (no unix socket yet)"},
      {"db.example.com:5432",
       "invalid backend URL: expected it to start with postgres://, postgresql://, mysql:// or "
       "mariadb://"},
      {"postgres://db/appdb", "invalid backend URL: no user name (postgres://USER@host/dbname)"},
      {"postgres://:pw@db/appdb",
       "invalid backend URL: no user name (postgres://USER@host/dbname)"},
      {"postgres://app:pw@/appdb", "invalid backend URL: no host (postgres://user@HOST/dbname)"},
      {"postgres://app:pw@db:99999/appdb",
       "invalid backend URL: port must be an integer between 1 and 65535, got \"99999\""},
      {"postgres://app:pw@db:/appdb",
       "invalid backend URL: port must be an integer between 1 and 65535, got \"\""},
      {"postgres://app:pw@db:abc/appdb",
       "invalid backend URL: port must be an integer between 1 and 65535, got \"abc\""},
      {"postgres://app:pw@::1/appdb",
       "invalid backend URL: malformed host (write IPv6 addresses in brackets: [::1]:5432)"},
      {"postgres://app:pw@[::1/appdb",
       "invalid backend URL: malformed host (write IPv6 addresses in brackets: [::1]:5432)"},
      {"postgres://app:pw@a,b/appdb", "invalid backend URL: more than one host is not supported"},
      {"postgres://app:p%zzw@db/appdb",
       "invalid backend URL: bad percent-encoding in the password"},
      {"postgres://app%4@db/appdb", "invalid backend URL: bad percent-encoding in the user name"},
      {"postgres://app:pw@db/a/b", "invalid backend URL: the database name must not contain '/'"},
  }));
  INFO(c.url);
  ConfigError e = sidecarOneError({"", c.url});
  CHECK(e.file.empty());
  CHECK(e.line == 0);
  CHECK(e.keyPath == "--backend");
  CHECK(e.message == c.message);
  CHECK(e.format() == "--backend: " + c.message);
}

TEST_CASE("config: --listen variants", "[config]") {
  struct Case {
    std::string listen;
    std::string host;
    uint16_t port;
  };
  auto c = GENERATE(values<Case>({
      {"", "127.0.0.1", 6432},
      {"127.0.0.1:7000", "127.0.0.1", 7000},
      {"0.0.0.0:6432", "0.0.0.0", 6432},
      {"localhost:6433", "localhost", 6433},
      {"[::1]:6432", "::1", 6432},
      {"[::]:5000", "::", 5000},
      {":6432", "127.0.0.1", 6432},
  }));
  INFO(c.listen);
  auto config = sidecarOk({c.listen, "postgres://app:pw@db/appdb"});
  CHECK(config->general.listenAddr == c.host);
  CHECK(config->general.listenPort == c.port);
}

TEST_CASE("config: bad --listen values are errors on --listen", "[config]") {
  struct Case {
    std::string listen;
    std::string message;
  };
  auto c = GENERATE(values<Case>({
      {"localhost", "expected host:port, [ipv6]:port or :port, got \"localhost\""},
      {"::1:6432", "expected host:port, [ipv6]:port or :port, got \"::1:6432\""},
      {"[::1]", "expected host:port, [ipv6]:port or :port, got \"[::1]\""},
      {"[]:6432", "expected host:port, [ipv6]:port or :port, got \"[]:6432\""},
      {"host:0", "port must be an integer between 1 and 65535, got \"0\""},
      {"host:65536", "port must be an integer between 1 and 65535, got \"65536\""},
  }));
  INFO(c.listen);
  ConfigError e = sidecarOneError({c.listen, "postgres://app:pw@db/appdb"});
  CHECK(e.keyPath == "--listen");
  CHECK(e.message == c.message);
}

TEST_CASE("config: both flags' errors are reported together", "[config]") {
  LoadResult result = fromSidecar({"nope", "nope"});
  REQUIRE(result.errors.size() == 2);
  CHECK(result.errors[0].keyPath == "--listen");
  CHECK(result.errors[1].keyPath == "--backend");
}

TEST_CASE("config: the password comes from PGPASSWORD when the URL has none", "[config]") {
  SECTION("PGPASSWORD set") {
    ScopedEnv pg("PGPASSWORD", "envpw");
    auto config = sidecarOk({"", "postgres://app@db/appdb"});
    CHECK(config->databases.at("appdb").password == "envpw");
    CHECK(config->users.at("app").password == "envpw");
    CHECK(config->users.at("app").authType == AuthType::ScramSha256);
  }
  SECTION("the URL's password wins") {
    ScopedEnv pg("PGPASSWORD", "envpw");
    auto config = sidecarOk({"", "postgres://app:urlpw@db/appdb"});
    CHECK(config->users.at("app").password == "urlpw");
  }
  SECTION("no password anywhere: trust") {
    ScopedEnv pg("PGPASSWORD", std::nullopt);
    auto config = sidecarOk({"", "postgres://app@db/appdb"});
    CHECK_FALSE(config->databases.at("appdb").password);
    CHECK(config->databases.at("appdb").user == "app");
    CHECK(config->users.at("app").password.empty());
    CHECK(config->users.at("app").authType == AuthType::Trust);
  }
  SECTION("an empty PGPASSWORD counts as unset") {
    ScopedEnv pg("PGPASSWORD", "");
    auto config = sidecarOk({"", "postgres://app@db/appdb"});
    CHECK(config->users.at("app").authType == AuthType::Trust);
  }
}

TEST_CASE("config: a password with ${ is taken literally in sidecar mode", "[config]") {
  auto config = sidecarOk({"", "postgres://app:a%24%7BB%7D@db/appdb"});
  CHECK(config->users.at("app").password == "a${B}");
}

TEST_CASE("config: overrides apply on top of sidecar flags", "[config]") {
  auto config =
      sidecarOk({":6432", "postgres://app:pw@db/appdb"}, {{"general.pool_mode", "transaction"},
                                                          {"general.default_pool_size", "40"},
                                                          {"databases.appdb.pool_size", "7"},
                                                          {"users.app.pool_mode", "session"}});
  CHECK(config->general.poolMode == PoolMode::Transaction);
  CHECK(config->general.defaultPoolSize == 40);
  const Database& db = config->databases.at("appdb");
  CHECK(config->poolSizeFor(db, nullptr) == 7);
  CHECK(config->poolModeFor(db, config->findUser("app")) == PoolMode::Session);
  CHECK(config->poolModeFor(db, nullptr) == PoolMode::Transaction);
}

TEST_CASE("config: bad overrides in sidecar mode", "[config]") {
  ConfigError e =
      sidecarOneError({"", "postgres://app:pw@db/appdb"}, {{"databases.apdb.pool_size", "7"}});
  CHECK(e.format() ==
        "<override>: databases.apdb.pool_size: unknown database \"apdb\"; did you mean "
        "\"appdb\"? (--set cannot add entries)");
  ConfigError v =
      sidecarOneError({"", "postgres://app:pw@db/appdb"}, {{"general.default_pool_size", "0"}});
  CHECK(v.format() ==
        "<override>: general.default_pool_size: expected an integer of at least 1, got 0");
}

}  // namespace
}  // namespace shardpool::config
