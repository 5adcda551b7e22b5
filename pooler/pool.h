// A pool of server connections for one (database, user) pair, shared by all workers. Counts and
// the FIFO of waiting clients are global (under one mutex), so pool_size holds exactly across
// threads; idle servers stay on the worker that owns their socket and are handed over to another
// worker's waiting client when needed. Caps shared between pools (max_db_connections,
// max_user_connections) are counted in ConnectionLimit objects owned by the registry.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

namespace shardpool::pooler {

class Worker;
class ServerConn;
class PoolRegistry;
class TlsContext;

using PoolClock = std::chrono::steady_clock;

// A cap on server connections shared by several pools; max 0 means unlimited.
class ConnectionLimit {
 public:
  explicit ConnectionLimit(uint32_t max) : max_(max) {}
  bool tryTake();
  void give() { used_.fetch_sub(1, std::memory_order_relaxed); }
  uint32_t max() const { return max_; }
  uint32_t used() const { return used_.load(std::memory_order_relaxed); }

 private:
  uint32_t max_;
  std::atomic<uint32_t> used_{0};
};

// What a pool needs to open and manage server connections; fixed when the pool is created.
struct PoolSettings {
  std::string host;
  uint16_t port = 5432;
  std::string dbname;
  std::string user;
  std::optional<std::string> password;  // plaintext or md5-stored; nullopt: none configured
  uint32_t size = 20;
  uint32_t minSize = 0;
  uint32_t reserveSize = 0;
  config::Duration reserveTimeout{};
  config::PoolMode mode = config::PoolMode::Session;
  std::string resetQuery;
  uint32_t maxPrepared = 0;
  config::TlsMode tlsMode = config::TlsMode::Disable;
  std::shared_ptr<TlsContext> tls;  // for tlsMode != Disable; null when it could not be built
  std::string tlsError;
  config::Duration serverIdleTimeout{};
  config::Duration serverLifetime{};
  config::Duration serverConnectTimeout{};
};

class Pool {
 public:
  Pool(PoolRegistry& registry, std::string clientDb, std::string user, PoolSettings settings,
       unsigned workers, ConnectionLimit* dbLimit, ConnectionLimit* userLimit);

  const std::string& name() const { return name_; }  // "user@db"
  const std::string& database() const { return clientDb_; }
  const std::string& user() const { return user_; }
  const PoolSettings& settings() const { return settings_; }

  enum class Grant { Idle, Connect, Queued };
  struct Acquired {
    Grant grant;
    ServerConn* server = nullptr;  // with Idle
  };
  // Called on `worker` for one of its clients. Connect: a slot is reserved, open a server.
  Acquired acquire(Worker& worker, uint64_t clientId);
  // Removes a waiting client; false when a server is already on its way to it.
  bool cancelWait(unsigned workerIndex, uint64_t clientId);
  // A clean server is free again (on its owning worker): give it to the first waiter or park it.
  void release(Worker& worker, ServerConn* server);
  // A server (connected or not) is gone: frees its slot, maybe starting a connect for a waiter.
  void serverGone(Worker& worker);
  // Removes an idle server from the idle list (to close it); false if it was not idle.
  bool takeIdle(Worker& worker, ServerConn* server);
  // True when closing one more idle server keeps min_pool_size.
  bool aboveMinimum();
  // Periodic upkeep from one worker: min_pool_size, the reserve pool, waiters blocked by a cap.
  void maintain(Worker& worker, PoolClock::time_point now);
  // Another pool freed a shared slot: start a connect for our first waiter if we now may.
  void retry(Worker& worker);
  // Closes one idle server of this pool (to free a shared slot); false when none is idle.
  bool closeOneIdle(Worker& worker);
  bool sharesLimitWith(const Pool& other) const;
  bool hasWaiters();

  struct Counts {
    uint32_t total, idle, waiting;
  };
  Counts counts();

 private:
  struct Waiter {
    unsigned worker;
    uint64_t clientId;
    PoolClock::time_point since;
  };
  bool reserveSlot(uint32_t limit);  // under mutex_
  void freeSlot();                   // under mutex_
  void connectForWaiter(Worker& from, const Waiter& w);
  void stealFor(Worker& worker);

  PoolRegistry& registry_;
  std::string clientDb_;
  std::string user_;
  std::string name_;
  PoolSettings settings_;
  ConnectionLimit* dbLimit_;
  ConnectionLimit* userLimit_;
  std::mutex mutex_;
  uint32_t total_ = 0;  // open or opening
  uint32_t idleTotal_ = 0;
  bool capped_ = false;  // a waiter is blocked by a shared cap, not by pool_size
  std::deque<Waiter> waiters_;
  std::vector<std::vector<ServerConn*>> idle_;  // per worker
};

class PoolRegistry {
 public:
  explicit PoolRegistry(unsigned workers) : workers_(workers) {}
  // The pool serving client database `clientDb` for `user` (created on first use). With a
  // forced backend user, all clients of that database share the forced user's pool.
  Pool& get(const config::Config& cfg, const config::Database& db, std::string_view clientDb,
            std::string_view user);
  std::vector<Pool*> all();
  // A pool is blocked by a shared cap: close an idle server of another pool sharing it.
  void makeRoomFor(Worker& worker, Pool& pool);
  // A shared slot was freed by `pool`: let other pools sharing a cap retry their waiters.
  void slotFreed(Worker& worker, Pool& pool);

 private:
  ConnectionLimit* limit(std::map<std::string, std::unique_ptr<ConnectionLimit>>& m,
                         const std::string& key, uint32_t max);

  unsigned workers_;
  std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<Pool>> pools_;
  std::map<std::string, std::unique_ptr<ConnectionLimit>> dbLimits_;
  std::map<std::string, std::unique_ptr<ConnectionLimit>> userLimits_;
};

}  // namespace shardpool::pooler
