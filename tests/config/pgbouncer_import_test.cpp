// import-pgbouncer: [pgbouncer] settings -> [general], with notes for what has no equivalent.
// Every generated file must load with no errors; the tests check the loaded Config values.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <string>

#include "config/config.h"
#include "config/pgbouncer_import.h"
#include "pgbouncer_test_support.h"
#include "tls_test_support.h"

namespace shardpool::config {
namespace {

using namespace std::chrono_literals;
using testing::hasNote;
using testing::hasNoteFor;
using testing::importOk;
using testing::kPgbDatabases;

std::string withGeneral(std::string_view lines) {
  return "[pgbouncer]\n" + std::string(lines) + "\n" + std::string(kPgbDatabases);
}

struct GeneralCase {
  std::string_view lines;  // under [pgbouncer]
  std::function<void(const General&)> check;
  std::string_view noteKey;  // a note is expected at this key; empty: no note about the lines
};

TEST_CASE("pgbouncer import: [pgbouncer] settings map to [general]", "[config][pgbouncer]") {
  const GeneralCase cases[] = {
      {"listen_addr = 10.1.2.3", [](const General& g) { CHECK(g.listenAddr == "10.1.2.3"); }, ""},
      {"listen_addr = *", [](const General& g) { CHECK(g.listenAddr == "0.0.0.0"); },
       "listen_addr"},
      {"listen_addr = 127.0.0.2, 10.0.0.1",
       [](const General& g) { CHECK(g.listenAddr == "127.0.0.2"); }, "listen_addr"},
      {"listen_port = 7432", [](const General& g) { CHECK(g.listenPort == 7432); }, ""},
      {"max_client_conn = 500", [](const General& g) { CHECK(g.maxClientConn == 500); }, ""},
      {"default_pool_size = 7", [](const General& g) { CHECK(g.defaultPoolSize == 7); }, ""},
      {"min_pool_size = 2", [](const General& g) { CHECK(g.minPoolSize == 2); }, ""},
      {"reserve_pool_size = 3\nreserve_pool_timeout = 2.5",
       [](const General& g) {
         CHECK(g.reservePoolSize == 3);
         CHECK(g.reservePoolTimeout == 2500ms);
       },
       ""},
      {"max_db_connections = 50\nmax_user_connections = 40",
       [](const General& g) {
         CHECK(g.maxDbConnections == 50);
         CHECK(g.maxUserConnections == 40);
       },
       ""},
      {"pool_mode = transaction",
       [](const General& g) { CHECK(g.poolMode == PoolMode::Transaction); }, ""},
      {"pool_mode = Statement", [](const General& g) { CHECK(g.poolMode == PoolMode::Statement); },
       ""},
      {"pool_mode = sesion", [](const General& g) { CHECK(g.poolMode == PoolMode::Session); },
       "pool_mode"},
      {"auth_type = plain", [](const General& g) { CHECK(g.authType == AuthType::Password); }, ""},
      {"auth_type = md5", [](const General& g) { CHECK(g.authType == AuthType::Md5); }, ""},
      {"auth_type = scram-sha-256",
       [](const General& g) { CHECK(g.authType == AuthType::ScramSha256); }, ""},
      {"auth_type = trust", [](const General& g) { CHECK(g.authType == AuthType::Trust); }, ""},
      {"auth_type = any", [](const General& g) { CHECK(g.authType == AuthType::Trust); },
       "auth_type"},
      {"auth_type = pam", [](const General& g) { CHECK(g.authType == AuthType::ScramSha256); },
       "auth_type"},
      {"auth_type = kerberos", [](const General& g) { CHECK(g.authType == AuthType::Md5); },
       "auth_type"},
      {"server_reset_query =", [](const General& g) { CHECK(g.serverResetQuery.empty()); }, ""},
      {"server_reset_query = DISCARD ALL; SELECT 'x'",
       [](const General& g) { CHECK(g.serverResetQuery == "DISCARD ALL; SELECT 'x'"); }, ""},
      {"query_wait_timeout = 0", [](const General& g) { CHECK(g.queryWaitTimeout == 0ms); }, ""},
      {"query_wait_timeout = 30", [](const General& g) { CHECK(g.queryWaitTimeout == 30s); }, ""},
      {"server_idle_timeout = 0.0004", [](const General& g) { CHECK(g.serverIdleTimeout == 1ms); },
       "server_idle_timeout"},
      {"server_lifetime = 7200", [](const General& g) { CHECK(g.serverLifetime == 7200s); }, ""},
      {"server_lifetime = 0", [](const General& g) { CHECK(g.serverLifetime == 1ms); },
       "server_lifetime"},
      {"server_connect_timeout = 3.25",
       [](const General& g) { CHECK(g.serverConnectTimeout == 3250ms); }, ""},
      {"server_connect_timeout = 0", [](const General& g) { CHECK(g.serverConnectTimeout == 15s); },
       "server_connect_timeout"},
      {"query_timeout = 1.5", [](const General& g) { CHECK(g.queryTimeout == 1500ms); }, ""},
      {"query_timeout = 99999999999", [](const General& g) { CHECK(g.queryTimeout == 0ms); },
       "query_timeout"},
      {"query_timeout = -1", [](const General& g) { CHECK(g.queryTimeout == 0ms); },
       "query_timeout"},
      {"idle_transaction_timeout = 60\nclient_idle_timeout = 300",
       [](const General& g) {
         CHECK(g.idleTransactionTimeout == 60s);
         CHECK(g.clientIdleTimeout == 300s);
       },
       ""},
      {"max_prepared_statements = 0", [](const General& g) { CHECK(g.maxPreparedStatements == 0); },
       ""},
      {"server_tls_sslmode = require",
       [](const General& g) { CHECK(g.serverTlsSslmode == TlsMode::Require); }, ""},
      {"client_tls_sslmode = disable",
       [](const General& g) { CHECK(g.clientTlsSslmode == TlsMode::Disable); }, ""},
      {"client_tls_sslmode = sometimes",
       [](const General& g) { CHECK(g.clientTlsSslmode == TlsMode::Disable); },
       "client_tls_sslmode"},
      {"verbose = 2", [](const General& g) { CHECK(g.logLevel == LogLevel::Debug); }, "verbose"},
      {"verbose = 0", [](const General& g) { CHECK(g.logLevel == LogLevel::Info); }, ""},
      {"listen_port = abc", [](const General& g) { CHECK(g.listenPort == 6432); }, "listen_port"},
      {"listen_port = 70000", [](const General& g) { CHECK(g.listenPort == 6432); }, "listen_port"},
      {"default_pool_size = 0", [](const General& g) { CHECK(g.defaultPoolSize == 20); },
       "default_pool_size"},
      {"LISTEN_PORT = 7000\nPool_Mode = transaction",
       [](const General& g) {
         CHECK(g.listenPort == 7000);
         CHECK(g.poolMode == PoolMode::Transaction);
       },
       ""},
      {"listen_port = 7000\nlisten_port = 7001",
       [](const General& g) { CHECK(g.listenPort == 7001); }, "listen_port"},
  };
  for (const auto& c : cases) {
    INFO(c.lines);
    auto imported = importOk(withGeneral(c.lines));
    c.check(imported.config->general);
    const auto& notes = imported.result.notes;
    INFO(testing::formatNotes(notes));
    if (c.noteKey.empty()) {
      // The lines are 2 .. lastLine of the file.
      auto lastLine = static_cast<uint32_t>(2 + std::count(c.lines.begin(), c.lines.end(), '\n'));
      for (const auto& n : notes) CHECK_FALSE((n.line >= 2 && n.line <= lastLine));
    } else {
      CHECK(hasNoteFor(notes, c.noteKey));
    }
  }
}

TEST_CASE("pgbouncer import: PgBouncer's defaults where shardpool's differ",
          "[config][pgbouncer]") {
  auto imported = importOk(withGeneral("listen_addr = 127.0.0.1"));
  const General& g = imported.config->general;
  CHECK(g.authType == AuthType::Md5);  // PgBouncer's default auth_type
  CHECK(g.maxClientConn == 100);       // PgBouncer's default max_client_conn
  CHECK(g.poolMode == PoolMode::Session);
  CHECK(g.defaultPoolSize == 20);
  CHECK(g.serverLifetime == 3600s);

  // No listen_addr: PgBouncer listens on its unix socket only.
  auto noAddr = importOk(withGeneral("listen_port = 6432"));
  CHECK(noAddr.config->general.listenAddr == "127.0.0.1");
  CHECK(noAddr.config->general.unixSocketDir == "/tmp");  // PgBouncer's default
  CHECK(hasNote(noAddr.result.notes, "listen_addr", 0, "unix socket"));
}

TEST_CASE("pgbouncer import: settings with no equivalent get a note on their line",
          "[config][pgbouncer]") {
  const std::string_view keys[] = {"logfile",
                                   "pidfile",
                                   "server_round_robin",
                                   "ignore_startup_parameters",
                                   "tcp_keepalive",
                                   "client_tls_ciphers",
                                   "dns_max_ttl",
                                   "so_reuseport",
                                   "server_check_query",
                                   "user",
                                   "no_such_setting"};
  std::string lines;
  for (auto key : keys) lines += std::string(key) + " = 1\n";
  auto imported = importOk("; a comment\n[pgbouncer]\nlisten_addr = 127.0.0.1\n" + lines +
                           std::string(kPgbDatabases));
  const auto& notes = imported.result.notes;
  INFO(testing::formatNotes(notes));
  uint32_t line = 4;
  for (auto key : keys) {
    INFO(key);
    CHECK(hasNote(notes, key, line, "no equivalent in shardpool"));
    ++line;
  }
  CHECK(hasNote(notes, "logfile", 0, "stderr"));
  // The note's text: file:line: key: message.
  auto logfile = std::find_if(notes.begin(), notes.end(),
                              [](const ImportNote& n) { return n.key == "logfile"; });
  REQUIRE(logfile != notes.end());
  CHECK(logfile->format().rfind("pgbouncer.ini:4: logfile: no equivalent in shardpool; ", 0) == 0);
}

TEST_CASE("pgbouncer import: auth_user, auth_query and auth_dbname, in [pgbouncer] and per database",
          "[config][pgbouncer]") {
  auto imported = importOk(
      "[pgbouncer]\nlisten_addr = 127.0.0.1\nauth_user = pgb_auth\n"
      "auth_query = SELECT usename, passwd FROM pg_shadow WHERE usename=$1\n"
      "auth_dbname = authdb\n[databases]\napp = host=h auth_user=other auth_dbname=postgres\n"
      "plain = host=h\n");
  INFO(testing::formatNotes(imported.result.notes));
  const Config& c = *imported.config;
  CHECK(c.general.authUser == "pgb_auth");
  CHECK(c.general.authQuery == "SELECT usename, passwd FROM pg_shadow WHERE usename=$1");
  CHECK(c.general.authDbname == "authdb");
  CHECK(c.general.pgbouncerOnly.count("auth_user") == 0);
  CHECK_FALSE(hasNoteFor(imported.result.notes, "auth_user"));
  CHECK_FALSE(hasNoteFor(imported.result.notes, "auth_query"));
  const Database& app = c.databases.at("app");
  CHECK(c.authUserFor(app) == "other");
  CHECK(c.authDbnameFor(app) == "postgres");
  CHECK(c.authQueryFor(app) == c.general.authQuery);
  const Database& plain = c.databases.at("plain");
  CHECK(c.authUserFor(plain) == "pgb_auth");
  CHECK(c.authDbnameFor(plain) == "authdb");
}

TEST_CASE("pgbouncer import: server_reset_query_always only when it is on", "[config][pgbouncer]") {
  auto off = importOk(withGeneral("server_reset_query_always = 0"));
  CHECK_FALSE(hasNoteFor(off.result.notes, "server_reset_query_always"));
  auto on = importOk(withGeneral("server_reset_query_always = 1"));
  CHECK(hasNote(on.result.notes, "server_reset_query_always", 2, "session-mode"));
}

TEST_CASE("pgbouncer import: TLS settings, auth_type cert and hba", "[config][pgbouncer]") {
  testing::TempDir dir;
  std::string cert = dir.file("server.crt");
  std::string key = dir.file("server.key");
  std::string ca = dir.file("ca.crt");
  std::string lines = "client_tls_sslmode = require\nclient_tls_cert_file = " + cert +
                      "\nclient_tls_key_file = " + key + "\nclient_tls_ca_file = " + ca +
                      "\nserver_tls_sslmode = verify-full\nserver_tls_ca_file = " + ca +
                      "\nserver_tls_cert_file = " + cert + "\nserver_tls_key_file = " + key +
                      "\nclient_tls_protocols = secure";
  auto imported = importOk(withGeneral(lines));
  const General& g = imported.config->general;
  CHECK(g.clientTlsSslmode == TlsMode::Require);
  CHECK(g.clientTlsCertFile == cert);
  CHECK(g.clientTlsKeyFile == key);
  CHECK(g.clientTlsCaFile == ca);
  CHECK(g.serverTlsSslmode == TlsMode::VerifyFull);
  CHECK(g.serverTlsCaFile == ca);
  CHECK(g.serverTlsCertFile == cert);
  CHECK(g.serverTlsKeyFile == key);
  CHECK(hasNote(imported.result.notes, "client_tls_protocols", 10, "TLS 1.2"));

  // cert is shardpool's cert: same TLS settings, no note.
  auto certAuth = importOk(withGeneral(lines + "\nauth_type = cert"));
  CHECK(certAuth.config->general.authType == AuthType::Cert);
  CHECK(certAuth.config->general.clientTlsSslmode == TlsMode::Require);
  CHECK_FALSE(hasNoteFor(certAuth.result.notes, "auth_type"));

  // hba reads the same auth_hba_file, which has the same format.
  std::string hba = dir.file("hba.conf", "local all all peer\nhost all all 0.0.0.0/0 md5\n");
  auto hbaAuth = importOk(withGeneral("auth_type = hba\nauth_hba_file = " + hba));
  CHECK(hbaAuth.config->general.authType == AuthType::Hba);
  CHECK(hbaAuth.config->general.authHbaFile == hba);
  REQUIRE(hbaAuth.config->general.hba != nullptr);
  CHECK(hbaAuth.config->general.hba->rules.size() == 2);
  CHECK_FALSE(hasNoteFor(hbaAuth.result.notes, "auth_type"));
  CHECK_FALSE(hasNoteFor(hbaAuth.result.notes, "auth_hba_file"));

  auto empty = importOk(withGeneral("client_tls_ca_file ="));
  CHECK(empty.config->general.clientTlsCaFile.empty());
  CHECK(hasNote(empty.result.notes, "client_tls_ca_file", 2, "empty"));
}

TEST_CASE("pgbouncer import: admin_users and stats_users", "[config][pgbouncer]") {
  const char* userlist = "\"alice\" \"a-pass\"\n\"bob\" \"b-pass\"\n";
  auto imported =
      importOk(withGeneral("admin_users = alice, ghost\nstats_users = bob,alice"), userlist);
  const General& g = imported.config->general;
  CHECK(g.adminUsers == std::vector<std::string>{"alice"});
  CHECK(g.statsUsers == std::vector<std::string>{"bob", "alice"});
  CHECK(imported.config->findUser("ghost") == nullptr);
  CHECK(hasNote(imported.result.notes, "admin_users", 2, "\"ghost\" dropped"));
  CHECK(hasNote(imported.result.notes, "users.ghost", 2, "not in the userlist"));

  // With trust no password is needed, so every listed user is kept.
  auto trust = importOk(withGeneral("auth_type = trust\nadmin_users = ghost"));
  CHECK(trust.config->general.adminUsers == std::vector<std::string>{"ghost"});
  REQUIRE(trust.config->findUser("ghost") != nullptr);
  CHECK(trust.config->findUser("ghost")->password.empty());
}

TEST_CASE("pgbouncer import: the output has a header and quotes every value safely",
          "[config][pgbouncer]") {
  auto imported = importOk(
      "[pgbouncer]\nlisten_addr = 127.0.0.1\nlogfile = /var/log/pgbouncer.log\n"
      "server_reset_query = SELECT '${HOME}' || \"q\" || '\\'\n"
      "[databases]\nmy.db = host=127.0.0.1 dbname='we''ird \"name\"'\n",
      "\"alice\" \"p${HOME}$${x}\\\"\"\"\n");
  const std::string& toml = imported.result.toml;
  CHECK(toml.rfind("# shardpool configuration generated by `shardpool import-pgbouncer` from "
                   "pgbouncer.ini and userlist.txt.\n",
                   0) == 0);
  CHECK(toml.find("#   pgbouncer.ini:3: logfile: no equivalent") != std::string::npos);
  CHECK(toml.find("keep it readable") != std::string::npos);
  const Config& c = *imported.config;
  CHECK(c.general.serverResetQuery == "SELECT '${HOME}' || \"q\" || '\\'");
  REQUIRE(c.findDatabase("my.db") != nullptr);
  CHECK(c.findDatabase("my.db")->dbname == "we'ird \"name\"");
  REQUIRE(c.findUser("alice") != nullptr);
  CHECK(c.findUser("alice")->password == "p${HOME}$${x}\\\"");
}

TEST_CASE("pgbouncer import: not a PgBouncer file", "[config][pgbouncer]") {
  for (std::string_view text : {"", "just some text\n", "[general]\nlisten_port = 1\n"}) {
    INFO(text);
    ImportResult r = importPgbouncer(text, "x.ini");
    CHECK_FALSE(r.parsed);
    CHECK(r.toml.empty());
    CHECK(hasNote(r.notes, "", 0, "not a PgBouncer configuration"));
  }
  // A [pgbouncer] section alone converts, with a note that a database is needed.
  ImportResult onlyGeneral = importPgbouncer("[pgbouncer]\nlisten_port = 1\n", "x.ini");
  CHECK(onlyGeneral.parsed);
  CHECK(hasNote(onlyGeneral.notes, "", 0, "no databases"));
}

}  // namespace
}  // namespace shardpool::config
