// Replica bans and read eligibility in the failover policy, on a fake clock: a standby that goes
// down is out of reads until replica_ban_time has passed AND a probe succeeded after it.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "pooler/health/failover_policy.h"

using namespace shardpool::pooler::health;
using namespace std::chrono_literals;

namespace {

const TimePoint kT0 = TimePoint{} + 1h;  // any fixed point: the policy never reads a clock

FailoverSettings banFor(std::chrono::milliseconds ban) {
  FailoverSettings s;
  s.failuresToDown = 2;
  s.replicaBanTime = ban;
  return s;
}

bool logged(const FailoverEvents& ev, const std::string& text) {
  for (const auto& line : ev.log)
    if (line.find(text) != std::string::npos) return true;
  return false;
}

// One probe of the standby (member 1) at kT0 + `at`, and what must hold after it.
struct Step {
  std::chrono::milliseconds at;
  bool ok;
  bool up, banned, readable;
  std::string event;  // a log line containing this ("" = no check)
};

void play(const FailoverSettings& settings, const std::vector<Step>& steps) {
  ClusterState c = initialCluster({"p:1", "s:2"}, 0);
  onProbe(c, 0, true, false, 1000, "", settings, kT0);
  for (size_t k = 0; k < steps.size(); ++k) {
    const Step& s = steps[k];
    INFO("step " << k << " at " << s.at.count() << " ms, probe " << (s.ok ? "ok" : "fails"));
    auto ev =
        onProbe(c, 1, s.ok, true, 900, s.ok ? "" : "connection refused", settings, kT0 + s.at);
    CHECK(c.members[1].up == s.up);
    CHECK(c.members[1].bannedAt.has_value() == s.banned);
    CHECK(readable(c, 1) == s.readable);
    if (!s.event.empty()) CHECK(logged(ev, s.event));
    CHECK(c.writeTarget == 0u);  // a standby's ban never touches the write target
  }
}

}  // namespace

TEST_CASE("replica ban: down, banned, healthy during the ban, back after it", "[health]") {
  play(banFor(2s), {
                       {0ms, true, true, false, true, ""},
                       {100ms, false, true, false, true, ""},  // one failure: not yet down
                       {200ms, false, false, true, false, "banned from reads for 2s"},
                       {300ms, false, false, true, false, ""},
                       {1000ms, true, true, true, false, "still banned from reads for 1.2s"},
                       {2100ms, true, true, true, false, ""},  // 1.9 s into the ban
                       {2200ms, true, true, false, true, "rejoins the read rotation"},
                       {2300ms, true, true, false, true, ""},
                   });
}

TEST_CASE("replica ban: a standby still down when the ban ends rejoins at its first good probe",
          "[health]") {
  play(banFor(1s), {
                       {0ms, false, true, false, true, ""},
                       {10ms, false, false, true, false, "is down"},
                       {500ms, false, false, true, false, ""},
                       {5000ms, false, false, true, false, ""},  // ban over, still failing
                       {5100ms, true, true, false, true, "rejoins the read rotation"},
                   });
}

TEST_CASE("replica ban: failing again bans again, from the new failure", "[health]") {
  play(banFor(1s), {
                       {0ms, false, true, false, true, ""},
                       {10ms, false, false, true, false, "banned"},
                       {1100ms, true, true, false, true, "rejoins"},
                       {1200ms, false, true, false, true, ""},
                       {1300ms, false, false, true, false, "banned from reads for 1s"},
                       {2200ms, true, true, true, false, "still banned"},  // 0.9 s into it
                       {2400ms, true, true, false, true, "rejoins"},
                   });
}

TEST_CASE("replica ban: going down again during a ban restarts it", "[health]") {
  play(banFor(1s), {
                       {0ms, false, true, false, true, ""},
                       {10ms, false, false, true, false, ""},
                       {500ms, true, true, true, false, ""},
                       {600ms, false, true, true, false, ""},
                       {700ms, false, false, true, false, "banned"},  // until 1.7 s
                       {1200ms, true, true, true, false, ""},
                       {1650ms, true, true, true, false, ""},
                       {1700ms, true, true, false, true, "rejoins"},
                   });
}

TEST_CASE("replica ban: replica_ban_time 0 means no ban, a good probe brings it back", "[health]") {
  play(banFor(0ms), {
                        {0ms, false, true, false, true, ""},
                        {10ms, false, false, false, false, "is down"},
                        {20ms, true, true, false, true, "is up again"},
                    });
}

