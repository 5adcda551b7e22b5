// Client authentication (clients -> shardpool) and backend authentication (shardpool -> server).
#include <catch2/catch.hpp>

#include "integration/harness.h"

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
  CHECK(contains(proxy.log(), "authentication failed: user is not configured"));
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
