#include "pooler/mysql/mysql_client.h"

#include <fmt/format.h>

#include "pooler/mysql/mysql_engine.h"
#include "pooler/mysql/mysql_server.h"
#include "pooler/net/log.h"
#include "pooler/protocol/mysql_results.h"
#include "pooler/session/conn_rows.h"
#include "pooler/session/pool.h"
#include "pooler/session/runtime.h"

namespace shardpool::pooler {

namespace my = protocol::mysql;

namespace {

constexpr std::string_view kServerVersion = "5.5.5-10.11.0-shardpool";

// Capabilities that shape a server's replies (EOF or not, session tracking, affected rows,
// several result sets): a client and its server must agree on them. The rest only matter at
// login.
constexpr my::Capabilities kLoginOnly =
    my::kClientMysql | my::kClientConnectWithDb | my::kClientSsl | my::kClientSecureConnection |
    my::kClientPluginAuth | my::kClientConnectAttrs | my::kClientPluginAuthLenencClientData |
    my::kClientCanHandleExpiredPasswords | my::kClientInteractive | my::kClientIgnoreSigpipe |
    my::kClientLocalFiles | my::kClientNoSchema | my::kClientOdbc | my::kClientLongFlag |
    my::kClientReserved | my::kClientTransactions | my::kClientIgnoreSpace;

}  // namespace

MysqlClient::MysqlClient(Worker& worker, uint64_t id) : ClientSession(worker, id) {}

MysqlClient::~MysqlClient() = default;

void MysqlClient::onStarted() {
  Endpoint peer, local;
  std::string host = endpoints(peer, local) ? peer.host : std::string("localhost");
  login_.emplace(auth::mysqlScramble(), static_cast<uint32_t>(id()), std::move(host));
  my::Writer w;
  login_->greet(w, kServerVersion);
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
    if (state_ == State::Active && (!server_ || server_->busy())) break;
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
    pos += m.totalSize;
    if (login_) {
      if (!onLoginPacket(payload, m.firstSequenceId)) return;  // closed: in_ is not touched again
      continue;
    }
    onCommand(message, payload, m.firstSequenceId);
  }
  readingInput_ = false;
  if (state_ != State::Closing) in_.erase(0, pos);
}

bool MysqlClient::onLoginPacket(my::Bytes payload, uint8_t sequenceId) {
  my::Writer w;
  MysqlClientLogin::Status st = login_->onPacket(payload, sequenceId, w);
  if (st == MysqlClientLogin::Status::Identified) st = identified(w);
  switch (st) {
    case MysqlClientLogin::Status::Continue:
    case MysqlClientLogin::Status::Identified:
      send(w.take());
      return true;
    case MysqlClientLogin::Status::Malformed:
      close(fmt::format("malformed login: {}", login_->reason()));
      return false;
    case MysqlClientLogin::Status::Refused:
      send(w.take());
      close(fmt::format("login refused: {}", login_->reason()));
      return false;
    case MysqlClientLogin::Status::Accepted:
      break;
  }
  pendingOk_ = w.take();
  capabilities_ = login_->capabilities();
  if (login_->provenStage1())
    MysqlEngine::of(worker()).learnStage1(*pool_, *login_->provenStage1());
  login_.reset();
  log::info(who(), "login accepted");
  askPool();
  return state_ != State::Closing;
}

MysqlClientLogin::Status MysqlClient::identified(my::Writer& out) {
  setState(State::Auth);
  user_ = login_->user();
  database_ = login_->database();
  auto cfg = worker().runtime().config();
  const config::User* user = cfg->findUser(user_);
  if (!user) {
    // Answered as a wrong password, so that a client cannot tell which users exist.
    return login_->verify("*" + std::string(40, '0'), out);
  }
  if (database_.empty())
    return login_->refuse(out, 1046, "3D000",
                          "No database selected (shardpool needs one at login)");
  const config::Database* db = cfg->findDatabase(database_);
  if (!db || db->protocol != config::Protocol::MySql || db->name != database_)
    return login_->refuse(out, 1049, "42000", fmt::format("Unknown database '{}'", database_));
  if (!countClient()) return login_->refuse(out, 1040, "08004", "Too many connections");
  MysqlClientLogin::Status st = login_->verify(user->password, out);
  if (st == MysqlClientLogin::Status::Accepted)
    pool_ = &worker().runtime().pools().get(*cfg, *db, database_, user_);
  return st;
}

void MysqlClient::onCommand(my::Bytes message, my::Bytes payload, uint8_t sequenceId) {
  uint8_t command = payload.empty() ? 0xFF : payload[0];
  if (command == static_cast<uint8_t>(my::Command::Quit)) {
    close("client sent COM_QUIT");
    return;
  }
  if (command == static_cast<uint8_t>(my::Command::ChangeUser)) {
    sendErr(sequenceId + 1, 1047, "08S01", "COM_CHANGE_USER is not supported by shardpool");
    return;
  }
  switch (server_->beginCommand(payload)) {
    case my::TrackStatus::More:
    case my::TrackStatus::Done:
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

void MysqlClient::responseDone() {
  // Commands that came while the server answered go now (from the server's callback: the
  // client's bytes are only read, never freed here).
  if (state_ == State::Active && !in_.empty()) readInput();
}

void MysqlClient::linkServer(ServerLink* link) {
  auto* server = static_cast<MysqlServer*>(link);
  if (((server->capabilities() ^ capabilities_) & ~kLoginOnly) != 0) {
    // Its replies would come in another format than this client negotiated.
    server->close(fmt::format("capabilities 0x{:x} differ from its client's 0x{:x}",
                              server->capabilities(), capabilities_));
    askPool(true);
    return;
  }
  server_ = server;
  server->link(this);
  setState(State::Login);
  setState(State::Active);
  send(std::move(pendingOk_));
  pendingOk_.clear();
  readInput();
}

void MysqlClient::serverWithdrawn() {
  if (state_ == State::WaitServer) askPool(true);
}

void MysqlClient::serverFailed(std::string_view reason, std::string_view sqlstate) {
  if (state_ != State::WaitServer) return;
  uint8_t seq = pendingOk_.size() > 3 ? static_cast<uint8_t>(pendingOk_[3]) : 0;
  // A server's error code (libmariadb takes the client library's own 2xxx codes in an ERR for
  // a malformed packet): the backend's refusal, else ER_UNKNOWN_ERROR with the reason.
  bool denied = sqlstate == "28000";
  sendErr(seq, denied ? 1045 : 1105, denied ? "28000" : "HY000",
          fmt::format("shardpool could not log in to the server for database '{}': {}", database_,
                      reason));
  close(fmt::format("server connect failed: {}", reason));
}

void MysqlClient::serverLost(std::string_view reason) {
  server_ = nullptr;
  close(fmt::format("server connection lost: {}", reason));
}

void MysqlClient::terminate(std::string_view, std::string_view message, std::string_view reason) {
  sendErr(0, 1927, "70100", message);
  close(reason);
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
      now - startedAt_ >= g.clientLoginTimeout)
    close("client_login_timeout expired");
}

void MysqlClient::onClosing() {
  if (MysqlServer* s = server_) {
    server_ = nullptr;
    s->unlink();
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
