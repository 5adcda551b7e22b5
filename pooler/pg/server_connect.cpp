// ServerConn's way in: resolving and connecting, the TLS request, the startup packet and the
// backend's authentication exchange, up to the server being ready for clients.
#include <fmt/format.h>

#include <sys/un.h>

#include <cstring>

#include "pooler/pg/client_conn.h"
#include "pooler/net/log.h"
#include "pooler/session/pool.h"
#include "pooler/pg/server_conn.h"
#include "pooler/pg/session_guard.h"

namespace shardpool::pooler {

namespace pg = protocol::pg;

void ServerConn::start(uint64_t forClient) {
  forClient_ = forClient;
  hosts_.start(pool_.firstHost(), pool_.settings());
  connectHost();
}

void ServerConn::connectHost() {
  attemptStart_ = worker().now();
  const std::string& host = targetHost();
  uint16_t port = targetPort();
  if (!host.empty() && host[0] == '/') {
    std::string path = fmt::format("{}/.s.PGSQL.{}", host, port);
    auto* un = reinterpret_cast<sockaddr_un*>(&addr_);
    if (path.size() >= sizeof un->sun_path) {
      fail(fmt::format("unix socket path too long: {}", path));
      return;
    }
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, path.c_str(), path.size() + 1);
    setState(State::Connecting);
    connectToPath(path);
    return;
  }
  resolver_.resolve(worker().loop(), host, port, this,
                    [](void* owner, const sockaddr* addr, std::string_view error) {
                      auto* self = static_cast<ServerConn*>(owner);
                      if (addr)
                        self->connectResolved(addr);
                      else
                        self->fail(error);
                    });
}

const std::string& ServerConn::targetHost() const { return hosts_.host(pool_.settings()); }

uint16_t ServerConn::targetPort() const { return hosts_.port(pool_.settings()); }

bool ServerConn::tryNextHost(std::string_view reason) {
  bool beforeStartup = state_ == State::Resolving || state_ == State::Connecting ||
                       state_ == State::TlsRequest || state_ == State::TlsHandshake;
  if (!beforeStartup || !hosts_.next(pool_.settings())) return false;
  log::warn(who_, "{}; trying the next host of the list", reason);
  resolver_.cancel();
  resetSocket();
  setState(State::Resolving);
  connectHost();
  return true;
}

void ServerConn::connectResolved(const sockaddr* addr) {
  size_t len = addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  std::memcpy(&addr_, addr, len);
  setState(State::Connecting);
  int rc = connectTo(addr);
  if (rc != 0) fail(fmt::format("connect failed: {}", uv_strerror(rc)));
}

void ServerConn::onConnected(int status) {
  const std::string& host = targetHost();
  bool unixSocket = !host.empty() && host[0] == '/';
  if (status != 0) {
    if (unixSocket)
      fail(fmt::format("could not connect to socket {}/.s.PGSQL.{}: {}", host, targetPort(),
                       uv_strerror(status)));
    else
      fail(fmt::format("could not connect to {}:{}: {}", host, targetPort(), uv_strerror(status)));
    return;
  }
  startReading();
  const PoolSettings& s = pool_.settings();
  if (s.tlsMode != config::TlsMode::Disable && !unixSocket) {
    if (!s.tls) {
      fail(fmt::format("TLS to the server is not available: {}", s.tlsError));
      return;
    }
    setState(State::TlsRequest);
    pg::Writer w;
    pg::putSslRequest(w);
    send(w.take());
    return;
  }
  setState(State::Authenticating);
  sendStartup();
}

// The server's one-byte answer to SSLRequest.
void ServerConn::onTlsAnswer(Chunk* chunk, size_t len) {
  const PoolSettings& s = pool_.settings();
  char answer = static_cast<char>(chunk->data()[0]);
  if (answer == 'S') {
    if (len > 1) {
      // Bytes after 'S' would have been sent before encryption started: never trust them.
      fail("server sent unencrypted data after accepting TLS");
      return;
    }
    setState(State::TlsHandshake);
    startTls(TlsSession::connect(*s.tls, targetHost(), s.tlsMode == config::TlsMode::VerifyFull));
    return;
  }
  if (answer == 'N' && len == 1) {
    if (s.tlsMode >= config::TlsMode::Require) {
      fail(fmt::format("server does not support TLS, but sslmode is {}",
                       config::toString(s.tlsMode)));
      return;
    }
    setState(State::Authenticating);
    sendStartup();
    return;
  }
  fail("unexpected answer to SSLRequest");
}

