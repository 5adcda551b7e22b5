#include "pooler/mysql/mysql_server.h"

#include <fmt/format.h>

#include <cstring>

#include "pooler/mysql/side_query.h"
#include "pooler/mysql/mysql_client.h"
#include "pooler/mysql/mysql_engine.h"
#include "pooler/net/log.h"
#include "pooler/protocol/mysql_commands.h"
#include "pooler/protocol/mysql_results.h"
#include "pooler/session/conn_rows.h"
#include "pooler/session/pool.h"
#include "pooler/session/runtime.h"

namespace shardpool::pooler {

namespace my = protocol::mysql;

namespace {

// A proven SHA1 stage learned from a client's login, or the pool's plaintext password.
bool isPlaintext(const std::optional<std::string>& password) {
  return password && !auth::parseMysqlNativeStored(*password);
}

// Tracking of every session variable and the schema, and (assigning them to themselves) the
// character-set variables reported in the OK: the session's starting point.
constexpr std::string_view kSetupQuery =
    "SET SESSION session_track_system_variables='*', session_track_schema=ON, "
    "session_track_state_change=ON, character_set_client=@@character_set_client, "
    "character_set_connection=@@character_set_connection, "
    "character_set_results=@@character_set_results, "
    "collation_connection=@@collation_connection";

// The collation shardpool logs in to servers with (MysqlServerLogin's default).
constexpr uint8_t kServerCollation = my::kCollationUtf8mb4GeneralCi;

// A statement id in a packet (header included) whose payload starts with one byte and the id:
// COM_STMT_* commands and the prepare's OK.
void putStatementId(std::string& bytes, size_t packetStart, uint32_t id) {
  for (int i = 0; i < 4; ++i)
    bytes[packetStart + my::kHeaderSize + 1 + i] = static_cast<char>((id >> (8 * i)) & 0xFF);
}

std::string commandPacket(void (*put)(my::Writer&, std::string_view), std::string_view arg) {
  my::Writer w;
  put(w, arg);
  return w.take();
}

}  // namespace

MysqlServer::MysqlServer(Worker& worker, uint64_t id, Pool& pool) : ServerLink(worker, id, pool) {}

uint64_t MysqlServer::replyShaping(my::Capabilities caps) {
  constexpr my::Capabilities kLoginOnly =
      my::kClientMysql | my::kClientConnectWithDb | my::kClientSsl | my::kClientSecureConnection |
      my::kClientPluginAuth | my::kClientConnectAttrs | my::kClientPluginAuthLenencClientData |
      my::kClientCanHandleExpiredPasswords | my::kClientInteractive | my::kClientIgnoreSigpipe |
      my::kClientLocalFiles | my::kClientNoSchema | my::kClientOdbc | my::kClientLongFlag |
      my::kClientReserved | my::kClientTransactions | my::kClientIgnoreSpace |
      my::kClientSessionTrack |
      // Switched per client with COM_SET_OPTION (continueLink), and asked of every server:
      // only a CALL through the binary protocol answers differently with it.
      my::kClientMultiStatements | my::kClientPsMultiResults;
  return caps & ~kLoginOnly;
}

MysqlServer::~MysqlServer() = default;

void MysqlServer::start(uint64_t forClient) {
  forClient_ = forClient;
  hosts_.start(pool_.firstHost(), pool_.settings());
  connectHost();
}

void MysqlServer::connectHost() {
  const PoolSettings& s = pool_.settings();
  resolver_.resolve(worker().loop(), hosts_.host(s), hosts_.port(s), this,
                    [](void* owner, const sockaddr* addr, std::string_view error) {
                      auto* self = static_cast<MysqlServer*>(owner);
                      if (addr)
                        self->connectAddress(addr);
                      else if (!self->tryNextHost(error))
                        self->fail(error);
                    });
}

bool MysqlServer::tryNextHost(std::string_view reason) {
  // Only a host that cannot be reached: one that refuses the login would refuse on every host.
  if (state_ != State::Resolving && state_ != State::Connecting) return false;
  if (!hosts_.next(pool_.settings())) return false;
  log::warn(who_, "{}; trying the next host of the list", reason);
  resolver_.cancel();
  resetSocket();
  setState(State::Resolving);
  connectHost();
  return true;
}

void MysqlServer::connectAddress(const sockaddr* addr) {
  setState(State::Connecting);
  std::memcpy(&addr_, addr, addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
  if (int rc = connectTo(addr); rc != 0) {
    std::string reason = fmt::format("connect failed: {}", uv_strerror(rc));
    if (!tryNextHost(reason)) fail(reason);
  }
}

void MysqlServer::onConnected(int status) {
  const PoolSettings& s = pool_.settings();
  if (status != 0) {
    std::string reason = fmt::format("could not connect to {}:{}: {}", hosts_.host(s),
                                     hosts_.port(s), uv_strerror(status));
    if (!tryNextHost(reason)) fail(reason);
    return;
  }
  setState(State::Authenticating);
  std::string error, sqlState;
  login_ = newLogin(error, sqlState);
  if (!login_) {
    fail(error, sqlState);
    return;
  }
  // Session tracking is asked for whatever the client has: shardpool follows the session with
  // it, and takes the entries out of OKs for a client without it.
  if (MysqlClient* c =
          forClient_ ? dynamic_cast<MysqlClient*>(worker().findClient(forClient_)) : nullptr)
    login_->limitCapabilities((c->capabilities() & ~my::kClientLocalFiles) |  // no LOCAL INFILE
                              my::kClientSessionTrack | my::kClientPsMultiResults);
  startReading();
}

std::optional<MysqlServerLogin> MysqlServer::newLogin(std::string& error,
                                                      std::string& sqlState) {
  const PoolSettings& s = pool_.settings();
  std::optional<MysqlServerLogin> login;
  if (isPlaintext(s.password)) {
    login.emplace(s.user, *s.password, s.dbname);
  } else if (auto stage1 = MysqlEngine::of(worker()).provenStage1(pool_)) {
    login.emplace(s.user, *stage1, s.dbname);
  } else {
    error =
        "no password to log in to the server with: the user's [users] password is mysql.user's "
        "hash and no client has proved it yet";
    sqlState = "28000";
    return std::nullopt;
  }
  if (s.tlsMode != config::TlsMode::Disable) {
    if (!s.tls) {
      error = fmt::format("TLS to the server is not available: {}", s.tlsError);
      sqlState = "08006";
      return std::nullopt;
    }
    login->useTls(true, s.tlsMode >= config::TlsMode::Require);
  }
  return login;
}

void MysqlServer::onData(Chunk* chunk, size_t len) {
  in_.append(reinterpret_cast<const char*>(chunk->data()), len);
  size_t pos = 0;
  std::string out;  // reply bytes for the client, sent once per read
  while (state_ != State::Closed) {
    my::Bytes rest = my::asBytes(std::string_view(in_).substr(pos));
    if (login_) {
      my::MessageFrame m = my::frameMessage(rest);
      if (m.status == my::FrameStatus::Invalid) {
        fail("malformed packet from the server during login");
        return;
      }
      if (m.status != my::FrameStatus::Ok) break;
      std::string payload;
      my::appendPayload(rest.first(m.totalSize), payload);
      pos += m.totalSize;
      onLoginPacket(my::asBytes(payload), m.firstSequenceId);
      continue;
    }
    my::PacketFrame p = my::framePacket(rest);
    if (p.status != my::FrameStatus::Ok) break;
    pos += p.totalSize;
    if (tracker_.done()) {
      close("the server sent a packet nobody asked for");
      return;
    }
    my::TrackResult r = tracker_.onPacket(p.length, p.payload);
    if (r.status == my::TrackStatus::Invalid || r.status == my::TrackStatus::NeedPayload) {
      close("the server's reply is out of step with its command");
      return;
    }
    my::Bytes packet = rest.first(p.totalSize);
    if (own_ != Own::None) {
      if (own_ == Own::Prepare) prepareReply_.append(my::asText(packet));
      if (r.status == my::TrackStatus::Done) onOwnDone();
      continue;
    }
    replySeq_ = static_cast<uint8_t>(packet[3] + 1);
    bool isOk = r.kind == my::PacketKind::Ok ||
                (r.kind == my::PacketKind::Eof && tracker_.hasOk() && p.length >= 7);
    if (preparing_) {
      // The client's prepare: it sees its own statement id; the reply is kept as sent.
      prepareReply_.append(my::asText(packet));
      size_t at = out.size();
      out.append(my::asText(packet));
      if (r.kind == my::PacketKind::StmtPrepareOk) putStatementId(out, at, prepareClientId_);
      if (r.status == my::TrackStatus::Done) {
        preparing_ = false;
        if (!tracker_.hasError()) {
          uint16_t params = keepPrepared(prepareSql_).numParams;
          if (client_) client_->statementPrepared(prepareClientId_, prepareSql_, params);
        }
      }
    } else if (client_ && client_->fanningOut()) {
      client_->fanoutPacket(packet, p.payload, r.kind, r.status == my::TrackStatus::Done);
    } else if (isOk && client_) {
      relayOk(packet, p.payload, out);
    } else if (timeoutKill_ && r.kind == my::PacketKind::Err && client_) {
      // The statement query_timeout killed: MySQL's own error for a statement that ran past
      // max_execution_time; the session goes on.
      my::Writer w;
      my::ErrPacket err;
      err.code = 3024;
      err.sqlState = "HY000";
      err.message = "Query execution was interrupted, maximum statement execution time exceeded";
      my::putErr(w, packet[3], err, client_->capabilities() | my::kClientProtocol41);
      out.append(w.data());
      timeoutKill_ = false;
    } else {
      out.append(my::asText(packet));
    }
    if (r.status == my::TrackStatus::Done || r.status == my::TrackStatus::WaitClient) {
      if (client_ && !out.empty()) client_->send(std::move(out));
      out.clear();
      if (client_) client_->responseDone();
    }
  }
  in_.erase(0, pos);
  if (client_ && !out.empty()) client_->send(std::move(out));
}

void MysqlServer::relayOk(my::Bytes packet, my::Bytes payload, std::string& out) {
  std::optional<my::OkPacket> ok = my::decodeOk(payload, capabilities_);
  if (!ok) {
    out.append(my::asText(packet));
    return;
  }
  if (ok->statusFlags & my::kServerSessionStateChanged) {
    MysqlSessionVars::Noted noted = vars_.note(ok->sessionState);
    client_->noteSessionState(ok->sessionState, noted);
  }
  if (ok->lastInsertId != 0) client_->noteInsertId(ok->lastInsertId);
  if ((capabilities_ & my::kClientSessionTrack) == 0 ||
      (client_->capabilities() & my::kClientSessionTrack) != 0) {
    out.append(my::asText(packet));
    return;
  }
  // The client reads the info as the rest of the packet: no length, no state entries.
  ok->sessionState = {};
  ok->statusFlags &= ~my::kServerSessionStateChanged;
  my::Writer w;
  putOk(w, packet[3], *ok, client_->capabilities() | my::kClientProtocol41);
  out.append(w.data());
}

void MysqlServer::onLoginPacket(my::Bytes payload, uint8_t sequenceId) {
  my::Writer w;
  MysqlServerLogin::Status st = login_->onPacket(payload, sequenceId, w);
  if (!w.data().empty()) send(w.take());
  switch (st) {
    case MysqlServerLogin::Status::Continue:
      return;
    case MysqlServerLogin::Status::StartTls: {
      const PoolSettings& s = pool_.settings();
      startTls(TlsSession::connect(*s.tls, hosts_.host(s), s.tlsMode == config::TlsMode::VerifyFull));
      return;
    }
    case MysqlServerLogin::Status::Failed: {
      std::string sqlState = login_->sqlState().empty() ? "08006" : login_->sqlState();
      fail(fmt::format("the server refused the login: {}", login_->error()), sqlState);
      return;
    }
    case MysqlServerLogin::Status::Done:
      break;
  }
  capabilities_ = login_->capabilities();
  multiStatements_ = (capabilities_ & my::kClientMultiStatements) != 0;
  tracker_.setCapabilities(capabilities_);
  tracker_.setStatusFlags(login_->statusFlags());
  log::debug(who_, "logged in to {} (connection id {})", login_->serverVersion(),
             login_->connectionId());
  pool_.hostWorked(hosts_.index());
  threadId_ = login_->connectionId();
  login_.reset();
  pool_.counters(worker().index()).add(pool_.counters(worker().index()).serverConnects, 1);
  vars_.setSchema(pool_.settings().dbname);
  if (capabilities_ & my::kClientSessionTrack) {
    startSetup();
    return;
  }
  log::warn(who_, "the server offers no session-state tracking: transaction pooling keeps each "
                  "client on its server");
  afterLoginOrReset();
}

void MysqlServer::startSetup() {
  sendOwn(Own::Setup, commandPacket(my::putQuery, kSetupQuery), my::Command::Query);
}

void MysqlServer::afterLoginOrReset() {
  if (!loggedIn_) {
    loggedIn_ = true;
    uint64_t target = forClient_;
    forClient_ = 0;
    offer(target);
    return;
  }
  if (closedInsteadOfReuse()) return;
  offer(0);
}

void MysqlServer::sendOwn(Own what, std::string packet, my::Command command) {
  own_ = what;
  ownSince_ = worker().now();
  send(std::move(packet));
  tracker_.begin(command);
}

void MysqlServer::onOwnDone() {
  Own what = own_;
  own_ = Own::None;
  if (tracker_.hasError()) {
    std::string error = fmt::format("{} failed: {} ({})", [what] {
      switch (what) {
        case Own::Setup: return "turning session tracking on";
        case Own::Reset: return "COM_RESET_CONNECTION";
        case Own::Charset: return "setting the client's character set";
        case Own::InitDb: return "selecting the client's schema";
        case Own::Apply: return "applying the client's session variables";
        case Own::Prepare: return "preparing the client's statement";
        case Own::SetOption: return "switching multi-statements for the client";
        case Own::Begin: return "starting the client's transaction";
        case Own::None: break;
      }
      return "?";
    }(), tracker_.errorMessage(), tracker_.errorCode());
    if (what == Own::Prepare) {
      // The client's command gets the prepare's ERR (a command without a reply, nothing).
      std::string command = std::move(deferred_);
      deferred_.clear();
      prepareReply_.clear();
      bool replies = command.size() > my::kHeaderSize &&
                     static_cast<uint8_t>(command[my::kHeaderSize]) !=
                         static_cast<uint8_t>(my::Command::StmtSendLongData);
      if (client_ && replies)
        client_->statementFailed(tracker_.errorCode(), tracker_.errorSqlState(),
                                 tracker_.errorMessage());
      else if (client_)
        client_->resumeInput();
      return;
    }
    if (what == Own::Charset || what == Own::InitDb || what == Own::Apply ||
        what == Own::SetOption || what == Own::Begin) {
      linkFailed(error);
      return;
    }
    if (what == Own::Setup && !loggedIn_) {
      log::warn(who_, "{}: transaction pooling keeps each client on its server", error);
      tracking_ = false;
      afterLoginOrReset();
      return;
    }
    close(error);
    return;
  }
  const my::OkPacket* ok = tracker_.hasOk() ? &tracker_.lastOk() : nullptr;
  switch (what) {
    case Own::None:
      return;
    case Own::Setup:
      tracking_ = true;
      if (ok) vars_.note(ok->sessionState);
      if (!client_) {
        afterLoginOrReset();
        return;
      }
      break;  // after its client's COM_RESET_CONNECTION: the client's session again
    case Own::Prepare:
      keepPrepared(prepareSql_);
      sendDeferred();
      return;
    case Own::Reset:
      // A fresh session: the variables a new connection has, tracking off, the schema as is
      // (forgotten all the same: a client's own is selected again), no prepared statements.
      vars_.clear();
      vars_.setSchema({});
      prepared_.clear();
      startSetup();
      return;
    case Own::Charset:
      if (ok) vars_.note(ok->sessionState);
      if (client_) client_->learnCharset(vars_);
      break;
    case Own::InitDb:
      if (client_) vars_.setSchema(client_->schemaOn(pool_));
      break;
    case Own::Begin:
      if (client_) client_->beginSent();
      break;
    case Own::SetOption:
      multiStatements_ = !multiStatements_;
      break;
    case Own::Apply:
      if (client_) {
        std::string schema = vars_.schema();
        vars_ = client_->session();
        vars_.setSchema(schema);
      }
      break;
  }
  if (client_ && continueLink()) client_->serverReady();
}

bool MysqlServer::link(MysqlClient* client) {
  setState(State::Login);
  client_ = client;
  return continueLink();
}

bool MysqlServer::continueLink() {
  MysqlClient* c = client_;
  if (!c->charsetKnown()) {
    if (c->collation() == kServerCollation) {
      c->learnCharset(vars_);
    } else {
      // By name: character_set_* take only a character set's own number. A collation the
      // server does not know gets the server's default, as at login.
      std::string charset = fmt::format(
          "COALESCE((SELECT CHARACTER_SET_NAME FROM information_schema.COLLATIONS WHERE ID = "
          "{}), @@character_set_server)",
          c->collation());
      std::string sql = fmt::format(
          "SET character_set_client = {0}, character_set_connection = {0}, "
          "character_set_results = {0}, collation_connection = COALESCE((SELECT COLLATION_NAME "
          "FROM information_schema.COLLATIONS WHERE ID = {1}), @@collation_server)",
          charset, c->collation());
      sendOwn(Own::Charset, commandPacket(my::putQuery, sql), my::Command::Query);
      return false;
    }
  }
  if (c->multiStatements() != multiStatements_) {
    my::Writer w;
    my::putSetOption(w, c->multiStatements() ? my::kOptionMultiStatementsOn
                                             : my::kOptionMultiStatementsOff);
    sendOwn(Own::SetOption, w.take(), my::Command::SetOption);
    return false;
  }
  std::string_view schema = c->schemaOn(pool_);
  if (schema != vars_.schema() && !schema.empty()) {
    sendOwn(Own::InitDb, commandPacket(my::putInitDb, schema), my::Command::InitDb);
    return false;
  }
  std::string sql = applyStatement(
      c->session(), vars_, (tracker_.statusFlags() & my::kServerStatusNoBackslashEscapes) != 0);
  if (!sql.empty()) {
    sendOwn(Own::Apply, commandPacket(my::putQuery, sql), my::Command::Query);
    return false;
  }
  if (!c->pendingBegin().empty()) {
    // A BEGIN shardpool answered (a sharded database): the transaction starts here.
    sendOwn(Own::Begin, commandPacket(my::putQuery, c->pendingBegin()), my::Command::Query);
    return false;
  }
  if (state_ != State::Active) setState(State::Active);
  return true;
}

void MysqlServer::linkFailed(std::string_view reason) {
  MysqlClient* c = client_;
  client_ = nullptr;
  log::warn(who_, "{}", reason);
  close(reason);
  if (c) c->serverLinkFailed(reason);
}

my::TrackStatus MysqlServer::beginCommand(my::Bytes payload) {
  busySince_ = worker().now();
  timeoutKill_ = false;
  replySeq_ = 1;
  return tracker_.begin(payload);
}

void MysqlServer::release() {
  client_ = nullptr;
  if (state_ == State::Closed || closedInsteadOfReuse()) return;
  offer(0);
}

void MysqlServer::forgetSession() {
  // Tracking is off again, and the variables are a new connection's: set up again, then the
  // client's character set and schema are applied before its next command.
  vars_.clear();
  vars_.setSchema({});
  prepared_.clear();
  tracking_ = false;
  startSetup();
}

const MysqlServer::Prepared* MysqlServer::preparedFor(const std::string& sql) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) return nullptr;
  it->second.lastUse = ++useCounter_;
  return &it->second;
}

