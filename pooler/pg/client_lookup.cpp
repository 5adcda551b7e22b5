// ClientConn's password lookup (auth_user / auth_query / auth_dbname): a client whose user has
// no password in [users] gets its secret from the database, through the process-wide cache
// (auth_cache.h) and, when that has no answer, one lookup on this worker's loop
// (auth_query.h). A user the lookup does not find logs in as an unknown user does: the same
// challenge and the same failure as a wrong password.
#include <fmt/format.h>

#include "pooler/net/log.h"
#include "pooler/pg/auth_query.h"
#include "pooler/pg/client_conn.h"
#include "pooler/pg/pg_engine.h"
#include "pooler/session/runtime.h"

namespace shardpool::pooler {

namespace {

AuthCache& authCache(Worker& worker) {
  // The PostgreSQL engine (pg_engine.cpp) made this client.
  auto* engine = worker.runtime().engine(config::Protocol::Postgres);
  return static_cast<PgEngine&>(*engine).authCache();
}

// Where `db`'s lookups run: its (first shard's) server, or the hosts of its host list in turn,
// as auth_user, in auth_dbname or the database the client's pool logs in to.
AuthQueryTarget lookupTarget(const config::Config& cfg, const config::Database& db,
                             std::string_view clientDb, const std::string& user) {
  std::vector<config::Shard> shards = cfg.shardsOf(db);
  const config::Backend& primary = shards.front().primary;
  AuthQueryTarget t;
  if (!db.hosts.empty() && !db.sharded()) {
    for (size_t i = 0; i < db.hosts.size(); ++i)
      t.hosts.push_back({db.hosts[i], db.ports.empty() ? db.port : db.ports[i]});
  } else {
    t.hosts.push_back({primary.host, primary.port});
  }
  const std::string& authDb = cfg.authDbnameFor(db);
  t.dbname = !authDb.empty()             ? authDb
             : !primary.dbname.empty() ? primary.dbname
                                       : std::string(clientDb);
  t.user = cfg.authUserFor(db);
  if (const config::User* u = cfg.findUser(t.user)) t.password = u->password;
  config::TlsMode tls = cfg.serverTlsModeFor(db);
  t.sslmode = std::string(config::toString(tls));
  if (tls >= config::TlsMode::VerifyCa) t.sslrootcert = cfg.serverTlsCaFileFor(db);
  t.query = cfg.authQueryFor(db);
  t.lookedUp = user;
  t.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.general.authQueryTimeout);
  return t;
}

}  // namespace

bool ClientConn::needsLookup(const config::Config& cfg, const config::User* user) const {
  if (user != nullptr && !user->password.empty()) return false;
  // Only the password methods need the secret.
  config::AuthType method = loginMethod(cfg, user);
  if (method != config::AuthType::Password && method != config::AuthType::Md5 &&
      method != config::AuthType::ScramSha256)
    return false;
  if (database_ == "shardpool" || database_ == "pgbouncer") return false;
  const config::Database* db = cfg.findDatabase(database_);
  return db != nullptr && !cfg.authUserFor(*db).empty();
}

bool ClientConn::startLookup(const config::Config& cfg) {
  const config::Database& db = *cfg.findDatabase(database_);
  LoginState& login = this->login();
  login.lookupKey = AuthCache::key(db.name == "*" ? database_ : db.name, user_);
  AuthCache& cache = authCache(worker());
  AuthCache::Found found = cache.find(login.lookupKey, Clock::now(), {worker().index(), id()});
  if (found.status == AuthCache::Status::Hit) return authWithSecret(found.result);
  setState(State::Auth);
  login.lookingUp = true;
  if (found.status == AuthCache::Status::Wait) {
    log::debug(who(), "waiting for the password lookup of another login");
    return true;
  }
  log::debug(who(), "looking the password up with auth_query as \"{}\"", cfg.authUserFor(db));
  Runtime& runtime = worker().runtime();
  auto ttl = std::chrono::duration_cast<AuthCache::Clock::duration>(cfg.general.authQueryCacheTtl);
  runAuthQuery(worker().loop(), lookupTarget(cfg, db, database_, user_),
               [&runtime, &cache, key = login.lookupKey, ttl](AuthSecret result) {
                 for (const AuthCache::Waiter& w : cache.finish(key, result, Clock::now(), ttl))
                   runtime.worker(w.worker).post([id = w.clientId, result](Worker& worker) {
                     if (ClientSession* c = worker.findClient(id))
                       static_cast<ClientConn*>(c)->secretLookedUp(result);
                   });
               });
  return true;
}

void ClientConn::secretLookedUp(const AuthSecret& result) {
  if (!login_ || !login_->lookingUp || state_ != State::Auth) return;
  login_->lookingUp = false;
  if (result.kind == AuthSecret::Kind::Failed) {
    log::warn(who(), "password lookup (auth_query) failed: {}", result.error);
    // Nothing about the user, nor the database's error, goes to the client.
    fatal("08006", fmt::format("password lookup failed for user \"{}\"", user_),
          "auth_query failed");
    return;
  }
  if (authWithSecret(result)) handleStartupBytes();
}

bool ClientConn::authWithSecret(const AuthSecret& result) {
  std::unique_ptr<config::User>& lookedUp = login().lookedUp;
  lookedUp.reset();
  if (result.kind == AuthSecret::Kind::Found) {
    lookedUp = std::make_unique<config::User>();
    lookedUp->name = user_;
    lookedUp->password = result.secret;
  }
  return beginAuthWith(*worker().runtime().config(), lookedUp.get());
}

void ClientConn::forgetLookedUpSecret() {
  if (login_ && !login_->lookupKey.empty()) authCache(worker()).forget(login_->lookupKey);
}

}  // namespace shardpool::pooler
