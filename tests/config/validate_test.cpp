// Cross-key rules: at least one database, well-formed passwords; passwords that cannot serve
// their auth type are warnings (the user alone cannot log in), as PgBouncer accepts them.
#include <catch2/catch.hpp>

#include <string>

#include "config/config.h"
#include "config_test_support.h"

namespace shardpool::config {
namespace {

using testing::kMd5Secret;
using testing::kOneDatabase;
using testing::kScramSecret;
using testing::loadOk;
using testing::loadOneError;
using testing::loadOneWarning;

std::string userTable(std::string_view authType, std::string_view password) {
  std::string toml = std::string(kOneDatabase) + "[users.alice]\n";  // header on line 3
  if (!authType.empty()) toml += "auth_type = \"" + std::string(authType) + "\"\n";
  if (!password.empty()) toml += "password = \"" + std::string(password) + "\"\n";
  return toml;
}

TEST_CASE("config: at least one database is required", "[config]") {
  SECTION("no [databases] at all") {
    ConfigError e = loadOneError("[general]\nworkers = 2\n");
    CHECK(e.format() ==
          "test.toml: databases: no databases defined; add a [databases.<name>] table");
  }
  SECTION("an empty [databases] table") {
    ConfigError e = loadOneError("[databases]\n");
    CHECK(e.line == 1);
    CHECK(e.column == 2);
    CHECK(e.keyPath == "databases");
  }
}

TEST_CASE("config: passwords that fit their auth type load", "[config]") {
  struct Case {
    std::string authType;
    std::string password;
  };
  auto c = GENERATE(values<Case>({
      {"trust", ""},
      {"trust", "ignored"},
      {"password", "plain"},
      {"password", std::string(kScramSecret)},
      {"password", std::string(kMd5Secret)},  // the typed password is hashed and compared
      {"md5", "plain"},
      {"md5", std::string(kMd5Secret)},
      {"md5", std::string(kScramSecret)},  // logs in with scram-sha-256, as PgBouncer
      {"scram-sha-256", "plain"},
      {"scram-sha-256", std::string(kScramSecret)},
      {"", "plain"},     // general.auth_type scram-sha-256
      {"", "md5rocks"},  // "md5" then non-hex: a plain password
  }));
  INFO(c.authType << " / " << c.password);
  LoadResult result = loadString(userTable(c.authType, c.password), "test.toml");
  INFO(testing::formatAll(result.errors) << testing::formatAll(result.warnings));
  REQUIRE(result.ok());
  CHECK(result.warnings.empty());
}

TEST_CASE("config: passwords that cannot serve their auth type are warnings", "[config]") {
  struct Case {
    std::string authType;
    std::string password;
    std::string message;
  };
  const std::string md5 = std::string(kMd5Secret);
  auto c = GENERATE_COPY(values<Case>({
      {"md5", "",
       "user \"alice\" has no password, which auth_type \"md5\" needs: it cannot log in; set its "
       "password, or auth_type = \"trust\""},
      {"password", "",
       "user \"alice\" has no password, which auth_type \"password\" needs: it cannot log in; set "
       "its password, or auth_type = \"trust\""},
      {"", "",
       "user \"alice\" has no password, which auth_type \"scram-sha-256\" (from "
       "general.auth_type) needs: it cannot log in; set its password, or auth_type = \"trust\""},
      {"scram-sha-256", md5,
       "the password of user \"alice\" is an md5 hash, which cannot verify auth_type "
       "\"scram-sha-256\": it cannot log in; store the plain password or a SCRAM secret, or use "
       "auth_type = \"md5\""},
      {"", md5,
       "the password of user \"alice\" is an md5 hash, which cannot verify auth_type "
       "\"scram-sha-256\" (from general.auth_type): it cannot log in; store the plain password or "
       "a SCRAM secret, or use auth_type = \"md5\""},
  }));
  INFO(c.authType << " / " << c.password);
  ConfigError w = loadOneWarning(userTable(c.authType, c.password));
  CHECK(w.line == 3);  // at the user's table
  CHECK(w.column == 8);
  CHECK(w.keyPath == "users.alice");
  CHECK(w.message == c.message);
}

TEST_CASE("config: an auth type change is not refused for the users it does not fit", "[config]") {
  // What SET auth_type = 'md5' does: alice (no password) and bob (md5 hash under scram) are
  // warned about; the configuration loads, and carol, who can log in, is unaffected.
  std::string toml = std::string(kOneDatabase) + "[users.alice]\n[users.bob]\npassword = \"" +
                     std::string(kMd5Secret) + "\"\n[users.carol]\npassword = \"plain\"\n";
  LoadResult md5 = loadString(toml, "test.toml", {{"general.auth_type", "md5"}});
  REQUIRE(md5.ok());
  REQUIRE(md5.warnings.size() == 1);
  CHECK(md5.warnings[0].keyPath == "users.alice");
  LoadResult scram = loadString(toml, "test.toml", {{"general.auth_type", "scram-sha-256"}});
  REQUIRE(scram.ok());
  REQUIRE(scram.warnings.size() == 2);
  CHECK(scram.warnings[0].keyPath == "users.alice");
  CHECK(scram.warnings[1].keyPath == "users.bob");
  CHECK(scram.config->loginProblemFor(scram.config->users.at("carol")) == std::nullopt);
}

TEST_CASE("config: the auth type a login runs", "[config]") {
  auto config = loadOk(std::string(kOneDatabase) + "[general]\nauth_type = \"md5\"\n" +
                       "[users.plain]\npassword = \"p\"\n[users.scram]\npassword = \"" +
                       std::string(kScramSecret) + "\"\n[users.trusted]\nauth_type = \"trust\"\n");
  CHECK(config->loginAuthTypeFor(&config->users.at("plain")) == AuthType::Md5);
  CHECK(config->loginAuthTypeFor(&config->users.at("scram")) == AuthType::ScramSha256);
  CHECK(config->loginAuthTypeFor(&config->users.at("trusted")) == AuthType::Trust);
  CHECK(config->loginAuthTypeFor(nullptr) == AuthType::Md5);
}

TEST_CASE("config: malformed md5 and SCRAM secrets are errors", "[config]") {
  struct Case {
    std::string password;
    std::string message;
  };
  const std::string md5Shape =
      "malformed md5 password: expected \"md5\" followed by 32 lowercase hex digits";
  auto c = GENERATE_COPY(values<Case>({
      {"md54A0A68B43B6CD5CF266FA02F196E2371", md5Shape},
      {"md5abc123", md5Shape},
      {"md54a0a68b43b6cd5cf266fa02f196e237z", md5Shape},
      {"SCRAM-SHA-256$4096:c2FsdA==",
       "malformed SCRAM secret: expected "
       "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>"},
      {"SCRAM-SHA-256$abc:c2FsdA==$AAAA:AAAA",
       "malformed SCRAM secret: the iteration count must be a positive integer"},
      {"SCRAM-SHA-256$0:c2FsdA==$AAAA:AAAA",
       "malformed SCRAM secret: the iteration count must be a positive integer"},
      {"SCRAM-SHA-256$4096:not*base64$AAAA:AAAA",
       "malformed SCRAM secret: the salt is not valid base64"},
      {"SCRAM-SHA-256$4096:c2FsdA==$AAAA:AAAA",
       "malformed SCRAM secret: StoredKey must be 32 bytes in base64"},
      {"SCRAM-SHA-256$4096:c2FsdA==$bpSY5Ze9NUH+I35LC3gVq+DpBfK46iXBxvhAKqVu9pE=:AAAA",
       "malformed SCRAM secret: ServerKey must be 32 bytes in base64"},
  }));
  INFO(c.password);
  SECTION("as a client password") {
    ConfigError e = loadOneError(userTable("scram-sha-256", c.password));
    CHECK(e.line == 5);
    CHECK(e.column == 12);
    CHECK(e.keyPath == "users.alice.password");
    CHECK(e.message == c.message);
    CHECK(e.format().find(c.password) == std::string::npos);  // never echo a secret
  }
  SECTION("as a backend password") {
    ConfigError e =
        loadOneError("[databases.appdb]\nuser = \"app\"\npassword = \"" + c.password + "\"\n");
    CHECK(e.line == 3);
    CHECK(e.column == 12);
    CHECK(e.keyPath == "databases.appdb.password");
    CHECK(e.message == c.message);
  }
}

TEST_CASE("config: a database password needs a user", "[config]") {
  ConfigError e = loadOneError("[databases.appdb]\nhost = \"h\"\npassword = \"${X:-pw}\"\n");
  CHECK(e.format() ==
        "test.toml:3:12: databases.appdb.password: a password needs a user: set user as well, or "
        "remove "
        "password");
}

TEST_CASE("config: a bad value is not reported again by the cross-key rules", "[config]") {
  ConfigError e = loadOneError(std::string(kOneDatabase) + "[users.alice]\nauth_type = \"md6\"\n");
  CHECK(e.keyPath == "users.alice.auth_type");
  ConfigError g =
      loadOneError("[general]\nauth_type = 5\n" + std::string(kOneDatabase) + "[users.bob]\n");
  CHECK(g.keyPath == "general.auth_type");
}

}  // namespace
}  // namespace shardpool::config