my::TrackStatus MysqlServer::prepare(uint32_t clientId, const std::string& sql,
                                     std::string packet) {
  busySince_ = worker().now();
  replySeq_ = 1;
  preparing_ = true;
  prepareSql_ = sql;
  prepareClientId_ = clientId;
  prepareReply_.clear();
  my::TrackStatus st = tracker_.begin(my::asBytes(std::string_view(packet).substr(my::kHeaderSize)));
  send(std::move(packet));
  return st;
}

my::TrackStatus MysqlServer::sendOnStatement(const std::string& sql, std::string packet) {
  busySince_ = worker().now();
  replySeq_ = 1;
  if (const Prepared* p = preparedFor(sql)) {
    putStatementId(packet, 0, p->id);
    my::TrackStatus st =
        tracker_.begin(my::asBytes(std::string_view(packet).substr(my::kHeaderSize)));
    send(std::move(packet));
    return st;
  }
  deferred_ = std::move(packet);
  prepareSql_ = sql;
  prepareClientId_ = 0;
  prepareReply_.clear();
  sendOwn(Own::Prepare, commandPacket(my::putStmtPrepare, sql), my::Command::StmtPrepare);
  return my::TrackStatus::More;
}

const MysqlServer::Prepared& MysqlServer::keepPrepared(const std::string& sql) {
  const my::StmtPrepareOk& ok = tracker_.prepareOk();
  size_t cap = pool_.settings().maxPrepared;
  auto closeOnServer = [this](uint32_t id) {
    my::Writer w;
    my::putStmtClose(w, id);  // no reply
    send(w.take());
  };
  if (auto old = prepared_.find(sql); old != prepared_.end()) {
    closeOnServer(old->second.id);
    prepared_.erase(old);
  }
  if (cap > 0 && prepared_.size() >= cap) {
    auto victim = prepared_.begin();
    for (auto it = prepared_.begin(); it != prepared_.end(); ++it)
      if (it->second.lastUse < victim->second.lastUse) victim = it;
    closeOnServer(victim->second.id);
    prepared_.erase(victim);
  }
  Prepared& kept = prepared_[sql];
  kept.id = ok.statementId;
  kept.numParams = ok.numParams;
  kept.response = std::move(prepareReply_);
  kept.lastUse = ++useCounter_;
  prepareReply_.clear();
  return kept;
}

