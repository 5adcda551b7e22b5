// A wire protocol as the core sees it: the factory of its client sessions (one per accepted
// connection) and of its server links (one per server a pool opens). The core never names a
// protocol's types; the process installs one engine per protocol it serves (pooler/pg/,
// pooler/mysql/): a listener's engine makes its clients, a pool's (PoolSettings::protocol) its
// servers.
#pragma once

#include <cstdint>
#include <memory>

#include "config/config.h"

namespace shardpool::pooler {

class ClientSession;
class ServerLink;
class Pool;
class Worker;

// Per-worker state an engine keeps (caches used only on that worker's thread).
class WorkerLocal {
 public:
  virtual ~WorkerLocal() = default;
};

class Engine {
 public:
  virtual ~Engine() = default;
  // The protocol it speaks: the databases (config::Database::protocol) whose pools it serves.
  virtual config::Protocol protocol() const = 0;
  virtual std::unique_ptr<ClientSession> newClient(Worker& worker, uint64_t id) = 0;
  virtual std::unique_ptr<ServerLink> newServer(Worker& worker, uint64_t id, Pool& pool) = 0;
  // The engine's state for `worker`, created with the worker (null: none).
  virtual std::unique_ptr<WorkerLocal> newWorkerLocal(Worker& worker) = 0;
  // A reload (RELOAD, SIGHUP) was applied: drop what was learned from outside the
  // configuration that a reload should renew (thread-safe).
  virtual void reloaded() {}
};

}  // namespace shardpool::pooler
