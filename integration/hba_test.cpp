// Client authentication by certificate (auth_type = "cert") and by host-based rules
// (auth_type = "hba" with auth_hba_file, PgBouncer's pg_hba.conf subset): the method each login
// gets by connection type, TLS, database, user and address, peer logins over the unix socket,
// rejections, and rules re-read on reload. Certificates come from scripts/make-test-certs.sh
// (client-sp_scram: CN=sp_scram, client-other: CN=someone_else).
#include <catch2/catch.hpp>

#include <pwd.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <thread>

#include "integration/harness.h"
#include "integration/pgbouncer_process.h"
#include "integration/raw_socket.h"

using namespace shardpool::integration;

namespace {

std::string cert(const std::string& file) { return testCert(file); }

std::string osUser() {
  const passwd* pw = ::getpwuid(::geteuid());
  if (pw == nullptr) throw std::runtime_error("no name for this process's user");
  return pw->pw_name;
}

// Client TLS offered, not required, with the test CA to verify client certificates.
std::string tlsSettings() {
  return "client_tls_sslmode = \"prefer\"\nclient_tls_cert_file = \"" + cert("server.crt") +
         "\"\nclient_tls_key_file = \"" + cert("server.key") + "\"\nclient_tls_ca_file = \"" +
         cert("ca.crt") + "\"\n";
}

// Every client logs in to the server as `backend`, so that users need no role of their own.
std::string database(const TempRole& backend) {
  return clusterDatabase("sp_db", "user = \"" + backend.name() + "\"\npassword = \"" +
                                      backend.password() + "\"");
}

// libpq over TLS with the client certificate `name` (client-NAME.crt), or none.
std::string withCert(const std::string& conninfo, const std::string& name) {
  std::string c = conninfo + " sslmode=require";
  if (name.empty()) return c + " sslcert=/nonexistent.crt sslkey=/nonexistent.key";
  return c + " sslcert=" + cert("client-" + name + ".crt") +
         " sslkey=" + cert("client-" + name + ".key");
}

// What a raw client (no TLS) from `source` is asked first: "R<code>" for an authentication
// request (0 ok, 3 cleartext, 5 md5, 10 SASL), or "E<sqlstate>: <message>".
std::string firstAnswer(uint16_t port, const std::string& user, const char* source = nullptr) {
  RawSocket s(port, 5s, source);
  s.send(wire::startup({{"user", user}, {"database", "sp_db"}}));
  s.readUntil(
      [](std::string_view in) {
        for (auto& m : wire::parseMessages(in))
          if (m.type == 'R' || m.type == 'E') return true;
        return false;
      },
      5s);
  for (auto& m : wire::parseMessages(s.received())) {
    if (m.type == 'R' && m.body.size() >= 4)
      return "R" + std::to_string(uint8_t(m.body[3]) | uint8_t(m.body[2]) << 8);
    if (m.type == 'E')
      return "E" + wire::errorField(m.body, 'C') + ": " + wire::errorField(m.body, 'M');
  }
  return "nothing";
}

bool logSoon(const Proxy& proxy, const std::string& text) {
  auto deadline = Clock::now() + 5s;
  while (!contains(proxy.log(), text)) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

}  // namespace

TEST_CASE("auth cert: the verified client certificate's common name is the credential",
          "[integration][auth][hba]") {
  TempRole backend("it_cert");
  Proxy proxy(generalSection(tlsSettings() + "auth_type = \"cert\"") + database(backend) +
              userSection("sp_scram", ""));
  std::string base = proxy.conninfo("sp_scram", "");

  Conn good(withCert(base, "sp_scram"));
  INFO(good.connectError().message);
  REQUIRE(good.ok());
  CHECK(good.scalar("select current_user") == backend.name());

  // A certificate of someone else, none, or no TLS at all: refused, in PostgreSQL's words.
  for (const std::string& conninfo :
       {withCert(base, "other"), withCert(base, ""), base + " sslmode=disable"}) {
    INFO(conninfo);
    Conn bad(conninfo);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.connectError().sqlstate == "28000");
    CHECK(bad.connectError().message ==
          "certificate authentication failed for user \"sp_scram\"");
  }
  CHECK(logSoon(proxy, "certificate common name \"someone_else\" does not match user"));
  CHECK(logSoon(proxy, "the client sent no verified certificate"));
  CHECK(logSoon(proxy, "cert authentication needs a TLS connection"));

  // A user shardpool does not know is refused even with a valid certificate for it.
  Conn unknown(withCert(proxy.conninfo("someone_else", ""), "other"));
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.connectError().message ==
        "\"cert\" authentication failed for user \"someone_else\"");
}

