// SCRAM-SHA-256-PLUS (channel binding, tls-server-end-point) both ways: libpq with
// channel_binding=require logs in through shardpool over TLS; a client that says "y" while PLUS
// is offered, or binds to another certificate, is refused with the error PostgreSQL itself gives
// (each hand-made exchange is run against the test cluster directly and through shardpool, and
// the answers compared); and shardpool uses PLUS toward a PostgreSQL that offers it over TLS.
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <catch2/catch.hpp>

#include "integration/harness.h"
#include "integration/raw_socket.h"

using namespace shardpool::integration;

namespace {

void requireSslCluster() {
  INFO("the test cluster must run with TLS (pg-cluster.sh start with PG_CLUSTER_SSL_DIR)");
  REQUIRE(clusterValue("PG_SSL") == "1");
}

// `config` with log_level = "debug" (the log says which SASL mechanism a server login used).
std::string withDebugLog(std::string config) {
  const std::string info = "log_level = \"info\"";
  size_t at = config.find(info);
  REQUIRE(at != std::string::npos);
  return config.replace(at, info.size(), "log_level = \"debug\"");
}

// Clients must use TLS, with the test server certificate; `extra`: more [general] lines.
std::string tlsGeneral(const std::string& extra = "") {
  return generalSection("client_tls_sslmode = \"require\"\nclient_tls_cert_file = \"" +
                        testCert("server.crt") + "\"\nclient_tls_key_file = \"" +
                        testCert("server.key") + "\"\n" + extra);
}

// The test cluster over TLS as sp_tlsonly (pg_hba: hostssl scram-sha-256 only).
std::string tlsOnlyDatabase() {
  return "[databases.sp_db]\nhost = \"localhost\"\nport = " + std::to_string(pgPort()) +
         "\ndbname = \"sp_db\"\nuser = \"sp_tlsonly\"\npassword = \"" +
         clusterValue("SP_TLSONLY_PASSWORD") + "\"\nsslmode = \"verify-full\"\nsslrootcert = \"" +
         testCert("ca.crt") + "\"\n\n";
}

// A PostgreSQL-protocol client over TLS that sends hand-made SASL messages: enough of a client
// to say what libpq never says (a "y" flag while PLUS is offered, another certificate's hash).
class TlsWireClient {
 public:
  TlsWireClient(uint16_t port, const std::string& user) : sock_(port) {
    REQUIRE(sock_.send(wire::sslRequest()));
    REQUIRE(sock_.readUntil([](std::string_view in) { return !in.empty(); }, 5s) ==
            RawSocket::End::Matched);
    REQUIRE(sock_.received() == "S");
    ctx_ = SSL_CTX_new(TLS_client_method());
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, sock_.fd());
    SSL_set_connect_state(ssl_);
    auto deadline = Clock::now() + 5s;
    for (;;) {
      int rc = SSL_do_handshake(ssl_);
      if (rc == 1) break;
      REQUIRE(waitFor(SSL_get_error(ssl_, rc), deadline));
    }
    sendAll(wire::startup({{"user", user}, {"database", "sp_db"}}));
  }
  ~TlsWireClient() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }
  TlsWireClient(const TlsWireClient&) = delete;
  TlsWireClient& operator=(const TlsWireClient&) = delete;

  void sendAll(std::string_view bytes) {
    auto deadline = Clock::now() + 5s;
    while (!bytes.empty()) {
      int n = SSL_write(ssl_, bytes.data(), int(bytes.size()));
      if (n > 0) {
        bytes.remove_prefix(size_t(n));
        continue;
      }
      if (!waitFor(SSL_get_error(ssl_, n), deadline)) return;  // the peer hung up
    }
  }

  // The next whole message; type 0 when the peer closed first or 5 s passed.
  wire::BackendMessage next() {
    auto deadline = Clock::now() + 5s;
    for (;;) {
      size_t used = 0;
      auto msgs = wire::parseMessages(in_, &used);
      if (!msgs.empty()) {
        size_t first = 5 + msgs[0].body.size();
        in_.erase(0, first);
        return msgs[0];
      }
      char buf[16384];
      int n = SSL_read(ssl_, buf, sizeof buf);
      if (n > 0) {
        in_.append(buf, size_t(n));
        continue;
      }
      if (!waitFor(SSL_get_error(ssl_, n), deadline)) return {};
    }
  }

  // The authentication request: code and data.
  std::pair<uint32_t, std::string> authRequest() {
    wire::BackendMessage m = next();
    if (m.type != 'R' || m.body.size() < 4) {
      lastError_ = m;
      return {uint32_t(-1), {}};
    }
    auto u = [&](size_t i) { return uint32_t(uint8_t(m.body[i])); };
    return {(u(0) << 24) | (u(1) << 16) | (u(2) << 8) | u(3), m.body.substr(4)};
  }

  void saslInitial(const std::string& mechanism, const std::string& data) {
    sendAll(wire::message('p', mechanism + '\0' + wire::be32(uint32_t(data.size())) + data));
  }
  void saslResponse(const std::string& data) { sendAll(wire::message('p', data)); }

  // "SQLSTATE: message" of the ErrorResponse that ends the login ("" when none came).
  std::string error() {
    wire::BackendMessage m = lastError_.type ? lastError_ : next();
    lastError_ = {};
    if (m.type != 'E') return std::string("no error, got '") + (m.type ? m.type : '-') + "'";
    return wire::errorField(m.body, 'C') + ": " + wire::errorField(m.body, 'M');
  }

 private:
  bool waitFor(int sslError, Clock::time_point deadline) {
    short events = sslError == SSL_ERROR_WANT_READ    ? POLLIN
                   : sslError == SSL_ERROR_WANT_WRITE ? POLLOUT
                                                      : 0;
    if (events == 0) return false;
    auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{sock_.fd(), events, 0};
    return ::poll(&p, 1, int(left)) == 1;
  }

  RawSocket sock_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string in_;
  wire::BackendMessage lastError_;
};

