#include "pooler/mysql/mysql_engine.h"

#include "pooler/sharding/shard_router.h"
#include "router/mysql_statement.h"

#include "pooler/mysql/mysql_client.h"
#include "pooler/mysql/mysql_server.h"
#include "pooler/session/pool.h"
#include "pooler/session/runtime.h"

namespace shardpool::pooler {

std::unique_ptr<ClientSession> MysqlEngine::newClient(Worker& worker, uint64_t id) {
  return std::make_unique<MysqlClient>(worker, id);
}

std::unique_ptr<ServerLink> MysqlEngine::newServer(Worker& worker, uint64_t id, Pool& pool) {
  return std::make_unique<MysqlServer>(worker, id, pool);
}

std::unique_ptr<WorkerLocal> MysqlEngine::newWorkerLocal(Worker& worker) {
  return std::make_unique<ShardRouter>(worker, &router::analyzeMysql);
}

void MysqlEngine::reloaded() {
  {
    std::lock_guard lock(mutex_);
    stages_.clear();
  }
  authCache_.clear();
}

MysqlEngine& MysqlEngine::of(Worker& worker) {
  return static_cast<MysqlEngine&>(*worker.runtime().engine(config::Protocol::MySql));
}

void MysqlEngine::learnStage1(const Pool& pool, const auth::Sha1Digest& stage1) {
  std::lock_guard lock(mutex_);
  stages_[pool.name()] = stage1;
}

std::optional<auth::Sha1Digest> MysqlEngine::provenStage1(const Pool& pool) {
  std::lock_guard lock(mutex_);
  auto it = stages_.find(pool.name());
  if (it == stages_.end()) return std::nullopt;
  return it->second;
}

std::unique_ptr<Engine> makeMysqlEngine() {
  return std::make_unique<MysqlEngine>();
}

}  // namespace shardpool::pooler