void ServerConn::onTlsReady() {
  if (state_ != State::TlsHandshake) return;
  setState(State::Authenticating);
  sendStartup();
}

void ServerConn::onTlsFailed(const std::string& error) {
  if (awaitingEof_) {
    finishClose();
    return;
  }
  const PoolSettings& s = pool_.settings();
  if ((state_ == State::TlsHandshake || state_ == State::TlsRequest) &&
      s.tlsMode >= config::TlsMode::VerifyCa && s.tlsCaFile.empty())
    fail(
        fmt::format("TLS handshake with server failed: {} (sslmode {} without a CA file checks "
                    "the server's certificate against the system's default CA store; set "
                    "sslrootcert or general.server_tls_ca_file)",
                    error, config::toString(s.tlsMode)));
  else if (state_ == State::TlsHandshake || state_ == State::TlsRequest)
    fail(fmt::format("TLS handshake with server failed: {}", error));
  else
    close(fmt::format("TLS error: {}", error));
}

void ServerConn::sendStartup() {
  const PoolSettings& s = pool_.settings();
  pg::Writer w;
  pg::putStartup(w, {{"user", s.user}, {"database", s.dbname}});
  send(w.take());
}

bool ServerConn::handleAuth(pg::Bytes body) {
  auto req = pg::decodeAuthentication(body);
  if (!req) {
    fail("malformed authentication request from server");
    return false;
  }
  const PoolSettings& s = pool_.settings();
  // No configured password: what a client of this user proved at its login (auth_query
  // secrets, SCRAM secrets in [users]).
  std::shared_ptr<const auth::LoginCredential> learned =
      s.password ? nullptr : pool_.learnedCredential();
  const std::string* password = s.password                            ? &*s.password
                                : learned && !learned->password.empty() ? &learned->password
                                                                        : nullptr;
  const bool scramKeys = !password && learned && learned->scram;
  auto needPassword = [&](bool keysWillDo) -> bool {
    if (password || (keysWillDo && scramKeys)) return true;
    fail(fmt::format("server asks for a password for user \"{}\" but none is configured", s.user));
    return false;
  };
  pg::Writer w;
  switch (req->code) {
    case pg::AuthCode::Ok:
      return true;
    case pg::AuthCode::CleartextPassword:
      if (!needPassword(false)) return false;
      if (auth::isMd5Stored(*password)) {
        fail("server asks for a cleartext password but only an md5 hash is configured");
        return false;
      }
      pg::putPasswordMessage(w, *password);
      break;
    case pg::AuthCode::Md5Password: {
      if (!needPassword(false) || req->data.size() != 4) return false;
      std::string stored =
          auth::isMd5Stored(*password) ? *password : auth::md5Stored(*password, s.user);
      pg::putPasswordMessage(w, auth::md5Response(stored, req->data.data()));
      break;
    }
    case pg::AuthCode::Sasl: {
      if (!needPassword(true)) return false;
      bool offered = false, offeredPlus = false;
      for (auto m : pg::decodeSaslMechanisms(req->data)) {
        offered |= (m == auth::kScramSha256);
        offeredPlus |= (m == auth::kScramSha256Plus);
      }
      if (!(offered || offeredPlus) || (password && auth::isMd5Stored(*password))) {
        fail(
            "server requires a SASL mechanism shardpool cannot use (need SCRAM-SHA-256 and a "
            "plaintext password)");
        return false;
      }
      if (password)
        scram_.emplace(*password);
      else
        scram_.emplace(*learned->scram);
      // Over TLS, bind the exchange to the server's certificate when the server offers
      // SCRAM-SHA-256-PLUS: a man in the middle holding another certificate cannot relay it.
      if (tlsActive()) scram_->setChannelBinding(tls()->tlsServerEndPoint(), offeredPlus);
      if (!offered && scram_->mechanism() != auth::kScramSha256Plus) {
        fail("server offers only SCRAM-SHA-256-PLUS, and its certificate gives no channel binding");
        return false;
      }
      log::debug(who_, "authenticating with {}", scram_->mechanism());
      pg::putSaslInitialResponse(w, scram_->mechanism(), scram_->clientFirst());
      break;
    }
    case pg::AuthCode::SaslContinue: {
      std::string final;
      std::string_view data(reinterpret_cast<const char*>(req->data.data()), req->data.size());
      auth::ScramStatus st = scram_ ? scram_->serverFirst(data, final) : auth::ScramStatus::BadMessage;
      if (st == auth::ScramStatus::BadProof) {
        fail(fmt::format("the server's SCRAM secret for user \"{}\" is not the one its client "
                         "logged in with (password changed?)",
                         s.user));
        return false;
      }
      if (st != auth::ScramStatus::Ok) {
        fail("SCRAM exchange with server failed");
        return false;
      }
      pg::putSaslResponse(w, final);
      break;
    }
    case pg::AuthCode::SaslFinal: {
      std::string_view data(reinterpret_cast<const char*>(req->data.data()), req->data.size());
      if (!scram_ || scram_->serverFinal(data) != auth::ScramStatus::Ok) {
        fail("server's SCRAM signature is invalid");
        return false;
      }
      return true;
    }
    default:
      fail(fmt::format("unsupported authentication method {} requested by server",
                       static_cast<int>(req->code)));
      return false;
  }
  send(w.take());
  return true;
}