TEST_CASE("replica ban: the write target going down is not banned, and bans are not fencing",
          "[health]") {
  FailoverSettings s = banFor(10s);
  s.autoPromote = true;
  ClusterState c = initialCluster({"p", "s"}, 0);
  onProbe(c, 1, true, true, 50, "", s, kT0);
  onProbe(c, 0, false, false, 0, "refused", s, kT0);
  auto ev = onProbe(c, 0, false, false, 0, "refused", s, kT0);
  CHECK_FALSE(c.members[0].up);
  CHECK_FALSE(c.members[0].bannedAt);  // the primary: failover handles it, not a ban
  CHECK_FALSE(logged(ev, "banned"));
  REQUIRE(ev.promote == 1u);
  // A banned standby can still be promoted: bans are about reads only.
  ClusterState d = initialCluster({"p", "s"}, 0);
  onProbe(d, 1, false, true, 0, "refused", s, kT0);
  onProbe(d, 1, false, true, 0, "refused", s, kT0);
  REQUIRE(d.members[1].bannedAt);
  onProbe(d, 1, true, true, 70, "", s, kT0 + 1s);
  onProbe(d, 0, false, false, 0, "refused", s, kT0 + 2s);
  auto promote = onProbe(d, 0, false, false, 0, "refused", s, kT0 + 2s);
  CHECK(promote.promote == 1u);
}

TEST_CASE("replica ban: how long a ban still runs", "[health]") {
  FailoverSettings s = banFor(2s);
  ClusterState c = initialCluster({"p", "s"}, 0);
  CHECK(banLeft(c, 1, s, kT0) == 0ms);
  onProbe(c, 1, false, true, 0, "x", s, kT0);
  onProbe(c, 1, false, true, 0, "x", s, kT0);
  CHECK(banLeft(c, 1, s, kT0) == 2000ms);
  CHECK(banLeft(c, 1, s, kT0 + 1500ms) == 500ms);
  CHECK(banLeft(c, 1, s, kT0 + 3s) == 0ms);  // over, but banned until a good probe
  CHECK(c.members[1].bannedAt);
  // A reload that shortens replica_ban_time applies to running bans.
  CHECK(banLeft(c, 1, banFor(1s), kT0 + 500ms) == 500ms);
  CHECK(banLeft(c, 0, s, kT0) == 0ms);
  CHECK(banLeft(c, 7, s, kT0) == 0ms);
}

TEST_CASE("read eligibility: only healthy standbys, never the write target or a fenced member",
          "[health]") {
  FailoverSettings s = banFor(0ms);
  ClusterState c = initialCluster({"p", "s1", "s2", "s3"}, 0);
  // Not probed yet: the configured standbys count as healthy.
  CHECK_FALSE(readable(c, 0));
  CHECK(readable(c, 1));
  CHECK(readable(c, 2));
  CHECK(readable(c, 3));
  CHECK_FALSE(readable(c, 4));
  onProbe(c, 0, true, false, 100, "", s, kT0);
  onProbe(c, 1, true, true, 90, "", s, kT0);
  onProbe(c, 2, true, false, 80, "", s, kT0);  // claims to be a primary: fenced
  onProbe(c, 3, false, true, 0, "x", s, kT0);
  onProbe(c, 3, false, true, 0, "x", s, kT0);  // down
  CHECK(c.members[2].fenced);
  CHECK_FALSE(readable(c, 0));
  CHECK(readable(c, 1));
  CHECK_FALSE(readable(c, 2));
  CHECK_FALSE(readable(c, 3));
}

TEST_CASE("replication lag is the standby's replay behind the write target", "[health]") {
  FailoverSettings s = banFor(0ms);
  ClusterState c = initialCluster({"p", "s1", "s2"}, 0);
  CHECK(lagBytes(c, 1) == 0);  // nothing probed: unknown
  onProbe(c, 0, true, false, 0x3000148, "", s, kT0);
  onProbe(c, 1, true, true, 0x3000000, "", s, kT0);
  onProbe(c, 2, true, true, 0x3000200, "", s, kT0);  // probed after more WAL was written
  CHECK(lagBytes(c, 0) == 0);
  CHECK(lagBytes(c, 1) == 0x148);
  CHECK(lagBytes(c, 2) == 0);
  CHECK(lagBytes(c, 9) == 0);
  // Without a write target there is nothing to be behind.
  onProbe(c, 0, false, false, 0, "x", s, kT0);
  onProbe(c, 0, false, false, 0, "x", s, kT0);
  REQUIRE_FALSE(c.writeTarget);
  CHECK(lagBytes(c, 1) == 0);
}
