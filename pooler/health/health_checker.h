// Control-plane health checks of backends on a uv loop (the control loop, never a worker): one
// connection per backend, kept open between probes, each probe bounded by a timeout. PostgreSQL
// backends with libpq in non-blocking mode, each probe `SELECT pg_is_in_recovery(), <replay or
// current WAL position>`; MySQL backends with MysqlProbe (mysql_probe.h: read_only and the GTID
// position). A probe that fails closes the connection; the next one reconnects.
#pragma once

#include <libpq-fe.h>
#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pooler/health/probe.h"

namespace shardpool::pooler::health {

// "16/B374D848" -> 0x16B374D848; 0 for text that is not an LSN.
uint64_t parseLsn(std::string_view text);

class HealthChecker {
 public:
  using OnResult = std::function<void(const std::string& key, const ProbeResult& result)>;
  struct Options {
    std::chrono::milliseconds interval{1000};
    std::chrono::milliseconds timeout{1000};  // connect, and each probe query
  };

  HealthChecker(uv_loop_t* loop, Options options, OnResult onResult);
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Replaces the set of backends (kept ones keep their connection).
  void setTargets(const std::vector<ProbeTarget>& targets);
  void setOptions(Options options);
  void start();
  void stop();  // closes every connection; the loop must run once more for the handles
  // Probes `key` now instead of at its next turn (after a failure elsewhere, say).
  void probeNow(const std::string& key);

  // Promotes the standby `target` on a fresh connection: PostgreSQL pg_promote(); MySQL stops
  // replication once what it received is applied and clears read_only (mysql_probe_exchange.h).
  // `done` gets "" or the error. Bounded by `timeout`.
  void promote(const ProbeTarget& target, std::chrono::milliseconds timeout,
               std::function<void(std::string error)> done);

 private:
  class PgProbe;
  using Probe = ProbeConnection;
  static void onTick(uv_timer_t* t);
  void tick();
  void finished(Probe* probe);

  uv_loop_t* loop_;
  Options options_;
  OnResult onResult_;
  uv_timer_t* timer_ = nullptr;
  std::map<std::string, std::unique_ptr<Probe>> probes_;
  std::vector<std::unique_ptr<Probe>> oneShots_;
  std::vector<std::unique_ptr<Probe>> retired_;
};

}  // namespace shardpool::pooler::health
