#include "pooler/shard_router.h"

#include "pooler/proxy.h"
#include "pooler/worker.h"

namespace shardpool::pooler {

void ShardRouter::refresh() {
  auto now = worker_.now();
  if (cfg_ && now - checked_ < std::chrono::milliseconds(100)) return;
  checked_ = now;
  auto cfg = worker_.proxy().config();
  if (cfg == cfg_) return;
  cfg_ = std::move(cfg);
  dbs_.clear();  // rebuilt on demand from the new configuration
}

ShardRouter::Database* ShardRouter::find(std::string_view name) {
  refresh();
  std::string key(name);
  if (auto it = dbs_.find(key); it != dbs_.end()) return it->second.get();
  const config::Database* db = cfg_->findDatabase(name);
  if (!db || db->shards.size() < 2) return nullptr;
  auto d = std::make_unique<Database>();
  d->cfg = cfg_;
  d->db = db;
  d->map = router::buildShardMap(*db);
  d->rulesVersion = ++versions_;
  Database* raw = d.get();
  dbs_.emplace(std::move(key), std::move(d));
  return raw;
}

}  // namespace shardpool::pooler
