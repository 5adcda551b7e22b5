#include "pooler/pg/pg_engine.h"

#include "pooler/pg/client_conn.h"
#include "pooler/pg/server_conn.h"
#include "pooler/pg/shard_router.h"

namespace shardpool::pooler {

namespace {
class PgEngine final : public Engine {
 public:
  std::unique_ptr<ClientSession> newClient(Worker& worker, uint64_t id) override {
    return std::make_unique<ClientConn>(worker, id);
  }
  std::unique_ptr<ServerLink> newServer(Worker& worker, uint64_t id, Pool& pool) override {
    return std::make_unique<ServerConn>(worker, id, pool);
  }
  std::unique_ptr<WorkerLocal> newWorkerLocal(Worker& worker) override {
    return std::make_unique<ShardRouter>(worker);
  }
};
}  // namespace

std::unique_ptr<Engine> makePgEngine() { return std::make_unique<PgEngine>(); }

}  // namespace shardpool::pooler