TEST_CASE("auth hba: the first matching rule picks each login's method, and reload re-reads it",
          "[integration][auth][hba]") {
  TempRole backend("it_hba");
  TempDir dir;
  std::string os = osUser();
  const std::string rules =
      "# TYPE   DATABASE  USER       ADDRESS             METHOD\n"
      "local    all       " + os + "  peer\n"
      "local    all       all                            reject\n"
      "hostssl  sp_db     sp_scram   127.0.0.1/32        cert\n"
      "hostnossl sp_db    sp_scram   127.0.0.1/32        scram-sha-256\n"
      "host     sp_db     sp_md5     127.0.0.0 255.0.0.0 md5\n"
      "host     \"sp_db\" sp_clear   127.0.0.1/32        password\n"
      "host     sp_db     sp_trust   127.0.0.2/32        trust\n";
  std::string hba = dir.write("hba.conf", rules);
  std::string cfg = generalSection(tlsSettings() + "auth_type = \"hba\"\nauth_hba_file = \"" + hba +
                                   "\"\nunix_socket_dir = \"" + dir.path() + "\"") +
                    database(backend) + userSection("sp_scram", "scram_pass") +
                    userSection("sp_md5", "md5_pass") + userSection("sp_clear", "clear_pass") +
                    userSection("sp_trust", "") + userSection(os, "");
  Proxy proxy(cfg);
  uint16_t port = proxy.port();

  // Over TCP without TLS: the rule's method, as the first request shows.
  CHECK(firstAnswer(port, "sp_scram") == "R10");
  CHECK(firstAnswer(port, "sp_md5") == "R5");
  CHECK(firstAnswer(port, "sp_clear") == "R3");
  CHECK(firstAnswer(port, "sp_trust", "127.0.0.2") == "R0");
  // From another address, or a user no rule names: no entry.
  CHECK(firstAnswer(port, "sp_trust") ==
        "E28000: login rejected: no auth_hba_file entry for host \"127.0.0.1\", user "
        "\"sp_trust\", database \"sp_db\", SSL off");
  CHECK(firstAnswer(port, "sp_nobody", "127.0.0.3") ==
        "E28000: login rejected: no auth_hba_file entry for host \"127.0.0.3\", user "
        "\"sp_nobody\", database \"sp_db\", SSL off");

  // The same user over TLS gets cert: the certificate, no password.
  Conn scramPlain(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(scramPlain.ok());
  Conn scramCert(withCert(proxy.conninfo("sp_scram", ""), "sp_scram"));
  INFO(scramCert.connectError().message);
  REQUIRE(scramCert.ok());
  CHECK(PQsslInUse(scramCert.get()) == 1);
  Conn wrongCert(withCert(proxy.conninfo("sp_scram", "scram_pass"), "other"));
  REQUIRE_FALSE(wrongCert.ok());
  CHECK(wrongCert.connectError().message ==
        "certificate authentication failed for user \"sp_scram\"");
  Conn md5(proxy.conninfo("sp_md5", "md5_pass"));
  REQUIRE(md5.ok());
  CHECK(md5.scalar("select 1") == "1");
  Conn badMd5(proxy.conninfo("sp_md5", "wrong"));
  CHECK(badMd5.connectError().sqlstate == "28P01");

  // The unix socket: peer for the OS user (no password), rejected for the others.
  std::string viaSocket = "host=" + dir.path() + " port=" + std::to_string(port) +
                          " dbname=sp_db sslmode=disable user=";
  Conn peer(viaSocket + os);
  INFO(peer.connectError().message);
  REQUIRE(peer.ok());
  CHECK(peer.scalar("select 2") == "2");
  Conn rejected(viaSocket + "sp_scram password=scram_pass");
  REQUIRE_FALSE(rejected.ok());
  CHECK(rejected.connectError().sqlstate == "28000");
  CHECK(rejected.connectError().message ==
        "login rejected: auth_hba_file rejects connection for host \"[local]\", user "
        "\"sp_scram\", database \"sp_db\", unix socket");
  CHECK(logSoon(proxy, "rejected by " + hba + " line 3"));

  // Reload re-reads the file: sp_md5 is now rejected; its open session goes on.
  std::string changed = rules;
  changed.replace(changed.find("sp_md5     127.0.0.0 255.0.0.0 md5"),
                  std::string("sp_md5     127.0.0.0 255.0.0.0 md5").size(),
                  "sp_md5     127.0.0.0/8 reject");
  dir.write("hba.conf", changed);
  proxy.signal(SIGHUP);
  REQUIRE(logSoon(proxy, "SIGHUP: configuration reloaded"));
  CHECK(firstAnswer(port, "sp_md5") ==
        "E28000: login rejected: auth_hba_file rejects connection for host \"127.0.0.1\", user "
        "\"sp_md5\", database \"sp_db\", SSL off");
  CHECK(md5.scalar("select 3") == "3");

  // A broken file is refused at its line, and the rules in force stay.
  dir.write("hba.conf", changed + "host all all all kerberos\n");
  proxy.signal(SIGHUP);
  CHECK(logSoon(proxy, hba + ":9"));
  CHECK(logSoon(proxy, "authentication method \"kerberos\" is not supported"));
  CHECK(firstAnswer(port, "sp_scram") == "R10");
  CHECK(firstAnswer(port, "sp_md5").rfind("E28000: login rejected", 0) == 0);
}

TEST_CASE("auth hba: PgBouncer 1.18 and shardpool pick the same method from the same file",
          "[integration][auth][hba][migration]") {
  // One pgbouncer.ini with auth_type = hba; shardpool runs what import-pgbouncer makes of it, on
  // the same port. Raw clients from several loopback addresses see each pooler's first answer:
  // the authentication request (its method) or a rejection.
  INFO(pgbouncerVersion());
  TempDir dir;
  uint16_t port = freePort();
  std::string ini = dir.write(
      "pgbouncer.ini",
      "[databases]\nsp_db = host=127.0.0.1 port=" + std::to_string(pgPort()) +
          " dbname=sp_db\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = " +
          std::to_string(port) + "\nunix_socket_dir =\nauth_type = hba\nauth_file = " +
          dir.path() + "/userlist.txt\nauth_hba_file = " + dir.path() +
          "/hba.conf\npool_mode = transaction\n");
  dir.write("userlist.txt",
            "\"sp_scram\" \"scram_pass\"\n\"sp_md5\" \"md5_pass\"\n\"sp_clear\" "
            "\"clear_pass\"\n\"sp_trust\" \"\"\n");
  dir.write("trusted.txt", "sp_trust\nsp_scram\n");
  dir.write("hba.conf",
            "# TYPE  DATABASE  USER          ADDRESS           METHOD\n"
            "host    sp_db     sp_md5        127.0.0.0/8       md5\n"
            "host    sp_db     sp_clear      127.0.0.1/32      password\n"
            "host    sp_db     sp_clear      127.0.0.2 255.255.255.255 reject\n"
            "host    all       @trusted.txt  127.0.0.3/32      trust\n"
            "host    sp_db     sp_scram      127.0.0.1/32      scram-sha-256\n"
            "hostssl all       all           0.0.0.0/0         md5\n");
  handOver(dir);

  struct Probe {
    std::string user;
    const char* source;
  };
  const std::vector<Probe> probes = {
      {"sp_md5", "127.0.0.1"},   {"sp_md5", "127.0.0.9"},   {"sp_clear", "127.0.0.1"},
      {"sp_clear", "127.0.0.2"}, {"sp_clear", "127.0.0.4"}, {"sp_trust", "127.0.0.3"},
      {"sp_scram", "127.0.0.3"}, {"sp_scram", "127.0.0.1"}, {"sp_trust", "127.0.0.1"},
      {"sp_scram", "127.0.0.5"},
  };
  // The request's code, or "rejected" for an error that starts as PgBouncer's does.
  auto observe = [&]() {
    std::vector<std::string> out;
    for (const Probe& p : probes) {
      std::string a = firstAnswer(port, p.user, p.source);
      size_t colon = a.find(": ");
      if (a[0] == 'E' && colon != std::string::npos &&
          a.compare(colon + 2, 14, "login rejected") == 0)
        a = "rejected";
      out.push_back(p.user + "@" + p.source + " " + a);
    }
    return out;
  };
  const std::vector<std::string> expected = {
      "sp_md5@127.0.0.1 R5",         "sp_md5@127.0.0.9 R5",        "sp_clear@127.0.0.1 R3",
      "sp_clear@127.0.0.2 rejected", "sp_clear@127.0.0.4 rejected", "sp_trust@127.0.0.3 R0",
      "sp_scram@127.0.0.3 R0",       "sp_scram@127.0.0.1 R10",     "sp_trust@127.0.0.1 rejected",
      "sp_scram@127.0.0.5 rejected",
  };
  {
    PgBouncer bouncer(ini, port, dir.path() + "/pgbouncer.stderr");
    INFO(bouncer.log());
    CHECK(observe() == expected);
  }
  std::string toml = dir.path() + "/shardpool.toml";
  auto imported = runCommand({shardpoolBin(), "import-pgbouncer", ini, "-o", toml}, {}, 20s);
  INFO(imported.all());
  REQUIRE(imported.exitCode == 0);
  Proxy proxy(readFile(toml), {}, port);
  CHECK(observe() == expected);
}
