// MysqlClient's password lookup (auth_user / auth_query / auth_dbname on a MySQL database): a
// client whose user has no password in [users] gets mysql.user's hash of its password from the
// database, through the engine's cache (auth_cache.h) and, when that has no answer, one query
// on a connection of shardpool's own (side_query.h), logged in as auth_user. The hash (`*HEX`,
// mysql_native_password's) checks the client's scramble; the SHA1 stage the client proves with
// it then logs the pool in to the servers as that user. A user the lookup does not find (or
// whose hash is not mysql_native_password's) is refused as an unknown user is: as a wrong
// password.
#include <fmt/format.h>

#include "pooler/auth/mysql_auth.h"
#include "pooler/mysql/mysql_client.h"
#include "pooler/mysql/mysql_engine.h"
#include "pooler/mysql/side_query.h"
#include "pooler/mysql/statement_effects.h"
#include "pooler/net/log.h"
#include "pooler/session/pool.h"
#include "pooler/session/runtime.h"

namespace shardpool::pooler {

namespace my = protocol::mysql;

namespace {

// auth_query's answer: the second column (user, hash), or the only one; a hash that is not
// mysql_native_password's cannot check a scramble.
AuthSecret secretOf(const SideResult& r, const std::string& user) {
  AuthSecret out;
  if (!r.ok) {
    out.error = r.error;
    return out;
  }
  out.kind = AuthSecret::Kind::NoUser;
  if (!r.firstRow || r.firstRow->empty()) return out;
  const auto& row = *r.firstRow;
  const std::optional<std::string>& hash = row.size() >= 2 ? row[1] : row[0];
  if (!hash) return out;
  if (!hash->empty() && !auth::parseMysqlNativeStored(*hash)) {
    log::warn("", "auth_query: the password of \"{}\" is not a mysql_native_password hash "
                  "(\"*\" and 40 hex digits): it cannot log in through shardpool",
              user);
    return out;
  }
  out.kind = AuthSecret::Kind::Found;
  out.secret = *hash;
  return out;
}

}  // namespace

MysqlClientLogin::Status MysqlClient::startLookup(const config::Config& cfg,
                                                  const config::Database& db, my::Writer& out) {
  lookupKey_ = AuthCache::key(db.name, user_);
  AuthCache& cache = MysqlEngine::of(worker()).authCache();
  AuthCache::Found found = cache.find(lookupKey_, Clock::now(), {worker().index(), id()});
  if (found.status == AuthCache::Status::Hit) return verifyLookedUp(found.result, out);
  lookingUp_ = true;
  if (found.status == AuthCache::Status::Wait) {
    log::debug(who(), "waiting for the password lookup of another login");
    return MysqlClientLogin::Status::Continue;
  }
  const std::string& authUser = cfg.authUserFor(db);
  const config::User* lookupUser = cfg.findUser(authUser);
  const PoolSettings& s = loginPool_->settings();
  const std::string& authDb = cfg.authDbnameFor(db);
  MysqlServerLogin login(authUser, lookupUser ? lookupUser->password : std::string(),
                         authDb.empty() ? s.dbname : authDb);
  SideQuery q;
  q.host = s.hostAt(0);
  q.port = s.portAt(0);
  if (s.tlsMode != config::TlsMode::Disable) {
    login.useTls(true, s.tlsMode >= config::TlsMode::Require);
    q.tls = s.tls;
    q.verifyHost = s.tlsMode == config::TlsMode::VerifyFull;
  }
  const std::string& configured = cfg.authQueryFor(db);
  q.sql = authLookupStatement(
      configured.empty() || configured == config::kDefaultAuthQuery ? kMysqlAuthQuery
                                                                    : std::string_view(configured),
      user_);
  q.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.general.authQueryTimeout);
  log::debug(who(), "looking the password up with auth_query as \"{}\"", authUser);
  Runtime& runtime = worker().runtime();
  auto ttl = std::chrono::duration_cast<AuthCache::Clock::duration>(cfg.general.authQueryCacheTtl);
  runSideQuery(worker(), std::move(q), std::move(login),
               [&runtime, &cache, key = lookupKey_, user = user_, ttl](const SideResult& r) {
                 AuthSecret result = secretOf(r, user);
                 for (const AuthCache::Waiter& w : cache.finish(key, result, Clock::now(), ttl))
                   runtime.worker(w.worker).post([id = w.clientId, result](Worker& worker) {
                     if (auto* c = dynamic_cast<MysqlClient*>(worker.findClient(id)))
                       c->secretLookedUp(result);
                   });
               });
  return MysqlClientLogin::Status::Continue;
}

MysqlClientLogin::Status MysqlClient::verifyLookedUp(const AuthSecret& result, my::Writer& out) {
  if (result.kind == AuthSecret::Kind::Found) return login_->verify(result.secret, out);
  return login_->verify(std::string(kNoSuchUser), out);
}

void MysqlClient::secretLookedUp(const AuthSecret& result) {
  if (!login_ || !lookingUp_ || state_ == State::Closing) return;
  lookingUp_ = false;
  if (result.kind == AuthSecret::Kind::Failed) {
    log::warn(who(), "password lookup (auth_query) failed: {}", result.error);
    // Nothing about the user, nor the database's error, goes to the client.
    my::Writer w;
    loginStep(login_->refuse(w, 1045, "28000",
                             fmt::format("password lookup failed for user '{}'", user_)),
              w, 0);
    return;
  }
  my::Writer w;
  if (loginStep(verifyLookedUp(result, w), w, 0)) readInput();
}

}  // namespace shardpool::pooler
