// auth_hba_file rules (config/hba.h): parsing the pg_hba.conf subset, refusing what it does not
// support with the line, and matching by connection type, TLS, database, user and address.
#include <arpa/inet.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <map>

#include "config/hba.h"
#include "config/config.h"
#include "tests/config/config_test_support.h"
#include "tests/config/tls_test_support.h"

namespace shardpool::config {
namespace {

using testing::TempDir;

HbaRules parseOk(std::string_view text, std::map<std::string, std::string> files = {}) {
  std::vector<HbaError> errors;
  HbaIncludeReader read = [&](const std::string& path, std::string& error)
      -> std::optional<std::string> {
    if (auto it = files.find(path); it != files.end()) return it->second;
    error = "No such file or directory";
    return std::nullopt;
  };
  HbaRules rules = parseHba(text, "/etc/hba.conf", read, errors);
  std::string all;
  for (const HbaError& e : errors) all += fmt::format("{}:{}: {}\n", e.file, e.line, e.message);
  INFO(all);
  REQUIRE(errors.empty());
  return rules;
}

std::vector<HbaError> parseErrors(std::string_view text) {
  std::vector<HbaError> errors;
  parseHba(text, "/etc/hba.conf", nullptr, errors);
  return errors;
}

// A client over TCP from `ip` (IPv4 or IPv6 text), or the unix socket when `ip` is empty.
struct Client {
  std::string database, user, ip;
  bool tls = false;
  uint8_t bytes[16] = {};

  HbaClient facts() {
    HbaClient c;
    c.database = database;
    c.user = user;
    c.tls = tls;
    if (ip.empty()) {
      c.unixSocket = true;
    } else if (inet_pton(AF_INET, ip.c_str(), bytes) == 1) {
      c.address = bytes;
    } else {
      REQUIRE(inet_pton(AF_INET6, ip.c_str(), bytes) == 1);
      c.v6 = true;
      c.address = bytes;
    }
    return c;
  }
};

// A configuration with auth_type "hba" reading the file at `path`.
std::string hbaConfig(const std::string& path) {
  return fmt::format(R"(
[general]
auth_type = "hba"
auth_hba_file = "{}"
[databases.app]
host = "127.0.0.1"
)",
                     path);
}

// The method of the rule that matches, "none" when none does.
std::string methodFor(const HbaRules& rules, Client client) {
  const HbaRule* r = rules.match(client.facts());
  return r == nullptr ? "none" : std::string(toString(r->method));
}

TEST_CASE("hba: the first matching rule decides, by type, database, user and address",
          "[config][hba]") {
  HbaRules rules = parseOk(R"(
# TYPE     DATABASE   USER        ADDRESS          METHOD
local      all        postgres                     peer
local      all        all                          scram-sha-256
hostssl    app        app         10.0.0.0/8       cert
hostnossl  all        all         10.0.0.0/8       reject
host       app,"all"  bob,carol   192.168.1.0  255.255.255.0  md5
host       sameuser   all         ::1/128          trust
host       all        all         all              scram-sha-256
)");
  REQUIRE(rules.rules.size() == 7);
  CHECK(rules.rules[0].line == 3);
  CHECK(methodFor(rules, {"app", "postgres", ""}) == "peer");
  CHECK(methodFor(rules, {"app", "alice", ""}) == "scram-sha-256");
  CHECK(methodFor(rules, {"app", "app", "10.1.2.3", true}) == "cert");
  CHECK(methodFor(rules, {"app", "app", "10.1.2.3", false}) == "reject");
  CHECK(methodFor(rules, {"other", "app", "10.1.2.3", true}) == "scram-sha-256");
  CHECK(methodFor(rules, {"app", "bob", "192.168.1.77"}) == "md5");
  // "all" quoted is a database named all, not the keyword.
  CHECK(methodFor(rules, {"all", "carol", "192.168.1.77"}) == "md5");
  CHECK(methodFor(rules, {"other", "carol", "192.168.1.77"}) == "scram-sha-256");
  CHECK(methodFor(rules, {"app", "bob", "192.168.2.1"}) == "scram-sha-256");
  CHECK(methodFor(rules, {"bob", "bob", "::1"}) == "trust");
  CHECK(methodFor(rules, {"app", "bob", "::1"}) == "scram-sha-256");
  // An IPv4-mapped IPv6 peer matches IPv4 networks.
  CHECK(methodFor(rules, {"app", "app", "::ffff:10.9.9.9", true}) == "cert");
}

TEST_CASE("hba: no rule matching is no method (the login is rejected)", "[config][hba]") {
  HbaRules rules = parseOk("host all all 127.0.0.1/32 trust\n");
  CHECK(methodFor(rules, {"app", "bob", "127.0.0.2"}) == "none");
  CHECK(methodFor(rules, {"app", "bob", ""}) == "none");
  CHECK(methodFor(rules, {"app", "bob", "127.0.0.1"}) == "trust");
}

TEST_CASE("hba: quoting, comments, list spacing and continued lines", "[config][hba]") {
  HbaRules rules = parseOk(
      "host \"my db\",app  \"weird#user\", bob  all  md5  # a comment\n"
      "host all \\\n"
      "     all all \\   \n"
      "     trust\n");
  REQUIRE(rules.rules.size() == 2);
  CHECK(rules.rules[0].databases.names == std::vector<std::string>{"my db", "app"});
  CHECK(rules.rules[0].users.names == std::vector<std::string>{"weird#user", "bob"});
  CHECK(rules.rules[1].line == 2);
  CHECK(methodFor(rules, {"x", "y", "1.2.3.4"}) == "trust");
}

TEST_CASE("hba: @file lists of names, relative to the hba file", "[config][hba]") {
  HbaRules rules = parseOk("host @dbs.txt @/etc/admins all md5\n",
                           {{"/etc/dbs.txt", "app, billing\n# comment\nreports\n"},
                            {"/etc/admins", "alice bob"}});
  CHECK(rules.rules[0].databases.names ==
        std::vector<std::string>{"app", "billing", "reports"});
  CHECK(rules.rules[0].users.names == std::vector<std::string>{"alice", "bob"});
  std::vector<HbaError> errors = parseErrors("host @missing all all md5\n");
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0].message, Catch::Contains("/etc/missing"));
}

