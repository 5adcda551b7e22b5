// Control-plane health checks of backends with libpq in non-blocking mode on a uv loop (the
// control loop, never a worker): one connection per backend, kept open between probes, each probe
// `SELECT pg_is_in_recovery(), <replay or current WAL position>` bounded by a timeout. A probe
// that fails closes the connection; the next one reconnects (connect_timeout bounded too).
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

namespace shardpool::pooler::health {

using Clock = std::chrono::steady_clock;

struct ProbeTarget {
  std::string key;       // stable identity, e.g. "app/shard0/10.0.0.1:5432"
  std::string conninfo;  // libpq conninfo (host, port, dbname, user, password, sslmode, ...)
};

struct ProbeResult {
  bool ok = false;
  bool inRecovery = false;
  uint64_t walPosition = 0;  // standbys: last replayed LSN; primaries: current LSN
  std::string error;         // why the probe failed
  std::chrono::microseconds latency{0};
};

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

  // Runs one statement on a fresh connection (pg_promote() on a standby); `done` gets "" or the
  // error. Bounded by `timeout`.
  void execute(const std::string& conninfo, const std::string& sql,
               std::chrono::milliseconds timeout, std::function<void(std::string error)> done);

 private:
  class Probe;
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
