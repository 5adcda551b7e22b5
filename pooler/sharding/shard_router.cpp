#include "pooler/sharding/shard_router.h"

#include "pooler/session/runtime.h"
#include "pooler/session/worker.h"

namespace shardpool::pooler {

ShardRouter& ShardRouter::of(Worker& worker, config::Protocol protocol) {
  return static_cast<ShardRouter&>(*worker.local(protocol));
}

bool routedDatabase(const config::Config& cfg, const config::Database& db) {
  if (db.shards.size() > 1) return true;
  if (db.readFrom == config::ReadFrom::Primary) return false;
  if (cfg.poolModeFor(db, nullptr) == config::PoolMode::Session) return false;
  for (const config::Shard& s : cfg.shardsOf(db))
    if (!s.replicas.empty()) return true;
  return false;
}

void ShardRouter::refresh() {
  // A new directory map: take it now (one atomic load per statement when nothing changed).
  uint64_t dv = worker_.runtime().directories().version();
  if (dv != directoryVersion_) {
    directoryVersion_ = dv;
    for (auto& [name, d] : dbs_) {
      if (d->map.function != config::ShardingFunction::Directory) continue;
      d->directory = worker_.runtime().directories().get(name);
      d->map.directory = d->directory.get();
    }
  }
  auto now = worker_.now();
  if (cfg_ && now - checked_ < std::chrono::milliseconds(100)) return;
  checked_ = now;
  auto cfg = worker_.runtime().config();
  if (cfg == cfg_) return;
  cfg_ = std::move(cfg);
  dbs_.clear();  // rebuilt on demand from the new configuration
}

ShardRouter::Database* ShardRouter::find(std::string_view name) {
  refresh();
  std::string key(name);
  if (auto it = dbs_.find(key); it != dbs_.end()) return it->second.get();
  const config::Database* db = cfg_->findDatabase(name);
  if (!db || !routedDatabase(*cfg_, *db)) return nullptr;
  auto d = std::make_unique<Database>(analyzer_);
  d->cfg = cfg_;
  d->db = db;
  d->map = router::buildShardMap(*db);
  if (d->map.function == config::ShardingFunction::Directory) {
    d->directory = worker_.runtime().directories().get(name);
    d->map.directory = d->directory.get();
  }
  d->rulesVersion = ++versions_;
  Database* raw = d.get();
  dbs_.emplace(std::move(key), std::move(d));
  return raw;
}

}  // namespace shardpool::pooler