TEST_CASE("hba: what the subset does not support is an error at its line", "[config][hba]") {
  struct Case {
    std::string text, message;
  };
  const Case cases[] = {
      {"hostgssenc all all all trust", "not supported"},
      {"hots all all all trust", "unknown connection type \"hots\""},
      {"host samerole all all trust", "\"samerole\" is not supported"},
      {"host all +admins all trust", "group membership"},
      {"host all all db.example.com trust", "host names are not supported"},
      {"host all all samenet trust", "\"samenet\" is not supported"},
      {"host all all 10.0.0.0/40 trust", "not an address with a prefix length"},
      {"host all all 10.0.0.0 255.0.255.0 trust", "not a netmask"},
      {"host all all 10.0.0.0 trust", "not a netmask"},
      {"host all all all ldap", "authentication method \"ldap\" is not supported"},
      {"host all all all peer", "peer authentication is only for local"},
      {"host all all all cert", "cert authentication is only for hostssl"},
      {"hostssl all all all cert map=x", "option \"map=x\" is not supported"},
      {"host all all all", "ends before its authentication method"},
      {"local all", "ends before its user"},
      {"host \"unclosed all all all trust", "not closed"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    std::vector<HbaError> errors = parseErrors("# first line\n" + c.text + "\n");
    REQUIRE_FALSE(errors.empty());
    CHECK(errors[0].line == 2);
    CHECK_THAT(errors[0].message, Catch::Contains(c.message));
  }
}

TEST_CASE("hba: auth_type hba loads auth_hba_file, and its errors fail the load at their line",
          "[config][hba]") {
  TempDir dir;
  std::string good = dir.file("hba.conf", "local all all peer\nhost all all all md5\n");
  auto config = testing::loadOk(hbaConfig(good));
  REQUIRE(config->general.hba != nullptr);
  CHECK(config->general.hba->rules.size() == 2);
  Client tcp{"app", "bob", "127.0.0.1"};
  const HbaRule* rule = nullptr;
  CHECK(config->loginMethodFor(nullptr, tcp.facts(), &rule) == AuthType::Md5);
  REQUIRE(rule != nullptr);
  CHECK(rule->line == 2);
  // md5 with a SCRAM secret runs SCRAM, as for auth_type md5.
  User scram;
  scram.name = "bob";
  scram.password = std::string(testing::kScramSecret);
  CHECK(config->loginMethodFor(&scram, tcp.facts()) == AuthType::ScramSha256);

  std::string bad = dir.file("bad.conf", "host all all all trust\nhost all all all kerberos\n");
  LoadResult r = loadString(hbaConfig(bad), "test.toml");
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].file == bad);
  CHECK(r.errors[0].line == 2);
  CHECK_THAT(r.errors[0].message, Catch::Contains("\"kerberos\""));
}

TEST_CASE("hba: auth_type hba without a file, and cert without client TLS, are refused",
          "[config][hba]") {
  LoadResult noFile = loadString(R"(
[general]
auth_type = "hba"
[databases.app]
host = "127.0.0.1"
)",
                                 "test.toml");
  REQUIRE_FALSE(noFile.ok());
  CHECK_THAT(testing::formatAll(noFile.errors), Catch::Contains("set general.auth_hba_file"));

  LoadResult cert = loadString(R"(
[general]
[databases.app]
host = "127.0.0.1"
[users.app]
auth_type = "cert"
)",
                               "test.toml");
  REQUIRE_FALSE(cert.ok());
  CHECK_THAT(testing::formatAll(cert.errors),
             Catch::Contains("users.app.auth_type") && Catch::Contains("client_tls_ca_file"));

  TempDir dir;
  std::string hba = dir.file("hba.conf", "hostssl all all all cert\n");
  LoadResult hbaCert = loadString(hbaConfig(hba), "test.toml");
  REQUIRE_FALSE(hbaCert.ok());
  CHECK_THAT(testing::formatAll(hbaCert.errors), Catch::Contains("a cert rule of auth_hba_file"));
}

TEST_CASE("hba: users without a password are fine under cert and hba", "[config][hba]") {
  TempDir dir;
  std::string ca = dir.file("ca.crt");
  std::string crt = dir.file("server.crt");
  std::string key = dir.file("server.key");
  auto config = testing::loadOk(fmt::format(R"(
[general]
auth_type = "cert"
client_tls_sslmode = "require"
client_tls_ca_file = "{}"
client_tls_cert_file = "{}"
client_tls_key_file = "{}"
[databases.app]
host = "127.0.0.1"
[users.app]
)",
                                            ca, crt, key));
  CHECK_FALSE(config->loginProblemFor(config->users.at("app")));
  CHECK(config->loginAuthTypeFor(&config->users.at("app")) == AuthType::Cert);
}

}  // namespace
}  // namespace shardpool::config
