// Which backend of a cluster (a primary and its standbys: one shard, or an unsharded database)
// takes writes, decided from health-check results alone. Pure: the caller feeds probe results
// and applies the decision (switching pools, running pg_promote()). Rules:
//   - a member is down after `failuresToDown` failed probes in a row, up again after one success;
//   - the write target stays while it is up and not in recovery;
//   - without one, the single up member that is not in recovery becomes it (a promotion done
//     elsewhere is followed); with auto_promote, the up standby with the most WAL replayed is
//     promoted when none is;
//   - never two write targets: a member that reports "not in recovery" while another member is
//     the write target is fenced (never written to) until an operator clears the fence; two such
//     members with no write target leave the cluster without one, and say so;
//   - reads: a member that goes down while it is not the write target (a standby) is banned from
//     reads for `replicaBanTime` (0: no ban); the ban ends at the first successful probe once
//     that time has passed, so a standby that flaps stays out. Bans never affect the write
//     target's choice nor promotion. Time comes from the caller (`now`), never from a clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace shardpool::pooler::health {

using TimePoint = std::chrono::steady_clock::time_point;

struct MemberState {
  std::string name;  // "host:port", for logs and SHOW
  bool configuredPrimary = false;
  bool up = true;  // until probes say otherwise, as configured
  bool probed = false;
  bool inRecovery = false;
  uint64_t walPosition = 0;
  uint32_t failures = 0;  // consecutive failed probes
  bool fenced = false;
  std::optional<TimePoint> bannedAt;  // banned from reads since; unset: not banned
  std::string lastError;
};

struct ClusterState {
  std::vector<MemberState> members;
  std::optional<size_t> writeTarget;
  std::optional<size_t> promoting;  // pg_promote() sent, waiting for it to report as primary
};

struct FailoverSettings {
  uint32_t failuresToDown = 3;
  bool autoPromote = false;
  std::chrono::milliseconds replicaBanTime{60000};  // 0: a down standby is not banned
};

// What changed, for the caller to act on and log.
struct FailoverEvents {
  bool writeTargetChanged = false;
  std::optional<size_t> promote;  // run pg_promote() on this member
  std::vector<std::string> log;   // human-readable events, in order
};

// Starts a cluster: the configured primary is the write target until probes say otherwise.
ClusterState initialCluster(const std::vector<std::string>& names, size_t configuredPrimary);

// Applies one probe result of member `index`, taken at `now`, then re-decides the write target.
FailoverEvents onProbe(ClusterState& cluster, size_t index, bool ok, bool inRecovery,
                       uint64_t walPosition, const std::string& error,
                       const FailoverSettings& settings, TimePoint now);

// The promotion of `index` failed (pg_promote() returned an error or timed out).
FailoverEvents onPromoteFailed(ClusterState& cluster, size_t index, const std::string& error);

// An operator allows a fenced member again (it may then become the write target).
FailoverEvents clearFence(ClusterState& cluster, size_t index, const FailoverSettings& settings);

// Whether member `index` may serve reads as a standby: not the write target, up, not fenced,
// not banned, and in recovery (or not probed yet: as configured, a standby).
bool readable(const ClusterState& cluster, size_t index);

// How far member `index` replayed behind the write target's WAL position (both as of their last
// probes); 0 for the write target, a member not in recovery, or without a write target.
uint64_t lagBytes(const ClusterState& cluster, size_t index);

// How long the ban of member `index` still runs at `now` (0 when it is not banned, or when the
// ban time is over and it waits for a successful probe).
std::chrono::milliseconds banLeft(const ClusterState& cluster, size_t index,
                                  const FailoverSettings& settings, TimePoint now);

}  // namespace shardpool::pooler::health
