// MysqlClient and read_from (transaction pooling): a command that is one read-only SELECT by
// itself, on an unsharded database or on the shard its key picks, (router/mysql_statement.h: mysqlReadOnlySelect, nothing that pins the session, no
// transaction: none is open while the client has no server) runs on a replica that the health
// checks count as readable (up, not banned, not fenced), in turn; with read_from = "any" the
// primary takes its turn too. Anything else, and a read when no replica is readable or the one
// picked cannot be reached, runs on the primary (after a failover, the new one).
#include "pooler/mysql/mysql_client.h"

#include "pooler/mysql/statement_effects.h"
#include "pooler/protocol/mysql_commands.h"
#include "pooler/session/health_view.h"
#include "pooler/session/pool.h"
#include "pooler/session/runtime.h"
#include "router/mysql_statement.h"

namespace shardpool::pooler {

namespace my = protocol::mysql;

bool MysqlClient::replicaMayServe(my::Bytes payload) {
  if (pins_ != 0 || lockTables_ || holdNext_ != 0 || longData_ || transactionLost_ ||
      !deferredBegin_.empty())
    return false;
  std::string_view sql;
  auto command = static_cast<my::Command>(payload[0]);
  if (command == my::Command::Query) {
    sql = my::asText(payload.subspan(1));
  } else if (command == my::Command::StmtExecute) {
    auto id = my::statementIdOf(payload);
    auto it = id ? statements_.find(*id) : statements_.end();
    if (it == statements_.end()) return false;
    sql = it->second.sql;
  } else {
    return false;
  }
  // User variables, locks and the like bind the session to the server that ran them.
  if (scanStatementEffects(sql) != 0) return false;
  if (ShardRouter::Database* d = routedDatabase())
    return router::mysqlReadOnlySelect(
        ShardRouter::of(worker(), config::Protocol::MySql).analyze(*d, sql));
  static const router::TableRules kNoRules;
  return router::mysqlReadOnlySelect(router::analyzeMysql(sql, kNoRules));
}

Pool* MysqlClient::replicaPool(uint32_t shard) {
  auto cfg = worker().runtime().config();
  const config::Database* db = cfg->findDatabase(database_);
  if (!db) return nullptr;
  std::vector<config::Shard> shards = cfg->shardsOf(*db);
  if (shard >= shards.size() || shards[shard].replicas.empty()) return nullptr;
  const std::vector<config::Backend>& replicas = shards[shard].replicas;
  if (replicaPools_.size() != shards.size()) {
    replicaPools_.assign(shards.size(), {});
    readable_.assign(shards.size(), {});
    readVersion_ = UINT64_MAX;
  }
  HealthView* health = worker().runtime().health();
  uint64_t version = health ? health->readTargetsVersion() : 0;
  if (version != readVersion_) {
    for (auto& r : readable_) r.clear();  // asked again below, shard by shard
    readVersion_ = version;
  }
  std::vector<Pool*>& pools = replicaPools_[shard];
  std::vector<bool>& readable = readable_[shard];
  if (pools.size() != replicas.size()) pools.assign(replicas.size(), nullptr);
  if (readable.size() != replicas.size()) {
    readable.assign(replicas.size(), true);
    if (health) {
      std::vector<ReadTarget> targets = health->readTargets(database_, shard);
      if (!targets.empty()) {
        readable.assign(replicas.size(), false);
        for (const ReadTarget& t : targets)
          for (size_t k = 0; k < replicas.size(); ++k)
            if (!t.writeTarget && replicas[k].host == t.host && replicas[k].port == t.port)
              readable[k] = true;
      }
    }
  }
  // With "any" the primary is one more candidate (index replicas.size()).
  size_t candidates = replicas.size() + (readFrom_ == config::ReadFrom::Any ? 1 : 0);
  for (size_t i = 0; i < candidates; ++i) {
    size_t k = (nextRead_ + i) % candidates;
    if (k == replicas.size()) {
      nextRead_ = static_cast<uint32_t>(k + 1);
      return shardPool(shard);
    }
    if (!readable[k]) continue;
    nextRead_ = static_cast<uint32_t>(k + 1);
    if (!pools[k])
      pools[k] = &worker().runtime().pools().get(*cfg, *db, database_, user_, shard,
                                                 static_cast<uint32_t>(k + 1));
    return pools[k];
  }
  return nullptr;
}

void MysqlClient::choosePool(my::Bytes payload, uint32_t shard) {
  pool_ = shardPool(shard);
  if (!primaryPool_ || readFrom_ == config::ReadFrom::Primary) return;
  if (Pool* read = replicaMayServe(payload) ? replicaPool(shard) : nullptr) pool_ = read;
}

}  // namespace shardpool::pooler