std::vector<std::string> mechanisms(const std::string& data) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < data.size() && data[pos] != '\0') {
    size_t end = data.find('\0', pos);
    out.push_back(data.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

std::string b64(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(raw.data()), int(raw.size()));
  out.resize(size_t(n));
  return out;
}

// The SASL offer, then client-first `clientFirst` with `mechanism`; when the server continues,
// a client-final with c=base64(`cbind`) and a well-formed (wrong) proof. Returns the mechanisms
// offered and the error that ended the login.
struct SaslOutcome {
  std::vector<std::string> offered;
  std::string error;
};
SaslOutcome tryExchange(uint16_t port, const std::string& user, const std::string& mechanism,
                        const std::string& clientFirst, const std::string& cbind) {
  TlsWireClient c(port, user);
  SaslOutcome out;
  auto [code, data] = c.authRequest();
  if (code != 10) {
    out.error = "expected AuthenticationSASL, got " + c.error();
    return out;
  }
  out.offered = mechanisms(data);
  c.saslInitial(mechanism, clientFirst);
  auto [code2, serverFirst] = c.authRequest();
  if (code2 != 11) {
    out.error = c.error();
    return out;
  }
  std::string nonce = serverFirst.substr(2, serverFirst.find(',') - 2);
  c.saslResponse("c=" + b64(cbind) + ",r=" + nonce + ",p=" + b64(std::string(32, '\x01')));
  out.error = c.error();
  return out;
}

}  // namespace

TEST_CASE("channel binding: libpq channel_binding=require logs in through shardpool over TLS",
          "[integration][tls][auth]") {
  requireSslCluster();
  auto start = Clock::now();
  Proxy proxy(withDebugLog(tlsGeneral()) + tlsOnlyDatabase() +
              userSection("sp_scram", "scram_pass"));
  {
    Conn c(proxy.conninfo("sp_scram", "scram_pass") + " sslmode=require channel_binding=require");
    INFO(c.connectError().sqlstate << " " << c.connectError().message);
    REQUIRE(c.ok());
    CHECK(PQsslInUse(c.get()) == 1);
    CHECK(c.scalar("select current_user") == "sp_tlsonly");
  }
  {
    auto env = clientEnv("scram_pass");
    env["PGSSLMODE"] = "verify-full";
    env["PGSSLROOTCERT"] = testCert("ca.crt");
    env["PGCHANNELBINDING"] = "require";
    std::vector<std::string> args{"psql", "-X", "-At", "-h", "localhost", "-p",
                                  std::to_string(proxy.port()), "-U", "sp_scram", "-d",
                                  "sp_db", "-c", "select 1"};
    auto r = runCommand(args, env, 10s);
    INFO(r.all());
    CHECK(r.exitCode == 0);
    CHECK(r.out == "1\n");
  }
  {
    // A wrong password with channel binding is still 28P01.
    Conn c(proxy.conninfo("sp_scram", "wrong") + " sslmode=require channel_binding=require");
    REQUIRE_FALSE(c.ok());
    CHECK(c.connectError().sqlstate == "28P01");
  }
  // Toward the server: PostgreSQL over TLS offers SCRAM-SHA-256-PLUS, and shardpool took it
  // (PostgreSQL checked the binding: the login would have failed with wrong data).
  CHECK(contains(proxy.log(), "authenticating with SCRAM-SHA-256-PLUS"));
  CHECK_FALSE(contains(proxy.log(), "authenticating with SCRAM-SHA-256\n"));
  CHECK(Clock::now() - start < 15s);
}

