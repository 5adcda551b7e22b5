#include "pooler/pg/cancel_sender.h"

#include <sys/un.h>

#include <fmt/format.h>

#include "pooler/net/connection.h"
#include "pooler/net/log.h"
#include "pooler/protocol/pg_codec.h"
#include "pooler/pg/server_conn.h"
#include "pooler/session/worker.h"

namespace shardpool::pooler {

namespace {
// Connects to a backend, sends one CancelRequest and waits until the backend has closed the
// connection: PostgreSQL has then signalled the target process.
class CancelSender final : public Connection {
 public:
  CancelSender(Worker& w, uint64_t id, uint32_t pid, uint32_t key, uint64_t serverId)
      : Connection(w, id), pid_(pid), key_(key), serverId_(serverId) {}
  Worker& worker() const { return static_cast<Worker&>(eventLoop()); }

 protected:
  void onConnected(int status) override {
    if (status != 0) {
      log::warn(fmt::format("X-{}", id()), "cancel connect failed: {}", uv_strerror(status));
      finish();
      return;
    }
    protocol::pg::Writer w;
    protocol::pg::putCancelRequest(w, pid_, key_);
    send(w.take());
    startReading();
  }
  void onData(Chunk*, size_t) override {}
  void onReadEnd(int) override { finish(); }
  void onWriteError(int) override { finish(); }
  void onTlsFailed(const std::string&) override { finish(); }

 private:
  void finish() {
    if (done_) return;
    done_ = true;
    closeHandle();
    worker().retire(this);
    if (serverId_ == 0) return;
    if (ServerConn* s = ServerConn::of(worker().findServer(serverId_))) s->cancelDelivered();
  }
  uint32_t pid_, key_;
  uint64_t serverId_;
  bool done_ = false;
};
}  // namespace

void sendCancelRequest(Worker& worker, const sockaddr_storage& addr, uint32_t backendPid,
                       uint32_t backendKey, uint64_t serverId) {
  auto sender = std::make_unique<CancelSender>(worker, worker.nextId(), backendPid, backendKey,
                                               serverId);
  Connection* raw = worker.adoptOther(std::move(sender));
  if (addr.ss_family == AF_UNIX) {
    raw->connectToPath(reinterpret_cast<const sockaddr_un*>(&addr)->sun_path);
  } else if (raw->connectTo(reinterpret_cast<const sockaddr*>(&addr)) != 0) {
    raw->closeHandle();
    worker.retire(raw);
    if (serverId != 0)
      if (ServerConn* s = ServerConn::of(worker.findServer(serverId))) s->cancelDelivered();
  }
}

}  // namespace shardpool::pooler