bool ServerConn::startConnectQuery() {
  const std::string& query = pool_.settings().connectQuery;
  if (query.empty()) return false;
  // The read-back: settings the query changed by SET (pg_settings says which), and those it
  // names, for custom settings (myapp.x), which pg_settings does not list.
  SettingChanges named;
  noteSettingChanges(query, named);
  std::string names;
  for (const auto& c : named.changes)
    if (!c.name.empty()) names += (names.empty() ? "" : ", ") + quoteLiteral(c.name);
  std::string readBack = fmt::format(
      "SELECT n, pg_catalog.current_setting(n, true) FROM (SELECT name FROM pg_catalog.pg_settings "
      "WHERE source = 'session'{}) s(n)",
      names.empty() ? "" : fmt::format(" UNION SELECT unnest(ARRAY[{}]::text[])", names));
  pg::Writer w;
  pg::putQuery(w, query);
  pg::putQuery(w, readBack);
  send(w.take());
  setUnnamed(0, 0);
  baseline_.clear();
  ++settingsVersion_;
  setupReplies_ = 2;
  log::debug(who_, "running connect_query");
  return true;
}

bool ServerConn::onSetupReply(char type, pg::Bytes body) {
  std::string problem;
  std::string_view sqlstate = "08006";
  std::optional<pg::ErrorFields> e;
  switch (type) {
    case 'E':
      e = pg::decodeErrorResponse(body);
      problem = e ? fmt::format("connect_query failed: {} ({})", e->message, e->sqlstate)
                  : "connect_query failed: malformed error";
      // The server's SQLSTATE, unless it is a connection failure's (which would start a
      // failover decision for a database with standbys).
      if (e && e->sqlstate.size() == 5 && !e->sqlstate.starts_with("08")) sqlstate = e->sqlstate;
      break;
    case 'D':
      if (setupReplies_ != 1) return false;  // rows of connect_query itself
      if (auto row = pg::decodeDataRow(body); row && row->size() == 2 && (*row)[0]) {
        const std::string& name = *(*row)[0];
        if (!reports(name) && (*row)[1]) {
          setSetting(baseline_, name, *(*row)[1]);
          ++settingsVersion_;
        }
      }
      return false;
    case 'Z':
      if (--setupReplies_ > 0) return false;
      if (txStatus_ == 'I') return true;
      problem = "connect_query left a transaction open";
      break;
    default:
      return false;
  }
  setupReplies_ = 0;
  if (state_ == State::Authenticating)
    fail(problem, sqlstate);
  else
    close(problem);
  return false;
}

void ServerConn::loginDone() {
  scram_.reset();
  log::debug(who_, "connected to backend pid {}", backendPid_);
  pool_.noteLoginParams(params_);
  pool_.hostWorked(hosts_.index());
  counters().add(counters().serverConnects, 1);
  offer(forClient_);
  forClient_ = 0;
}

}  // namespace shardpool::pooler
