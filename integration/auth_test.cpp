// Client authentication (clients -> shardpool) and backend authentication (shardpool -> server).
#include <catch2/catch.hpp>

#include <thread>

#include "integration/admin_util.h"
#include "integration/harness.h"
#include "integration/raw_socket.h"

using namespace shardpool::integration;

namespace {

// A SCRAM secret for `password`, made by PostgreSQL itself (the secret does not depend on the
// role name, so it can be used for any user).
std::string scramSecretFor(const std::string& password) {
  Conn admin = adminConn();
  std::string role = "it_secret_" + uniqueSuffix();
  admin.query("SET password_encryption = 'scram-sha-256'; CREATE ROLE " + role + " PASSWORD '" +
              password + "'");
  std::string secret =
      admin.scalar("SELECT rolpassword FROM pg_authid WHERE rolname = '" + role + "'");
  admin.query("DROP ROLE " + role);
  return secret;
}

// Whether the proxy's log has `text` within 3 s: a client hears of its failed login before the
// proxy logs why.
bool logSoon(const Proxy& proxy, const std::string& text) {
  auto deadline = Clock::now() + 3s;
  while (!contains(proxy.log(), text)) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

std::string md5HashFor(const std::string& password, const std::string& user) {
  return adminConn().scalar("SELECT 'md5' || md5('" + password + user + "')");
}

struct ClientUser {
  std::string name;
  std::string password;  // what the client types
};

// Every client-auth flavour, all forced onto one backend role so the backend side is identical.
std::string clientAuthConfig(const TempRole& backend) {
  std::string cfg = generalSection("auth_type = \"scram-sha-256\"");
  cfg += clusterDatabase(
      "sp_db", "user = \"" + backend.name() + "\"\npassword = \"" + backend.password() + "\"");
  cfg += "[users.it_trust]\nauth_type = \"trust\"\n\n";
  cfg += userSection("it_clear", "clear_secret", "auth_type = \"password\"");
  cfg += userSection("it_md5", "md5_secret", "auth_type = \"md5\"");
  cfg +=
      userSection("it_md5hash", md5HashFor("md5hash_secret", "it_md5hash"), "auth_type = \"md5\"");
  cfg += userSection("it_scram", "scram_secret", "auth_type = \"scram-sha-256\"");
  cfg += userSection("it_scramsecret", scramSecretFor("stored_secret"),
                     "auth_type = \"scram-sha-256\"");
  return cfg;
}

const std::vector<ClientUser> kPasswordUsers = {
    {"it_clear", "clear_secret"},        {"it_md5", "md5_secret"},
    {"it_md5hash", "md5hash_secret"},    {"it_scram", "scram_secret"},
    {"it_scramsecret", "stored_secret"},
};

}  // namespace

TEST_CASE("client auth: each method accepts the right password", "[integration][auth]") {
  TempRole backend("it_auth_ok");
  Proxy proxy(clientAuthConfig(backend));

  {
    Conn c(proxy.conninfo("it_trust", ""));
    INFO("it_trust: " << c.connectError().sqlstate << " " << c.connectError().message);
    REQUIRE(c.ok());
    CHECK(c.scalar("select current_user") == backend.name());
  }
  for (const auto& u : kPasswordUsers) {
    Conn c(proxy.conninfo(u.name, u.password));
    INFO(u.name << ": " << c.connectError().sqlstate << " " << c.connectError().message);
    REQUIRE(c.ok());
    CHECK(c.scalar("select 1") == "1");
    CHECK(c.scalar("select current_user") == backend.name());
  }
}

TEST_CASE("client auth: wrong password and unknown user get 28P01 and open no backend",
          "[integration][auth]") {
  TempRole backend("it_auth_bad");
  Proxy proxy(clientAuthConfig(backend));
  REQUIRE(backendCount(backend.name()) == 0);

  for (const auto& u : kPasswordUsers) {
    Conn c(proxy.conninfo(u.name, "wrong_" + u.password));
    INFO(u.name << ": " << c.connectError().message);
    REQUIRE_FALSE(c.ok());
    CHECK(c.connectError().sqlstate == "28P01");
    CHECK(c.connectTime() < 5s);
  }
  {
    Conn c(proxy.conninfo("it_no_such_user", "whatever"));
    INFO(c.connectError().message);
    REQUIRE_FALSE(c.ok());
    CHECK(c.connectError().sqlstate == "28P01");
  }
  CHECK(backendCount(backend.name()) == 0);

  // psql shows the failure as well, and exits non-zero.
  auto r = runCommand(psqlArgs(proxy.port(), "it_scram", "select 1"), clientEnv("bad"), 20s);
  CHECK(r.exitCode != 0);
  CHECK_FALSE(r.timedOut);
  CHECK(backendCount(backend.name()) == 0);
}

TEST_CASE("client auth: an unknown user under trust fails as in PgBouncer and PostgreSQL",
          "[integration][auth]") {
  // PgBouncer: '"trust" authentication failed'; PostgreSQL adds the user and uses 28000.
  TempRole backend("it_auth_trust");
  Proxy proxy(generalSection("auth_type = \"trust\"") +
              clusterDatabase("sp_db", "user = \"" + backend.name() + "\"\npassword = \"" +
                                           backend.password() + "\"") +
              "[users.it_known]\n\n");
  {
    Conn known(proxy.conninfo("it_known", ""));
    INFO(known.connectError().message);
    REQUIRE(known.ok());
  }
  Conn c(proxy.conninfo("it_nobody", ""));
  REQUIRE_FALSE(c.ok());
  INFO(c.connectError().sqlstate << " " << c.connectError().message);
  CHECK(c.connectError().sqlstate == "28000");
  CHECK(c.connectError().message == "\"trust\" authentication failed for user \"it_nobody\"");
  CHECK(logSoon(proxy, "authentication failed: user is not configured"));
}

namespace {

// The first ErrorResponse a raw client gets after sending `password` in a PasswordMessage to a
// cleartext request; empty when the login succeeded or no request came.
std::string cleartextLogin(uint16_t port, const std::string& user, const std::string& password,
                           std::string& sqlstate) {
  RawSocket s(port);
  s.send(wire::startup({{"user", user}, {"database", "sp_db"}}));
  if (s.readUntilMessage('R', 5s) != RawSocket::End::Matched) return "no authentication request";
  s.clearReceived();
  s.send(wire::message('p', password + '\0'));
  s.readUntil(
      [](std::string_view in) {
        for (auto& m : wire::parseMessages(in))
          if (m.type == 'E' || m.type == 'Z') return true;
        return false;
      },
      5s);
  for (auto& m : wire::parseMessages(s.received())) {
    if (m.type != 'E') continue;
    sqlstate = wire::errorField(m.body, 'C');
    return wire::errorField(m.body, 'M');
  }
  return "";
}

}  // namespace

TEST_CASE("client auth: SET auth_type is not refused for users who cannot use it",
          "[integration][auth]") {
  // PgBouncer accepts an auth type some users cannot log in with; those users alone fail, at
  // login. The configuration starts with two such users under scram-sha-256 (no password; an
  // md5 hash), which used to be refused at load.
  TempRole backend("it_auth_set");
  std::string cfg = generalSection("auth_type = \"scram-sha-256\"\nadmin_users = [\"it_admin\"]");
  cfg += clusterDatabase(
      "sp_db", "user = \"" + backend.name() + "\"\npassword = \"" + backend.password() + "\"");
  cfg += userSection("it_admin", "admin_pass");
  cfg += userSection("it_plain", "plain_pass");
  cfg += userSection("it_md5hash", md5HashFor("hash_pass", "it_md5hash"));
  cfg += userSection("it_scramsecret", scramSecretFor("stored_secret"));
  cfg += "[users.it_nopass]\n\n";
  Proxy proxy(cfg);
  CHECK(contains(proxy.log(),
                 "users.it_nopass: user \"it_nopass\" has no password, which "
                 "auth_type \"scram-sha-256\" (from general.auth_type) needs"));

  auto login = [&](const std::string& user, const std::string& password) {
    Conn c(proxy.conninfo(user, password));
    return c.ok() ? std::string() : c.connectError().sqlstate + " " + c.connectError().message;
  };
  CHECK(login("it_plain", "plain_pass").empty());
  CHECK(login("it_scramsecret", "stored_secret").empty());
  CHECK(login("it_md5hash", "hash_pass") ==
        "28P01 password authentication failed for user \"it_md5hash\"");
  CHECK(logSoon(proxy,
                "the password of user \"it_md5hash\" is an md5 hash, which cannot "
                "verify auth_type \"scram-sha-256\""));

  Conn console = consoleConn(proxy, "it_admin", "admin_pass");
  REQUIRE(console.ok());
  // Cleartext: a user without a password is refused, even when the client sends none.
  console.query("SET auth_type = 'password'");
  std::string sqlstate;
  CHECK(cleartextLogin(proxy.port(), "it_nopass", "", sqlstate) ==
        "password authentication failed for user \"it_nopass\"");
  CHECK(sqlstate == "28P01");
  CHECK(cleartextLogin(proxy.port(), "it_plain", "plain_pass", sqlstate).empty());

  console.query("SET auth_type = 'md5'");
  CHECK(contains(proxy.log(), "SET general.auth_type: " + proxy.configPath()));
  CHECK(login("it_plain", "plain_pass").empty());
  CHECK(login("it_md5hash", "hash_pass").empty());
  CHECK(login("it_scramsecret", "stored_secret").empty());  // SCRAM, as PgBouncer does
  CHECK(login("it_nopass", "anything") ==
        "28P01 password authentication failed for user \"it_nopass\"");
  CHECK(logSoon(proxy,
                "authentication failed: user \"it_nopass\" has no password, which "
                "auth_type \"md5\" (from general.auth_type) needs"));

  // A console user list naming someone who is not a user: accepted, with a warning.
  console.query("SET admin_users = 'it_admin,it_ghost'");
  CHECK(contains(proxy.log(), "\"it_ghost\" is not a configured user"));
  CHECK(login("it_plain", "plain_pass").empty());
}

TEST_CASE("backend auth: trust, cleartext, md5 and SCRAM servers", "[integration][auth]") {
  std::string cfg = generalSection();
  cfg += clusterDatabase("db_trust", "user = \"sp_trust\"");
  cfg += clusterDatabase("db_clear", "user = \"sp_clear\"\npassword = \"clear_pass\"");
  cfg += clusterDatabase("db_md5", "user = \"sp_md5\"\npassword = \"md5_pass\"");
  cfg += clusterDatabase("db_scram", "user = \"sp_scram\"\npassword = \"scram_pass\"");
  cfg += userSection("sp_scram", "scram_pass");
  Proxy proxy(cfg);

  for (auto [db, backendUser] : {std::pair{"db_trust", "sp_trust"},
                                 {"db_clear", "sp_clear"},
                                 {"db_md5", "sp_md5"},
                                 {"db_scram", "sp_scram"}}) {
    Conn c(proxy.conninfo("sp_scram", "scram_pass", db));
    INFO(db << ": " << c.connectError().sqlstate << " " << c.connectError().message);
    REQUIRE(c.ok());
    CHECK(c.scalar("select current_user") == backendUser);
    CHECK(c.scalar("select current_database()") == "sp_db");
  }
}

TEST_CASE("client auth: a sharded database's servers log in with the SCRAM keys a client proved",
          "[integration][auth]") {
  // The user's secret is the role's own SCRAM secret (as auth_query would return it): shardpool
  // cannot log in with a secret, only with the keys the client proved, on every shard.
  TempRole role("it_shard_keys", "shard_pw");
  std::string secret =
      adminConn().scalar("SELECT rolpassword FROM pg_authid WHERE rolname = '" + role.name() + "'");
  REQUIRE(secret.rfind("SCRAM-SHA-256$", 0) == 0);
  std::string shard = "host = \"127.0.0.1\"\nport = " + std::to_string(pgPort()) +
                      "\ndbname = \"sp_db\"\n\n";
  std::string cfg = generalSection("pool_mode = \"transaction\"") +
                    "[databases.shdb]\nsharding_function = \"modulo\"\n\n"
                    "[[databases.shdb.shards]]\n" + shard + "[[databases.shdb.shards]]\n" + shard +
                    userSection(role.name(), secret);
  Proxy proxy(cfg);
  Conn c(proxy.conninfo(role.name(), "shard_pw", "shdb"));
  INFO(c.connectError().message);
  REQUIRE(c.ok());
  for (int s : {0, 1, 0}) {
    INFO("shard " << s);
    auto r = c.query("/* shard: " + std::to_string(s) + " */ SELECT current_user");
    REQUIRE(r.size() == 1);
    CHECK(r[0][0] == role.name());
  }
}
