// Runs the health checks of every database's backends (each shard's primary and replicas) on
// the control loop and applies the failover policy: it points the database's pools at the write
// target, holds their clients while there is none (up to failover_wait_timeout each), promotes a
// standby with pg_promote() when auto_promote is on, and keeps the events for the admin console
// and the metrics. Never on the data path: workers only read the pools it updates.
#pragma once

#include <uv.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"
#include "pooler/health/failover_policy.h"
#include "pooler/health/health_checker.h"

namespace shardpool::pooler {
class Proxy;
}

namespace shardpool::pooler::health {

struct BackendView {
  std::string database, shard, address;
  bool configuredPrimary = false;
  bool up = true, probed = false, inRecovery = false, fenced = false, writeTarget = false;
  uint64_t walPosition = 0;
  uint64_t lagBytes = 0;  // standbys: behind the write target's position at its last probe
  uint32_t failures = 0;
  std::string lastError;
};

class FailoverManager {
 public:
  FailoverManager(Proxy& proxy, uv_loop_t* loop);
  ~FailoverManager();

  // At start and after each reload (control loop).
  void configure(const config::Config& cfg);
  void stop();
  // A worker could not connect to `db`'s write target: probe it now (thread-safe).
  void suspect(const std::string& db);
  // Whether `db` has health-checked backends to fail over to (thread-safe).
  bool covers(const std::string& db);
  // Admin console (thread-safe): the backends with their state; recent events, newest last.
  std::vector<BackendView> backends();
  std::vector<std::string> events();
  uint64_t failovers() const { return failovers_.load(std::memory_order_relaxed); }
  // Clears the fence of backend "host:port" (of any database); false with `error` if none.
  bool unfence(const std::string& address, std::string& error);

 private:
  struct Cluster {
    std::string database;
    std::string shardName;
    std::vector<config::Backend> members;  // [0] the configured primary
    ClusterState state;
    std::string conninfoBase;  // user, password, dbname for probes
  };
  void onResult(const std::string& key, const ProbeResult& r);
  void apply(Cluster& c, size_t index, const FailoverEvents& ev);  // under mutex_
  void record(std::string event);                                  // under mutex_
  std::string conninfo(const Cluster& c, size_t member) const;

  Proxy& proxy_;
  uv_loop_t* loop_;
  std::unique_ptr<HealthChecker> checker_;
  FailoverSettings settings_;
  std::chrono::milliseconds promoteTimeout_{10000};
  std::mutex mutex_;  // clusters_ and events_, read by the console from workers
  std::vector<Cluster> clusters_;
  std::deque<std::string> events_;
  std::atomic<uint64_t> failovers_{0};
};

}  // namespace shardpool::pooler::health
