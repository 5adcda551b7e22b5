// The registry of pools: one per (client database, backend user, shard, member), their settings
// from the configuration, the caps they share, and what failover and the admin console change
// for a whole database (write targets, holds, PAUSE).
#include <algorithm>

#include "pooler/net/log.h"
#include "pooler/net/tls.h"
#include "pooler/session/pool.h"
#include "pooler/session/runtime.h"
#include "pooler/session/worker.h"

namespace shardpool::pooler {

ConnectionLimit* PoolRegistry::limit(std::map<std::string, std::unique_ptr<ConnectionLimit>>& m,
                                     const std::string& key, uint32_t max) {
  auto& slot = m[key];
  if (!slot) slot = std::make_unique<ConnectionLimit>(max);
  return slot.get();
}

PoolSettings PoolRegistry::settingsFor(const config::Config& cfg, const config::Database& db,
                                       std::string_view clientDb, const std::string& user,
                                       uint32_t shard, uint32_t member) {
  const config::User* u = cfg.findUser(user);
  PoolSettings s;
  s.protocol = db.protocol;
  s.host = db.host;
  s.port = db.port;
  s.dbname = db.dbname.empty() ? std::string(clientDb) : db.dbname;
  if (db.sharded() || member > 0) {
    std::vector<config::Shard> shards = cfg.shardsOf(db);
    const config::Shard& sh = shards.at(std::min<size_t>(shard, shards.size() - 1));
    const config::Backend& b =
        member > 0 && member <= sh.replicas.size() ? sh.replicas[member - 1] : sh.primary;
    s.host = b.host;
    s.port = b.port;
    if (!b.dbname.empty()) s.dbname = b.dbname;
  }
  if (!db.hosts.empty() && !db.sharded() && member == 0) {
    for (size_t i = 0; i < db.hosts.size(); ++i)
      s.hostList.push_back({db.hosts[i], db.ports.empty() ? db.port : db.ports[i]});
    s.balance = db.loadBalanceHosts;
  }
  s.user = user;
  if (db.user) {
    s.password = db.password;
  } else if (u && !u->password.empty() && u->password.rfind("SCRAM-SHA-256$", 0) != 0) {
    s.password = u->password;
  }
  s.size = cfg.poolSizeFor(db, u);
  // A min_pool_size above the pool size is capped, as PgBouncer caps it (the configuration
  // loads with a warning naming this pool).
  s.minSize = std::min(cfg.minPoolSizeFor(db), s.size);
  s.reserveSize = cfg.reservePoolSizeFor(db);
  s.reserveTimeout = cfg.general.reservePoolTimeout;
  s.mode = cfg.poolModeFor(db, u);
  s.resetQuery = cfg.general.serverResetQuery;
  s.connectQuery = cfg.connectQueryFor(db);
  s.maxPrepared = cfg.general.maxPreparedStatements;
  s.serverIdleTimeout = cfg.general.serverIdleTimeout;
  s.serverLifetime = cfg.general.serverLifetime;
  s.serverConnectTimeout = cfg.general.serverConnectTimeout;
  s.tlsMode = cfg.serverTlsModeFor(db);
  if (s.tlsMode != config::TlsMode::Disable) {
    s.tlsCaFile = cfg.serverTlsCaFileFor(db);
    s.tls = TlsContext::forConnect(s.tlsMode >= config::TlsMode::VerifyCa, s.tlsCaFile,
                                   cfg.general.serverTlsCertFile, cfg.general.serverTlsKeyFile,
                                   s.tlsError);
    if (!s.tls)
      log::error(user + "@" + std::string(clientDb), "server TLS unavailable: {}", s.tlsError);
  }
  return s;
}

std::string PoolRegistry::dbLimitKey(const config::Database& db, std::string_view clientDb) const {
  return db.name == "*" ? std::string(clientDb) : db.name;
}

Pool& PoolRegistry::get(const config::Config& cfg, const config::Database& db,
                        std::string_view clientDb, std::string_view clientUser, uint32_t shard,
                        uint32_t member) {
  std::lock_guard lock(mutex_);
  std::string user = db.user ? *db.user : std::string(clientUser);
  Key key{std::string(clientDb), user, shard, member};
  auto it = pools_.find(key);
  if (it != pools_.end()) {
    if (!it->second->retired()) return *it->second;
    retired_.push_back(std::move(it->second));  // a removed database came back
    pools_.erase(it);
  }
  PoolSettings s = settingsFor(cfg, db, clientDb, user, shard, member);
  ShardKey target{std::string(clientDb), shard};
  if (auto t = writeTargets_.find(target); member == 0 && t != writeTargets_.end()) {
    s.pointAt(t->second.first, t->second.second);
  }
  ConnectionLimit* dbLimit =
      limit(dbLimits_, dbLimitKey(db, clientDb), cfg.maxDbConnectionsFor(db));
  ConnectionLimit* userLimit =
      limit(userLimits_, user, cfg.maxUserConnectionsFor(cfg.findUser(user)));
  std::string shardName = db.sharded() && shard < db.shards.size() ? cfg.shardsOf(db)[shard].name
                                                                    : std::string();
  auto pool = std::make_unique<Pool>(*this, std::get<0>(key), user, shard, member,
                                     std::move(shardName), std::move(s), workers_, dbLimit,
                                     userLimit);
  for (const auto& p : pausedDbs_)
    if (p.empty() || p == std::get<0>(key)) pool->setPaused(true);
  if (member == 0 && heldDbs_.count(target)) pool->setHeld(true);
  Pool& ref = *pool;
  pools_.emplace(std::move(key), std::move(pool));
  return ref;
}

std::vector<Pool*> PoolRegistry::all() {
  std::lock_guard lock(mutex_);
  std::vector<Pool*> out;
  for (auto& [k, p] : pools_) out.push_back(p.get());
  for (auto& p : retired_) out.push_back(p.get());
  return out;
}

std::vector<Pool*> PoolRegistry::forDatabase(std::string_view db) {
  std::vector<Pool*> out;
  for (Pool* p : all())
    if (db.empty() || p->database() == db) out.push_back(p);
  return out;
}

void PoolRegistry::applyConfig(const config::Config& cfg) {
  std::lock_guard lock(mutex_);
  for (auto it = pools_.begin(); it != pools_.end();) {
    Pool& pool = *it->second;
    const config::Database* db = cfg.findDatabase(pool.database());
    if (db == nullptr || (db->user && *db->user != pool.user())) {
      log::info(pool.name(), "removed from the configuration: draining");
      pool.retire();
      retired_.push_back(std::move(it->second));
      it = pools_.erase(it);
      continue;
    }
    std::vector<config::Shard> shards = cfg.shardsOf(*db);
    if (pool.shard() >= shards.size() ||
        pool.member() > shards[pool.shard()].replicas.size()) {
      log::info(pool.name(), "its shard was removed from the configuration: draining");
      pool.retire();
      retired_.push_back(std::move(it->second));
      it = pools_.erase(it);
      continue;
    }
    PoolSettings s =
        settingsFor(cfg, *db, pool.database(), pool.user(), pool.shard(), pool.member());
    if (auto t = writeTargets_.find({pool.database(), pool.shard()});
        pool.member() == 0 && t != writeTargets_.end()) {
      s.pointAt(t->second.first, t->second.second);
    }
    bool replace = !s.sameBackend(pool.settings());
    if (replace) log::info(pool.name(), "backend settings changed: replacing its servers");
    pool.updateSettings(std::move(s), replace);
    if (auto l = dbLimits_.find(dbLimitKey(*db, pool.database())); l != dbLimits_.end())
      l->second->setMax(cfg.maxDbConnectionsFor(*db));
    if (auto l = userLimits_.find(pool.user()); l != userLimits_.end())
      l->second->setMax(cfg.maxUserConnectionsFor(cfg.findUser(pool.user())));
    ++it;
  }
}

void PoolRegistry::setWriteTarget(Worker& worker, const std::string& db, const std::string& host,
                                  uint16_t port, uint32_t shard) {
  std::vector<Pool*> affected;
  {
    // The held flags change under the registry lock, with heldDbs_, so that a concurrent
    // holdDatabase() cannot leave a pool held that the registry believes free.
    std::lock_guard lock(mutex_);
    writeTargets_[{db, shard}] = {host, port};
    heldDbs_.erase({db, shard});
    for (auto& [k, p] : pools_) {
      if (std::get<0>(k) != db || std::get<2>(k) != shard || std::get<3>(k) != 0) continue;
      PoolSettings s = p->settings();
      if (s.host != host || s.port != port || !s.hostList.empty()) {
        s.pointAt(host, port);
        p->updateSettings(std::move(s), true);
      }
      p->setHeld(false);
      affected.push_back(p.get());
    }
  }
  for (Pool* p : affected) p->unhold(worker);
}

void PoolRegistry::holdDatabase(const std::string& db, bool held, Worker* worker,
                                uint32_t shard) {
  std::vector<Pool*> affected;
  {
    std::lock_guard lock(mutex_);  // see setWriteTarget
    if (held)
      heldDbs_.insert({db, shard});
    else
      heldDbs_.erase({db, shard});
    for (auto& [k, p] : pools_) {
      if (std::get<0>(k) != db || std::get<2>(k) != shard || std::get<3>(k) != 0) continue;
      p->setHeld(held);
      affected.push_back(p.get());
    }
  }
  if (!held && worker)
    for (Pool* p : affected) p->unhold(*worker);
}

bool PoolRegistry::isHeld(std::string_view db, uint32_t shard) {
  std::lock_guard lock(mutex_);
  return heldDbs_.count({std::string(db), shard}) != 0;
}

void PoolRegistry::setPaused(std::string_view db, bool paused) {
  std::lock_guard lock(mutex_);
  if (paused) {
    if (std::find(pausedDbs_.begin(), pausedDbs_.end(), db) == pausedDbs_.end())
      pausedDbs_.emplace_back(db);
  } else if (db.empty()) {
    pausedDbs_.clear();
  } else {
    std::erase(pausedDbs_, std::string(db));
  }
  for (auto& [k, p] : pools_)
    if (db.empty() || std::get<0>(k) == db) p->setPaused(paused);
}

bool PoolRegistry::isPaused(std::string_view db) {
  std::lock_guard lock(mutex_);
  for (const auto& p : pausedDbs_)
    if (p.empty() || p == db) return true;
  return false;
}

void PoolRegistry::makeRoomFor(Worker& worker, Pool& pool) {
  for (Pool* other : all()) {
    if (!other->sharesLimitWith(pool)) continue;
    Pool::Counts c = other->counts();
    if (c.idle == 0) continue;
    // The idle server lives on some worker; ask each to close one until one does.
    for (unsigned i = 0; i < worker.runtime().workerCount(); ++i)
      worker.runtime().worker(i).post([other](Worker& w) { other->closeOneIdle(w); });
    return;
  }
}

void PoolRegistry::slotFreed(Worker& worker, Pool& pool) {
  for (Pool* other : all())
    if (other->sharesLimitWith(pool) && other->hasWaiters()) other->retry(worker);
}

}  // namespace shardpool::pooler