void MysqlServer::sendDeferred() {
  std::string packet = std::move(deferred_);
  deferred_.clear();
  const Prepared* p = preparedFor(prepareSql_);
  putStatementId(packet, 0, p->id);
  my::TrackStatus st =
      tracker_.begin(my::asBytes(std::string_view(packet).substr(my::kHeaderSize)));
  send(std::move(packet));
  // A command without a reply (SEND_LONG_DATA): the client's next one may go now.
  if (st == my::TrackStatus::Done && client_) client_->resumeInput();
}

void MysqlServer::unlink(bool reusable) {
  client_ = nullptr;
  if (state_ == State::Closed) return;
  if (busy()) {
    close("the client left while the server was answering it");
    return;
  }
  if (reusable && tracking_) {
    release();
    return;
  }
  if (closedInsteadOfReuse()) return;
  // Session state (variables, temporary tables, transactions, locks) goes with the client:
  // the next one gets a fresh session.
  setState(State::Resetting);
  my::Writer w;
  my::putResetConnection(w);
  sendOwn(Own::Reset, w.take(), my::Command::ResetConnection);
}

void MysqlServer::fail(std::string_view reason, std::string_view sqlstate, bool socketDead) {
  uint64_t target = forClient_;
  forClient_ = 0;
  log::warn(who_, "server connection failed: {}", reason);
  pool_.counters(worker().index()).add(pool_.counters(worker().index()).serverConnectFailures, 1);
  if (target)
    if (ClientSession* c = worker().findClient(target)) c->serverFailed(reason, sqlstate);
  close(reason, socketDead);
}

