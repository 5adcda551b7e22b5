// One event loop on one thread: its own SO_REUSEPORT listener on the shared port, the client and
// server connections it owns, a tick timer for timeouts, and a task queue other threads post to.
#pragma once

#include <uv.h>

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "pooler/net/buffers.h"
#include "pooler/net/event_loop.h"

namespace shardpool::pooler {

class Runtime;
class ClientSession;
class ServerLink;
class Connection;
class Pool;
class WorkerLocal;
class Engine;
struct ConnRow;

using Clock = std::chrono::steady_clock;

class Worker final : public EventLoop {
 public:
  using Task = std::function<void(Worker&)>;

  Worker(Runtime& runtime, unsigned index);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();

  // Opens a listening socket (SO_REUSEPORT) on this worker's loop whose clients `engine`
  // serves; call before run().
  [[nodiscard]] bool listen(const sockaddr* addr, Engine& engine, std::string& error);
  // Accepts on an already listening socket, TCP or unix (one handed over by an older shardpool
  // process, or the unix socket), for `engine`; takes ownership of `fd`. A worker may have
  // several. Call before run().
  [[nodiscard]] bool adoptListener(int fd, Engine& engine, std::string& error);
  // The listening sockets' fds, for handing them to a newer process (fixed once running).
  const std::vector<int>& listenerFds() const { return listenerFds_; }
  void run();            // thread body; returns after stop()
  void post(Task task);  // thread-safe

  Runtime& runtime() const { return runtime_; }
  unsigned index() const { return index_; }
  // What the engine of `protocol` keeps for this worker (engine.h); null when it keeps nothing.
  WorkerLocal* local(config::Protocol protocol) const {
    return locals_[static_cast<size_t>(protocol)].get();
  }
  Clock::time_point now() const { return now_; }
  bool shuttingDown() const { return shuttingDown_; }
  size_t clientCount() const { return clientsAlive_.load(std::memory_order_relaxed); }

  uint64_t nextId();
  ClientSession* findClient(uint64_t id);
  ServerLink* findServer(uint64_t id);
  ServerLink* adoptServer(std::unique_ptr<ServerLink> server);
  Connection* adoptOther(std::unique_ptr<Connection> conn);
  std::unique_ptr<ServerLink> releaseServer(ServerLink* server);  // hand-over out of this worker
  // Deferred deletion: the object is destroyed at the end of this loop iteration.
  void retire(Connection* conn);

  // Buffers for bytes a client sent while it has no server: lent while they wait, given back
  // once forwarded, so that neither a malloc per transaction nor an idle client keeps one.
  std::string takeBuffer() {
    if (spareBuffers_.empty()) return {};
    std::string b = std::move(spareBuffers_.back());
    spareBuffers_.pop_back();
    return b;
  }
  void recycleBuffer(std::string&& b) {
    if (b.capacity() == 0 || b.capacity() > kSpareBufferMax || spareBuffers_.size() >= kSpareBuffers)
      return;
    b.clear();
    spareBuffers_.push_back(std::move(b));
  }
  // Pool hand-offs. Deferred to the end of the loop iteration so that no connection callback is
  // on the stack when a server changes hands (or threads). clientId 0: back to the pool.
  void queueGive(ServerLink* server, uint64_t clientId);
  // Immediate: offer `server` to client `clientId` on this worker, or back to the pool.
  void giveServer(ServerLink* server, uint64_t clientId);
  // Opens a new server connection in `pool` for client `clientId` of this worker.
  void connectFor(Pool& pool, uint64_t clientId);

  // SUSPEND (Runtime::suspend): stop accepting and reading sockets (admin console sessions
  // excepted) until resume(); flushedEpoch() becomes `epoch` once every socket's writes are out.
  void suspend(uint64_t epoch);
  void resume();
  uint64_t flushedEpoch() const { return flushedEpoch_.load(std::memory_order_acquire); }

  // Shutdown steps, run on this worker's thread (via post).
  void beginShutdown();
  void stopAccepting();  // SHUTDOWN WAIT_FOR_CLIENTS: serve connected clients until they leave

  // Admin console: this worker's connections as rows, and KILL of a database's connections.
  void describeConnections(std::vector<ConnRow>& clients,
                           std::vector<ConnRow>& servers);
  void killDatabase(const std::string& db, const std::vector<Pool*>& pools);
  void stop();

 private:
  static void onConnection(uv_stream_t* listener, int status);
  void closeListeners();
  static void onAsync(uv_async_t* a);
  static void onTick(uv_timer_t* t);
  static void onCheck(uv_check_t* c);
  void wake();
  void accept(uv_stream_t* listener, Engine& engine);
  // Out of descriptors: refuse the connections waiting to be accepted (see worker.cpp).
  void refusePending(uv_stream_t* listener);
  void tick();
  void readFileLimit();
  void sweep();
  void suspendedTick(const config::General& g);

  Runtime& runtime_;
  unsigned index_;
  std::vector<uv_stream_t*> listeners_;  // heap handles (TCP or pipe), freed when closed
  std::vector<int> listenerFds_;
  uv_async_t async_{};
  uv_timer_t timer_{};
  uv_check_t check_{};
  uv_idle_t idle_{};
  bool idleActive_ = false;
  std::array<std::unique_ptr<WorkerLocal>, config::kProtocolCount> locals_;
  Clock::time_point now_;
  Clock::time_point lastMaintain_;
  Clock::time_point lastAcceptError_;
  Clock::time_point lastLimitCheck_;
  uint64_t fileLimit_ = 0;  // RLIMIT_NOFILE (soft), re-read every second; 0: none
  int reserveFd_ = -1;      // a descriptor held back for refusePending()
  bool shuttingDown_ = false;
  bool stopping_ = false;
  bool suspended_ = false;
  uint64_t suspendEpoch_ = 0;
  Clock::time_point suspendSince_;
  std::atomic<uint64_t> flushedEpoch_{0};
  std::vector<uint64_t> parked_;  // clients accepted while suspended, started by resume()

  std::mutex tasksMutex_;
  std::vector<Task> tasks_;

  std::unordered_map<uint64_t, std::unique_ptr<ClientSession>> clients_;
  std::unordered_map<uint64_t, std::unique_ptr<ServerLink>> servers_;
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> others_;
  std::vector<uint64_t> retired_;
  std::vector<std::pair<uint64_t, uint64_t>> gives_;  // (server id, client id)
  std::vector<std::pair<uint64_t, uint64_t>> givesRunning_;  // sweep()'s copy, capacity kept
  static constexpr size_t kSpareBuffers = 256;
  static constexpr size_t kSpareBufferMax = 16 * 1024;
  std::vector<std::string> spareBuffers_;
  std::atomic<size_t> clientsAlive_{0};
};

}  // namespace shardpool::pooler
