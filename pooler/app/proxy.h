// The running process: the runtime the workers share (pooler/session/runtime.h) plus the
// control loop on the main thread: signals, reload, shutdown, health checks, directory loading,
// metrics and takeover. It opens admin console sessions for the workers.
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
#include "pooler/admin/control_plane.h"
#include "pooler/directory/directory_loader.h"
#include "pooler/health/failover_manager.h"
#include "pooler/http/http_server.h"
#include "pooler/session/runtime.h"
#include "pooler/takeover/takeover.h"

namespace shardpool::pooler {

class Proxy final : public Runtime, public admin::ControlPlane {
 public:
  // With `takeover`, the listening sockets come from the shardpool already running on
  // general.takeover_socket (see takeover.h) instead of being bound anew.
  explicit Proxy(std::shared_ptr<const config::Config> config, bool takeover = false);
  ~Proxy() override;

  // Listens, serves until SIGINT or SIGTERM (safe shutdown: drains), or SIGQUIT or a second
  // SIGINT/SIGTERM (immediate); returns the exit code.
  int run();

  // ---- Runtime hooks ----
  std::unique_ptr<ConsoleSession> openConsole(ClientSession& client, bool fullAccess) override;
  void postControl(std::function<void()> task) override;

  // ---- Control plane (admin console, signals, metrics); thread-safe. ----
  Runtime& runtime() override { return *this; }
  bool reload(const std::string& why, std::vector<std::string>& errors,
              std::vector<std::string>& warnings) override;
  bool setLive(const std::string& keyPath, const std::string& value, std::string& error,
               std::vector<std::string>& warnings) override;
  void requestShutdown(ShutdownMode mode, const std::string& who) override;
  uint64_t reloadCount() const override { return reloads_.load(std::memory_order_relaxed); }
  uint64_t reloadFailureCount() const override {
    return reloadFailures_.load(std::memory_order_relaxed);
  }
  std::chrono::system_clock::time_point startTime() const override { return startTime_; }
  StatsWindow statsWindow() override;
  health::FailoverManager* failover() override { return failover_.get(); }

 private:
  static void onSignal(uv_signal_t* s, int signum);
  static void onControlTick(uv_timer_t* t);
  static void onStatsTick(uv_timer_t* t);
  static void onControlAsync(uv_async_t* a);
  void sampleStats();
  void reconfigureFailover(std::shared_ptr<const config::Config> cfg);
  // The TLS context for clients that `g` asks for (null for client_tls_sslmode = disable), its
  // files read afresh; false with `error` when they do not make one.
  static bool buildClientTls(const config::General& g, std::shared_ptr<const TlsContext>& out,
                             std::string& error);
  // Publishes `next` with its client TLS context (reload, SET).
  void publish(std::shared_ptr<const config::Config> next, std::shared_ptr<const TlsContext> tls);
  void beginShutdown(bool closeIdleClients);
  void exitNow();
  void closeControlHandles();
  [[nodiscard]] bool openListeners(const config::General& g, TakeoverGrant* grant);
  // unix_socket_dir: the handed-over socket when it is the one configured, else a new one.
  [[nodiscard]] bool openUnixListener(const config::General& g, std::vector<int>& handedOver);
  [[nodiscard]] bool openMysqlListeners(const config::General& g,
                                        const std::vector<int>& handedOver);
  // The protocols the process serves: PostgreSQL and MySQL.
  static std::vector<std::unique_ptr<Engine>> engines();
  void removeUnixSocket();  // at exit, unless handed over to a newer process
  void startTakeoverServer(const config::General& g);
  [[nodiscard]] bool startMetrics(const config::General& g);
  void stopWorkers();
  size_t liveClients();

  std::vector<std::thread> threads_;

  uv_loop_t control_{};
  uv_signal_t sigterm_{}, sigint_{}, sigquit_{}, sighup_{}, sigusr1_{}, sigusr2_{};
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
  std::unique_ptr<DirectoryLoader> directoryLoader_;  // on the control loop; fills directories()
  bool takeoverRequested_ = false;
  std::string unixSocketPath_;  // the clients' unix socket file, ours to remove at exit

  std::mutex reloadMutex_;  // one reload or SET at a time
  std::mutex statsMutex_;   // stats_
  std::atomic<uint64_t> reloads_{0}, reloadFailures_{0};
  std::chrono::system_clock::time_point startTime_ = std::chrono::system_clock::now();
  StatsWindow stats_;
};

}  // namespace shardpool::pooler
