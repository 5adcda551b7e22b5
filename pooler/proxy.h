// The running proxy: N workers sharing the listen port, the pools and cancel keys they share,
// and the control loop on the main thread (signals, shutdown).
#pragma once

#include <uv.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "config/config.h"
#include "pooler/cancel.h"
#include "pooler/pool.h"
#include "pooler/tls.h"
#include "pooler/worker.h"

namespace shardpool::pooler {

class Proxy {
 public:
  explicit Proxy(std::shared_ptr<const config::Config> config);
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;
  ~Proxy();

  // Listens, serves until SIGTERM (graceful) or SIGINT (immediate); returns the exit code.
  int run();

  std::shared_ptr<const config::Config> config() const;
  PoolRegistry& pools() { return pools_; }
  CancelRegistry& cancels() { return cancels_; }
  Worker& worker(unsigned i) { return *workers_[i]; }
  unsigned workerCount() const { return static_cast<unsigned>(workers_.size()); }
  uint64_t nextId() { return nextId_.fetch_add(1, std::memory_order_relaxed); }

  // TLS for clients (null when client_tls_sslmode = disable).
  const TlsContext* acceptTls() const { return acceptTls_.get(); }

  // max_client_conn, exact across workers.
  bool tryAddClient();
  void removeClient() { clients_.fetch_sub(1, std::memory_order_relaxed); }

 private:
  static void onSignal(uv_signal_t* s, int signum);
  static void onControlTick(uv_timer_t* t);
  void beginShutdown();
  void stopWorkers();
  size_t liveClients();

  mutable std::mutex configMutex_;
  std::shared_ptr<const config::Config> config_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::unique_ptr<TlsContext> acceptTls_;
  PoolRegistry pools_;
  CancelRegistry cancels_;
  std::atomic<uint64_t> nextId_{1};
  std::atomic<uint32_t> clients_{0};

  uv_loop_t control_{};
  uv_signal_t sigterm_{}, sigint_{}, sighup_{};
  uv_timer_t controlTimer_{};
  bool shuttingDown_ = false;
  Clock::time_point shutdownDeadline_;
};

}  // namespace shardpool::pooler
