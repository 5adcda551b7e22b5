// TLS: clients -> shardpool (client_tls_*) and shardpool -> PostgreSQL (server_tls_*, per-database
// sslmode/sslrootcert). Certificates come from scripts/make-test-certs.sh (ctest fixture "certs",
// $SHARDPOOL_IT_CERTS); the test cluster runs with ssl=on and has a role, sp_tlsonly, that
// pg_hba admits only over TLS (scripts/pg-cluster.sh with PG_CLUSTER_SSL_DIR).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <regex>

#include "integration/harness.h"

using namespace shardpool::integration;

namespace {

// [general] with client TLS in `mode`, using the test server certificate.
std::string clientTlsGeneral(const std::string& mode, const std::string& extra = "") {
  std::string s = "client_tls_sslmode = \"" + mode + "\"\nclient_tls_cert_file = \"" +
                  testCert("server.crt") + "\"\nclient_tls_key_file = \"" + testCert("server.key") +
                  "\"";
  if (!extra.empty()) s += "\n" + extra;
  return generalSection(s);
}

// [databases.NAME] -> the test cluster by host name, as sp_tlsonly (pg_hba: TLS only).
std::string tlsOnlyDatabase(const std::string& name, const std::string& sslmode,
                            const std::string& rootcert, const std::string& extra = "") {
  std::string s = "[databases." + name +
                  "]\nhost = \"localhost\"\nport = " + std::to_string(pgPort()) +
                  "\ndbname = \"sp_db\"\nuser = \"sp_tlsonly\"\npassword = \"" +
                  clusterValue("SP_TLSONLY_PASSWORD") + "\"\nsslmode = \"" + sslmode + "\"\n";
  if (!rootcert.empty()) s += "sslrootcert = \"" + rootcert + "\"\n";
  if (!extra.empty()) s += extra + "\n";
  return s + "\n";
}

void requireSslCluster() {
  const auto& env = clusterEnv();
  auto it = env.find("PG_SSL");
  INFO("the test cluster must run with TLS (pg-cluster.sh start with PG_CLUSTER_SSL_DIR)");
  REQUIRE(it != env.end());
  REQUIRE(it->second == "1");
}

// The error a client gets from this connection: at connect time or, when the proxy admitted it
// before reaching the server, on its first query. Empty message: no error at all.
PgError firstError(Conn& c) {
  if (!c.ok()) return c.connectError();
  auto results = c.exec("select 1", 10s);
  if (!results.empty() && !results.back()) return {"", "timeout: no answer to select 1 in 10 s"};
  for (auto& r : results) {
    auto st = PQresultStatus(r.get());
    if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE) {
      auto e = errorFrom(r.get());
      if (e.sqlstate.empty()) e = errorFromText(PQerrorMessage(c.get()));
      return e;
    }
  }
  return {};
}

std::string describe(const PgError& e) {
  return "[" + e.sqlstate + "] " + e.message;
}

std::string tlsProtocol(const Conn& c) {
  const char* p = PQsslAttribute(c.get(), "protocol");
  return p ? p : "";
}

long regexNumber(const std::string& out, const char* pattern) {
  std::regex re(pattern);
  std::smatch m;
  return std::regex_search(out, m, re) ? std::stol(m[1]) : -1;
}

}  // namespace

TEST_CASE("tls: client_tls_sslmode=require accepts TLS clients and refuses plain ones",
          "[integration][tls]") {
  auto start = Clock::now();
  Proxy proxy(clientTlsGeneral("require") + clusterDatabase() +
              userSection("sp_scram", "scram_pass"));

  {
    Conn c(proxy.conninfo("sp_scram", "scram_pass") + " sslmode=require");
    INFO(describe(c.connectError()));
    REQUIRE(c.ok());
    CHECK(PQsslInUse(c.get()) == 1);
    CHECK((tlsProtocol(c) == "TLSv1.2" || tlsProtocol(c) == "TLSv1.3"));
    CHECK(c.scalar("select 1") == "1");
  }
  {
    auto env = clientEnv("scram_pass");
    env["PGSSLMODE"] = "require";
    auto r = runCommand(psqlArgs(proxy.port(), "sp_scram", "select 1"), env, 10s);
    INFO(r.all());
    CHECK_FALSE(r.timedOut);
    CHECK(r.exitCode == 0);
    CHECK(r.out == "1\n");
  }
  {
    Conn c(proxy.conninfo("sp_scram", "scram_pass") + " sslmode=disable");
    INFO(describe(c.connectError()));
    REQUIRE_FALSE(c.ok());
    CHECK(c.connectError().sqlstate == "28000");
    CHECK(containsNoCase(c.connectError().message, "SSL"));
    CHECK(c.connectTime() < 5s);
  }
  CHECK(Clock::now() - start < 15s);
}

