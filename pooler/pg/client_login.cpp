// ClientConn's login, from the startup packet to the first ReadyForQuery: startup parameters,
// the failed-login back-off's turn, the choice of login method (the user's auth_type, or for
// "hba" the first matching rule of auth_hba_file by connection type, TLS, database, user and
// address), the checks of the methods that prove who the client is without a password (cert:
// the verified certificate's common name is the user name; peer: the unix socket's OS user),
// the password exchange, and the login answered from the pool's cache.
#include <fmt/format.h>

#include <pwd.h>
#include <sys/socket.h>

#include "pooler/net/log.h"
#include "pooler/pg/client_conn.h"
#include "pooler/pg/client_routing.h"
#include "pooler/pg/server_conn.h"
#include "pooler/session/settings_list.h"
#include "pooler/session/runtime.h"

namespace shardpool::pooler {

namespace pg = protocol::pg;

namespace {
// Before authentication a client may send only what logging in needs: PostgreSQL reads a
// password or SASL message of at most 65535 bytes (PG_MAX_AUTH_TOKEN_LENGTH), and startup
// packets are held to pg::kMaxStartupLength.
constexpr uint32_t kMaxAuthMessageLength = 65535 + 4;
}  // namespace

void ClientConn::handleStartupBytes() {
  // The login waits (back-off, or its password lookup): what came with it waits too.
  if (loginWaits()) return;
  while (state_ == State::Startup || state_ == State::Auth) {
    pg::Bytes data(reinterpret_cast<const uint8_t*>(inbuf_.data()), inbuf_.size());
    pg::Frame f = state_ == State::Startup ? pg::frameStartup(data) : pg::frameMessage(data);
    if (state_ == State::Auth && f.status != pg::FrameStatus::Invalid &&
        f.length > kMaxAuthMessageLength) {
      // Refused on its header: an unauthenticated client never makes shardpool buffer more.
      fatal("08P01",
            fmt::format("authentication message too long ({} bytes; at most {})", f.length,
                        kMaxAuthMessageLength),
            "protocol violation during authentication");
      return;
    }
    if (f.status == pg::FrameStatus::NeedMore) return;
    if (f.status == pg::FrameStatus::Invalid) {
      fatal("08P01", state_ == State::Startup ? "invalid startup packet length"
                                               : "invalid message length",
            "protocol violation");
      return;
    }
    // Take the message out of the buffer first: handlers may complete the login and forward
    // whatever follows it.
    std::string body(reinterpret_cast<const char*>(f.body.data()), f.body.size());
    char type = f.type;
    inbuf_.erase(0, f.totalSize);
    pg::Bytes b(reinterpret_cast<const uint8_t*>(body.data()), body.size());
    bool more = state_ == State::Startup ? handleStartupPacket(b) : handleAuthMessage(type, b);
    if (!more) return;
  }
  // Anything after the login exchange waits for the server.
}

bool ClientConn::handleStartupPacket(pg::Bytes body) {
  pg::StartupResult res = pg::decodeStartup(body);
  if (!res.packet) {
    fatal("08P01", res.error, "bad startup packet");
    return false;
  }
  const pg::StartupPacket& p = *res.packet;
  switch (p.kind) {
    case pg::StartupKind::SslRequest: {
      std::shared_ptr<const TlsContext> ctx = worker().runtime().acceptTls();
      if (!ctx || tlsActive()) {
        send(std::string_view("N"));
        return true;
      }
      if (!inbuf_.empty()) {
        // Anything pipelined behind SSLRequest was sent in clear text: refuse it.
        fatal("08P01", "unencrypted data after SSL request", "protocol violation");
        return false;
      }
      send(std::string_view("S"));
      startTls(TlsSession::accept(*ctx));
      return true;
    }
    case pg::StartupKind::GssEncRequest:
      send(std::string_view("N"));
      return true;
    case pg::StartupKind::CancelRequest:
      worker().runtime().cancels().cancel(worker(), p.cancelPid, p.cancelKey);
      setState(State::Closing);
      closeHandle();
      worker().retire(this);
      return false;
    case pg::StartupKind::Startup:
      break;
  }
  user_ = std::string(p.param("user"));
  database_ = std::string(p.param("database"));
  if (database_.empty()) database_ = user_;
  // Newer clients may ask for protocol 3.x or send _pq_ options: answer as PostgreSQL does with
  // NegotiateProtocolVersion (3.0, and the options we do not know).
  std::vector<std::string_view> unknownOptions;
  for (auto& [k, v] : p.params)
    if (k.rfind("_pq_.", 0) == 0) unknownOptions.push_back(k);
  if ((p.protocol & 0xffffu) != 0 || !unknownOptions.empty()) {
    pg::Writer w;
    w.start('v');
    w.i32(static_cast<int32_t>(pg::kProtocolV3));
    w.i32(static_cast<int32_t>(unknownOptions.size()));
    for (auto o : unknownOptions) w.cstring(o);
    w.finish();
    send(w.take());
  }
  for (auto& [k, v] : p.params) {
    if (k == "user" || k == "database" || k.rfind("_pq_.", 0) == 0) continue;
    if (k == "replication") {
      if (v == "false" || v == "0" || v == "off" || v == "no") continue;
      fatal("08P01", "replication connections are not supported by shardpool");
      return false;
    }
    if (k == "options") {
      addStartupOptions(v);
      continue;
    }
    params_.add(k, v);
  }
  Runtime& runtime = worker().runtime();
  config::TlsMode tlsMode = runtime.config()->general.clientTlsSslmode;
  bool peer = peerConsoleLogin();  // the unix socket's own proof: no password needed
  // TLS is for the network: a unix-socket client never uses it, and is not refused for that
  // (as in PgBouncer, and PostgreSQL's `local` rules).
  if (tlsMode >= config::TlsMode::Require && !tlsActive() && !unixSocket()) {
    fatal("28000", "SSL connection is required (client_tls_sslmode = " +
                       std::string(config::toString(tlsMode)) + ")",
          "client did not use TLS");
    return false;
  }
  if (tlsMode == config::TlsMode::VerifyFull && tlsActive() && tls()->peerCommonName() != user_) {
    fatal("28000",
          fmt::format("certificate common name \"{}\" does not match user \"{}\"",
                      tls()->peerCommonName(), user_),
          "client certificate rejected");
    return false;
  }
  if (!countClient()) {
    fatal("53300",
          fmt::format("too many client connections (max_client_conn = {})",
                      runtime.config()->general.maxClientConn),
          "max_client_conn reached");
    return false;
  }
  if (peer) {
    afterAuth();
    return state_ != State::Closing;
  }
  if (!admitLogin()) return false;  // it waits its turn (failed-login back-off), or was refused
  return beginAuth();
}

bool ClientConn::beginAuth() {
  auto cfg = worker().runtime().config();
  const config::User* user = cfg->findUser(user_);
  if (needsLookup(*cfg, user)) return startLookup(*cfg);
  return beginAuthWith(*cfg, user);
}

bool ClientConn::beginAuthWith(const config::Config& cfg, const config::User* user) {
  const config::HbaRule* rule = nullptr;
  config::AuthType method = loginMethod(cfg, user, &rule);
  if (rule != nullptr)
    log::debug(who(), "{} line {}: {}", cfg.general.authHbaFile, rule->line,
               config::toString(method));
  if (method == config::AuthType::Reject) return rejectLogin(rule);
  if (method == config::AuthType::Cert || method == config::AuthType::Peer) {
    if (std::optional<std::string> why = identityProblem(method)) {
      noteAuthFailure();
      fatal("28000",
            fmt::format("{} authentication failed for user \"{}\"",
                        method == config::AuthType::Cert ? "certificate" : "peer", user_),
            fmt::format("authentication failed: {}", *why));
      return false;
    }
  }
  std::optional<std::string> unusable;
  if (user != nullptr)
    unusable = rule != nullptr ? config::Config::loginProblem(*user, method)
                               : cfg.loginProblemFor(*user);
  std::unique_ptr<ClientAuth>& auth = login().auth;
  auth = std::make_unique<ClientAuth>(method, user, user_,
                                       tlsActive() ? tls()->tlsServerEndPoint() : std::string(),
                                       std::move(unusable));
  pg::Writer w;
  ClientAuth::Step step = auth->begin(w);
  if (!w.data().empty()) send(w.take());
  if (step == ClientAuth::Step::Failure) {
    noteAuthFailure();
    forgetLookedUpSecret();
    if (auth->sqlstate() == "28P01")
      fatal("28P01", fmt::format("password authentication failed for user \"{}\"", user_),
            fmt::format("authentication failed: {}", auth->failure()));
    else  // an unknown user under trust: its own message
      fatal(auth->sqlstate(), auth->failure(), "authentication failed: user is not configured");
    return false;
  }
  if (step == ClientAuth::Step::Success) {
    afterAuth();
    return state_ != State::Closing;
  }
  setState(State::Auth);
  return true;
}

// Splits libpq's "options" ("-c a=b --c=d", backslash escapes spaces) into parameters.
void ClientConn::addStartupOptions(std::string_view options) {
  std::vector<std::string> words(1);
  for (size_t i = 0; i < options.size(); ++i) {
    char c = options[i];
    if (c == '\\' && i + 1 < options.size()) {
      words.back().push_back(options[++i]);
    } else if (c == ' ' || c == '\t') {
      if (!words.back().empty()) words.emplace_back();
    } else {
      words.back().push_back(c);
    }
  }
  for (size_t i = 0; i < words.size(); ++i) {
    std::string_view wv = words[i];
    std::string setting;
    if (wv == "-c" && i + 1 < words.size())
      setting = words[++i];
    else if (wv.rfind("-c", 0) == 0 && wv.size() > 2)
      setting = wv.substr(2);
    else if (wv.rfind("--", 0) == 0)
      setting = wv.substr(2);
    else
      continue;
    size_t eq = setting.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    std::string name = setting.substr(0, eq);
    for (char& ch : name)
      if (ch == '-') ch = '_';
    params_.add(name, setting.substr(eq + 1));
  }
}

bool ClientConn::handleAuthMessage(char type, pg::Bytes body) {
  if (type != 'p') {
    fatal("08P01", fmt::format("expected a password message, got '{}'", type),
          "protocol violation during authentication");
    return false;
  }
  pg::Writer w;
  ClientAuth& auth = *login().auth;
  ClientAuth::Step step = auth.onResponse(body, w);
  if (step == ClientAuth::Step::Failure && auth.sqlstate() != "28P01") {
    // As PostgreSQL: a malformed authentication message is a protocol violation (08P01), a
    // channel-binding mismatch an authorization failure (28000), each with its own message.
    fatal(auth.sqlstate(), auth.failure(),
          auth.protocolViolation() ? "protocol violation during authentication"
                                     : "channel binding refused");
    return false;
  }
  if (step == ClientAuth::Step::Failure) {
    noteAuthFailure();
    forgetLookedUpSecret();
    fatal("28P01", fmt::format("password authentication failed for user \"{}\"", user_),
          fmt::format("authentication failed: {}", auth.failure()));
    return false;
  }
  if (!w.data().empty()) send(w.take());
  if (step == ClientAuth::Step::Success) afterAuth();
  return true;
}

void ClientConn::afterAuth() {
  std::optional<auth::LoginCredential> proved =
      login_ && login_->auth ? login_->auth->credential() : std::nullopt;
  login_.reset();
  Runtime& runtime = worker().runtime();
  if (database_ == "shardpool" || database_ == "pgbouncer") {
    startConsole();
    return;
  }
  auto cfg = runtime.config();
  const config::Database* db = cfg->findDatabase(database_);
  if (!db) {
    // PgBouncer's text, with PostgreSQL's SQLSTATE (invalid_catalog_name).
    fatal("3D000", fmt::format("no such database: {}", database_), "unknown database");
    return;
  }
  if (runtime.isDisabled(database_)) {
    fatal("57P03", fmt::format("database \"{}\" is disabled (DISABLE from the admin console)",
                               database_),
          "database disabled");
    return;
  }
  pg::Writer w;
  pg::putAuthOk(w);
  send(w.take());
  if (startRouting(*db)) {
    // Sharded: every transaction may go to another shard, so the pooling is per transaction
    // and prepared statements are tracked to be prepared again on each shard's servers.
    routing_->credential = std::move(proved);
    pool_ = &shardPool(db->defaultShard.value_or(0));
    maxPrepared_ = std::max<uint32_t>(pool_->settings().maxPrepared, 1);
    txnPooling_ = true;
    trackStatements_ = true;
  } else {
    pool_ = &runtime.pools().get(*cfg, *db, database_, user_);
    // A user whose secret the pool cannot log in with (a SCRAM secret, or one from auth_query):
    // servers log in with what this client proved.
    if (proved && !db->user && !pool_->settings().password) pool_->learnCredential(*proved);
    maxPrepared_ = pool_->settings().maxPrepared;
    txnPooling_ = pool_->settings().mode != config::PoolMode::Session;
    trackStatements_ = txnPooling_ && maxPrepared_ > 0;
  }
  // Messages shardpool rewrites are collected whole: allow what PostgreSQL allows.
  if (txnPooling_) scanner_.setMaxCollect(pg::kMaxMessageLength);
  startup_.assign(*params_);  // what RESET goes back to
  takeCancelKey();
  log::debug(who(), "authenticated");
  if (!routing_ && completeLoginLocally()) return;
  if (txnPooling_) {
    // What the client did not set is what a fresh server reports, not what another client
    // left on the server this client happens to get.
    if (auto defaults = pool_->loginParams())
      for (auto& [k, v] : *defaults)
        if (!findSetting(*params_, k)) params_.add(k, v);
  }
  askPool();
}

bool ClientConn::completeLoginLocally() {
  auto defaults = pool_->loginParams();
  if (!defaults) return false;  // no server of this pool has logged in yet
  SettingsList expected;
  for (auto& [k, v] : *startup_) {
    auto accepted = pool_->acceptedStartupValue(k, v);
    if (!accepted) return false;  // never seen on a server: let one validate it
    expected.emplace_back(k, std::move(*accepted));
  }
  startup_.assign(expected);
  for (auto& [k, v] : *defaults)
    if (!findSetting(expected, k)) expected.emplace_back(k, v);
  params_.assign(std::move(expected));
  shareSettings();
  // What PostgreSQL sends after authentication: every reported setting, the cancel key (ours),
  // ReadyForQuery. The server comes with the first query and is brought in line then.
  pg::Writer w;
  for (auto& [k, v] : *defaults) pg::putParameterStatus(w, k, *findSetting(*params_, k));
  pg::putBackendKeyData(w, cancelPid_, cancelKey_);
  pg::putReadyForQuery(w, 'I');
  send(w.take());
  loggedIn_ = true;
  setState(State::Active);
  log::info(who(), "login complete (the pool's cached login; a server comes with the first query)");
  wantServer();  // for anything pipelined behind the login
  return true;
}


ClientConn::LoginState& ClientConn::login() {
  if (!login_) login_ = std::make_unique<LoginState>();
  return *login_;
}

std::optional<ClientConn::PeerUser> ClientConn::peerUser() const {
  if (!unixSocket()) return std::nullopt;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return std::nullopt;
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(cred.uid, &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr)
    return std::nullopt;
  return PeerUser{found->pw_name, cred.uid, cred.pid};
}

config::AuthType ClientConn::loginMethod(const config::Config& cfg, const config::User* user,
                                         const config::HbaRule** rule) const {
  if (cfg.authTypeFor(user) != config::AuthType::Hba) return cfg.loginAuthTypeFor(user);
  std::optional<PeerIp> ip = peerIp();
  config::HbaClient client;
  client.unixSocket = unixSocket();
  client.tls = tlsActive();
  if (ip) {
    client.v6 = ip->v6;
    client.address = ip->bytes.data();
  }
  client.database = database_;
  client.user = user_;
  return cfg.loginMethodFor(user, client, rule);
}

bool ClientConn::rejectLogin(const config::HbaRule* rule) {
  std::optional<PeerIp> ip = peerIp();
  std::string where = fmt::format(
      "host \"{}\", user \"{}\", database \"{}\", {}", ip ? ip->text : std::string("[local]"),
      user_, database_, unixSocket() ? "unix socket" : tlsActive() ? "SSL on" : "SSL off");
  auto cfg = worker().runtime().config();
  const std::string& file = cfg->general.authHbaFile;
  if (rule != nullptr)
    fatal("28000", fmt::format("login rejected: auth_hba_file rejects connection for {}", where),
          fmt::format("rejected by {} line {}", file, rule->line));
  else
    fatal("28000", fmt::format("login rejected: no auth_hba_file entry for {}", where),
          fmt::format("no rule of {} matches", file));
  return false;
}

std::optional<std::string> ClientConn::identityProblem(config::AuthType method) const {
  if (method == config::AuthType::Cert) {
    if (!tlsActive()) return "cert authentication needs a TLS connection";
    std::string cn = tls()->peerCommonName();
    if (cn.empty()) return "the client sent no verified certificate";
    if (cn != user_)
      return fmt::format("certificate common name \"{}\" does not match user \"{}\"", cn, user_);
    return std::nullopt;
  }
  std::optional<PeerUser> peer = peerUser();
  if (!peer) return "peer authentication needs a unix-socket connection and its peer's OS user";
  if (peer->name != user_)
    return fmt::format("OS user \"{}\" is not user \"{}\"", peer->name, user_);
  return std::nullopt;
}

}  // namespace shardpool::pooler