void MysqlServer::close(std::string_view reason, bool socketDead) {
  if (state_ == State::Closed) return;
  if (forClient_ != 0) {
    fail(reason, "08006", socketDead);
    return;
  }
  bool loggedIn = loggedIn_ || own_ == Own::Setup;
  setState(State::Closed);
  log::info(who_, "closing server connection: {}", reason);
  resolver_.cancel();
  if (MysqlClient* c = client_) {
    client_ = nullptr;
    c->serverLost(reason);
  }
  if (loggedIn && isOpen() && !socketDead) {
    my::Writer w;
    w.start(0);
    w.u8(static_cast<uint8_t>(my::Command::Quit));
    w.finish();
    send(w.take());
  }
  if (isOpen()) closeAfterFlush();
  if (!goneReported_) {
    goneReported_ = true;
    pool_.serverGone(worker(), generation_);
  }
  worker().retire(this);
}

void MysqlServer::onReadEnd(int status) {
  close(status == UV_EOF ? std::string("server closed the connection")
                         : fmt::format("read error: {}", uv_strerror(status)),
        true);
}

void MysqlServer::onWriteError(int status) {
  close(fmt::format("write error: {}", uv_strerror(status)), true);
}

void MysqlServer::onTlsReady() {
  if (login_) send(login_->responseAfterTls());
}