TEST_CASE("tls: verify-full clients check the proxy's certificate (CN/SAN localhost)",
          "[integration][tls]") {
  auto start = Clock::now();
  Proxy proxy(clientTlsGeneral("require") + clusterDatabase() +
              userSection("sp_scram", "scram_pass"));
  // host= is what libpq checks the certificate against; hostaddr= skips name resolution.
  std::string base = "host=localhost hostaddr=127.0.0.1 port=" + std::to_string(proxy.port()) +
                     " dbname=sp_db user=sp_scram password=scram_pass sslmode=verify-full";

  {
    Conn c(base + " sslrootcert=" + testCert("ca.crt"));
    INFO(describe(c.connectError()));
    REQUIRE(c.ok());
    CHECK(PQsslInUse(c.get()) == 1);
    CHECK(c.scalar("select 1") == "1");
  }
  {
    Conn c(base + " sslrootcert=" + testCert("wrong-ca.crt"));
    INFO(describe(c.connectError()));
    REQUIRE_FALSE(c.ok());
    CHECK(c.connectError().sqlstate.empty());  // libpq refused it, not the proxy
    CHECK(containsNoCase(c.connectError().message, "certificate verify"));
  }
  CHECK(Clock::now() - start < 15s);
}

TEST_CASE("tls: client_tls_sslmode=prefer serves plain and TLS clients", "[integration][tls]") {
  auto start = Clock::now();
  Proxy proxy(clientTlsGeneral("prefer") + clusterDatabase() +
              userSection("sp_scram", "scram_pass"));

  for (auto [sslmode, inUse] : {std::pair{"disable", 0}, {"prefer", 1}, {"require", 1}}) {
    Conn c(proxy.conninfo("sp_scram", "scram_pass") + " sslmode=" + sslmode);
    INFO("sslmode=" << sslmode << ": " << describe(c.connectError()));
    REQUIRE(c.ok());
    CHECK(PQsslInUse(c.get()) == inUse);
    CHECK(c.scalar("select current_user") == "sp_scram");
  }
  CHECK(Clock::now() - start < 15s);
}

TEST_CASE("tls: client_tls_sslmode=verify-full wants a client certificate whose CN is the user",
          "[integration][tls]") {
  auto start = Clock::now();
  Proxy proxy(
      clientTlsGeneral("verify-full", "client_tls_ca_file = \"" + testCert("ca.crt") + "\"") +
      clusterDatabase() + userSection("sp_scram", "scram_pass"));
  std::string base = proxy.conninfo("sp_scram", "scram_pass") + " sslmode=require";

  {
    Conn c(base + " sslcert=" + testCert("client-sp_scram.crt") +
           " sslkey=" + testCert("client-sp_scram.key"));
    INFO(describe(c.connectError()));
    REQUIRE(c.ok());
    CHECK(PQsslInUse(c.get()) == 1);
    CHECK(c.scalar("select 1") == "1");
  }
  {
    Conn c(base + " sslcert=" + testCert("client-other.crt") +
           " sslkey=" + testCert("client-other.key"));
    INFO(describe(c.connectError()));
    REQUIRE_FALSE(c.ok());
    CHECK(c.connectError().sqlstate == "28000");
    CHECK(c.connectTime() < 5s);
  }
  {
    // No certificate: the proxy ends the TLS handshake, so libpq reports an SSL error (no
    // SQLSTATE: the proxy never got to speak the protocol).
    Conn c(base + " sslcert=" + testCert("no-such.crt") + " sslkey=" + testCert("no-such.key"));
    INFO(describe(c.connectError()));
    REQUIRE_FALSE(c.ok());
    CHECK_FALSE(c.connectError().message.empty());
    CHECK_FALSE(contains(c.connectError().message, "timeout"));
    CHECK(c.connectError().sqlstate.empty());
  }
  CHECK(Clock::now() - start < 15s);
}

