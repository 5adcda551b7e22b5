#include "pooler/health/failover_policy.h"

#include <fmt/format.h>

namespace shardpool::pooler::health {

namespace {

bool usable(const MemberState& m) {
  return m.up && !m.fenced;
}

std::string text(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return fmt::format("{}s", d.count() / 1000);
  return fmt::format("{:.1f}s", static_cast<double>(d.count()) / 1000.0);
}

void decide(ClusterState& c, FailoverEvents& ev, const FailoverSettings& settings) {
  auto name = [&](size_t i) { return c.members[i].name; };
  // The current write target keeps its role while it is up and still a primary.
  if (c.writeTarget) {
    const MemberState& w = c.members[*c.writeTarget];
    if (usable(w) && !(w.probed && w.inRecovery)) {
      // Anyone else claiming to be a primary is fenced: never two write targets.
      for (size_t i = 0; i < c.members.size(); ++i) {
        MemberState& m = c.members[i];
        if (i != *c.writeTarget && m.up && m.probed && !m.inRecovery && !m.fenced) {
          m.fenced = true;
          ev.log.push_back(
              fmt::format("{} reports it is a primary while {} takes writes: "
                          "fenced (not used until an operator allows it)",
                          name(i), name(*c.writeTarget)));
        }
      }
      return;
    }
    ev.log.push_back(fmt::format("{} {}: no write target", name(*c.writeTarget),
                                 w.up ? "is in recovery (demoted)" : "is down"));
    c.writeTarget.reset();
    ev.writeTargetChanged = true;
  }
  // No write target: follow a primary that exists (promoted elsewhere, or by us).
  std::vector<size_t> primaries;
  for (size_t i = 0; i < c.members.size(); ++i) {
    const MemberState& m = c.members[i];
    if (usable(m) && m.probed && !m.inRecovery) primaries.push_back(i);
  }
  if (primaries.size() == 1) {
    c.writeTarget = primaries[0];
    c.promoting.reset();
    ev.writeTargetChanged = true;
    ev.log.push_back(fmt::format("{} is the write target", name(primaries[0])));
    return;
  }
  if (primaries.size() > 1) {
    std::string names;
    for (size_t i : primaries) names += (names.empty() ? "" : ", ") + name(i);
    ev.log.push_back(
        fmt::format("several members report they are primaries ({}): no write "
                    "target until an operator fences all but one",
                    names));
    return;
  }
  if (!settings.autoPromote || c.promoting) return;
  std::optional<size_t> best;
  for (size_t i = 0; i < c.members.size(); ++i) {
    const MemberState& m = c.members[i];
    if (!usable(m) || !m.probed || !m.inRecovery) continue;
    if (!best || m.walPosition > c.members[*best].walPosition) best = i;
  }
  if (!best) return;
  c.promoting = best;
  ev.promote = best;
  ev.log.push_back(fmt::format("promoting {} (the most advanced healthy standby)", name(*best)));
}

}  // namespace

ClusterState initialCluster(const std::vector<std::string>& names, size_t configuredPrimary) {
  ClusterState c;
  for (size_t i = 0; i < names.size(); ++i) {
    MemberState m;
    m.name = names[i];
    m.configuredPrimary = i == configuredPrimary;
    m.inRecovery = i != configuredPrimary;
    c.members.push_back(std::move(m));
  }
  if (configuredPrimary < names.size()) c.writeTarget = configuredPrimary;
  return c;
}

FailoverEvents onProbe(ClusterState& c, size_t index, bool ok, bool inRecovery,
                       uint64_t walPosition, const std::string& error,
                       const FailoverSettings& settings, TimePoint now) {
  FailoverEvents ev;
  if (index >= c.members.size()) return ev;
  MemberState& m = c.members[index];
  if (ok) {
    if (m.bannedAt && now - *m.bannedAt >= settings.replicaBanTime) {
      m.bannedAt.reset();
      ev.log.push_back(fmt::format("{} rejoins the read rotation: its ban is over and it is {}",
                                   m.name, m.up ? "healthy" : "up again"));
    } else if (!m.up) {
      ev.log.push_back(m.bannedAt ? fmt::format("{} is up again, still banned from reads for {}",
                                                m.name, text(banLeft(c, index, settings, now)))
                                  : fmt::format("{} is up again", m.name));
    }
    if (m.probed && m.inRecovery != inRecovery)
      ev.log.push_back(
          fmt::format("{} {}", m.name, inRecovery ? "is now a standby" : "is now a primary"));
    m.up = true;
    m.probed = true;
    m.failures = 0;
    m.inRecovery = inRecovery;
    m.walPosition = walPosition;
    m.lastError.clear();
  } else {
    m.lastError = error;
    if (++m.failures >= settings.failuresToDown && m.up) {
      m.up = false;
      ev.log.push_back(
          fmt::format("{} is down after {} failed health checks: {}", m.name, m.failures, error));
      if (c.writeTarget != index && settings.replicaBanTime.count() > 0) {
        m.bannedAt = now;
        ev.log.push_back(fmt::format("{} is banned from reads for {} (replica_ban_time)", m.name,
                                     text(settings.replicaBanTime)));
      }
    }
  }
  decide(c, ev, settings);
  return ev;
}

FailoverEvents onPromoteFailed(ClusterState& c, size_t index, const std::string& error) {
  FailoverEvents ev;
  if (c.promoting == index) c.promoting.reset();
  if (index < c.members.size())
    ev.log.push_back(fmt::format("promoting {} failed: {}", c.members[index].name, error));
  return ev;
}

FailoverEvents clearFence(ClusterState& c, size_t index, const FailoverSettings& settings) {
  FailoverEvents ev;
  if (index >= c.members.size() || !c.members[index].fenced) return ev;
  c.members[index].fenced = false;
  ev.log.push_back(fmt::format("{}: fence cleared by an operator", c.members[index].name));
  decide(c, ev, settings);
  return ev;
}

bool readable(const ClusterState& c, size_t index) {
  if (index >= c.members.size() || c.writeTarget == index) return false;
  const MemberState& m = c.members[index];
  return m.up && !m.fenced && !m.bannedAt && m.inRecovery;
}

uint64_t lagBytes(const ClusterState& c, size_t index) {
  if (index >= c.members.size() || !c.writeTarget || *c.writeTarget == index) return 0;
  const MemberState& m = c.members[index];
  uint64_t primary = c.members[*c.writeTarget].walPosition;
  return m.inRecovery && primary > m.walPosition ? primary - m.walPosition : 0;
}

std::chrono::milliseconds banLeft(const ClusterState& c, size_t index,
                                  const FailoverSettings& settings, TimePoint now) {
  using std::chrono::milliseconds;
  if (index >= c.members.size() || !c.members[index].bannedAt) return milliseconds(0);
  TimePoint end = *c.members[index].bannedAt + settings.replicaBanTime;
  if (now >= end) return milliseconds(0);
  return std::chrono::ceil<milliseconds>(end - now);
}

}  // namespace shardpool::pooler::health
