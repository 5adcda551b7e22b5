#include "pooler/mysql/mysql_client.h"

#include <fmt/format.h>

#include "pooler/mysql/mysql_engine.h"
#include "pooler/mysql/mysql_server.h"
#include "pooler/mysql/statement_effects.h"
#include "pooler/protocol/mysql_commands.h"
#include "pooler/net/log.h"
#include "pooler/protocol/mysql_results.h"
#include "pooler/session/conn_rows.h"
#include "pooler/session/pool.h"
#include "pooler/session/runtime.h"

namespace shardpool::pooler {

namespace my = protocol::mysql;

namespace {

constexpr std::string_view kServerVersion = "5.5.5-10.11.0-shardpool";

// Pins besides the statement effects (StatementEffect bits, all sticky but LOCK TABLES, which
// lockTables_ holds, and the two one-command holds).
constexpr uint16_t kPinPreparedStatement = 1 << 12;  // COM_STMT_PREPARE
constexpr uint16_t kPinSessionState = 1 << 14;       // a state change the server reported
constexpr uint16_t kPinTracking = 1 << 15;           // the client changed session_track_*
constexpr uint16_t kStickyEffects = kUsesUserVariable | kCreatesTemporaryTable |
                                    kTakesNamedLock | kPreparesText | kOpensHandler |
                                    kXaTransaction;

std::string_view pinName(uint16_t bit) {
  switch (bit) {
    case kUsesUserVariable: return "a user variable";
    case kCreatesTemporaryTable: return "a temporary table";
    case kTakesNamedLock: return "GET_LOCK (until RELEASE_ALL_LOCKS())";
    case kPreparesText: return "PREPARE";
    case kOpensHandler: return "HANDLER";
    case kXaTransaction: return "an XA transaction";
    case kPinPreparedStatement: return "a prepared statement";
    case kPinSessionState: return "a session state change";
    case kPinTracking: return "session_track_* changed";
    default: return "?";
  }
}

}  // namespace

MysqlClient::MysqlClient(Worker& worker, uint64_t id) : ClientSession(worker, id) {}

MysqlClient::~MysqlClient() = default;

void MysqlClient::onStarted() {
  Endpoint peer, local;
  std::string host = endpoints(peer, local) ? peer.host : std::string("localhost");
  // Its connection id is its cancel registry entry's: the id another client's KILL names.
  takeCancelKey();
  login_.emplace(auth::mysqlScramble(), cancelPid_, std::move(host));
  my::Writer w;
  login_->greet(w, kServerVersion, worker().runtime().acceptTls() != nullptr,
                worker().runtime().config()->general.mysqlCachingSha2);
  send(w.take());
}

void MysqlClient::onData(Chunk* chunk, size_t len) {
  lastActivity_ = worker().now();
  in_.append(reinterpret_cast<const char*>(chunk->data()), len);
  readInput();
}

void MysqlClient::readInput() {
  // Reentered from a callback of a message being handled (a server linked during the login):
  // the loop below goes on with the next message itself.
  if (readingInput_) return;
  readingInput_ = true;
  size_t pos = 0;
  while (state_ != State::Closing) {
    if (state_ == State::WaitServer || state_ == State::Login) break;
    if (state_ == State::Active && server_ && server_->busy()) break;
    my::Bytes rest = my::asBytes(std::string_view(in_).substr(pos));
    my::MessageFrame m = my::frameMessage(rest);
    if (m.status == my::FrameStatus::Invalid) {
      close("malformed packet from the client");
      return;
    }
    if (m.status != my::FrameStatus::Ok) break;
    my::Bytes message = rest.first(m.totalSize);
    std::string joined;
    my::Bytes payload = m.payload;
    if (!m.contiguous()) {
      my::appendPayload(message, joined);
      payload = my::asBytes(joined);
    }
    if (login_) {
      pos += m.totalSize;
      if (!onLoginPacket(payload, m.firstSequenceId)) return;  // closed: in_ is not touched again
      if (tlsRequested_) {
        tlsRequested_ = false;
        std::string handshake = in_.substr(pos);
        in_.clear();
        readingInput_ = false;
        startTls(TlsSession::accept(*worker().runtime().acceptTls()), handshake);
        return;
      }
      continue;
    }
    if (!payload.empty() && payload[0] == static_cast<uint8_t>(my::Command::Query)) {
      // The ids in KILL are shardpool's: never a server's business.
      if (auto kill = killStatement(my::asText(payload.subspan(1)))) {
        pos += m.totalSize;
        if (!answerKill(*kill, m.firstSequenceId)) return;  // closed
        continue;
      }
    }
    if (!pool_) {  // logged in without a database
      pos += m.totalSize;
      if (!answerWithoutDatabase(payload, m.firstSequenceId)) return;  // closed
      continue;
    }
    if (!server_) {
      if (answerLocally(payload, m.firstSequenceId)) {
        pos += m.totalSize;
        continue;
      }
      Routing routing = routeCommand(message, payload, m.firstSequenceId);
      if (routing == Routing::Answered || routing == Routing::Replaced) {
        pos += m.totalSize;
        // A fanout's own text runs in its place, next.
        if (routing == Routing::Replaced) in_.insert(pos, fanout_->command);
        continue;
      }
      // Transaction pooling: the command waits in in_ for a server (linked at once when one
      // is idle, then this loop goes on with it).
      askPool();
      if (!server_ && state_ == State::Active) break;
      continue;
    }
    if (sharded_ && transactionPooling_ && !payload.empty()) {
      Routing r = checkLinked(payload, m.firstSequenceId);
      if (r == Routing::Reroute) continue;
      if (r == Routing::Answered) {
        pos += m.totalSize;
        continue;
      }
    }
    pos += m.totalSize;
    onCommand(message, payload, m.firstSequenceId);
  }
  readingInput_ = false;
  if (state_ == State::Closing) return;
  in_.erase(0, pos);
  // A server linked while the loop ran (the login's) could not be released then: the bytes
  // being read were still in in_.
  releaseIfDone();
}

bool MysqlClient::onLoginPacket(my::Bytes payload, uint8_t sequenceId) {
  my::Writer w;
  MysqlClientLogin::Status st = login_->onPacket(payload, sequenceId, w);
  if (st == MysqlClientLogin::Status::Identified) st = identified(w);
  return loginStep(st, w, sequenceId);
}

bool MysqlClient::loginStep(MysqlClientLogin::Status st, my::Writer& w, uint8_t sequenceId) {
  switch (st) {
    case MysqlClientLogin::Status::Continue:
    case MysqlClientLogin::Status::Identified:
      send(w.take());
      return true;
    case MysqlClientLogin::Status::StartTls:
      if (!worker().runtime().acceptTls()) {
        close("client TLS is off now (reloaded)");
        return false;
      }
      // readInput() starts it, with the bytes behind the SSLRequest (the ClientHello).
      tlsRequested_ = true;
      return true;
    case MysqlClientLogin::Status::Malformed:
      // As MariaDB answers a login it cannot read.
      sendErr(sequenceId + 1, 1043, "08S01", "Bad handshake");
      close(fmt::format("malformed login: {}", login_->reason()));
      return false;
    case MysqlClientLogin::Status::Refused:
      send(w.take());
      if (changingUser_) {
        log::info(who(), "COM_CHANGE_USER to {} refused: {}", user_, login_->reason());
        user_ = std::move(previousUser_);
        database_ = std::move(previousDatabase_);
        changingUser_ = false;
        login_.reset();
        return true;
      }
      if (!lookupKey_.empty()) {
        // A password changed since it was looked up: the next login looks it up again.
        MysqlEngine::of(worker()).authCache().forget(lookupKey_);
      }
      close(fmt::format("login refused: {}", login_->reason()));
      return false;
    case MysqlClientLogin::Status::Accepted:
      break;
  }
  lookupKey_.clear();
  lookupKey_.shrink_to_fit();
  pendingOk_ = w.take();
  pool_ = loginPool_;
  loginPool_ = nullptr;
  if (changingUser_) {
    // A new session for the new user: its character set (the command's, else the one it had),
    // its database's schema, nothing of the old one.
    if (login_->characterSet() != 0) collation_ = login_->characterSet();
    session_.clear();
    loginCharset_.clear();
    charsetKnown_ = false;
    changingUser_ = false;
  } else {
    capabilities_ = login_->capabilities();
    multiStatements_ = (capabilities_ & my::kClientMultiStatements) != 0;
    collation_ = login_->characterSet();
  }
  if (!pool_) {
    login_.reset();
    worker().runtime().cancels().setOwner(cancelPid_, user_);
    setState(State::Active);
    send(std::move(pendingOk_));
    pendingOk_.clear();
    log::info(who(), "login accepted without a database");
    return true;
  }
  if (!joinPool()) return false;
  if (login_->provenStage1())
    MysqlEngine::of(worker()).learnStage1(*pool_, *login_->provenStage1());
  login_.reset();
  worker().runtime().cancels().setOwner(cancelPid_, user_);
  log::info(who(), "login accepted");
  askPool();
  return state_ != State::Closing;
}

bool MysqlClient::joinPool() {
  transactionPooling_ = pool_->settings().mode != config::PoolMode::Session;
  session_.setSchema(pool_->settings().dbname);
  primaryPool_ = pool_;
  replicaPools_.clear();
  shardPools_.clear();
  hints_ = {};
  deferredBegin_.clear();
  readVersion_ = UINT64_MAX;
  if (const config::Database* db = worker().runtime().config()->findDatabase(database_)) {
    readFrom_ = transactionPooling_ ? db->readFrom : config::ReadFrom::Primary;
    sharded_ = db->sharded();
    if (db->sharded() && !transactionPooling_) {
      // Each statement picks its shard: a client cannot keep one server for its session.
      failWaitingCommand(1235, "42000",
                         fmt::format("database '{}' is sharded: it is served in transaction "
                                     "pooling only (pool_mode = \"transaction\")",
                                     database_),
                         "sharded database in session pooling");
      return false;
    }
  }
  return true;
}

MysqlClientLogin::Status MysqlClient::identified(my::Writer& out) {
  if (!changingUser_) setState(State::Auth);
  user_ = login_->user();
  database_ = login_->database();
  if (!changingUser_ && !login_->overTls() &&
      worker().runtime().config()->general.clientTlsSslmode >= config::TlsMode::Require) {
    // As MySQL with require_secure_transport.
    return login_->refuse(out, 3159, "08004",
                          "Connections using insecure transport are prohibited while "
                          "--require_secure_transport=ON.");
  }
  auto cfg = worker().runtime().config();
  const config::User* user = cfg->findUser(user_);
  const config::Database* named = database_.empty() ? nullptr : cfg->findDatabase(database_);
  // A user without a password in [users] is looked up with its database's auth_query.
  const bool lookup = (!user || user->password.empty()) && named &&
                      named->protocol == config::Protocol::MySql && named->name == database_ &&
                      !cfg->authUserFor(*named).empty();
  if (!user && !lookup) {
    // Answered as a wrong password, so that a client cannot tell which users exist.
    return login_->verify(std::string(kNoSuchUser), out);
  }
  if (database_.empty()) {
    // No database: a connection that only KILLs or pings (the mariadb CLI's Ctrl-C,
    // mysqladmin), or picks its database later with USE. It gets no pool until then.
    if (changingUser_)
      return login_->refuse(out, 1046, "3D000",
                            "No database selected (shardpool needs one to change user)");
    if (!countClient()) return login_->refuse(out, 1040, "08004", "Too many connections");
    loginPool_ = nullptr;
    return login_->verify(user->password, out);
  }
  const config::Database* db = cfg->findDatabase(database_);
  if (!db || db->protocol != config::Protocol::MySql || db->name != database_)
    return login_->refuse(out, 1049, "42000", fmt::format("Unknown database '{}'", database_));
  if (!changingUser_ && !countClient())
    return login_->refuse(out, 1040, "08004", "Too many connections");
  // Its pool once accepted, now or after more of the exchange (caching_sha2's full
  // authentication, a switch to mysql_native_password).
  loginPool_ = &worker().runtime().pools().get(*cfg, *db, database_, user_);
  if (lookup) return startLookup(*cfg, *db, out);
  return login_->verify(user->password, out);
}

void MysqlClient::onCommand(my::Bytes message, my::Bytes payload, uint8_t sequenceId) {
  if (payload.empty()) {
    sendErr(sequenceId + 1, 1047, "08S01", "Unknown command");  // MariaDB's answer to it
    return;
  }
  uint8_t command = payload[0];
  if (command == static_cast<uint8_t>(my::Command::Quit)) {
    close("client sent COM_QUIT");
    return;
  }
  if (command == static_cast<uint8_t>(my::Command::ChangeUser)) {
    startChangeUser(payload, sequenceId);
    return;
  }
  if (transactionPooling_ && command == static_cast<uint8_t>(my::Command::Query)) {
    if (auto column = lastInsertIdQuery(my::asText(payload.subspan(1)))) {
      // The id of this client's last insert, whichever server ran it.
      sendLastInsertId(sequenceId + 1, *column, false);
      return;
    }
  }
  if (transactionLost_ && answerLostTransaction(payload, sequenceId)) return;
  if (command == static_cast<uint8_t>(my::Command::Query) && multiStatements_) {
    // A KILL behind another statement (a leading one is answered in readInput): its id is
    // shardpool's, a server would read it as one of its own threads.
    std::string_view text = my::asText(payload.subspan(1));
    if (text.find(';') != std::string_view::npos && (scanStatementEffects(text) & kRunsKill)) {
      sendErr(sequenceId + 1, 1235, "42000",
              "This version of shardpool doesn't yet support KILL inside a multi-statement "
              "query: send the KILL alone");
      return;
    }
  }
  // Read only when the server is lost inside a transaction (serverLost): outside one there is
  // none to lose, and the text is not scanned for it.
  auto cannotCommitIt = [&] {
    if (command == static_cast<uint8_t>(my::Command::Query))
      return cannotCommit(my::asText(payload.subspan(1)));
    if (command != static_cast<uint8_t>(my::Command::StmtExecute)) return false;
    auto id = my::statementIdOf(payload);
    auto it = id ? statements_.find(*id) : statements_.end();
    return it != statements_.end() && cannotCommit(it->second.sql);
  };
  inFlightCannotCommit_ = transactionPooling_ &&
                          (server_->statusFlags() & my::kServerStatusInTrans) != 0 &&
                          cannotCommitIt();
  if (onStatementCommand(message, payload, sequenceId)) return;
  switch (server_->beginCommand(payload)) {
    case my::TrackStatus::More:
    case my::TrackStatus::Done:
      if (transactionPooling_) notePins(payload);
      if (command == static_cast<uint8_t>(my::Command::SetOption)) noteSetOption(payload);
      resetInFlight_ = command == static_cast<uint8_t>(my::Command::ResetConnection);
      server_->send(std::string(my::asText(message)));
      return;
    case my::TrackStatus::WaitClient:
    case my::TrackStatus::NeedPayload:
    case my::TrackStatus::Invalid:
    case my::TrackStatus::Unsupported:
      break;
  }
  sendErr(sequenceId + 1, 1047, "08S01",
          fmt::format("command 0x{:02x} is not supported by shardpool", command));
}

bool MysqlClient::onStatementCommand(my::Bytes message, my::Bytes payload, uint8_t seq) {
  if (pool_->settings().maxPrepared == 0) return false;  // pinned instead (notePins)
  auto command = static_cast<my::Command>(payload[0]);
  auto unknown = [&](uint32_t id, std::string_view where) {
    sendErr(seq + 1, 1243, "HY000",
            fmt::format("Unknown prepared statement handler ({}) given to {}", id, where));
  };
  switch (command) {
    case my::Command::StmtPrepare: {
      auto sql = my::decodeStmtPrepare(payload);
      if (!sql) return false;
      uint32_t id = nextStatementId_++;
      std::string text(*sql);
      if (const MysqlServer::Prepared* p = server_->preparedFor(text)) {
        // This server has it: its reply as it was, with the client's id.
        std::string reply = p->response;
        for (int i = 0; i < 4; ++i)
          reply[my::kHeaderSize + 1 + i] = static_cast<char>((id >> (8 * i)) & 0xFF);
        statementPrepared(id, text, p->numParams);
        send(std::move(reply));
        return true;
      }
      server_->prepare(id, text, std::string(my::asText(message)));
      return true;
    }
    case my::Command::StmtClose: {
      if (auto id = my::decodeStmtClose(payload)) statements_.erase(*id);
      return true;  // no reply; the server keeps it for the next clients
    }
    case my::Command::StmtExecute:
    case my::Command::StmtSendLongData:
    case my::Command::StmtReset:
    case my::Command::StmtFetch:
      break;
    default:
      return false;
  }
  std::optional<uint32_t> id = my::statementIdOf(payload);
  // MariaDB's connectors pipeline a prepare and its first execute with id 0xFFFFFFFF: the
  // statement prepared last.
  if (id == 0xFFFFFFFFu) id = lastPrepared_;
  auto it = id ? statements_.find(*id) : statements_.end();
  if (it == statements_.end()) {
    if (command == my::Command::StmtExecute) unknown(id.value_or(0), "mysqld_stmt_execute");
    if (command == my::Command::StmtReset) unknown(id.value_or(0), "mysqld_stmt_reset");
    if (command == my::Command::StmtFetch) unknown(id.value_or(0), "mysqld_stmt_fetch");
    return true;  // SEND_LONG_DATA has no reply, as on the server
  }
  Statement& st = it->second;
  if (transactionPooling_ && command == my::Command::StmtExecute) {
    if (auto column = lastInsertIdQuery(st.sql)) {
      // As for the text form: this client's last insert, whichever server ran it.
      sendLastInsertId(seq + 1, *column, true);
      return true;
    }
  }
  std::string packet(my::asText(message));
  switch (command) {
    case my::Command::StmtExecute: {
      auto e = my::decodeStmtExecute(payload, st.numParams);
      if (e && e->numParams > 0) {
        if (e->newParamsBound) {
          st.types.assign(my::asText(e->paramTypes));
        } else if (!st.types.empty()) {
          // The server's statement may hold another client's types: bind this one's again.
          e->newParamsBound = true;
          e->paramTypes = my::asBytes(st.types);
          my::Writer w;
          my::putStmtExecute(w, *e);
          packet = w.take();
        }
      }
      longData_ = false;
      break;
    }
    case my::Command::StmtSendLongData:
      longData_ = true;
      break;
    case my::Command::StmtReset:
      longData_ = false;
      if (!server_->preparedFor(st.sql)) {
        sendOk(seq + 1);  // nothing of it on this server to reset
        return true;
      }
      break;
    default:
      break;
  }
  if (transactionPooling_ && command == my::Command::StmtExecute) notePins(payload);
  server_->sendOnStatement(st.sql, std::move(packet));
  return true;
}

void MysqlClient::statementPrepared(uint32_t id, const std::string& sql, uint16_t numParams) {
  statements_[id] = Statement{sql, numParams, {}};
  lastPrepared_ = id;
}

void MysqlClient::statementFailed(uint16_t code, std::string_view sqlState,
                                  std::string_view message) {
  sendErr(1, code, sqlState, message);
  responseDone();
}

void MysqlClient::resumeInput() {
  if (state_ == State::Active) readInput();
}

void MysqlClient::startChangeUser(my::Bytes payload, uint8_t sequenceId) {
  if (MysqlServer* s = server_) {
    server_ = nullptr;
    s->unlink(false);  // whatever the outcome, the session it held ends
  }
  resetSession();
  Endpoint peer, local;
  std::string host = endpoints(peer, local) ? peer.host : std::string("localhost");
  login_.emplace(auth::mysqlScramble(), cancelPid_, std::move(host));
  my::Writer w;
  if (login_->changeUser(payload, sequenceId, capabilities_, w) != MysqlClientLogin::Status::Continue) {
    login_.reset();
    sendErr(sequenceId + 1, 1047, "08S01", "Unknown command");  // MariaDB's for a bad one
    return;
  }
  changingUser_ = true;
  previousUser_ = user_;
  previousDatabase_ = database_;
  send(w.take());
}

bool MysqlClient::answerLocally(my::Bytes payload, uint8_t sequenceId) {
  uint8_t command = payload.empty() ? 0xFF : payload[0];
  if (transactionLost_ && !payload.empty() && answerLostTransaction(payload, sequenceId))
    return true;
  switch (static_cast<my::Command>(command)) {
    case my::Command::Quit:
      close("client sent COM_QUIT");
      return true;
    case my::Command::Ping:
      sendOk(sequenceId + 1);
      return true;
    case my::Command::ResetConnection:
      resetSession();
      sendOk(sequenceId + 1);
      return true;
    case my::Command::Query:
      if (auto column = lastInsertIdQuery(my::asText(payload.subspan(1)))) {
        sendLastInsertId(sequenceId + 1, *column, false);
        return true;
      }
      return false;
    default:
      return false;
  }
}

void MysqlClient::sendOk(uint8_t sequenceId, uint16_t statusFlags) {
  my::Writer w;
  my::OkPacket ok;
  ok.statusFlags = statusFlags;
  my::putOk(w, sequenceId, ok, capabilities_ | my::kClientProtocol41);
  send(w.take());
}

void MysqlClient::sendLastInsertId(uint8_t seq, std::string_view columnName, bool binary) {
  my::Writer w;
  my::Capabilities caps = capabilities_ | my::kClientProtocol41;
  my::putColumnCount(w, seq++, 1, caps);
  my::ColumnDefinition col;
  col.name = columnName;
  col.characterSet = my::kCollationBinary;
  col.columnLength = 21;
  col.type = my::FieldType::LongLong;
  col.flags = my::kNotNullFlag | my::kUnsignedFlag | my::kBinaryFlag | my::kNumFlag;
  my::putColumnDefinition(w, seq++, col, caps);
  if ((caps & my::kClientDeprecateEof) == 0) my::putEof(w, seq++, {0, my::kServerStatusAutocommit});
  if (binary) {
    // A binary row: header, the NULL bitmap (offset 2: one byte for one column), the BIGINT.
    w.start(seq++);
    w.u8(0x00);
    w.u8(0x00);
    w.u64(lastInsertId_);
    w.finish();
  } else {
    std::string id = std::to_string(lastInsertId_);
    std::optional<std::string_view> values[] = {std::string_view(id)};
    my::putTextRow(w, seq++, values);
  }
  uint16_t flags = server_ ? server_->statusFlags() : my::kServerStatusAutocommit;
  my::putResultSetEnd(w, seq, flags & ~my::kServerSessionStateChanged, 0, caps);
  send(w.take());
}

void MysqlClient::notePins(my::Bytes payload) {
  switch (static_cast<my::Command>(payload[0])) {
    case my::Command::Query: {
      uint16_t effects = scanStatementEffects(my::asText(payload.subspan(1)));
      if ((effects & kReleasesAllLocks) && !(effects & kTakesNamedLock))
        pins_ &= ~kTakesNamedLock;
      if (effects & kStickyEffects) pin(effects & kStickyEffects, "its statement");
      if (effects & kLocksTables) lockTables_ = true;
      if (effects & kUnlocksTables) lockTables_ = false;
      // This command and the next: FOUND_ROWS() or the transaction it sets up.
      if (effects & (kCalcFoundRows | kSetsNextTransaction)) holdNext_ = 2;
      return;
    }
    case my::Command::StmtPrepare:
      // Without tracking (max_prepared_statements = 0) its id is the server's own.
      if (pool_->settings().maxPrepared == 0) pin(kPinPreparedStatement, "COM_STMT_PREPARE");
      return;
    default:
      return;
  }
}

void MysqlClient::noteSetOption(my::Bytes payload) {
  // Applied to whichever server it gets next, as its login's flag is.
  if (auto option = my::decodeSetOption(payload)) {
    multiStatements_ = *option == my::kOptionMultiStatementsOn;
    server_->multiStatementsSet(multiStatements_);
  }
}

void MysqlClient::pin(uint16_t reasons, std::string_view why) {
  uint16_t added = reasons & ~pins_;
  if (added == 0) return;
  pins_ |= added;
  for (uint16_t bit = 1; bit != 0; bit <<= 1)
    if (added & bit)
      log::info(who(), "pinned to its server until it leaves: {} ({})", pinName(bit), why);
}

void MysqlClient::noteSessionState(my::Bytes entries, const MysqlSessionVars::Noted& noted) {
  session_.note(entries);
  if (!transactionPooling_) return;
  if (noted.tracking) pin(kPinTracking, "the server reported it");
  if (noted.stateChange && !noted.variables && !noted.schema)
    pin(kPinSessionState, "the server reported a change that is neither a variable nor the "
                          "schema");
}

void MysqlClient::learnCharset(const MysqlSessionVars& server) {
  for (std::string_view name : kCharsetVariables) {
    if (const std::string* value = server.find(name)) {
      session_.set(name, *value);
      loginCharset_.set(name, *value);
    }
  }
  charsetKnown_ = true;
}

void MysqlClient::resetSession() {
  transactionLost_ = false;
  session_ = loginCharset_;
  session_.setSchema((primaryPool_ ? primaryPool_ : pool_)->settings().dbname);
  hints_ = {};
  deferredBegin_.clear();
  pins_ = 0;
  holdNext_ = 0;
  lockTables_ = false;
  longData_ = false;
  lastInsertId_ = 0;
  statements_.clear();
}

bool MysqlClient::clean() const { return clean(*server_); }

bool MysqlClient::clean(const MysqlServer& server) const {
  return portable(server) && (server.statusFlags() & my::kServerStatusInTrans) == 0;
}

bool MysqlClient::portable(const MysqlServer& server) const {
  uint16_t flags = server.statusFlags();
  return server.tracking() && pins_ == 0 && !lockTables_ && holdNext_ == 0 && !longData_ &&
         (flags & my::kServerStatusAutocommit) != 0 && (flags & my::kServerStatusCursorExists) == 0;
}

void MysqlClient::releaseIfDone() {
  if (!transactionPooling_ || !server_ || server_->busy() || state_ != State::Active) return;
  if (!in_.empty() || !clean()) return;  // a pipelined command goes to the same server
  MysqlServer* s = server_;
  server_ = nullptr;
  s->release();
}

void MysqlClient::responseDone() {
  lastActivity_ = worker().now();  // idle from here, for the idle timeouts
  if (holdNext_ > 0) --holdNext_;
  if (resetInFlight_) {
    resetInFlight_ = false;
    // The server's session is a new connection's: this client's is again too, and the server
    // gets its character set and schema back before the next command (serverReady()).
    resetSession();
    server_->forgetSession();
    return;
  }
  if (fanout_ && nextShard()) return;
  releaseIfDone();
  // Commands that came while the server answered go now (from the server's callback: the
  // client's bytes are only read, never freed here).
  if (state_ == State::Active && !in_.empty()) readInput();
}

void MysqlClient::serverReady() {
  if (state_ == State::Login) setState(State::Active);
  if (!pendingOk_.empty()) {
    send(std::move(pendingOk_));
    pendingOk_.clear();
  }
  releaseIfDone();
  readInput();
}

void MysqlClient::serverLinkFailed(std::string_view reason) {
  server_ = nullptr;
  failWaitingCommand(1105, "HY000",
                     fmt::format("shardpool could not restore this session on a server: {}",
                                 reason),
                     fmt::format("server link failed: {}", reason));
}

void MysqlClient::failWaitingCommand(uint16_t code, std::string_view sqlState,
                                     std::string_view message, std::string_view reason) {
  if (!pendingOk_.empty()) {
    // Still the login: its OK was not sent, the ERR ends it instead.
    uint8_t seq = pendingOk_.size() > 3 ? static_cast<uint8_t>(pendingOk_[3]) : 0;
    sendErr(seq, code, sqlState, message);
  } else {
    my::MessageFrame m = my::frameMessage(my::asBytes(in_));
    uint8_t seq = m.status == my::FrameStatus::Ok ? m.firstSequenceId + 1 : 1;
    sendErr(seq, code, sqlState, message);
  }
  close(reason);
}

uint64_t MysqlClient::flavor() const {
  return MysqlServer::replyShaping(capabilities_);
}

void MysqlClient::linkServer(ServerLink* link) {
  auto* server = static_cast<MysqlServer*>(link);
  if (server->flavor() != flavor()) {
    // Its replies would come in another format than this client negotiated.
    server->close(fmt::format("capabilities 0x{:x} differ from its client's 0x{:x}",
                              server->capabilities(), capabilities_));
    askPool(true);
    return;
  }
  server_ = server;
  setState(State::Login);
  if (server->link(this)) serverReady();
}

void MysqlClient::serverWithdrawn() {
  if (state_ == State::WaitServer) askPool(true);
}

void MysqlClient::serverFailed(std::string_view reason, std::string_view sqlstate) {
  if (state_ != State::WaitServer) return;
  if (pool_->member() > 0 && primaryPool_) {
    // A replica that cannot be reached: the read goes to its shard's primary.
    log::warn(who(), "replica unavailable for a read ({}); reading from the primary", reason);
    pool_ = shardPool(pool_->shard());
    askPool(true);
    return;
  }
  // A database with health-checked replicas: the command waits for the failover's decision.
  if (holdForFailover(reason, sqlstate)) return;
  // A server's error code (libmariadb takes the client library's own 2xxx codes in an ERR for
  // a malformed packet): the backend's refusal, else ER_UNKNOWN_ERROR with the reason.
  bool denied = sqlstate == "28000";
  failWaitingCommand(denied ? 1045 : 1105, denied ? "28000" : "HY000",
                     fmt::format("shardpool could not log in to the server for database '{}': {}",
                                 database_, reason),
                     fmt::format("server connect failed: {}", reason));
}

void MysqlClient::terminate(std::string_view, std::string_view message, std::string_view reason) {
  // 4031 (ER_CLIENT_INTERACTION_TIMEOUT) for the idle timeouts, as MySQL 8 sends when it drops
  // an idle session; 3024 (ER_QUERY_TIMEOUT, MySQL's max_execution_time) for query_timeout, as
  // the answer to the statement; 1927 (ER_CONNECTION_KILLED) for the admin's KILL.
  if (reason == "query_timeout")
    sendErr(server_ ? server_->replySequence() : 1, 3024, "HY000", message);
  else if (reason.ends_with("_timeout"))
    sendErr(0, 4031, "HY000", message);
  else
    sendErr(0, 1927, "70100", message);
  close(reason);
}

bool MysqlClient::answerKill(const KillStatement& kill, uint8_t sequenceId) {
  if (!kill.supported) {
    sendErr(sequenceId + 1, 1235, "42000",
            "This version of shardpool doesn't yet support this KILL: use KILL [CONNECTION | "
            "QUERY] <connection id>, the id of a client of shardpool");
    return true;
  }
  if (kill.id == cancelPid_) {
    // Its own connection, as MariaDB answers it.
    if (kill.query) {
      sendErr(sequenceId + 1, 1317, "70100", "Query execution was interrupted");
      return true;
    }
    sendErr(sequenceId + 1, 1927, "08S01", "Connection was killed");
    close("KILL of its own connection");
    return false;
  }
  auto outcome = kill.id > UINT32_MAX
                     ? CancelRegistry::Kill::Unknown
                     : worker().runtime().cancels().kill(worker(), static_cast<uint32_t>(kill.id),
                                                         user_, !kill.query);
  switch (outcome) {
    case CancelRegistry::Kill::Unknown:
      sendErr(sequenceId + 1, 1094, "HY000", fmt::format("Unknown thread id: {}", kill.id));
      break;
    case CancelRegistry::Kill::NotOwner:
      sendErr(sequenceId + 1, 1095, "HY000",
              fmt::format("You are not owner of thread {}", kill.id));
      break;
    case CancelRegistry::Kill::Sent:
      log::info(who(), "KILL {}{} sent", kill.query ? "QUERY " : "", kill.id);
      sendOk(sequenceId + 1, server_ ? server_->statusFlags() : my::kServerStatusAutocommit);
      break;
  }
  return true;
}

bool MysqlClient::answerWithoutDatabase(my::Bytes payload, uint8_t sequenceId) {
  auto command = static_cast<my::Command>(payload.empty() ? 0xFF : payload[0]);
  std::optional<std::string> use;
  if (command == my::Command::InitDb) {
    use = std::string(my::asText(payload.subspan(1)));
  } else if (command == my::Command::Query) {
    use = useStatementTarget(my::asText(payload.subspan(1)));
  }
  switch (command) {
    case my::Command::Quit:
      close("client sent COM_QUIT");
      return false;
    case my::Command::Ping:
    case my::Command::ResetConnection:
      sendOk(sequenceId + 1);
      return true;
    default:
      break;
  }
  if (!use) {
    sendErr(sequenceId + 1, 1046, "3D000",
            "No database selected (through shardpool, a connection without a database may "
            "only USE one of its databases, KILL or ping)");
    return true;
  }
  auto cfg = worker().runtime().config();
  const config::Database* db = cfg->findDatabase(*use);
  if (!db || db->protocol != config::Protocol::MySql || db->name != *use) {
    sendErr(sequenceId + 1, 1049, "42000", fmt::format("Unknown database '{}'", *use));
    return true;
  }
  Pool& pool = worker().runtime().pools().get(*cfg, *db, *use, user_);
  if (db->sharded() && pool.settings().mode == config::PoolMode::Session) {
    sendErr(sequenceId + 1, 1235, "42000",
            fmt::format("database '{}' is sharded: it is served in transaction pooling only "
                        "(pool_mode = \"transaction\")",
                        *use));
    return true;
  }
  database_ = *use;
  pool_ = &pool;
  if (!joinPool()) return false;
  log::info(who(), "database {} chosen with {}", database_,
            command == my::Command::InitDb ? "COM_INIT_DB" : "USE");
  sendOk(sequenceId + 1);
  return true;
}

void MysqlClient::killRequested(bool wholeConnection) {
  if (state_ == State::Closing) return;
  log::info(who(), "KILL {}from another client", wholeConnection ? "" : "QUERY ");
  // A statement on several shards runs shard after shard: it is not interrupted.
  if (server_ && !fanout_ && server_->clientCommandRunning()) server_->killQuery();
  if (wholeConnection) close("killed by KILL from another client");
}

void MysqlClient::killDone() {
  releaseIfDone();
  if (state_ == State::Active && !in_.empty()) readInput();
}

void MysqlClient::closeIfIdle() {
  if (!server_ || !server_->busy()) close("shutting down");
}

void MysqlClient::sendErr(uint8_t sequenceId, uint16_t code, std::string_view sqlState,
                          std::string_view message) {
  my::Writer w;
  my::ErrPacket err;
  err.code = code;
  err.sqlState = sqlState;
  err.message = message;
  my::putErr(w, sequenceId, err, capabilities_ | my::kClientProtocol41);
  send(w.take());
}

void MysqlClient::onTick(Clock::time_point now, const config::General& g) {
  if ((state_ == State::Startup || state_ == State::Auth) && g.clientLoginTimeout.count() > 0 &&
      now - startedAt_ >= g.clientLoginTimeout) {
    close("client_login_timeout expired");
    return;
  }
  auto seconds = [](config::Duration d) { return d.count() / 1000.0; };
  if (state_ == State::Active && server_ && server_->busy()) {
    // query_timeout: the statement is stopped with KILL QUERY and fails with MySQL's 3024 (as
    // with max_execution_time), the session goes on. A statement that outlives its KILL by
    // another query_timeout (or one that cannot be killed: several shards) ends the client and
    // its server connection, as PgBouncer's query_timeout does.
    if (g.queryTimeout.count() <= 0 || now - server_->busySince() < g.queryTimeout) return;
    if (!fanout_ && server_->clientCommandRunning() && !server_->timeoutKillSent()) {
      log::warn(who(), "query_timeout ({:.1f} s) expired: KILL QUERY", seconds(g.queryTimeout));
      server_->killQuery(true);
      return;
    }
    if (now - server_->busySince() >= 2 * g.queryTimeout)
      terminate("", fmt::format("query_timeout: the statement ran for more than {:.1f} s",
                                seconds(g.queryTimeout)),
                "query_timeout");
    return;
  }
  if (state_ != State::Active) return;
  bool inTransaction =
      server_ && (server_->statusFlags() & my::kServerStatusInTrans) != 0;
  // MySQL 8's code for a server closing an idle session; the client reads it next time.
  if (inTransaction && g.idleTransactionTimeout.count() > 0 &&
      now - lastActivity_ >= g.idleTransactionTimeout) {
    terminate("", fmt::format("idle_transaction_timeout: idle in a transaction for more than "
                              "{:.1f} s",
                              seconds(g.idleTransactionTimeout)),
              "idle_transaction_timeout");
  } else if (!inTransaction && g.clientIdleTimeout.count() > 0 &&
             now - lastActivity_ >= g.clientIdleTimeout) {
    terminate("", fmt::format("client_idle_timeout: idle for more than {:.1f} s",
                              seconds(g.clientIdleTimeout)),
              "client_idle_timeout");
  }
}

void MysqlClient::onClosing() {
  if (MysqlServer* s = server_) {
    bool reusable = transactionPooling_ && !s->busy() && clean();
    server_ = nullptr;
    s->unlink(reusable);
  }
}

void MysqlClient::describeMore(ConnRow& row) const {
  if (server_) row.link = server_->id();
}

void MysqlClient::onReadEnd(int status) {
  close(status == UV_EOF ? std::string("client closed the connection")
                         : fmt::format("read error: {}", uv_strerror(status)));
}

void MysqlClient::onWriteError(int status) {
  close(fmt::format("write error: {}", uv_strerror(status)));
}

void MysqlClient::onTlsFailed(const std::string& error) {
  close(error);
}

}  // namespace shardpool::pooler