TEST_CASE("tls: backend sslmode verify-full/require/disable against a TLS-only role",
          "[integration][tls]") {
  requireSslCluster();
  auto start = Clock::now();
  std::string cfg = generalSection();
  cfg += tlsOnlyDatabase("db_verify", "verify-full", testCert("ca.crt"));
  cfg += tlsOnlyDatabase("db_plain", "disable", "");
  cfg += tlsOnlyDatabase("db_wrongca", "verify-full", testCert("wrong-ca.crt"));
  cfg += tlsOnlyDatabase("db_require", "require", testCert("wrong-ca.crt"));
  cfg += userSection("sp_scram", "scram_pass");
  Proxy proxy(cfg);

  for (const char* db : {"db_verify", "db_require"}) {
    Conn c(proxy.conninfo("sp_scram", "scram_pass", db));
    INFO(db << ": " << describe(c.connectError()));
    REQUIRE(c.ok());
    CHECK(c.scalar("select current_user") == "sp_tlsonly");
    CHECK(c.scalar("select ssl from pg_stat_ssl where pid = pg_backend_pid()") == "t");
  }
  {
    // pg_hba rejects sp_tlsonly without TLS: the client must get that as an error, quickly.
    Conn c(proxy.conninfo("sp_scram", "scram_pass", "db_plain"));
    PgError e = firstError(c);
    INFO("db_plain: " << describe(e));
    CHECK_FALSE(e.message.empty());
    CHECK_FALSE(contains(e.message, "timeout"));
    CHECK((e.sqlstate == "28000" || e.sqlstate == "08006" || e.sqlstate == "08001"));
    CHECK((e.sqlstate == "28000" || contains(e.message, "pg_hba")));  // the server's refusal
  }
  {
    Conn c(proxy.conninfo("sp_scram", "scram_pass", "db_wrongca"));
    PgError e = firstError(c);
    INFO("db_wrongca: " << describe(e));
    CHECK_FALSE(e.message.empty());
    CHECK(containsNoCase(e.message, "certificate verify"));
  }
  CHECK(Clock::now() - start < 15s);
}

TEST_CASE("tls: large results and large queries with TLS on both legs", "[integration][tls]") {
  requireSslCluster();
  auto start = Clock::now();
  Proxy proxy(clientTlsGeneral("require") +
              tlsOnlyDatabase("sp_db", "verify-full", testCert("ca.crt")) +
              userSection("sp_scram", "scram_pass"));
  Conn c(proxy.conninfo("sp_scram", "scram_pass") + " sslmode=require");
  INFO(describe(c.connectError()));
  REQUIRE(c.ok());
  REQUIRE(PQsslInUse(c.get()) == 1);
  REQUIRE(c.scalar("select ssl from pg_stat_ssl where pid = pg_backend_pid()") == "t");

  // Server -> client: 20 MB of rows.
  Rows rows = c.query("select repeat('x', 1000) from generate_series(1, 20000)", 12s);
  REQUIRE(rows.size() == 20000);
  size_t total = 0;
  size_t bad = 0;
  for (const auto& r : rows) {
    const std::string& v = r.at(0).value();
    total += v.size();
    if (v.size() != 1000 || std::any_of(v.begin(), v.end(), [](char ch) { return ch != 'x'; }))
      ++bad;
  }
  CHECK(total == 20'000'000);
  CHECK(bad == 0);

  // Client -> server: a 4 MB query text.
  std::string big(4'000'000, 'y');
  CHECK(c.scalar("select length('" + big + "')") == "4000000");
  CHECK(c.scalar("select 1") == "1");
  CHECK(Clock::now() - start < 15s);
}

