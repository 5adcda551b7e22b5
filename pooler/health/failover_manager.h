// Runs the health checks of every database's backends (each shard's primary and replicas) on
// the control loop and applies the failover policy: it points the database's pools at the write
// target, holds their clients while there is none (up to failover_wait_timeout each), promotes a
// standby with pg_promote() when auto_promote is on, and keeps the events for the admin console
// and the metrics. Never on the data path: workers only read the pools it updates, and ask it
// which members of a shard may serve reads (readTargets) when readTargetsVersion() moved.
#pragma once

#include <uv.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "pooler/health/failover_policy.h"
#include "pooler/health/health_checker.h"

#include "pooler/session/health_view.h"

namespace shardpool::pooler {
class Runtime;
}

namespace shardpool::pooler::health {

struct BackendView {
  std::string database, shard, address;
  bool configuredPrimary = false;
  bool up = true, probed = false, inRecovery = false, fenced = false, writeTarget = false;
  uint64_t walPosition = 0;
  uint64_t lagBytes = 0;  // standbys: behind the write target's position at its last probe
  uint32_t failures = 0;
  bool banned = false;    // down while a standby: no reads until the ban ends and it is healthy
  int64_t banLeftMs = 0;  // of replica_ban_time; 0 once over (then waiting for a good probe)
  std::string lastError;
};

using ReadTarget = pooler::ReadTarget;

class FailoverManager final : public HealthView {
 public:
  FailoverManager(Runtime& runtime, uv_loop_t* loop);
  ~FailoverManager();

  // At start and after each reload (control loop).
  void configure(const config::Config& cfg);
  void stop();
  // A worker could not connect to `db`'s write target: probe it now (thread-safe).
  void suspect(const std::string& db) override;
  // Whether `db` has health-checked backends to fail over to (thread-safe).
  bool covers(const std::string& db) override;
  // Admin console (thread-safe): the backends with their state; recent events, newest last.
  std::vector<BackendView> backends();
  std::vector<std::string> events();
  uint64_t failovers() const { return failovers_.load(std::memory_order_relaxed); }
  // Read routing (thread-safe). The members of shard `shardIndex` (its position in
  // Config::shardsOf) of database `db` that may serve reads now: the write target first when
  // there is one, then the standbys that are up, not banned and not fenced, in configured order.
  // Without health checks (health_check_interval = 0, no replicas, no probe user) every
  // configured member counts; a member not probed yet counts as healthy. Empty for an unknown
  // database or shard. Workers cache the answer and ask again when readTargetsVersion() differs
  // from the version they read before asking: it changes whenever an answer would (members,
  // write target, bans, lag) and at every configure().
  std::vector<ReadTarget> readTargets(std::string_view db, size_t shardIndex) override;
  uint64_t readTargetsVersion() const override {
    return readVersion_.load(std::memory_order_acquire);
  }
  // Clears the fence of backend "host:port" (of any database); false with `error` if none.
  bool unfence(const std::string& address, std::string& error);

 private:
  struct Cluster {
    std::string database;
    std::string shardName;
    size_t shardIndex = 0;
    bool checked = false;  // health-checked (else its members are as configured, all usable)
    std::vector<config::Backend> members;  // [0] the configured primary
    ClusterState state;
    std::string conninfoBase;  // PostgreSQL: user, password, dbname for probes
    std::optional<MysqlEndpoint> mysql;  // MySQL: the probes' login, TLS, dbname (no address)
  };
  void onResult(const std::string& key, const ProbeResult& r);
  void apply(Cluster& c, size_t index, const FailoverEvents& ev);  // under mutex_
  void record(std::string event);                                  // under mutex_
  ProbeTarget target(const Cluster& c, size_t member) const;
  std::vector<ReadTarget> targetsOf(const Cluster& c) const;  // under mutex_
  void bumpReadVersion() { readVersion_.fetch_add(1, std::memory_order_acq_rel); }

  Runtime& runtime_;
  uv_loop_t* loop_;
  std::unique_ptr<HealthChecker> checker_;
  std::chrono::milliseconds promoteTimeout_{10000};
  // MySQL: the promotion waits (up to 20 s) for the replica to apply what it received.
  std::chrono::milliseconds mysqlPromoteTimeout_{30000};
  std::mutex mutex_;  // clusters_, settings_ and events_, read by the console and workers
  FailoverSettings settings_;
  std::vector<Cluster> clusters_;
  std::deque<std::string> events_;
  std::atomic<uint64_t> failovers_{0};
  std::atomic<uint64_t> readVersion_{1};
};

}  // namespace shardpool::pooler::health
