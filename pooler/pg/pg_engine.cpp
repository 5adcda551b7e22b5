#include "pooler/pg/pg_engine.h"

#include "pooler/pg/client_conn.h"
#include "pooler/pg/server_conn.h"
#include "pooler/sharding/shard_router.h"
#include "router/pg_statement.h"

namespace shardpool::pooler {

std::unique_ptr<ClientSession> PgEngine::newClient(Worker& worker, uint64_t id) {
  return std::make_unique<ClientConn>(worker, id);
}

std::unique_ptr<ServerLink> PgEngine::newServer(Worker& worker, uint64_t id, Pool& pool) {
  return std::make_unique<ServerConn>(worker, id, pool);
}

std::unique_ptr<WorkerLocal> PgEngine::newWorkerLocal(Worker& worker) {
  return std::make_unique<ShardRouter>(worker, &router::analyze);
}

std::unique_ptr<Engine> makePgEngine() { return std::make_unique<PgEngine>(); }

}  // namespace shardpool::pooler