TEST_CASE("tls: pgbench -M prepared -S on transaction pooling with TLS both legs",
          "[integration][tls]") {
  requireSslCluster();
  auto start = Clock::now();
  // pgbench tables in sp_tlsonly's own schema ("$user" is first on the search_path), so they do
  // not clash with other tests' pgbench -i.
  // Only that schema: with "public" on the path, `DROP TABLE IF EXISTS` would find other tests'
  // pgbench tables there.
  adminConn().query("CREATE SCHEMA IF NOT EXISTS sp_tlsonly AUTHORIZATION sp_tlsonly");
  adminConn().query("ALTER ROLE sp_tlsonly SET search_path = sp_tlsonly");
  Proxy proxy(clientTlsGeneral("require",
                               "pool_mode = \"transaction\"\ndefault_pool_size = 2\n"
                               "query_wait_timeout = \"10s\"") +
              tlsOnlyDatabase("sp_db", "verify-full", testCert("ca.crt")) +
              userSection("sp_scram", "scram_pass"));
  auto env = clientEnv("scram_pass");
  env["PGSSLMODE"] = "require";
  auto pgbench = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{
        "pgbench", "-h", "127.0.0.1", "-p", std::to_string(proxy.port()), "-U", "sp_scram"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back("sp_db");
    return args;
  };

  auto init = runCommand(pgbench({"-i", "-q", "-s", "1"}), env, 6s);
  INFO("pgbench -i:\n" << init.all());
  REQUIRE_FALSE(init.timedOut);
  REQUIRE(init.exitCode == 0);

  auto run =
      runCommand(pgbench({"-M", "prepared", "-c", "4", "-j", "4", "-T", "3", "-S"}), env, 7s);
  INFO("pgbench -M prepared -S:\n" << run.all());
  CHECK_FALSE(run.timedOut);
  CHECK(run.exitCode == 0);
  CHECK_FALSE(containsNoCase(run.all(), "error"));
  CHECK(regexNumber(run.out, R"(number of failed transactions: ([0-9]+))") == 0);
  CHECK(regexNumber(run.out, R"(number of transactions actually processed: ([0-9]+))") > 0);
  CHECK(Clock::now() - start < 15s);
}

TEST_CASE("tls: backend verify-full without a CA file uses the system's default CA store",
          "[integration][tls]") {
  // As PgBouncer without server_tls_ca_file. The test CA is not in the system store, so the
  // check fails, with a message that says which store was used ...
  requireSslCluster();
  std::string cfg = generalSection() + tlsOnlyDatabase("db_sysca", "verify-full", "") +
                    userSection("sp_scram", "scram_pass");
  {
    Proxy proxy(cfg);
    Conn c(proxy.conninfo("sp_scram", "scram_pass", "db_sysca"));
    PgError e = firstError(c);
    INFO("db_sysca: " << describe(e));
    CHECK(containsNoCase(e.message, "certificate verify failed"));
    CHECK(contains(e.message, "system's default CA store"));
  }
  // ... and OpenSSL's default store is what it uses: pointed at the test CA (SSL_CERT_FILE, in
  // the proxy's environment), the same configuration connects with a verified certificate.
  const char* old = std::getenv("SSL_CERT_FILE");
  std::optional<std::string> saved = old ? std::optional<std::string>(old) : std::nullopt;
  ::setenv("SSL_CERT_FILE", testCert("ca.crt").c_str(), 1);
  struct Restore {
    std::optional<std::string> value;
    ~Restore() {
      if (value)
        ::setenv("SSL_CERT_FILE", value->c_str(), 1);
      else
        ::unsetenv("SSL_CERT_FILE");
    }
  } restore{saved};
  Proxy proxy(cfg);
  Conn c(proxy.conninfo("sp_scram", "scram_pass", "db_sysca"));
  INFO("db_sysca with SSL_CERT_FILE: " << describe(c.connectError()));
  REQUIRE(c.ok());
  CHECK(c.scalar("select current_user") == "sp_tlsonly");
  CHECK(c.scalar("select ssl from pg_stat_ssl where pid = pg_backend_pid()") == "t");
}

