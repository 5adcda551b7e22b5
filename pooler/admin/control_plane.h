// What the admin console and the metrics exporter ask of the running process beyond the data
// path's runtime: reload, SET, shutdown, reload counters, the stats window for SHOW STATS
// averages, and the health checks. Implemented by the process (pooler/app/control.h); thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "pooler/session/pool.h"
#include "pooler/session/worker.h"

namespace shardpool::pooler {
class Runtime;
}

namespace shardpool::pooler::health {
class FailoverManager;
}

namespace shardpool::pooler::admin {

class ControlPlane {
 public:
  virtual Runtime& runtime() = 0;
  // Re-reads the configuration and applies it; on errors keeps the running one and returns
  // them. `why` names the trigger in the log (SIGHUP, RELOAD from ...). `warnings`: what the
  // applied configuration was accepted with (also logged).
  virtual bool reload(const std::string& why, std::vector<std::string>& errors,
                      std::vector<std::string>& warnings) = 0;
  // SET key = value: an override on top of the configuration, kept across reloads. False with
  // `error` for restart-only keys and invalid values; `warnings` as for reload.
  virtual bool setLive(const std::string& keyPath, const std::string& value, std::string& error,
                       std::vector<std::string>& warnings) = 0;
  enum class ShutdownMode { Immediate, WaitForServers, WaitForClients };
  virtual void requestShutdown(ShutdownMode mode, const std::string& who) = 0;
  virtual uint64_t reloadCount() const = 0;
  virtual uint64_t reloadFailureCount() const = 0;
  virtual std::chrono::system_clock::time_point startTime() const = 0;
  // Pool totals per database sampled every stats period, for SHOW STATS averages.
  struct StatsWindow {
    Clock::time_point from, to;
    std::map<std::string, PoolTotals> fromTotals, toTotals;
  };
  virtual StatsWindow statsWindow() = 0;
  // Health checks and failover (null before the process runs).
  virtual health::FailoverManager* failover() = 0;

 protected:
  ~ControlPlane() = default;
};

}  // namespace shardpool::pooler::admin