void MysqlServer::onTlsFailed(const std::string& error) {
  fail(fmt::format("TLS with the server failed: {}", error));
}

void MysqlServer::killQuery(bool forTimeout) {
  if (killing_ || !clientCommandRunning() || threadId_ == 0 || addr_.ss_family == 0) return;
  if (forTimeout) timeoutKill_ = true;
  std::string error, sqlState;
  std::optional<MysqlServerLogin> login = newLogin(error, sqlState);
  if (!login) {
    log::warn(who_, "cannot send KILL QUERY: {}", error);
    return;
  }
  const PoolSettings& s = pool_.settings();
  SideQuery q;
  q.host = hosts_.host(s);
  q.port = hosts_.port(s);
  q.addr = addr_;
  if (s.tlsMode != config::TlsMode::Disable) q.tls = s.tls;
  q.verifyHost = s.tlsMode == config::TlsMode::VerifyFull;
  q.sql = fmt::format("KILL QUERY {}", threadId_);
  q.timeout = std::chrono::seconds(10);
  killing_ = true;
  killSince_ = worker().now();
  log::info(who_, "KILL QUERY {} for its client's command", threadId_);
  runSideQuery(worker(), std::move(q), std::move(*login),
               [&w = worker(), id = id(), thread = threadId_](const SideResult& r) {
                 if (r.ok)
                   log::info("", "KILL QUERY {}: sent", thread);
                 else
                   log::warn("", "KILL QUERY {}: {}", thread, r.error);
                 if (auto* server = dynamic_cast<MysqlServer*>(w.findServer(id)))
                   server->killDelivered();
               });
}