TEST_CASE("tls: RELOAD applies changed client TLS settings and files to new connections only",
          "[integration][tls][reload]") {
  auto configText = [](const std::string& general) {
    return generalSection("admin_users = [\"sp_admin\"]\n" + general) + clusterDatabase() +
           userSection("sp_scram", "scram_pass") + userSection("sp_admin", "admin_pass");
  };
  auto tlsKeys = [](const std::string& mode, const std::string& crt, const std::string& key) {
    return "client_tls_sslmode = \"" + mode + "\"\nclient_tls_cert_file = \"" + crt +
           "\"\nclient_tls_key_file = \"" + key + "\"";
  };
  // A second, self-signed certificate, its own root.
  TempDir dir;
  std::string otherCrt = dir.path() + "/other.crt", otherKey = dir.path() + "/other.key";
  auto made = runCommand({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                          "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", otherKey, "-out",
                          otherCrt, "-days", "2", "-subj", "/CN=localhost"});
  INFO(made.all());
  REQUIRE(made.exitCode == 0);
  Proxy proxy(configText(""));
  Conn console(proxy.conninfo("sp_admin", "admin_pass", "pgbouncer"));
  REQUIRE(console.ok());
  auto reload = [&](const std::string& general) {
    std::ofstream(proxy.configPath()) << substitute(configText(general), proxy.port());
    return console.exec("RELOAD", 10s);
  };
  auto verifying = [&](const std::string& rootcert) {
    return Conn(proxy.conninfo("sp_scram", "scram_pass") +
                " sslmode=verify-ca sslrootcert=" + rootcert);
  };
  Conn plainBefore(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(plainBefore.ok());
  CHECK_FALSE(verifying(testCert("ca.crt")).ok());  // no TLS yet

  // TLS required from now on: new plain clients are refused, the one connected stays.
  auto r = reload(tlsKeys("require", testCert("server.crt"), testCert("server.key")));
  REQUIRE_FALSE(r.empty());
  REQUIRE(r.back());
  INFO(errorFrom(r.back().get()).message);
  REQUIRE(PQresultStatus(r.back().get()) == PGRES_COMMAND_OK);
  Conn tlsClient = verifying(testCert("ca.crt"));
  INFO(describe(tlsClient.connectError()));
  REQUIRE(tlsClient.ok());
  CHECK(PQsslInUse(tlsClient.get()) == 1);
  Conn plainAfter(proxy.conninfo("sp_scram", "scram_pass"));
  CHECK_FALSE(plainAfter.ok());
  CHECK(plainAfter.connectError().sqlstate == "28000");
  CHECK(plainBefore.scalar("select 'still here'") == "still here");

  // The other certificate: new clients see it, the TLS client keeps its session.
  r = reload(tlsKeys("require", otherCrt, otherKey));
  REQUIRE(PQresultStatus(r.back().get()) == PGRES_COMMAND_OK);
  CHECK_FALSE(verifying(testCert("ca.crt")).ok());
  Conn renewed = verifying(otherCrt);
  INFO(describe(renewed.connectError()));
  CHECK(renewed.ok());
  CHECK(tlsClient.scalar("select 'same session'") == "same session");

  // A certificate whose key does not match: the reload is refused and the running TLS stays.
  r = reload(tlsKeys("require", testCert("server.crt"), otherKey));
  REQUIRE_FALSE(r.empty());
  REQUIRE(r.back());
  CHECK(PQresultStatus(r.back().get()) == PGRES_FATAL_ERROR);
  CHECK(contains(errorFrom(r.back().get()).message, "client TLS"));
  CHECK(verifying(otherCrt).ok());

  // SET works the same way: TLS off for new clients.
  console.query("SET client_tls_sslmode = 'disable'");
  Conn plainAgain(proxy.conninfo("sp_scram", "scram_pass"));
  CHECK(plainAgain.ok());
  CHECK_FALSE(verifying(otherCrt).ok());
}
