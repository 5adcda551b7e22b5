#include "pooler/health/failover_manager.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "pooler/net/conninfo.h"
#include "pooler/net/log.h"
#include "pooler/session/pool.h"
#include "pooler/session/runtime.h"

namespace shardpool::pooler::health {

namespace {

constexpr size_t kMaxEvents = 200;

std::string address(const config::Backend& b) { return fmt::format("{}:{}", b.host, b.port); }

std::string probeKey(const std::string& db, const std::string& shard, const config::Backend& b) {
  return fmt::format("{}/{}/{}", db, shard, address(b));
}

}  // namespace

FailoverManager::FailoverManager(Runtime& runtime, uv_loop_t* loop)
    : runtime_(runtime), loop_(loop) {}

FailoverManager::~FailoverManager() { stop(); }

void FailoverManager::stop() {
  if (checker_) checker_->stop();
}

ProbeTarget FailoverManager::target(const Cluster& c, size_t member) const {
  const config::Backend& b = c.members[member];
  ProbeTarget t;
  t.key = probeKey(c.database, c.shardName, b);
  if (c.mysql) {
    t.mysql = *c.mysql;
    t.mysql->host = b.host;
    t.mysql->port = b.port;
    if (!b.dbname.empty()) t.mysql->dbname = b.dbname;
  } else {
    t.conninfo = fmt::format("host={} port={} {}", conninfoValue(b.host), b.port, c.conninfoBase);
  }
  return t;
}

void FailoverManager::configure(const config::Config& cfg) {
  const config::General& g = cfg.general;
  HealthChecker::Options options{g.healthCheckInterval, g.healthCheckTimeout};
  if (!checker_)
    checker_ = std::make_unique<HealthChecker>(
        loop_, options, [this](const std::string& key, const ProbeResult& r) { onResult(key, r); });
  checker_->setOptions(options);

  std::vector<ProbeTarget> targets;
  std::lock_guard lock(mutex_);
  settings_.failuresToDown = g.healthCheckFailures;
  settings_.autoPromote = g.autoPromote;
  settings_.replicaBanTime = g.replicaBanTime;
  const bool checks = g.healthCheckInterval.count() > 0;
  std::vector<Cluster> next;
  // Every database's shards are known (for read routing); those with standbys are health-checked
  // when checks are on and the probes have a user.
  for (const auto& [name, db] : cfg.databases) {
    if (name == "*") continue;
    std::vector<config::Shard> shards = cfg.shardsOf(db);
    for (size_t s = 0; s < shards.size(); ++s) {
      const config::Shard& shard = shards[s];
      Cluster c;
      c.database = name;
      c.shardName = shard.name;
      c.shardIndex = s;
      c.members.push_back(shard.primary);
      for (const auto& r : shard.replicas) c.members.push_back(r);
      std::optional<std::string> user = db.user;
      std::optional<std::string> password = db.password;
      if (!user && !g.healthCheckUser.empty()) {
        user = g.healthCheckUser;
        password = g.healthCheckPassword;
      }
      // Without replicas there is nothing to fail over to.
      c.checked = checks && !shard.replicas.empty() && user;
      if (checks && !shard.replicas.empty() && !user)
        record(fmt::format("database {}: no health checks (set user/password on the database, "
                           "or general.health_check_user)",
                           name));
      if (c.checked && db.protocol == config::Protocol::MySql) {
        MysqlEndpoint e;
        e.user = *user;
        e.password = password.value_or("");
        e.dbname = shard.primary.dbname.empty() ? name : shard.primary.dbname;
        e.tlsMode = cfg.serverTlsModeFor(db);
        if (e.tlsMode != config::TlsMode::Disable)
          e.tls = TlsContext::forConnect(e.tlsMode >= config::TlsMode::VerifyCa,
                                         cfg.serverTlsCaFileFor(db), g.serverTlsCertFile,
                                         g.serverTlsKeyFile, e.tlsError);
        c.mysql = std::move(e);
      } else if (c.checked) {
        c.conninfoBase = fmt::format(
            "dbname={} user={} password={} application_name=shardpool_health connect_timeout={}",
            conninfoValue(shard.primary.dbname.empty() ? name : shard.primary.dbname), conninfoValue(*user),
            conninfoValue(password.value_or("")),
            std::max<int64_t>(1, (g.healthCheckTimeout.count() + 999) / 1000));
      }
      std::vector<std::string> names;
      for (const auto& m : c.members) names.push_back(address(m));
      c.state = initialCluster(names, 0);
      // Keep what is known of a cluster that did not change; one no longer checked keeps only
      // its write target (where its pools write), its members count as configured.
      for (Cluster& old : clusters_) {
        if (old.database != c.database || old.shardName != c.shardName ||
            old.members.size() != c.members.size())
          continue;
        bool same = true;
        for (size_t i = 0; i < c.members.size(); ++i)
          same = same && address(old.members[i]) == address(c.members[i]);
        if (!same) continue;
        if (c.checked && old.checked)
          c.state = old.state;
        else
          c.state.writeTarget = old.state.writeTarget;
      }
      if (c.checked)
        for (size_t i = 0; i < c.members.size(); ++i)
          targets.push_back(target(c, i));
      next.push_back(std::move(c));
    }
  }
  clusters_ = std::move(next);
  bumpReadVersion();
  checker_->setTargets(targets);
  if (!targets.empty()) checker_->start();
}

void FailoverManager::onResult(const std::string& key, const ProbeResult& r) {
  std::lock_guard lock(mutex_);
  for (Cluster& c : clusters_) {
    if (!c.checked) continue;
    for (size_t i = 0; i < c.members.size(); ++i) {
      if (probeKey(c.database, c.shardName, c.members[i]) != key) continue;
      std::vector<ReadTarget> before = targetsOf(c);
      FailoverEvents ev =
          onProbe(c.state, i, r.ok, r.inRecovery, r.walPosition, r.error, settings_, Clock::now());
      apply(c, i, ev);
      if (targetsOf(c) != before) bumpReadVersion();
      // A worker that failed to connect held the database: a healthy write target lifts it.
      auto shard = static_cast<uint32_t>(c.shardIndex);
      if (r.ok && c.state.writeTarget == i && runtime_.pools().isHeld(c.database, shard)) {
        std::string db = c.database;
        config::Backend b = c.members[i];
        runtime_.worker(0).post([db, b, shard](Worker& w) {
          w.runtime().pools().setWriteTarget(w, db, b.host, b.port, shard);
        });
      }
      return;
    }
  }
}

void FailoverManager::apply(Cluster& c, size_t, const FailoverEvents& ev) {
  for (const auto& line : ev.log) {
    log::warn("", "failover: {}/{}: {}", c.database, c.shardName, line);
    record(fmt::format("{}/{}: {}", c.database, c.shardName, line));
  }
  if (ev.writeTargetChanged) {
    // Each shard fails over on its own: only its pools move or hold.
    std::string db = c.database;
    auto shard = static_cast<uint32_t>(c.shardIndex);
    if (c.state.writeTarget) {
      config::Backend b = c.members[*c.state.writeTarget];
      if (!c.state.members[*c.state.writeTarget].configuredPrimary ||
          runtime_.pools().isHeld(db, shard))
        failovers_.fetch_add(1, std::memory_order_relaxed);
      runtime_.worker(0).post([db, b, shard](Worker& w) {
        w.runtime().pools().setWriteTarget(w, db, b.host, b.port, shard);
      });
    } else {
      runtime_.pools().holdDatabase(db, true, nullptr, shard);
    }
  }
  if (ev.promote) {
    size_t m = *ev.promote;
    std::string db = c.database, shard = c.shardName;
    std::string key = probeKey(db, shard, c.members[m]);
    checker_->promote(target(c, m), c.mysql ? mysqlPromoteTimeout_ : promoteTimeout_,
                      [this, db, shard, m, key](std::string error) {
                        std::lock_guard lock(mutex_);
                        for (Cluster& cl : clusters_) {
                          if (cl.database != db || cl.shardName != shard) continue;
                          if (!error.empty()) apply(cl, m, onPromoteFailed(cl.state, m, error));
                        }
                        if (error.empty()) checker_->probeNow(key);
                      });
  }
}

void FailoverManager::record(std::string event) {
  auto now = std::chrono::system_clock::now();
  events_.push_back(fmt::format("{:%Y-%m-%d %H:%M:%S} {}",
                                std::chrono::time_point_cast<std::chrono::seconds>(now), event));
  while (events_.size() > kMaxEvents) events_.pop_front();
}

void FailoverManager::suspect(const std::string& db) {
  std::vector<std::string> keys;
  {
    std::lock_guard lock(mutex_);
    for (Cluster& c : clusters_)
      if (c.database == db && c.checked)
        for (const auto& m : c.members) keys.push_back(probeKey(c.database, c.shardName, m));
  }
  runtime_.postControl([this, keys] {
    for (const auto& k : keys) checker_->probeNow(k);
  });
}

bool FailoverManager::covers(const std::string& db) {
  std::lock_guard lock(mutex_);
  for (const Cluster& c : clusters_)
    if (c.database == db && c.checked) return true;
  return false;
}

std::vector<BackendView> FailoverManager::backends() {
  std::lock_guard lock(mutex_);
  std::vector<BackendView> out;
  const TimePoint now = Clock::now();
  for (const Cluster& c : clusters_) {
    if (!c.checked) continue;
    for (size_t i = 0; i < c.members.size(); ++i) {
      const MemberState& m = c.state.members[i];
      BackendView v;
      v.database = c.database;
      v.shard = c.shardName;
      v.address = m.name;
      v.configuredPrimary = m.configuredPrimary;
      v.up = m.up;
      v.probed = m.probed;
      v.inRecovery = m.inRecovery;
      v.fenced = m.fenced;
      v.writeTarget = c.state.writeTarget == i;
      v.walPosition = m.walPosition;
      v.lagBytes = lagBytes(c.state, i);
      v.failures = m.failures;
      v.banned = m.bannedAt.has_value();
      v.banLeftMs = banLeft(c.state, i, settings_, now).count();
      v.lastError = m.lastError;
      out.push_back(std::move(v));
    }
  }
  return out;
}

std::vector<ReadTarget> FailoverManager::targetsOf(const Cluster& c) const {
  std::vector<ReadTarget> out;
  auto add = [&](size_t i, bool writeTarget) {
    const config::Backend& b = c.members[i];
    out.push_back({b.host, b.port, writeTarget, writeTarget ? 0 : lagBytes(c.state, i)});
  };
  if (c.state.writeTarget) add(*c.state.writeTarget, true);
  for (size_t i = 0; i < c.members.size(); ++i)
    if (readable(c.state, i)) add(i, false);
  return out;
}

std::vector<ReadTarget> FailoverManager::readTargets(std::string_view db, size_t shardIndex) {
  std::lock_guard lock(mutex_);
  for (const Cluster& c : clusters_)
    if (c.database == db && c.shardIndex == shardIndex) return targetsOf(c);
  return {};
}

std::vector<std::string> FailoverManager::events() {
  std::lock_guard lock(mutex_);
  return {events_.begin(), events_.end()};
}

bool FailoverManager::unfence(const std::string& addr, std::string& error) {
  std::lock_guard lock(mutex_);
  bool found = false;
  for (Cluster& c : clusters_) {
    if (!c.checked) continue;
    for (size_t i = 0; i < c.members.size(); ++i) {
      if (c.state.members[i].name != addr) continue;
      found = true;
      apply(c, i, clearFence(c.state, i, settings_));
    }
  }
  if (found) bumpReadVersion();
  if (!found) error = fmt::format("no backend {} is health-checked", addr);
  return found;
}

}  // namespace shardpool::pooler::health