void MysqlServer::killDelivered() {
  if (!killing_) return;
  killing_ = false;
  if (client_ && !busy()) client_->killDone();
}

void MysqlServer::onTick(Clock::time_point now) {
  // A KILL that gets no answer: the server's session is in an unknown state.
  if (killing_ && now - killSince_ >= std::chrono::seconds(15)) {
    killing_ = false;
    close("KILL QUERY got no answer within 15 s");
    return;
  }
  // shardpool's own commands are short: a server that does not answer one within the bound
  // (server_connect_timeout, else 15 s) is closed, never left holding its slot or its client.
  if (own_ == Own::None) return;
  const PoolSettings& s = pool_.settings();
  auto bound = s.serverConnectTimeout.count() > 0 ? std::chrono::milliseconds(s.serverConnectTimeout)
                                                  : std::chrono::milliseconds(15000);
  if (now - ownSince_ < bound) return;
  std::string reason =
      fmt::format("the server did not answer shardpool's own command within {} ms", bound.count());
  if (client_ && (own_ == Own::Charset || own_ == Own::InitDb || own_ == Own::Apply ||
                  own_ == Own::SetOption || own_ == Own::Prepare || own_ == Own::Begin))
    linkFailed(reason);
  else
    close(reason);
}

void MysqlServer::describeMore(ConnRow& row) const {
  if (client_) row.link = client_->id();
  row.preparedStatements = static_cast<uint32_t>(prepared_.size());
}

}  // namespace shardpool::pooler
