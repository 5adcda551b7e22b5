// What the data path needs from the process it runs in: the configuration snapshot, the
// workers, the pools, cancel keys and failed-login table they share, max_client_conn, DISABLE, the error counters,
// the directory maps, and two hooks into targets above the core: the health checks
// (HealthView) and the admin console (openConsole). The process (pooler/app/runtime.h) derives
// from it and adds the control loop.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "pooler/auth/login_backoff.h"
#include "pooler/directory/directory_registry.h"
#include "pooler/net/tls.h"
#include "pooler/session/cancel.h"
#include "pooler/session/console_session.h"
#include "pooler/session/engine.h"
#include "pooler/session/health_view.h"
#include "pooler/session/pool.h"
#include "pooler/session/worker.h"

namespace shardpool::pooler {

class ClientSession;

class Runtime {
 public:
  // `engines`: one per protocol the workers serve (clients accepted, servers opened).
  Runtime(std::shared_ptr<const config::Config> config,
          std::vector<std::unique_ptr<Engine>> engines);
  Runtime(std::shared_ptr<const config::Config> config, std::unique_ptr<Engine> engine);
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
  virtual ~Runtime();

  // The configuration in force (a reload publishes a new one; thread-safe).
  std::shared_ptr<const config::Config> config() const;
  PoolRegistry& pools() { return pools_; }
  CancelRegistry& cancels() { return cancels_; }
  // The engine of `protocol`; null when the process serves no such protocol.
  Engine* engine(config::Protocol protocol) const {
    return engines_[static_cast<size_t>(protocol)].get();
  }
  Worker& worker(unsigned i) { return *workers_[i]; }
  unsigned workerCount() const { return static_cast<unsigned>(workers_.size()); }
  uint64_t nextId() { return nextId_.fetch_add(1, std::memory_order_relaxed); }

  // Failed logins per client address (auth_failure_*), shared by the workers (thread-safe).
  auth::LoginBackoff& loginBackoff() { return loginBackoff_; }

  // TLS for clients (null when client_tls_sslmode = disable). A reload may replace it: a new
  // client's handshake uses the one in force then; sessions keep the context they started with.
  std::shared_ptr<const TlsContext> acceptTls() const;

  // max_client_conn, exact across workers.
  bool tryAddClient();
  void removeClient() { clients_.fetch_sub(1, std::memory_order_relaxed); }
  uint32_t clientCount() const { return clients_.load(std::memory_order_relaxed); }

  // DISABLE / ENABLE: new clients of a disabled database are refused (thread-safe).
  void setDisabled(const std::string& db, bool disabled);
  bool isDisabled(std::string_view db);
  // SUSPEND / RESUME (admin console, SIGUSR2): every worker stops accepting and stops reading
  // its clients' and servers' sockets (admin console sessions excepted), and flushes what it
  // has to send. suspend() is false when already suspended, resume() when not suspended.
  bool suspend();
  bool resume();
  bool suspended() const { return suspended_.load(std::memory_order_acquire); }
  // Every worker has flushed its sockets (or closed those it could not flush within
  // suspend_timeout) since the last suspend().
  bool suspendFlushed() const;
  // Client disconnects with an error, by reason (for /metrics; thread-safe).
  void countError(std::string_view reason);
  std::map<std::string, uint64_t> errorCounts();

  // The directory maps of directory-sharded databases (thread-safe; see directory_registry.h).
  DirectoryRegistry& directories() { return directories_; }
  // The health checks, or null when none run (thread-safe).
  HealthView* health() const { return health_.load(std::memory_order_acquire); }
  // The admin console for `client`, who logged in to the admin database; `fullAccess` for
  // admin_users (stats_users may only SHOW). Called on the client's worker.
  virtual std::unique_ptr<ConsoleSession> openConsole(ClientSession& client, bool fullAccess) = 0;
  // Runs `task` on the control loop (thread-safe).
  virtual void postControl(std::function<void()> task) = 0;

 protected:
  void publishConfig(std::shared_ptr<const config::Config> config);
  void setAcceptTls(std::shared_ptr<const TlsContext> tls);
  void setHealth(HealthView* health) { health_.store(health, std::memory_order_release); }

  std::vector<std::unique_ptr<Worker>> workers_;

 private:
  mutable std::mutex configMutex_;
  std::shared_ptr<const config::Config> config_;
  std::array<std::unique_ptr<Engine>, config::kProtocolCount> engines_;
  std::shared_ptr<const TlsContext> acceptTls_;  // under configMutex_
  PoolRegistry pools_;
  CancelRegistry cancels_;
  auth::LoginBackoff loginBackoff_;
  DirectoryRegistry directories_;
  std::atomic<HealthView*> health_{nullptr};
  std::atomic<uint64_t> nextId_{1};
  std::atomic<uint32_t> clients_{0};
  std::atomic<bool> suspended_{false};
  std::atomic<uint64_t> suspendEpoch_{0};
  std::mutex stateMutex_;  // disabled_, errors_
  std::set<std::string, std::less<>> disabled_;
  std::map<std::string, uint64_t> errors_;
};

}  // namespace shardpool::pooler
