// The running proxy: N workers sharing the listen port, the pools and cancel keys they share,
// and the control loop on the main thread (signals, shutdown).
#pragma once

#include <uv.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "pooler/cancel.h"
#include "pooler/directory_loader.h"
#include "pooler/directory_registry.h"
#include "pooler/health/failover_manager.h"
#include "pooler/http_server.h"
#include "pooler/pool.h"
#include "pooler/takeover.h"
#include "pooler/tls.h"
#include "pooler/worker.h"

namespace shardpool::pooler {

class Proxy {
 public:
  // With `takeover`, the listening sockets come from the shardpool already running on
  // general.takeover_socket (see takeover.h) instead of being bound anew.
  explicit Proxy(std::shared_ptr<const config::Config> config, bool takeover = false);
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
  uint32_t clientCount() const { return clients_.load(std::memory_order_relaxed); }

  // ---- Control plane (admin console, signals, metrics); thread-safe. ----
  // Re-reads the configuration and applies it; on errors keeps the running one and returns
  // them. `why` names the trigger in the log (SIGHUP, RELOAD from ...).
  bool reload(const std::string& why, std::vector<std::string>& errors);
  // SET key = value from the admin console: an override on top of the configuration, kept
  // across reloads. False with `error` for restart-only keys and invalid values.
  bool setLive(const std::string& keyPath, const std::string& value, std::string& error);
  enum class ShutdownMode { Immediate, WaitForServers, WaitForClients };
  void requestShutdown(ShutdownMode mode, const std::string& who);
  // DISABLE / ENABLE: new clients of a disabled database are refused.
  void setDisabled(const std::string& db, bool disabled);
  bool isDisabled(std::string_view db);
  // Client disconnects with an error, by reason (for /metrics).
  void countError(std::string_view reason);
  std::map<std::string, uint64_t> errorCounts();
  uint64_t reloadCount() const { return reloads_.load(std::memory_order_relaxed); }
  uint64_t reloadFailureCount() const { return reloadFailures_.load(std::memory_order_relaxed); }
  std::chrono::system_clock::time_point startTime() const { return startTime_; }
  // Pool totals per database sampled every stats period, for SHOW STATS averages.
  struct StatsWindow {
    Clock::time_point from, to;
    std::map<std::string, PoolTotals> fromTotals, toTotals;
  };
  StatsWindow statsWindow();
  // Health checks and failover (null before run()).
  health::FailoverManager* failover() { return failover_.get(); }
  // The directory maps of directory-sharded databases (thread-safe; see directory_registry.h).
  DirectoryRegistry& directories() { return directories_; }
  // Runs `task` on the control loop (thread-safe).
  void postControl(std::function<void()> task);

 private:
  static void onSignal(uv_signal_t* s, int signum);
  static void onControlTick(uv_timer_t* t);
  static void onStatsTick(uv_timer_t* t);
  static void onControlAsync(uv_async_t* a);
  void sampleStats();
  void reconfigureFailover(std::shared_ptr<const config::Config> cfg);
  void beginShutdown(bool closeIdleClients);
  void exitNow();
  void closeControlHandles();
  [[nodiscard]] bool openListeners(const config::General& g, TakeoverGrant* grant);
  void startTakeoverServer(const config::General& g);
  [[nodiscard]] bool startMetrics(const config::General& g);
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
  uv_timer_t statsTimer_{};
  uv_async_t controlAsync_{};
  std::mutex controlTasksMutex_;
  std::vector<std::function<void()>> controlTasks_;
  bool shuttingDown_ = false;
  bool waitForever_ = false;  // SHUTDOWN WAIT_FOR_CLIENTS: no shutdown_timeout
  Clock::time_point shutdownDeadline_;
  std::unique_ptr<HttpServer> metrics_;  // the Prometheus endpoint, on the control loop
  std::unique_ptr<TakeoverServer> takeover_;
  std::unique_ptr<health::FailoverManager> failover_;
  DirectoryRegistry directories_;
  std::unique_ptr<DirectoryLoader> directoryLoader_;  // on the control loop; fills directories_
  bool takeoverRequested_ = false;

  std::mutex reloadMutex_;  // one reload or SET at a time
  std::mutex stateMutex_;   // disabled_, errors_, stats samples
  std::set<std::string, std::less<>> disabled_;
  std::map<std::string, uint64_t> errors_;
  std::atomic<uint64_t> reloads_{0}, reloadFailures_{0};
  std::chrono::system_clock::time_point startTime_ = std::chrono::system_clock::now();
  StatsWindow stats_;
};

}  // namespace shardpool::pooler
