// A pool of server connections for one (database, user) pair, shared by all workers. Counts and
// the FIFO of waiting clients are global (under one mutex), so pool_size holds exactly across
// threads; idle servers stay on the worker that owns their socket and are handed over to another
// worker's waiting client when needed.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"

namespace shardpool::pooler {

class Worker;
class ServerConn;

// What a pool needs to open and manage server connections; fixed when the pool is created.
struct PoolSettings {
  std::string host;
  uint16_t port = 5432;
  std::string dbname;
  std::string user;
  std::optional<std::string> password;  // plaintext or md5-stored; nullopt: none configured
  uint32_t size = 20;
  config::PoolMode mode = config::PoolMode::Session;
  std::string resetQuery;
  config::Duration serverIdleTimeout{};
  config::Duration serverLifetime{};
  config::Duration serverConnectTimeout{};
};

class Pool {
 public:
  Pool(std::string clientDb, std::string clientUser, PoolSettings settings, unsigned workers);

  const std::string& name() const { return name_; }  // "user@db"
  const std::string& database() const { return clientDb_; }
  const std::string& user() const { return clientUser_; }
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
  // Idle servers parked on `worker`, for timeout sweeps (call on that worker's thread).
  std::vector<ServerConn*> idleOn(unsigned workerIndex);

  struct Counts {
    uint32_t total, idle, waiting;
  };
  Counts counts();

 private:
  struct Waiter {
    unsigned worker;
    uint64_t clientId;
  };
  void stealFor(Worker& worker);

  std::string clientDb_;
  std::string clientUser_;
  std::string name_;
  PoolSettings settings_;
  std::mutex mutex_;
  uint32_t total_ = 0;  // open or opening
  uint32_t idleTotal_ = 0;
  std::deque<Waiter> waiters_;
  std::vector<std::vector<ServerConn*>> idle_;  // per worker
};

class PoolRegistry {
 public:
  explicit PoolRegistry(unsigned workers) : workers_(workers) {}
  // The pool serving `user` on client database `db` (created on first use).
  Pool& get(const config::Config& cfg, const config::Database& db, std::string_view clientDb,
            std::string_view user);
  std::vector<Pool*> all();

 private:
  unsigned workers_;
  std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<Pool>> pools_;
};

}  // namespace shardpool::pooler
