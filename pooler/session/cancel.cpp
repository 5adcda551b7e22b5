#include "pooler/session/cancel.h"

#include <sys/un.h>

#include "pooler/auth/auth_crypto.h"
#include "pooler/net/connection.h"
#include "pooler/net/log.h"
#include "pooler/protocol/pg_codec.h"
#include "pooler/session/worker.h"

namespace shardpool::pooler {

namespace {
// Connects to a backend, sends one CancelRequest, closes.
class CancelSender final : public Connection {
 public:
  CancelSender(Worker& w, uint64_t id, uint32_t pid, uint32_t key)
      : Connection(w, id), pid_(pid), key_(key) {}
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
    closeAfterFlush();
    worker().retire(this);
  }
  void onData(Chunk*, size_t) override {}
  void onReadEnd(int) override { finish(); }
  void onWriteError(int) override { finish(); }
  void onTlsFailed(const std::string&) override { finish(); }

 private:
  void finish() {
    closeHandle();
    worker().retire(this);
  }
  uint32_t pid_, key_;
};
}  // namespace

std::pair<uint32_t, uint32_t> CancelRegistry::add() {
  std::lock_guard lock(mutex_);
  for (;;) {
    uint32_t r[2];
    auth::randomBytes(reinterpret_cast<uint8_t*>(r), sizeof r);
    uint32_t pid = (r[0] & 0x7fffffff) | 1;  // positive, never 0
    if (entries_.count(pid)) continue;
    entries_[pid].key = r[1];
    return {pid, r[1]};
  }
}

void CancelRegistry::remove(uint32_t pid) {
  std::lock_guard lock(mutex_);
  entries_.erase(pid);
}

void CancelRegistry::setTarget(uint32_t pid, const sockaddr_storage& addr, uint32_t backendPid,
                               uint32_t backendKey) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(pid);
  if (it == entries_.end()) return;
  it->second.hasTarget = true;
  it->second.addr = addr;
  it->second.backendPid = backendPid;
  it->second.backendKey = backendKey;
}

void CancelRegistry::clearTarget(uint32_t pid) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(pid);
  if (it != entries_.end()) it->second.hasTarget = false;
}

void CancelRegistry::cancel(Worker& worker, uint32_t pid, uint32_t key) {
  Entry e;
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(pid);
    if (it == entries_.end() || it->second.key != key || !it->second.hasTarget) {
      log::info("", "cancel request for unknown or idle client key ignored");
      return;
    }
    e = it->second;
  }
  send(worker, e.addr, e.backendPid, e.backendKey);
}

void CancelRegistry::send(Worker& worker, const sockaddr_storage& addr, uint32_t backendPid,
                          uint32_t backendKey) {
  auto sender =
      std::make_unique<CancelSender>(worker, worker.nextId(), backendPid, backendKey);
  Connection* raw = worker.adoptOther(std::move(sender));
  if (addr.ss_family == AF_UNIX) {
    raw->connectToPath(reinterpret_cast<const sockaddr_un*>(&addr)->sun_path);
  } else if (raw->connectTo(reinterpret_cast<const sockaddr*>(&addr)) != 0) {
    raw->closeHandle();
    worker.retire(raw);
  }
}

}  // namespace shardpool::pooler
