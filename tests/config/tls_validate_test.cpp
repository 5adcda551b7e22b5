// TLS rules that span keys: the files each sslmode needs, certificates paired with keys, a CA
// for verify-ca / verify-full towards servers, and configured files readable at load time.
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <tuple>

#include "config/config.h"
#include "config_test_support.h"
#include "tls_test_support.h"

namespace shardpool::config {
namespace {

using testing::formatAll;
using testing::kOneDatabase;
using testing::loadOk;
using testing::loadOneError;
using testing::TempDir;

// `key = "value"` lines.
std::string line(std::string_view key, std::string_view value) {
  return std::string(key) + " = \"" + std::string(value) + "\"\n";
}

TEST_CASE("config: client TLS loads with the files its mode needs", "[config]") {
  TempDir dir;
  std::string files = line("client_tls_cert_file", dir.file("server.crt")) +
                      line("client_tls_key_file", dir.file("server.key"));
  std::string ca = line("client_tls_ca_file", dir.file("ca.crt"));
  for (std::string mode : {"allow", "prefer", "require"}) {
    INFO(mode);
    loadOk("[general]\n" + line("client_tls_sslmode", mode) + files + std::string(kOneDatabase));
  }
  for (std::string mode : {"verify-ca", "verify-full"}) {
    INFO(mode);
    loadOk("[general]\n" + line("client_tls_sslmode", mode) + files + ca +
           std::string(kOneDatabase));
  }
}

TEST_CASE("config: client_tls_sslmode names the files it is missing", "[config]") {
  const TempDir& dir = testing::sharedTempDir();
  std::string cert = line("client_tls_cert_file", dir.file("server.crt"));
  std::string key = line("client_tls_key_file", dir.file("server.key"));
  std::string ca = line("client_tls_ca_file", dir.file("ca.crt"));
  struct Case {
    std::string mode;
    std::string files;
    std::string missing;
  };
  auto c = GENERATE_COPY(values<Case>({
      {"require", "", "general.client_tls_cert_file and general.client_tls_key_file"},
      {"require", ca, "general.client_tls_cert_file and general.client_tls_key_file"},
      {"prefer", cert, "general.client_tls_key_file"},
      {"allow", key, "general.client_tls_cert_file"},
      {"verify-ca", cert + key, "general.client_tls_ca_file"},
      {"verify-full", "",
       "general.client_tls_cert_file, general.client_tls_key_file and general.client_tls_ca_file"},
      {"verify-full", ca, "general.client_tls_cert_file and general.client_tls_key_file"},
  }));
  INFO(c.mode << " with " << c.files);
  ConfigError e = loadOneError("[general]\n" + line("client_tls_sslmode", c.mode) + c.files +
                               std::string(kOneDatabase));
  CHECK(e.file == "test.toml");
  CHECK(e.line == 2);
  CHECK(e.column == 22);
  CHECK(e.keyPath == "general.client_tls_sslmode");
  CHECK(e.message == "client_tls_sslmode \"" + c.mode + "\" needs " + c.missing + " to be set");
}

TEST_CASE("config: a certificate needs its key and a key its certificate", "[config]") {
  const TempDir& dir = testing::sharedTempDir();
  std::string cert = dir.file("a.crt");
  std::string key = dir.file("a.key");
  struct Case {
    std::string toml;
    std::string formatted;
  };
  auto c = GENERATE_COPY(values<Case>({
      {"[general]\n" + line("server_tls_cert_file", cert),
       "test.toml:2:24: general.server_tls_cert_file: a certificate needs its key: set "
       "general.server_tls_key_file as well, or remove server_tls_cert_file"},
      {"[general]\n" + line("server_tls_key_file", key),
       "test.toml:2:23: general.server_tls_key_file: a key needs its certificate: set "
       "general.server_tls_cert_file as well, or remove server_tls_key_file"},
      // With client TLS off the files are unused, but the pair must still be whole.
      {"[general]\n" + line("client_tls_cert_file", cert),
       "test.toml:2:24: general.client_tls_cert_file: a certificate needs its key: set "
       "general.client_tls_key_file as well, or remove client_tls_cert_file"},
      {"[general]\n" + line("client_tls_sslmode", "disable") + line("client_tls_key_file", key),
       "test.toml:3:23: general.client_tls_key_file: a key needs its certificate: set "
       "general.client_tls_cert_file as well, or remove client_tls_key_file"},
  }));
  CHECK(loadOneError(c.toml + std::string(kOneDatabase)).format() == c.formatted);
  // Whole pairs load.
  loadOk("[general]\n" + line("server_tls_cert_file", cert) + line("server_tls_key_file", key) +
         line("client_tls_cert_file", cert) + line("client_tls_key_file", key) +
         std::string(kOneDatabase));
}

TEST_CASE("config: server verify-ca and verify-full load without a CA file", "[config]") {
  // As PgBouncer: without server_tls_ca_file (or sslrootcert) the system's default CA store
  // checks the servers' certificates.
  TempDir dir;
  std::string ca = dir.file("root.crt");

  SECTION("general's mode, inherited by databases without sslrootcert") {
    auto config = loadOk(R"([general]
server_tls_sslmode = "verify-full"

[databases.app]
host = "db1.example.com"

[databases.covered]
host = "db2.example.com"
sslrootcert = ")" + ca + R"("

["databases"."*"]
host = "db4.example.com"
)");
    const Config& c = *config;
    CHECK(c.serverTlsModeFor(c.databases.at("app")) == TlsMode::VerifyFull);
    CHECK(c.serverTlsCaFileFor(c.databases.at("app")).empty());
    CHECK(c.serverTlsCaFileFor(c.databases.at("covered")) == ca);
  }
  SECTION("a database's own mode") {
    auto config =
        loadOk("[databases.appdb]\nhost = \"db.example.com\"\n" + line("sslmode", "verify-ca"));
    CHECK(config->serverTlsModeFor(config->databases.at("appdb")) == TlsMode::VerifyCa);
    CHECK(config->serverTlsCaFileFor(config->databases.at("appdb")).empty());
  }
  SECTION("and without a warning") {
    LoadResult result = loadString(
        "[general]\n" + line("server_tls_sslmode", "verify-ca") + std::string(kOneDatabase),
        "test.toml");
    REQUIRE(result.ok());
    CHECK(result.warnings.empty());
  }
  SECTION("a CA file, when set, is still checked for readability") {
    ConfigError e = loadOneError("[general]\n" + line("server_tls_sslmode", "verify-full") +
                                 line("server_tls_ca_file", "/nonexistent/root.crt") +
                                 std::string(kOneDatabase));
    CHECK(e.keyPath == "general.server_tls_ca_file");
  }
}

TEST_CASE("config: configured TLS files must be readable at load time", "[config]") {
  const TempDir& dir = testing::sharedTempDir();
  std::string missing = dir.path("missing.pem");
  std::string cert = dir.file("a.crt");
  std::string key = dir.file("a.key");
  struct Case {
    std::string toml;  // the bad key is on line 2, or line 3 under [databases.appdb]
    uint32_t column;
    std::string keyPath;
  };
  auto c = GENERATE_COPY(values<Case>({
      {"[general]\n" + line("client_tls_cert_file", missing) + line("client_tls_key_file", key) +
           std::string(kOneDatabase),
       24, "general.client_tls_cert_file"},
      {"[general]\n" + line("client_tls_key_file", missing) + line("client_tls_cert_file", cert) +
           std::string(kOneDatabase),
       23, "general.client_tls_key_file"},
      {"[general]\n" + line("client_tls_ca_file", missing) + std::string(kOneDatabase), 22,
       "general.client_tls_ca_file"},
      // Checked whatever the mode: server TLS is off here.
      {"[general]\n" + line("server_tls_ca_file", missing) + std::string(kOneDatabase), 22,
       "general.server_tls_ca_file"},
      {"[general]\n" + line("server_tls_cert_file", missing) + line("server_tls_key_file", key) +
           std::string(kOneDatabase),
       24, "general.server_tls_cert_file"},
      {"[general]\n" + line("server_tls_key_file", missing) + line("server_tls_cert_file", cert) +
           std::string(kOneDatabase),
       23, "general.server_tls_key_file"},
      {std::string(kOneDatabase) + line("sslrootcert", missing), 15, "databases.appdb.sslrootcert"},
  }));
  INFO(c.toml);
  ConfigError e = loadOneError(c.toml);
  CHECK(e.file == "test.toml");
  CHECK(e.line == (c.keyPath.starts_with("databases") ? 3u : 2u));
  CHECK(e.column == c.column);
  CHECK(e.keyPath == c.keyPath);
  CHECK(e.message == "cannot read file \"" + missing + "\": No such file or directory");
}

TEST_CASE("config: a directory or an unreadable file is not a TLS file", "[config]") {
  TempDir dir;
  SECTION("a directory") {
    ConfigError e = loadOneError("[general]\n" + line("server_tls_ca_file", dir.dir().string()) +
                                 std::string(kOneDatabase));
    CHECK(e.keyPath == "general.server_tls_ca_file");
    CHECK(e.message == "cannot read file \"" + dir.dir().string() + "\": Is a directory");
  }
  SECTION("no read permission") {
    if (::geteuid() == 0) {
      WARN("running as root, which may read any file: skipped");
      return;
    }
    std::string ca = dir.file("ca.crt");
    REQUIRE(::chmod(ca.c_str(), 0200) == 0);
    ConfigError e =
        loadOneError("[general]\n" + line("client_tls_ca_file", ca) + std::string(kOneDatabase));
    CHECK(e.keyPath == "general.client_tls_ca_file");
    CHECK(e.message == "cannot read file \"" + ca + "\": Permission denied");
  }
}

TEST_CASE("config: every unreadable TLS file is reported, in file order", "[config]") {
  TempDir dir;
  LoadResult result =
      loadString("[general]\n" + line("client_tls_sslmode", "require") +
                     line("client_tls_cert_file", dir.path("server.crt")) +
                     line("client_tls_key_file", dir.path("server.key")) + "[databases.appdb]\n" +
                     line("sslrootcert", dir.path("rds.pem")),
                 "test.toml");
  std::string expected;
  for (auto [where, key, name] : {std::tuple{"3:24", "general.client_tls_cert_file", "server.crt"},
                                  std::tuple{"4:23", "general.client_tls_key_file", "server.key"},
                                  std::tuple{"6:15", "databases.appdb.sslrootcert", "rds.pem"}}) {
    expected +=
        fmt::format("test.toml:{}: {}: cannot read file \"{}\": No such file or directory\n", where,
                    key, dir.path(name));
  }
  CHECK(formatAll(result.errors) == expected);
}

TEST_CASE("config: a bad TLS value gets no follow-up errors", "[config]") {
  struct Case {
    std::string toml;
    std::string keyPath;
  };
  auto c = GENERATE(values<Case>({
      // A bad mode is not also missing its files.
      {"[general]\nclient_tls_sslmode = \"requir\"\n[databases.appdb]\n",
       "general.client_tls_sslmode"},
      // A CA file of the wrong type is not also a missing CA file.
      {"[general]\nserver_tls_sslmode = \"verify-full\"\nserver_tls_ca_file = 1\n"
       "[databases.appdb]\n",
       "general.server_tls_ca_file"},
      {"[databases.appdb]\nsslmode = \"verify-full\"\nsslrootcert = \"\"\n",
       "databases.appdb.sslrootcert"},
      // A bad general mode says nothing about databases that inherit it.
      {"[general]\nserver_tls_sslmode = 3\n[databases.appdb]\n", "general.server_tls_sslmode"},
      // A key file of the wrong type is not also a certificate without a key.
      {"[general]\nserver_tls_cert_file = \"/nonexistent.crt\"\nserver_tls_key_file = 2\n"
       "[databases.appdb]\n",
       "general.server_tls_key_file"},
  }));
  INFO(c.toml);
  LoadResult result = loadString(c.toml, "test.toml");
  INFO(formatAll(result.errors));
  // The last case also has an unreadable certificate file: a separate problem.
  REQUIRE_FALSE(result.errors.empty());
  CHECK(std::count_if(result.errors.begin(), result.errors.end(),
                      [&](const ConfigError& e) { return e.keyPath == c.keyPath; }) == 1);
  for (const auto& e : result.errors) {
    if (e.keyPath != c.keyPath) CHECK(e.message.starts_with("cannot read file"));
  }
}

}  // namespace
}  // namespace shardpool::config
