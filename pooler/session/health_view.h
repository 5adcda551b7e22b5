// What the data path asks of the health checks (pooler/health/, on the control loop): whether a
// database can fail over, a hint that its write target may be down, and which members of a shard
// may serve reads. Thread-safe; implemented above the core.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shardpool::pooler {

// A member of a shard that may serve reads now: the write target, or a healthy standby.
struct ReadTarget {
  std::string host;  // as configured (or a unix-socket directory)
  uint16_t port = 0;
  bool writeTarget = false;  // the primary taking writes; otherwise a standby
  uint64_t lagBytes = 0;     // standbys: replay behind the write target (0: none or unknown)
  bool operator==(const ReadTarget&) const = default;
};

class HealthView {
 public:
  // Whether `db` has health-checked backends to fail over to.
  virtual bool covers(const std::string& db) = 0;
  // A worker could not connect to `db`'s write target: probe it now.
  virtual void suspect(const std::string& db) = 0;
  // The members of shard `shardIndex` that may serve reads (empty: every configured member).
  virtual std::vector<ReadTarget> readTargets(std::string_view db, size_t shardIndex) = 0;
  // Changes whenever an answer of readTargets would.
  virtual uint64_t readTargetsVersion() const = 0;

 protected:
  ~HealthView() = default;
};

}  // namespace shardpool::pooler
