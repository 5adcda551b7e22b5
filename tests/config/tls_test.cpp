// TLS settings: decoding every sslmode, defaults, bad values, --set overrides and the
// per-database helpers. Cross-key rules and file checks are in tls_validate_test.cpp.
#include <catch2/catch.hpp>

#include <string>

#include "config/config.h"
#include "config_test_support.h"
#include "tls_test_support.h"

namespace shardpool::config {
namespace {

using testing::formatAll;
using testing::kOneDatabase;
using testing::loadOk;
using testing::loadOneError;
using testing::sets;
using testing::TempDir;

struct ModeName {
  TlsMode mode;
  std::string name;
};

const std::vector<ModeName> kAllModes = {
    {TlsMode::Disable, "disable"},    {TlsMode::Allow, "allow"},
    {TlsMode::Prefer, "prefer"},      {TlsMode::Require, "require"},
    {TlsMode::VerifyCa, "verify-ca"}, {TlsMode::VerifyFull, "verify-full"},
};

TEST_CASE("config: TlsMode names are PgBouncer's sslmode names", "[config]") {
  for (const auto& [mode, name] : kAllModes) CHECK(toString(mode) == name);
  // Ordered weakest to strongest; the pooler relies on `>= Require` and `>= VerifyCa`.
  CHECK(TlsMode::Disable < TlsMode::Allow);
  CHECK(TlsMode::Allow < TlsMode::Prefer);
  CHECK(TlsMode::Prefer < TlsMode::Require);
  CHECK(TlsMode::Require < TlsMode::VerifyCa);
  CHECK(TlsMode::VerifyCa < TlsMode::VerifyFull);
}

TEST_CASE("config: TLS is off by default", "[config]") {
  auto config = loadOk(kOneDatabase);
  const General& g = config->general;
  CHECK(g.clientTlsSslmode == TlsMode::Disable);
  CHECK(g.clientTlsCertFile.empty());
  CHECK(g.clientTlsKeyFile.empty());
  CHECK(g.clientTlsCaFile.empty());
  CHECK(g.serverTlsSslmode == TlsMode::Disable);
  CHECK(g.serverTlsCaFile.empty());
  CHECK(g.serverTlsCertFile.empty());
  CHECK(g.serverTlsKeyFile.empty());

  const Database& db = config->databases.at("appdb");
  CHECK_FALSE(db.sslmode);
  CHECK_FALSE(db.sslrootcert);
  CHECK(config->serverTlsModeFor(db) == TlsMode::Disable);
  CHECK(config->serverTlsCaFileFor(db).empty());
}

TEST_CASE("config: every client_tls_sslmode decodes", "[config]") {
  TempDir dir;
  std::string cert = dir.file("server.crt");
  std::string key = dir.file("server.key");
  std::string ca = dir.file("client-ca.crt");
  auto c = GENERATE(from_range(kAllModes));
  INFO(c.name);
  auto config =
      loadOk("[general]\nclient_tls_sslmode = \"" + c.name + "\"\n" + "client_tls_cert_file = \"" +
             cert + "\"\n" + "client_tls_key_file = \"" + key + "\"\n" + "client_tls_ca_file = \"" +
             ca + "\"\n" + std::string(kOneDatabase));
  const General& g = config->general;
  CHECK(g.clientTlsSslmode == c.mode);
  CHECK(g.clientTlsCertFile == cert);
  CHECK(g.clientTlsKeyFile == key);
  CHECK(g.clientTlsCaFile == ca);
}

TEST_CASE("config: every server_tls_sslmode and database sslmode decodes", "[config]") {
  TempDir dir;
  std::string ca = dir.file("root.crt");
  std::string cert = dir.file("shardpool.crt");
  std::string key = dir.file("shardpool.key");
  auto c = GENERATE(from_range(kAllModes));
  INFO(c.name);
  auto config = loadOk(
      "[general]\nserver_tls_sslmode = \"" + c.name + "\"\n" + "server_tls_ca_file = \"" + ca +
      "\"\n" + "server_tls_cert_file = \"" + cert + "\"\n" + "server_tls_key_file = \"" + key +
      "\"\n" + "[databases.appdb]\nsslmode = \"" + c.name + "\"\nsslrootcert = \"" + ca + "\"\n");
  const General& g = config->general;
  CHECK(g.serverTlsSslmode == c.mode);
  CHECK(g.serverTlsCaFile == ca);
  CHECK(g.serverTlsCertFile == cert);
  CHECK(g.serverTlsKeyFile == key);
  const Database& db = config->databases.at("appdb");
  CHECK(db.sslmode == c.mode);
  CHECK(db.sslrootcert == ca);
}

TEST_CASE("config: bad TLS values are errors at the value", "[config]") {
  struct Case {
    std::string toml;
    uint32_t line;
    uint32_t column;
    std::string keyPath;
    std::string message;
  };
  const std::string db(kOneDatabase);
  const std::string modes =
      "expected one of \"disable\", \"allow\", \"prefer\", \"require\", \"verify-ca\" or "
      "\"verify-full\", got ";
  auto c = GENERATE_COPY(values<Case>({
      {"[general]\nclient_tls_sslmode = \"verify_full\"\n" + db, 2, 22,
       "general.client_tls_sslmode", modes + "\"verify_full\"; did you mean \"verify-full\"?"},
      {"[general]\nclient_tls_sslmode = \"on\"\n" + db, 2, 22, "general.client_tls_sslmode",
       modes + "\"on\""},
      {"[general]\nserver_tls_sslmode = true\n" + db, 2, 22, "general.server_tls_sslmode",
       modes + "true"},
      {"[general]\nserver_tls_sslmode = \"Require\"\n" + db, 2, 22, "general.server_tls_sslmode",
       modes + "\"Require\"; did you mean \"require\"?"},
      {"[general]\nclient_tls_cert_file = 5\n" + db, 2, 24, "general.client_tls_cert_file",
       "expected a string, got 5"},
      {"[general]\nclient_tls_ca_file = \"\"\n" + db, 2, 22, "general.client_tls_ca_file",
       "expected a non-empty string"},
      {"[databases.appdb]\nsslmode = \"verify\"\n", 2, 11, "databases.appdb.sslmode",
       modes + "\"verify\"; did you mean \"verify-ca\"?"},
      {"[databases.appdb]\nsslrootcert = [\"a.pem\"]\n", 2, 15, "databases.appdb.sslrootcert",
       "expected a string, got an array"},
  }));
  INFO(c.toml);
  ConfigError e = loadOneError(c.toml);
  CHECK(e.file == "test.toml");
  CHECK(e.line == c.line);
  CHECK(e.column == c.column);
  CHECK(e.keyPath == c.keyPath);
  CHECK(e.message == c.message);
}

TEST_CASE("config: misspelt TLS keys get suggestions", "[config]") {
  struct Case {
    std::string toml;
    std::string formatted;
  };
  auto c = GENERATE(values<Case>({
      {"[general]\nclient_tls_sslmod = \"require\"\n[databases.appdb]\n",
       "test.toml:2:1: general.client_tls_sslmod: unknown key \"client_tls_sslmod\"; did you mean "
       "\"client_tls_sslmode\"?"},
      {"[general]\nserver_tls_ca = \"ca.pem\"\n[databases.appdb]\n",
       "test.toml:2:1: general.server_tls_ca: unknown key \"server_tls_ca\"; did you mean "
       "\"server_tls_ca_file\"?"},
      {"[databases.appdb]\nsslrootcrt = \"ca.pem\"\n",
       "test.toml:2:1: databases.appdb.sslrootcrt: unknown key \"sslrootcrt\"; did you mean "
       "\"sslrootcert\"?"},
      {"client_tls_sslmode = \"require\"\n[databases.appdb]\n",
       "test.toml:1:1: client_tls_sslmode: unknown key \"client_tls_sslmode\"; did you mean "
       "\"general.client_tls_sslmode\"?"},
  }));
  CHECK(loadOneError(c.toml).format() == c.formatted);
}

TEST_CASE("config: --set overrides TLS keys", "[config]") {
  TempDir dir;
  std::string cert = dir.file("server.crt");
  std::string key = dir.file("server.key");
  std::string ca = dir.file("ca.crt");
  std::string file = "[general]\nclient_tls_cert_file = \"" + cert +
                     "\"\nclient_tls_key_file = \"" + key +
                     "\"\n[databases.appdb]\n[databases.other]\n";

  SECTION("client and server modes") {
    auto config = loadOk(
        file, sets({"general.client_tls_sslmode=require", "general.server_tls_sslmode=prefer"}));
    CHECK(config->general.clientTlsSslmode == TlsMode::Require);
    CHECK(config->general.serverTlsSslmode == TlsMode::Prefer);
    CHECK(config->serverTlsModeFor(config->databases.at("appdb")) == TlsMode::Prefer);
  }
  SECTION("file keys, with ${NAME} expanded") {
    testing::ScopedEnv env("TLS_TEST_CA", ca);
    auto config = loadOk(file, sets({"general.client_tls_sslmode=verify-full",
                                     "general.client_tls_ca_file=${TLS_TEST_CA}"}));
    CHECK(config->general.clientTlsSslmode == TlsMode::VerifyFull);
    CHECK(config->general.clientTlsCaFile == ca);
  }
  SECTION("a database's sslmode and sslrootcert") {
    auto config = loadOk(
        file, sets({"databases.appdb.sslmode=verify-full", "databases.appdb.sslrootcert=" + ca}));
    const Database& app = config->databases.at("appdb");
    CHECK(config->serverTlsModeFor(app) == TlsMode::VerifyFull);
    CHECK(config->serverTlsCaFileFor(app) == ca);
    const Database& other = config->databases.at("other");
    CHECK(config->serverTlsModeFor(other) == TlsMode::Disable);
    CHECK(config->serverTlsCaFileFor(other).empty());
  }
  SECTION("a later --set wins") {
    auto config = loadOk(
        file, sets({"general.client_tls_sslmode=verify-ca", "general.client_tls_sslmode=allow"}));
    CHECK(config->general.clientTlsSslmode == TlsMode::Allow);
  }
}

TEST_CASE("config: bad TLS overrides are reported against the override", "[config]") {
  struct Case {
    std::string set;
    std::string formatted;
  };
  auto c = GENERATE(values<Case>({
      {"general.client_tls_sslmode=verify_ca",
       "<override>: general.client_tls_sslmode: expected one of \"disable\", \"allow\", "
       "\"prefer\", \"require\", \"verify-ca\" or \"verify-full\", got \"verify_ca\"; did you mean "
       "\"verify-ca\"?"},
      {"general.client_tls_sslmode=require",
       "<override>: general.client_tls_sslmode: client_tls_sslmode \"require\" needs "
       "general.client_tls_cert_file and general.client_tls_key_file to be set"},
      {"general.server_tls_cert_file=/nonexistent/shardpool.crt",
       "<override>: general.server_tls_cert_file: a certificate needs its key: set "
       "general.server_tls_key_file as well, or remove server_tls_cert_file"},
      {"databases.appdb.sslrootcert=/nonexistent/root.crt",
       "<override>: databases.appdb.sslrootcert: cannot read file \"/nonexistent/root.crt\": No "
       "such file or directory"},
      {"databases.appdb.sslmod=require",
       "<override>: databases.appdb.sslmod: unknown key \"sslmod\"; did you mean \"sslmode\"?"},
  }));
  ConfigError e = loadOneError(kOneDatabase, sets({c.set}));
  CHECK(e.format() == c.formatted);
}

TEST_CASE("config: --set sslmode works in sidecar mode", "[config]") {
  LoadResult result = fromSidecar({"", "postgres://app:secret@db.example.com/app"},
                                  sets({"databases.app.sslmode=require"}));
  INFO(formatAll(result.errors));
  REQUIRE(result.ok());
  CHECK(result.config->serverTlsModeFor(result.config->databases.at("app")) == TlsMode::Require);
}

TEST_CASE("config: a database's sslmode and sslrootcert override general's", "[config]") {
  const TempDir& dir = testing::sharedTempDir();
  std::string generalCa = dir.file("general-ca.crt");
  std::string rdsCa = dir.file("rds-bundle.pem");
  auto config = loadOk(R"([general]
server_tls_sslmode = "prefer"
server_tls_ca_file = ")" +
                       generalCa + R"("

[databases.plain]

[databases.rds]
host = "mydb.abc123.eu-west-1.rds.amazonaws.com"
sslmode = "verify-full"
sslrootcert = ")" + rdsCa +
                       R"("

[databases.internal]
sslmode = "verify-ca"

[databases.local]
sslmode = "disable"

["databases"."*"]
sslrootcert = ")" + rdsCa +
                       R"("
)");
  struct Case {
    std::string database;
    TlsMode mode;
    std::string caFile;
  };
  auto c = GENERATE_COPY(values<Case>({
      {"plain", TlsMode::Prefer, generalCa},
      {"rds", TlsMode::VerifyFull, rdsCa},
      {"internal", TlsMode::VerifyCa, generalCa},
      {"local", TlsMode::Disable, generalCa},
      {"anything", TlsMode::Prefer, rdsCa},  // served by "*"
  }));
  INFO(c.database);
  const Database* db = config->findDatabase(c.database);
  REQUIRE(db != nullptr);
  CHECK(config->serverTlsModeFor(*db) == c.mode);
  CHECK(config->serverTlsCaFileFor(*db) == c.caFile);
}

}  // namespace
}  // namespace shardpool::config
