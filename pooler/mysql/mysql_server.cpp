#include "pooler/mysql/mysql_server.h"

#include <fmt/format.h>

#include <cstring>

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

}  // namespace

MysqlServer::MysqlServer(Worker& worker, uint64_t id, Pool& pool) : ServerLink(worker, id, pool) {}

MysqlServer::~MysqlServer() = default;

void MysqlServer::start(uint64_t forClient) {
  forClient_ = forClient;
  const PoolSettings& s = pool_.settings();
  resolver_.resolve(worker().loop(), s.host, s.port, this,
                    [](void* owner, const sockaddr* addr, std::string_view error) {
                      auto* self = static_cast<MysqlServer*>(owner);
                      if (addr)
                        self->connectAddress(addr);
                      else
                        self->fail(error);
                    });
}

void MysqlServer::connectAddress(const sockaddr* addr) {
  setState(State::Connecting);
  if (int rc = connectTo(addr); rc != 0) fail(fmt::format("connect failed: {}", uv_strerror(rc)));
}

void MysqlServer::onConnected(int status) {
  const PoolSettings& s = pool_.settings();
  if (status != 0) {
    fail(fmt::format("could not connect to {}:{}: {}", s.host, s.port, uv_strerror(status)));
    return;
  }
  setState(State::Authenticating);
  if (isPlaintext(s.password)) {
    login_.emplace(s.user, *s.password, s.dbname);
  } else if (auto stage1 = MysqlEngine::of(worker()).provenStage1(pool_)) {
    login_.emplace(s.user, *stage1, s.dbname);
  } else {
    fail(
        "no password to log in to the server with: the user's [users] password is mysql.user's "
        "hash and no client has proved it yet",
        "28000");
    return;
  }
  if (MysqlClient* c =
          forClient_ ? dynamic_cast<MysqlClient*>(worker().findClient(forClient_)) : nullptr)
    login_->limitCapabilities(c->capabilities() & ~my::kClientLocalFiles);  // no LOCAL INFILE yet
  startReading();
}

void MysqlServer::onData(Chunk* chunk, size_t len) {
  in_.append(reinterpret_cast<const char*>(chunk->data()), len);
  size_t pos = 0;
  std::string out;  // reply bytes for the client, sent once per read
  while (state_ != State::Closed) {
    my::Bytes rest = my::asBytes(std::string_view(in_).substr(pos));
    if (state_ == State::Authenticating) {
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
    if (state_ == State::Resetting) {
      if (r.status == my::TrackStatus::Done) onResetReply(p.payload);
      continue;
    }
    out.append(my::asText(rest.first(p.totalSize)));
    if (r.status == my::TrackStatus::Done || r.status == my::TrackStatus::WaitClient) {
      if (client_ && !out.empty()) client_->send(std::move(out));
      out.clear();
      if (client_) client_->responseDone();
    }
  }
  in_.erase(0, pos);
  if (client_ && !out.empty()) client_->send(std::move(out));
}

void MysqlServer::onLoginPacket(my::Bytes payload, uint8_t sequenceId) {
  my::Writer w;
  MysqlServerLogin::Status st = login_->onPacket(payload, sequenceId, w);
  if (!w.data().empty()) send(w.take());
  switch (st) {
    case MysqlServerLogin::Status::Continue:
      return;
    case MysqlServerLogin::Status::Failed: {
      std::string sqlState = login_->sqlState().empty() ? "08006" : login_->sqlState();
      fail(fmt::format("the server refused the login: {}", login_->error()), sqlState);
      return;
    }
    case MysqlServerLogin::Status::Done:
      break;
  }
  capabilities_ = login_->capabilities();
  tracker_.setCapabilities(capabilities_);
  tracker_.setStatusFlags(login_->statusFlags());
  log::debug(who_, "logged in to {} (connection id {})", login_->serverVersion(),
             login_->connectionId());
  login_.reset();
  uint64_t target = forClient_;
  forClient_ = 0;
  pool_.counters(worker().index()).add(pool_.counters(worker().index()).serverConnects, 1);
  offer(target);
}

void MysqlServer::link(MysqlClient* client) {
  setState(State::Active);
  client_ = client;
}

my::TrackStatus MysqlServer::beginCommand(my::Bytes payload) {
  return tracker_.begin(payload);
}

void MysqlServer::unlink() {
  client_ = nullptr;
  if (state_ == State::Closed) return;
  if (busy()) {
    close("the client left while the server was answering it");
    return;
  }
  if (closedInsteadOfReuse()) return;
  // Session state (variables, temporary tables, transactions, the schema) goes with the
  // client: the next one gets a fresh session.
  setState(State::Resetting);
  my::Writer w;
  my::putResetConnection(w);
  send(w.take());
  tracker_.begin(my::Command::ResetConnection);
}

void MysqlServer::onResetReply(my::Bytes payload) {
  if (tracker_.hasError()) {
    close(fmt::format("COM_RESET_CONNECTION failed: {}", tracker_.errorMessage()));
    return;
  }
  (void)payload;
  if (closedInsteadOfReuse()) return;
  offer(0);
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
  bool loggedIn = state_ == State::Idle || state_ == State::Active || state_ == State::Login ||
                  state_ == State::Resetting;
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

void MysqlServer::onTlsFailed(const std::string& error) {
  fail(error);
}

void MysqlServer::onTick(Clock::time_point) {}

void MysqlServer::describeMore(ConnRow& row) const {
  if (client_) row.link = client_->id();
}

}  // namespace shardpool::pooler
