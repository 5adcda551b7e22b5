#include "pooler/mysql/kill_sender.h"

#include <fmt/format.h>

#include <optional>

#include "pooler/mysql/mysql_server.h"
#include "pooler/net/connection.h"
#include "pooler/net/log.h"
#include "pooler/protocol/mysql_commands.h"
#include "pooler/protocol/mysql_results.h"
#include "pooler/session/worker.h"

namespace shardpool::pooler {

namespace my = protocol::mysql;

namespace {

class KillSender final : public Connection {
 public:
  KillSender(Worker& w, uint64_t id, KillTarget target, MysqlServerLogin login)
      : Connection(w, id), target_(std::move(target)), login_(std::move(login)),
        who_(fmt::format("K-{}", id)) {}
  Worker& worker() const { return static_cast<Worker&>(eventLoop()); }
  void finish(std::string_view outcome) {
    if (done_) return;
    done_ = true;
    log::info(who_, "KILL QUERY {}: {}", target_.threadId, outcome);
    closeHandle();
    worker().retire(this);
    if (auto* s = dynamic_cast<MysqlServer*>(worker().findServer(target_.serverId)))
      s->killDelivered();
  }

 protected:
  void onConnected(int status) override {
    if (status != 0) {
      finish(fmt::format("connect failed: {}", uv_strerror(status)));
      return;
    }
    startReading();
  }
  void onData(Chunk* chunk, size_t len) override {
    in_.append(reinterpret_cast<const char*>(chunk->data()), len);
    size_t pos = 0;
    while (!done_) {
      my::Bytes rest = my::asBytes(std::string_view(in_).substr(pos));
      my::MessageFrame m = my::frameMessage(rest);
      if (m.status == my::FrameStatus::Invalid) return finish("malformed packet from the server");
      if (m.status != my::FrameStatus::Ok) break;
      std::string payload;
      my::appendPayload(rest.first(m.totalSize), payload);
      pos += m.totalSize;
      onPacket(my::asBytes(payload), m.firstSequenceId);
    }
    if (!done_) in_.erase(0, pos);
  }
  void onReadEnd(int) override { finish("the server closed the connection"); }
  void onWriteError(int status) override {
    finish(fmt::format("write error: {}", uv_strerror(status)));
  }
  void onTlsReady() override {
    if (login_) send(login_->responseAfterTls());
  }
  void onTlsFailed(const std::string& error) override {
    finish(fmt::format("TLS failed: {}", error));
  }

 private:
  void onPacket(my::Bytes payload, uint8_t sequenceId) {
    if (!login_) {
      // The answer to the KILL.
      std::optional<my::ErrPacket> err =
          !payload.empty() && payload[0] == 0xFF ? my::decodeErr(payload) : std::nullopt;
      my::Writer quit;
      my::putQuit(quit);
      send(quit.take());
      finish(err ? fmt::format("ERROR {}: {}", err->code, err->message) : std::string("sent"));
      return;
    }
    my::Writer w;
    MysqlServerLogin::Status st = login_->onPacket(payload, sequenceId, w);
    if (!w.data().empty()) send(w.take());
    switch (st) {
      case MysqlServerLogin::Status::Continue:
        return;
      case MysqlServerLogin::Status::StartTls:
        if (!target_.tls) return finish("the server asked for TLS without a TLS context");
        startTls(TlsSession::connect(*target_.tls, target_.host, target_.verifyHost));
        return;
      case MysqlServerLogin::Status::Failed:
        return finish(fmt::format("login refused: {}", login_->error()));
      case MysqlServerLogin::Status::Done:
        break;
    }
    login_.reset();
    my::Writer q;
    my::putQuery(q, fmt::format("KILL QUERY {}", target_.threadId));
    send(q.take());
  }

  KillTarget target_;
  std::optional<MysqlServerLogin> login_;
  std::string who_;
  std::string in_;
  bool done_ = false;
};

}  // namespace

void sendKillQuery(Worker& worker, KillTarget target, MysqlServerLogin login) {
  sockaddr_storage addr = target.addr;
  auto sender =
      std::make_unique<KillSender>(worker, worker.nextId(), std::move(target), std::move(login));
  auto* raw = static_cast<KillSender*>(worker.adoptOther(std::move(sender)));
  if (int rc = raw->connectTo(reinterpret_cast<const sockaddr*>(&addr)); rc != 0) {
    raw->finish(fmt::format("connect failed: {}", uv_strerror(rc)));
  }
}

}  // namespace shardpool::pooler
