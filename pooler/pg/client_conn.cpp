#include "pooler/pg/client_conn.h"

#include <fmt/format.h>

#include <cassert>

#include "pooler/session/console_session.h"
#include "pooler/pg/client_routing.h"
#include "pooler/session/cancel.h"
#include "pooler/net/log.h"
#include "pooler/session/pool.h"
#include "pooler/protocol/pg_extended.h"
#include "pooler/session/runtime.h"
#include "pooler/pg/server_conn.h"
#include "pooler/session/settings_list.h"

namespace shardpool::pooler {

namespace pg = protocol::pg;

namespace {
constexpr size_t kMaxPendingBytes = 1 << 20;
// Before authentication a client may send only what logging in needs: PostgreSQL reads a
// password or SASL message of at most 65535 bytes (PG_MAX_AUTH_TOKEN_LENGTH), and startup
// packets are held to pg::kMaxStartupLength.
constexpr uint32_t kMaxAuthMessageLength = 65535 + 4;
}  // namespace

ClientConn::ClientConn(Worker& worker, uint64_t id) : ClientSession(worker, id) {}

ClientConn::~ClientConn() = default;

void ClientConn::onData(Chunk* chunk, size_t len) {
  lastActivity_ = worker().now();
  switch (state_) {
    case State::Startup:
    case State::Auth:
      inbuf_.append(reinterpret_cast<const char*>(chunk->data()), len);
      handleStartupBytes();
      return;
    case State::WaitServer:
    case State::Login:
    case State::Scatter:
      inbuf_.append(reinterpret_cast<const char*>(chunk->data()), len);
      // Hold at most about kMaxPendingBytes while no server is ours: stop reading until one is.
      if (inbuf_.size() > kMaxPendingBytes) stopReading();
      return;
    case State::Console:
      inbuf_.append(reinterpret_cast<const char*>(chunk->data()), len);
      consoleInput();
      return;
    case State::Active: {
      PoolCounters& counters = pool_->counters(worker().index());
      counters.add(counters.received, len);
      if (routing_) {
        inbuf_.append(reinterpret_cast<const char*>(chunk->data()), len);
        if (!server_ && (discardUntilSync_ || lostTransaction_) && !answerLostTransaction())
          return;
        if (!server_)
          routeNext();
        else
          pumpRouted();
        if (inbuf_.size() > kMaxPendingBytes) stopReading();
        return;
      }
      if (!server_) {
        // Transaction pooling between transactions: hold the bytes and get a server.
        if (inbuf_.capacity() < len && inbuf_.empty()) inbuf_ = worker().takeBuffer();
        inbuf_.append(reinterpret_cast<const char*>(chunk->data()), len);
        if ((discardUntilSync_ || lostTransaction_) && !answerLostTransaction()) return;
        wantServer();
        return;
      }
      currentChunk_ = chunk;
      pg::ScanResult r = scanner_.feed(pg::Bytes(chunk->data(), len), *this);
      currentChunk_ = nullptr;
      if (server_) server_->flushForward();
      flushForward();  // replies shardpool synthesized (ParseComplete, CloseComplete, ...)
      if (r.status == pg::ScanStatus::Invalid) {
        fatal("08P01", "invalid message length from client", "protocol violation");
        return;
      }
      if (server_ && server_->writeQueueSize() > kHighWater) server_->throttle(*this);
      // Everything was answered by shardpool itself (a DEALLOCATE of a mapped statement): the
      // server may go back at once, as after a ReadyForQuery from it.
      if (answeredLocally_) {
        answeredLocally_ = false;
        if (server_ && server_->clean()) serverReady(*server_);
      }
      return;
    }
    case State::Closing:
      return;
  }
}

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

void ClientConn::shareSettings() {
  params_.share(pool_->internSettings(*params_));
  startup_.share(pool_->internSettings(*startup_));
}

void ClientConn::wantServer() {
  if (inbuf_.empty()) return;
  // Between transactions the bytes start at a message: a Terminate needs no server.
  if (inbuf_[0] == 'X') {
    close("client sent Terminate");
    return;
  }
  if (answerPrepareLocally()) return;
  if (inbuf_.size() > kMaxPendingBytes) stopReading();
  askPool();
}

bool ClientConn::waitingForServer() const {
  return state_ == State::WaitServer ||
         (state_ == State::Scatter && routing_->scatter && routing_->scatter->waiting());
}

void ClientConn::linkServer(ServerLink* link) {
  ServerConn* server = ServerConn::of(link);
  if (state_ == State::Scatter) {
    routing_->scatter->serverArrived(server);
    return;
  }
  server_ = server;
  setState(State::Login);
  log::debug(who(), "linked to {}", server->who());
  std::vector<std::pair<std::string, std::string>> toApply;
  std::string query = buildSetQuery(*server, toApply);
  server->link(this, std::move(query), std::move(toApply));
}

void ClientConn::loginComplete(const pg::ErrorFields* error) {
  if (error) {
    fatal(error->sqlstate, error->message, "server rejected the client's session parameters");
    return;
  }
  setState(State::Active);
  loginRetries_ = 0;
  if (!loggedIn_) {
    loggedIn_ = true;
    // The server accepted the client's startup parameters: remember how it spells them, so
    // that the next login with the same ones needs no server (completeLoginLocally).
    SettingsList startup;
    for (auto& [k, raw] : *startup_) {
      std::string accepted = server_->reports(k) ? std::string(server_->param(k)) : raw;
      pool_->learnStartupValue(k, raw, accepted);
      startup.emplace_back(k, std::move(accepted));
    }
    startup_.assign(std::move(startup));
    pg::Writer w;
    for (auto& [k, v] : server_->params()) {
      pg::putParameterStatus(w, k, v);
      noteParameter(k, v);
    }
    pg::putBackendKeyData(w, cancelPid_, cancelKey_);
    pg::putReadyForQuery(w, server_->transactionStatus());
    send(w.take());
    shareSettings();
    log::info(who(), "login complete on {}", server_->who());
  }
  forwardPending();
  if (server_ && server_->clean()) serverReady(*server_);
}

void ClientConn::forwardPending() {
  if (!reading()) startReading();  // paused while too much was pending
  if (routing_) {
    // The server of the client's login: released at once (loginComplete), and what the client
    // sent meanwhile is routed then.
    if (!routing_->shard) return;
    injectDeferredBegin();
    pumpRouted();
    return;
  }
  if (inbuf_.empty()) return;
  std::string pending = std::move(inbuf_);
  inbuf_.clear();
  pg::ScanResult r =
      scanner_.feed(pg::Bytes(reinterpret_cast<const uint8_t*>(pending.data()), pending.size()),
                    *this);
  worker().recycleBuffer(std::move(pending));
  if (server_) server_->flushForward();
  flushForward();  // replies shardpool synthesized for the client
  if (r.status == pg::ScanStatus::Invalid) fatal("08P01", "invalid message length from client");
}

pg::Disposition ClientConn::onHeader(char type, uint32_t) {
  if (state_ != State::Active || !server_) return pg::Disposition::Swallow;
  if (routing_) {
    // Sharded: stop after each sync point (onMessage), until its ReadyForQuery.
    switch (type) {
      case 'S':
      case 'F':
        server_->pushRequest({type});
        return pg::Disposition::Inspect;
      case 'c':
      case 'f':
        return pg::Disposition::Inspect;
      default:
        break;
    }
  }
  switch (type) {
    case 'X':
      return pg::Disposition::Collect;
    case 'P':
    case 'B':
    case 'D':
    case 'C':
      if (trackStatements_) return pg::Disposition::Collect;  // renamed in onMessage
      server_->pushRequest({type});
      return pg::Disposition::Forward;
    case 'Q':
      if (txnPooling_) return pg::Disposition::Collect;  // handleQuery
      server_->pushRequest({type});
      return pg::Disposition::Forward;
    case 'E':
    case 'S':
    case 'F':
      server_->pushRequest({type});
      return pg::Disposition::Forward;
    case 'H':  // Flush
    case 'd':  // CopyData, CopyDone, CopyFail
    case 'c':
    case 'f':
      return pg::Disposition::Forward;
    default:
      // PostgreSQL would end the session; do it here, before the server (possibly shared in
      // transaction pooling) sees the message.
      fatal("08P01", fmt::format("invalid frontend message type {}", static_cast<int>(type)),
            "protocol violation");
      return pg::Disposition::Swallow;
  }
}

void ClientConn::onForward(pg::Bytes bytes, bool inInput) {
  if (!server_) return;
  if (inInput && currentChunk_)
    server_->forwardSlice(currentChunk_, bytes.data(), bytes.size());
  else
    server_->forwardCopy(bytes.data(), bytes.size());
}

bool ClientConn::onMessage(char type, pg::Bytes body) {
  switch (type) {
    case 'X':
      close("client sent Terminate");
      return false;
    case 'P':
      handleParse(body);
      break;
    case 'B':
      handleBind(body);
      break;
    case 'D':
      handleDescribe(body);
      break;
    case 'C':
      handleClose(body);
      break;
    case 'Q':
      handleQuery(body);
      break;
    default:
      break;
  }
  if (routing_ && state_ != State::Closing) {
    if (type == 'Q' || type == 'S' || type == 'F') routing_->awaitingReady = true;
    // After a sync point (or the end of a COPY) the rest waits for pumpRouted.
    if (type == 'Q' || type == 'S' || type == 'F' || type == 'c' || type == 'f') return false;
  }
  return state_ != State::Closing;
}

void ClientConn::serverReady(ServerConn& server) {
  if (state_ != State::Active) return;
  if (worker().shuttingDown() && server.clean() && inbuf_.empty()) {
    flushForward();
    terminateForShutdown();
    return;
  }
  if (routing_) {
    routedReady();
    return;
  }
  // Session mode keeps the server; the other modes give it back between transactions (a
  // transaction block in statement mode was refused in ServerConn::onActiveReply).
  // A cancel of this client's query still on its way keeps the server (cancelDelivered).
  if (pool_->settings().mode != config::PoolMode::Session && server.clean() &&
      scanner_.atBoundary() && inbuf_.empty() && !server.cancelInFlight() &&
      (touched_.empty() || !captureSettings(server)))
    releaseServer();
}

void ClientConn::cancelRequested() {
  if (state_ == State::Active && server_ && server_->awaitingReady()) {
    server_->sendCancel();
  } else if (state_ == State::Scatter && routing_->scatter) {
    routing_->scatter->cancel();
  } else {
    log::info(who(), "cancel request ignored: no query of this client is running");
  }
}

// Transaction/statement pooling: give the server back between transactions.
void ClientConn::releaseServer() {
  ServerConn* s = server_;
  server_ = nullptr;
  flushForward();  // the ReadyForQuery that ended the transaction
  s->releaseToPool();
}

void ClientConn::refuseTransactionBlock() {
  fatal("25001", "transaction blocks are not allowed in statement pooling mode",
        "statement mode");
}

void ClientConn::serverWithdrawn() {
  if (state_ == State::Scatter) {
    routing_->scatter->serverWithdrawn();
    return;
  }
  if (state_ != State::WaitServer) return;
  log::info(who(), "the server meant for this client closed first; asking the pool again");
  askPool(true);
}

void ClientConn::serverFailed(std::string_view reason, std::string_view sqlstate) {
  if (state_ == State::Scatter) {
    routing_->scatter->serverFailed(reason);
    return;
  }
  if (state_ != State::WaitServer) return;
  if (routing_ && pool_->member() != 0) {
    // A replica could not serve this read: its shard's primary will.
    log::warn(who(), "connect to a replica failed ({}); reading from the primary", reason);
    pool_ = &shardPool(pool_->shard(), 0);
    askPool(true);
    return;
  }
  if (holdForFailover(reason, sqlstate)) return;
  fatal(sqlstate, fmt::format("could not connect to server for database \"{}\": {}", database_,
                              reason),
        "server connect failed");
}

void ClientConn::onTick(Clock::time_point now, const config::General& g) {
  auto seconds = [](config::Duration d) { return d.count() / 1000.0; };
  switch (state_) {
    case State::Active:
      if (server_ && server_->awaitingReady()) {
        if (g.queryTimeout.count() > 0 && now - server_->busySince() >= g.queryTimeout)
          server_->cancelForTimeout(g.queryTimeout);
        return;
      }
      if (server_ && server_->transactionStatus() != 'I') {
        if (g.idleTransactionTimeout.count() > 0 &&
            now - server_->readySince() >= g.idleTransactionTimeout)
          fatal("25P03",
                fmt::format("idle_transaction_timeout: idle in transaction for more than {:.1f} s",
                            seconds(g.idleTransactionTimeout)),
                "idle_transaction_timeout");
        return;
      }
      if (g.clientIdleTimeout.count() > 0 && now - lastActivity_ >= g.clientIdleTimeout)
        fatal("57P05",
              fmt::format("client_idle_timeout: idle for more than {:.1f} s",
                          seconds(g.clientIdleTimeout)),
              "client_idle_timeout");
      return;
    case State::Console:
      console_->onTick();
      return;
    case State::Scatter:
      // Waiting for the shards' servers: query_wait_timeout as for one server.
      if (routing_->scatter && routing_->scatter->waiting() && g.queryWaitTimeout.count() > 0 &&
          now - waitStart_ >= g.queryWaitTimeout)
        routing_->scatter->serverFailed(fmt::format(
            "query_wait_timeout: no server connection of every shard became free within {:.1f} s",
            seconds(g.queryWaitTimeout)));
      return;
    case State::Startup:
    case State::Auth:
      if (login_ && login_->heldUntil && now >= *login_->heldUntil) {
        resumeLogin();
        return;
      }
      if (g.clientLoginTimeout.count() > 0 && now - startedAt_ >= g.clientLoginTimeout)
        fatal("08P01",
              fmt::format("client_login_timeout: login not completed within {:.1f} s",
                          seconds(g.clientLoginTimeout)),
              "client_login_timeout");
      return;
    case State::WaitServer:  // ClientSession::checkTimers
    case State::Login:
    case State::Closing:
      return;
  }
}

void ClientConn::terminateForShutdown() {
  fatal("57P01", "terminating connection because shardpool is shutting down", "shutdown");
}

void ClientConn::closeIfIdle() {
  switch (state_) {
    case State::Startup:
    case State::Auth:
    case State::WaitServer:
      terminateForShutdown();
      return;
    case State::Active:
      if (!server_ || server_->clean())
        terminateForShutdown();
      return;
    case State::Console:
      if (!console_->busy()) terminateForShutdown();
      return;
    case State::Login:
    case State::Scatter:
    case State::Closing:
      return;
  }
}

void ClientConn::fatal(std::string_view sqlstate, std::string_view message,
                       std::string_view reason) {
  if (state_ == State::Closing) return;
  pg::Writer w;
  pg::putErrorResponse(w, "FATAL", sqlstate, message);
  send(w.take());
  std::string why = reason.empty() ? std::string(message) : fmt::format("{}: {}", reason, message);
  // Counted by the reason's category: the text before any ':' detail.
  std::string_view category = reason.empty() ? message : reason;
  worker().runtime().countError(category.substr(0, category.find(':')));
  close(why);
}

void ClientConn::onClosing() {
  if (routing_) routing_->scatter.reset();  // its servers: back to the pool, or closed
  if (ServerConn* s = server_) {
    server_ = nullptr;
    // Settings this client changed and shardpool has not read: the server cannot be handed on
    // as it is (the reset query, if any, undoes them).
    s->unlink(!scanner_.atBoundary(), !touched_.empty() || !capturing_.empty());
  }
}

void ClientConn::onReadEnd(int status) {
  close(status == UV_EOF ? "client disconnected"
                         : fmt::format("client read error: {}", uv_strerror(status)));
}

void ClientConn::onTlsFailed(const std::string& error) {
  close(fmt::format("TLS error: {}", error));
}

void ClientConn::onWriteError(int status) {
  close(fmt::format("client write error: {}", uv_strerror(status)));
}

}  // namespace shardpool::pooler
