// PostgreSQL as an engine of the session core: its client sessions and server links, and what
// they share across workers (the auth_query cache).
#pragma once

#include <memory>

#include "pooler/auth/auth_cache.h"
#include "pooler/session/engine.h"

namespace shardpool::pooler {

class PgEngine final : public Engine {
 public:
  config::Protocol protocol() const override { return config::Protocol::Postgres; }
  std::unique_ptr<ClientSession> newClient(Worker& worker, uint64_t id) override;
  std::unique_ptr<ServerLink> newServer(Worker& worker, uint64_t id, Pool& pool) override;
  std::unique_ptr<WorkerLocal> newWorkerLocal(Worker& worker) override;
  // Passwords looked up with auth_query are looked up again after a reload.
  void reloaded() override { authCache_.clear(); }
  AuthCache& authCache() { return authCache_; }

 private:
  AuthCache authCache_;
};

std::unique_ptr<Engine> makePgEngine();

}  // namespace shardpool::pooler
