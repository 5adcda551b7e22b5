// MySQL as an engine of the session core: its client sessions (MysqlClient) and server links
// (MysqlServer), and what they share across workers: the SHA1 stage each pool's clients proved
// at login, for backend logins of users whose [users] password is mysql.user's hash (or who
// were looked up with auth_query), and the auth_query cache.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "pooler/auth/auth_cache.h"
#include "pooler/auth/mysql_auth.h"
#include "pooler/session/engine.h"

namespace shardpool::pooler {

class MysqlEngine final : public Engine {
 public:
  config::Protocol protocol() const override { return config::Protocol::MySql; }
  std::unique_ptr<ClientSession> newClient(Worker& worker, uint64_t id) override;
  std::unique_ptr<ServerLink> newServer(Worker& worker, uint64_t id, Pool& pool) override;
  std::unique_ptr<WorkerLocal> newWorkerLocal(Worker& worker) override;
  // Proven stages are learned again after a reload (a password may have changed).
  void reloaded() override;

  // The engine of `worker`'s process.
  static MysqlEngine& of(Worker& worker);
  // A client of `pool` proved `stage1` at login (thread-safe).
  void learnStage1(const Pool& pool, const auth::Sha1Digest& stage1);
  std::optional<auth::Sha1Digest> provenStage1(const Pool& pool);
  // auth_query answers of MySQL databases (client_lookup.cpp), shared by the workers.
  AuthCache& authCache() { return authCache_; }

 private:
  AuthCache authCache_;
  std::mutex mutex_;
  std::map<std::string, auth::Sha1Digest, std::less<>> stages_;  // by pool name
};

std::unique_ptr<Engine> makeMysqlEngine();

}  // namespace shardpool::pooler
