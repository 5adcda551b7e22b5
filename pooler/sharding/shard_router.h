// A worker's view of the routed databases of one protocol: each one's router::ShardMap for the
// running configuration, and a cache of statement analyses per database (with that protocol's
// SQL analyzer), so the data path parses each distinct statement once per worker. An engine's
// state per worker (Engine::newWorkerLocal); used only on its thread, no locks except a
// configuration refresh at most every 100 ms.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "config/config.h"
#include "router/statement_facts.h"
#include "router/directory.h"
#include "router/route.h"
#include "pooler/session/engine.h"

namespace shardpool::pooler {

class Worker;

// Whether clients of `db` are routed statement by statement: several shards, or replicas to
// send reads to (read_from) in a transaction-pooled database.
bool routedDatabase(const config::Config& cfg, const config::Database& db);

class ShardRouter final : public WorkerLocal {
 public:
  ShardRouter(Worker& worker, router::StatementCache::Analyzer analyzer)
      : worker_(worker), analyzer_(analyzer) {}
  // The router of `worker` for `protocol`, whose engine made it (newWorkerLocal).
  static ShardRouter& of(Worker& worker, config::Protocol protocol);

  // The routing state of sharded database `db` (one with more than one shard) under the
  // running configuration; null when `db` is no longer sharded or no longer exists. Valid until
  // the next call on this worker.
  struct Database {
    explicit Database(router::StatementCache::Analyzer analyzer) : statements(4096, analyzer) {}
    std::shared_ptr<const config::Config> cfg;  // keeps `db` alive
    const config::Database* db = nullptr;
    router::ShardMap map;
    std::shared_ptr<const router::DirectoryMap> directory;  // directory sharding: the map used
    router::StatementCache statements;
    uint64_t rulesVersion = 0;
  };
  Database* find(std::string_view db);

  // The facts of `sql` for `d`'s tables (cached per database).
  const router::StatementFacts& analyze(Database& d, std::string_view sql) {
    return d.statements.get(sql, d.map.tables, d.rulesVersion);
  }

 private:
  void refresh();

  Worker& worker_;
  router::StatementCache::Analyzer analyzer_;
  std::shared_ptr<const config::Config> cfg_;
  std::chrono::steady_clock::time_point checked_{};
  uint64_t directoryVersion_ = 0;  // of the runtime's DirectoryRegistry when maps were taken
  uint64_t versions_ = 0;
  std::unordered_map<std::string, std::unique_ptr<Database>> dbs_;
};

}  // namespace shardpool::pooler