TEST_CASE("channel binding: shardpool binds to a TLS server, and says y to one that cannot bind",
          "[integration][tls][auth]") {
  requireSslCluster();
  // sp_scram over TCP: TLS with sslmode=require (PLUS offered and used), none with disable (no
  // PLUS offered: plain SCRAM-SHA-256 with "n").
  Proxy proxy(withDebugLog(generalSection()) +
              clusterDatabase("db_tls", "sslmode = \"require\"") +
              clusterDatabase("db_plain", "sslmode = \"disable\"") +
              userSection("sp_scram", "scram_pass"));
  {
    Conn c(proxy.conninfo("sp_scram", "scram_pass", "db_tls"));
    REQUIRE(c.ok());
    CHECK(c.scalar("select ssl from pg_stat_ssl where pid = pg_backend_pid()") == "t");
  }
  CHECK(contains(proxy.log(), "authenticating with SCRAM-SHA-256-PLUS"));
  {
    Conn c(proxy.conninfo("sp_scram", "scram_pass", "db_plain"));
    REQUIRE(c.ok());
    CHECK(c.scalar("select ssl from pg_stat_ssl where pid = pg_backend_pid()") == "f");
  }
  CHECK(contains(proxy.log(), "authenticating with SCRAM-SHA-256\n"));
}

TEST_CASE("channel binding: downgrades and wrong binding data are refused as PostgreSQL does",
          "[integration][tls][auth]") {
  requireSslCluster();
  auto start = Clock::now();
  Proxy proxy(tlsGeneral() + tlsOnlyDatabase() + userSection("sp_scram", "scram_pass"));
  const std::string plusHeader = "p=tls-server-end-point,,";
  struct Case {
    const char* what;
    std::string mechanism, clientFirst, cbind;
  };
  const std::vector<Case> cases{
      // "y": the client could bind but believes the server cannot; the server can.
      {"y while PLUS is offered", "SCRAM-SHA-256", "y,,n=,r=abcdefgh", "y,,"},
      // Bound to 32 bytes that are not the certificate's hash (a man in the middle's view).
      {"wrong binding data", "SCRAM-SHA-256-PLUS", plusHeader + "n=,r=abcdefgh",
       plusHeader + std::string(32, '\x42')},
      {"PLUS without binding", "SCRAM-SHA-256-PLUS", "n,,n=,r=abcdefgh", "n,,"},
      {"binding without PLUS", "SCRAM-SHA-256", plusHeader + "n=,r=abcdefgh", plusHeader},
      {"another binding type", "SCRAM-SHA-256-PLUS", "p=tls-unique,,n=,r=abcdefgh",
       "p=tls-unique,,"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    SaslOutcome direct = tryExchange(pgPort(), "sp_tlsonly", c.mechanism, c.clientFirst, c.cbind);
    SaslOutcome proxied =
        tryExchange(proxy.port(), "sp_scram", c.mechanism, c.clientFirst, c.cbind);
    INFO("PostgreSQL: " << direct.error << "\nshardpool: " << proxied.error);
    CHECK(direct.offered == std::vector<std::string>{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"});
    CHECK(proxied.offered == direct.offered);
    CHECK(proxied.error.substr(0, 7) == direct.error.substr(0, 7));  // the SQLSTATE
    // PostgreSQL 15: a downgrade and wrong binding data are 28000, the rest malformed (08P01).
    const bool refusal = c.what == std::string("y while PLUS is offered") ||
                         c.what == std::string("wrong binding data");
    CHECK(direct.error.substr(0, 5) == (refusal ? "28000" : "08P01"));
    if (refusal) CHECK(proxied.error == direct.error);  // word for word
    // A user shardpool does not know gets the same answer.
    SaslOutcome unknown =
        tryExchange(proxy.port(), "no_such_user", c.mechanism, c.clientFirst, c.cbind);
    CHECK(unknown.offered == proxied.offered);
    CHECK(unknown.error == proxied.error);
  }
  CHECK(Clock::now() - start < 20s);
}
