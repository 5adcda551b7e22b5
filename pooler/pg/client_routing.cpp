// Sharded databases: a client's pools, one per shard and member, made on first use, and the
// member a read goes to under read_from (the routing pipeline is route_pipeline.cpp).
#include "pooler/pg/client_routing.h"
#include "pooler/session/health_view.h"
#include "pooler/session/runtime.h"
#include "pooler/sharding/shard_router.h"

namespace shardpool::pooler {

namespace pg = protocol::pg;

bool ClientConn::startRouting(const config::Database& db) {
  auto cfg = worker().runtime().config();
  if (!routedDatabase(*cfg, db)) return false;
  routing_ = std::make_unique<Routing>();
  for (const config::Shard& s : cfg->shardsOf(db))
    routing_->pools.emplace_back(s.replicas.size() + 1, nullptr);
  routing_->readFrom = db.readFrom;
  routing_->nextRead = static_cast<uint32_t>(id());
  return true;
}

Pool& ClientConn::shardPool(uint32_t shard, uint32_t member) {
  Routing& r = *routing_;
  if (shard >= r.pools.size()) shard = 0;
  if (member >= r.pools[shard].size()) member = 0;
  Pool*& slot = r.pools[shard][member];
  if (!slot) {
    auto cfg = worker().runtime().config();
    const config::Database* db = cfg->findDatabase(database_);
    slot = &worker().runtime().pools().get(*cfg, *db, database_, user_, shard, member);
    if (r.credential && !db->user && !slot->settings().password)
      slot->learnCredential(*r.credential);
  }
  return *slot;
}

uint32_t ClientConn::readMember(uint32_t shard) {
  Routing& r = *routing_;
  if (r.readFrom == config::ReadFrom::Primary || shard >= r.pools.size()) return 0;
  uint32_t members = static_cast<uint32_t>(r.pools[shard].size());
  if (members < 2) return 0;
  HealthView* fm = worker().runtime().health();
  if (fm && fm->readTargetsVersion() != r.readVersion) {
    r.readVersion = fm->readTargetsVersion();
    auto cfg = worker().runtime().config();
    const config::Database* db = cfg->findDatabase(database_);
    std::vector<config::Shard> shards = db ? cfg->shardsOf(*db) : std::vector<config::Shard>{};
    r.readable.assign(r.pools.size(), {});
    for (size_t i = 0; i < r.pools.size() && i < shards.size(); ++i) {
      std::vector<ReadTarget> targets = fm->readTargets(database_, i);
      r.readable[i].assign(r.pools[i].size(), targets.empty());
      for (size_t m = 0; m < r.pools[i].size() && m <= shards[i].replicas.size(); ++m) {
        const config::Backend& b = m == 0 ? shards[i].primary : shards[i].replicas[m - 1];
        for (const auto& t : targets)
          if (t.host == b.host && t.port == b.port) r.readable[i][m] = true;
      }
    }
  }
  auto readable = [&](uint32_t m) {
    return shard >= r.readable.size() || m >= r.readable[shard].size() || r.readable[shard][m];
  };
  // Candidates: the replicas, and the primary too with read_from = any. Least outstanding
  // (servers in use plus clients waiting) wins; ties go round the candidates.
  uint32_t first = r.readFrom == config::ReadFrom::Any ? 0 : 1;
  uint32_t count = members - first;
  uint32_t best = 0;
  uint64_t bestLoad = UINT64_MAX;
  ++r.nextRead;
  for (uint32_t k = 0; k < count; ++k) {
    uint32_t m = first + (r.nextRead + k) % count;
    if (m != 0 && !readable(m)) continue;
    Pool::Counts c = shardPool(shard, m).counts();
    uint64_t load = uint64_t(c.total - c.idle) + c.waiting;
    if (load < bestLoad) {
      bestLoad = load;
      best = m;
    }
  }
  return best;
}

}  // namespace shardpool::pooler
