#include <catch2/catch.hpp>

#include "pooler/health/failover_policy.h"
#include "pooler/health/health_checker.h"

using namespace shardpool::pooler::health;

namespace {
const FailoverSettings kManual{3, false};
const FailoverSettings kAuto{3, true};
const TimePoint kT0{};  // the policy takes time from its caller: tests use a fake clock

void failTimes(ClusterState& c, size_t i, int n, const FailoverSettings& s) {
  for (int k = 0; k < n; ++k) onProbe(c, i, false, false, 0, "connection refused", s, kT0);
}
}  // namespace

TEST_CASE("failover: the configured primary takes writes until probes say otherwise", "[health]") {
  ClusterState c = initialCluster({"p:5432", "s:5432"}, 0);
  REQUIRE(c.writeTarget == 0u);
  onProbe(c, 0, true, false, 100, "", kManual, kT0);
  onProbe(c, 1, true, true, 90, "", kManual, kT0);
  CHECK(c.writeTarget == 0u);
  // Two failed probes are not yet down; the third is.
  failTimes(c, 0, 2, kManual);
  CHECK(c.writeTarget == 0u);
  CHECK(c.members[0].up);
  auto ev = onProbe(c, 0, false, false, 0, "connection refused", kManual, kT0);
  CHECK_FALSE(c.members[0].up);
  CHECK_FALSE(c.writeTarget);
  CHECK(ev.writeTargetChanged);
  CHECK_FALSE(ev.promote);  // manual: wait for someone else to promote
}

TEST_CASE("failover: an external promotion is followed", "[health]") {
  ClusterState c = initialCluster({"p", "s1", "s2"}, 0);
  failTimes(c, 0, 3, kManual);
  REQUIRE_FALSE(c.writeTarget);
  onProbe(c, 1, true, true, 50, "", kManual, kT0);
  CHECK_FALSE(c.writeTarget);
  auto ev = onProbe(c, 2, true, false, 70, "", kManual, kT0);  // promoted by Patroni, say
  CHECK(c.writeTarget == 2u);
  CHECK(ev.writeTargetChanged);
}

TEST_CASE("failover: roles come from the servers, not only from the config", "[health]") {
  ClusterState c = initialCluster({"p", "s"}, 0);
  onProbe(c, 0, true, true, 10, "", kManual, kT0);  // the configured primary is a standby now
  CHECK_FALSE(c.writeTarget);
  onProbe(c, 1, true, false, 20, "", kManual, kT0);
  CHECK(c.writeTarget == 1u);
}

TEST_CASE("failover: auto_promote picks the most advanced healthy standby once", "[health]") {
  ClusterState c = initialCluster({"p", "s1", "s2", "s3"}, 0);
  onProbe(c, 1, true, true, 500, "", kAuto, kT0);
  onProbe(c, 2, true, true, 900, "", kAuto, kT0);
  onProbe(c, 3, true, true, 950, "", kAuto, kT0);
  failTimes(c, 3, 3, kAuto);  // the most advanced one is down: not a candidate
  failTimes(c, 0, 2, kAuto);
  auto ev = onProbe(c, 0, false, false, 0, "connection refused", kAuto, kT0);
  REQUIRE(ev.promote == 2u);
  CHECK(c.promoting == 2u);
  // Further probes while promoting do not promote another one.
  auto again = onProbe(c, 1, true, true, 501, "", kAuto, kT0);
  CHECK_FALSE(again.promote);
  // The promoted standby reports as primary: it becomes the write target.
  auto done = onProbe(c, 2, true, false, 901, "", kAuto, kT0);
  CHECK(c.writeTarget == 2u);
  CHECK(done.writeTargetChanged);
  CHECK_FALSE(c.promoting);
}

TEST_CASE("failover: a failed promotion can be retried", "[health]") {
  ClusterState c = initialCluster({"p", "s"}, 0);
  onProbe(c, 1, true, true, 5, "", kAuto, kT0);
  failTimes(c, 0, 3, kAuto);
  REQUIRE(c.promoting == 1u);
  onPromoteFailed(c, 1, "permission denied");
  CHECK_FALSE(c.promoting);
  auto ev = onProbe(c, 1, true, true, 6, "", kAuto, kT0);
  CHECK(ev.promote == 1u);
}

TEST_CASE("failover: the old primary coming back is fenced, never a second write target",
          "[health]") {
  ClusterState c = initialCluster({"p", "s"}, 0);
  onProbe(c, 1, true, true, 5, "", kAuto, kT0);
  failTimes(c, 0, 3, kAuto);
  onProbe(c, 1, true, false, 6, "", kAuto, kT0);  // promoted
  REQUIRE(c.writeTarget == 1u);
  auto ev = onProbe(c, 0, true, false, 4, "", kAuto, kT0);  // old primary restarts, not in recovery
  CHECK(c.writeTarget == 1u);
  CHECK(c.members[0].fenced);
  CHECK_FALSE(ev.writeTargetChanged);
  // Even when the new primary dies, a fenced member is not used.
  failTimes(c, 1, 3, kAuto);
  CHECK_FALSE(c.writeTarget);
  // An operator clears the fence: it takes writes again.
  auto cleared = clearFence(c, 0, kAuto);
  CHECK(c.writeTarget == 0u);
  CHECK(cleared.writeTargetChanged);
}

TEST_CASE("failover: two primaries and no write target: nobody takes writes", "[health]") {
  ClusterState c = initialCluster({"a", "b"}, 0);
  failTimes(c, 0, 3, kManual);
  onProbe(c, 1, true, false, 1, "", kManual, kT0);
  REQUIRE(c.writeTarget == 1u);
  failTimes(c, 1, 3, kManual);
  onProbe(c, 0, true, false, 1, "", kManual, kT0);
  CHECK(c.writeTarget == 0u);  // b is down, a alone claims the role
  onProbe(c, 1, true, false, 1, "", kManual, kT0);
  CHECK(c.writeTarget == 0u);
  CHECK(c.members[1].fenced);
}

TEST_CASE("LSN text parses as PostgreSQL prints it", "[health]") {
  CHECK(parseLsn("0/0") == 0);
  CHECK(parseLsn("0/3000148") == 0x3000148);
  CHECK(parseLsn("16/B374D848") == 0x16B374D848);
  CHECK(parseLsn("FFFFFFFF/FFFFFFFF") == 0xFFFFFFFFFFFFFFFFull);
  CHECK(parseLsn("") == 0);
  CHECK(parseLsn("12") == 0);
  CHECK(parseLsn("x/1") == 0);
  CHECK(parseLsn("1/") == 0);
  CHECK(parseLsn("123456789/1") == 0);
}
