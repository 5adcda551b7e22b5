#include "pooler/pool.h"

#include <algorithm>

#include "pooler/log.h"
#include "pooler/proxy.h"
#include "pooler/server_conn.h"
#include "pooler/tls.h"
#include "pooler/worker.h"

namespace shardpool::pooler {

bool ConnectionLimit::tryTake() {
  uint32_t cur = used_.load(std::memory_order_relaxed);
  while (max_ == 0 || cur < max_) {
    if (used_.compare_exchange_weak(cur, cur + 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

Pool::Pool(PoolRegistry& registry, std::string clientDb, std::string user, PoolSettings settings,
           unsigned workers, ConnectionLimit* dbLimit, ConnectionLimit* userLimit)
    : registry_(registry),
      clientDb_(std::move(clientDb)),
      user_(std::move(user)),
      name_(user_ + "@" + clientDb_),
      settings_(std::move(settings)),
      dbLimit_(dbLimit),
      userLimit_(userLimit),
      idle_(workers) {}

bool Pool::reserveSlot(uint32_t limit) {
  if (total_ >= limit) return false;
  if (dbLimit_ && !dbLimit_->tryTake()) {
    capped_ = true;
    return false;
  }
  if (userLimit_ && !userLimit_->tryTake()) {
    if (dbLimit_) dbLimit_->give();
    capped_ = true;
    return false;
  }
  capped_ = false;
  ++total_;
  return true;
}

void Pool::freeSlot() {
  --total_;
  if (dbLimit_) dbLimit_->give();
  if (userLimit_) userLimit_->give();
}

void Pool::connectForWaiter(Worker& from, const Waiter& w) {
  if (w.worker == from.index())
    from.connectFor(*this, w.clientId);
  else
    from.proxy().worker(w.worker).post(
        [this, id = w.clientId](Worker& target) { target.connectFor(*this, id); });
}

Pool::Acquired Pool::acquire(Worker& worker, uint64_t clientId) {
  std::unique_lock lock(mutex_);
  auto& mine = idle_[worker.index()];
  if (!mine.empty() && waiters_.empty()) {
    ServerConn* s = mine.back();
    mine.pop_back();
    --idleTotal_;
    return {Grant::Idle, s};
  }
  if (waiters_.empty() && reserveSlot(settings_.size)) return {Grant::Connect, nullptr};
  waiters_.push_back({worker.index(), clientId, worker.now()});
  int donor = -1;
  if (idleTotal_ > 0) {
    for (size_t i = 0; i < idle_.size(); ++i)
      if (!idle_[i].empty()) donor = static_cast<int>(i);
  }
  bool capped = capped_ && idleTotal_ == 0;
  lock.unlock();
  if (donor >= 0) worker.proxy().worker(unsigned(donor)).post([this](Worker& w) { stealFor(w); });
  if (capped) registry_.makeRoomFor(worker, *this);
  return {Grant::Queued, nullptr};
}

bool Pool::cancelWait(unsigned workerIndex, uint64_t clientId) {
  std::lock_guard lock(mutex_);
  auto it = std::find_if(waiters_.begin(), waiters_.end(), [&](const Waiter& w) {
    return w.worker == workerIndex && w.clientId == clientId;
  });
  if (it == waiters_.end()) return false;
  waiters_.erase(it);
  return true;
}

namespace {
// Gives `server` (owned by `from`) to a waiting client, moving it between workers if needed.
void dispatch(Worker& from, ServerConn* server, unsigned toWorker, uint64_t clientId) {
  if (toWorker == from.index()) {
    from.giveServer(server, clientId);
    return;
  }
  std::unique_ptr<ServerConn> owned = from.releaseServer(server);
  int fd = owned->detachFd();
  Worker& to = from.proxy().worker(toWorker);
  owned->rebind(to);
  ServerConn* raw = owned.release();
  to.post([raw, fd, clientId](Worker& w) {
    ServerConn* s = w.adoptServer(std::unique_ptr<ServerConn>(raw));
    if (fd < 0 || s->openFd(fd) != 0) {
      s->fail("hand-over between workers failed");
      return;
    }
    s->startReading();
    w.giveServer(s, clientId);
  });
}
}  // namespace

void Pool::release(Worker& worker, ServerConn* server) {
  std::unique_lock lock(mutex_);
  if (!waiters_.empty()) {
    Waiter w = waiters_.front();
    waiters_.pop_front();
    lock.unlock();
    dispatch(worker, server, w.worker, w.clientId);
    return;
  }
  idle_[worker.index()].push_back(server);
  ++idleTotal_;
}

void Pool::stealFor(Worker& worker) {
  std::unique_lock lock(mutex_);
  auto& mine = idle_[worker.index()];
  if (mine.empty() || waiters_.empty()) return;
  ServerConn* s = mine.back();
  mine.pop_back();
  --idleTotal_;
  Waiter w = waiters_.front();
  waiters_.pop_front();
  lock.unlock();
  dispatch(worker, s, w.worker, w.clientId);
}

void Pool::serverGone(Worker& worker) {
  std::unique_lock lock(mutex_);
  freeSlot();
  std::optional<Waiter> next;
  if (!waiters_.empty() && reserveSlot(settings_.size)) {
    next = waiters_.front();
    waiters_.pop_front();
  }
  lock.unlock();
  if (next) connectForWaiter(worker, *next);
  if (dbLimit_ || userLimit_) registry_.slotFreed(worker, *this);
}

void Pool::retry(Worker& worker) {
  std::unique_lock lock(mutex_);
  if (waiters_.empty() || !reserveSlot(settings_.size)) return;
  Waiter w = waiters_.front();
  waiters_.pop_front();
  lock.unlock();
  connectForWaiter(worker, w);
}

void Pool::maintain(Worker& worker, PoolClock::time_point now) {
  std::unique_lock lock(mutex_);
  uint32_t warm = 0;
  while (total_ < settings_.minSize && reserveSlot(settings_.minSize)) ++warm;
  std::vector<Waiter> served;
  if (!waiters_.empty() && settings_.reserveSize > 0 && settings_.reserveTimeout.count() > 0 &&
      now - waiters_.front().since >= settings_.reserveTimeout &&
      reserveSlot(settings_.size + settings_.reserveSize)) {
    served.push_back(waiters_.front());
    waiters_.pop_front();
    log::info(name_, "reserve pool: a client waited {} ms; opening server {} of {}+{}",
              std::chrono::duration_cast<std::chrono::milliseconds>(now - served.back().since)
                  .count(),
              total_, settings_.size, settings_.reserveSize);
  }
  while (!waiters_.empty() && reserveSlot(settings_.size)) {
    served.push_back(waiters_.front());
    waiters_.pop_front();
  }
  bool blocked = capped_ && !waiters_.empty();
  lock.unlock();
  for (uint32_t i = 0; i < warm; ++i) worker.connectFor(*this, 0);
  for (const Waiter& w : served) connectForWaiter(worker, w);
  if (blocked) registry_.makeRoomFor(worker, *this);
}

bool Pool::closeOneIdle(Worker& worker) {
  std::unique_lock lock(mutex_);
  auto& mine = idle_[worker.index()];
  if (mine.empty()) return false;
  ServerConn* s = mine.front();  // the least recently used
  mine.erase(mine.begin());
  --idleTotal_;
  lock.unlock();
  s->close("making room for another pool (max_db_connections / max_user_connections)");
  return true;
}

bool Pool::aboveMinimum() {
  std::lock_guard lock(mutex_);
  return total_ > settings_.minSize;
}

bool Pool::hasWaiters() {
  std::lock_guard lock(mutex_);
  return !waiters_.empty();
}

bool Pool::sharesLimitWith(const Pool& other) const {
  return &other != this && ((dbLimit_ && dbLimit_ == other.dbLimit_) ||
                             (userLimit_ && userLimit_ == other.userLimit_));
}

bool Pool::takeIdle(Worker& worker, ServerConn* server) {
  std::lock_guard lock(mutex_);
  auto& mine = idle_[worker.index()];
  auto it = std::find(mine.begin(), mine.end(), server);
  if (it == mine.end()) return false;
  mine.erase(it);
  --idleTotal_;
  return true;
}

Pool::Counts Pool::counts() {
  std::lock_guard lock(mutex_);
  return {total_, idleTotal_, static_cast<uint32_t>(waiters_.size())};
}

ConnectionLimit* PoolRegistry::limit(std::map<std::string, std::unique_ptr<ConnectionLimit>>& m,
                                    const std::string& key, uint32_t max) {
  if (max == 0) return nullptr;
  auto& slot = m[key];
  if (!slot) slot = std::make_unique<ConnectionLimit>(max);
  return slot.get();
}

namespace {
std::string name(const std::pair<std::string, std::string>& key) {
  return key.second + "@" + key.first;
}
}  // namespace

Pool& PoolRegistry::get(const config::Config& cfg, const config::Database& db,
                        std::string_view clientDb, std::string_view clientUser) {
  std::lock_guard lock(mutex_);
  std::string user = db.user ? *db.user : std::string(clientUser);
  auto key = std::make_pair(std::string(clientDb), user);
  auto it = pools_.find(key);
  if (it != pools_.end()) return *it->second;

  const config::User* u = cfg.findUser(user);
  PoolSettings s;
  s.host = db.host;
  s.port = db.port;
  s.dbname = db.dbname.empty() ? std::string(clientDb) : db.dbname;
  s.user = user;
  if (db.user) {
    s.password = db.password;
  } else if (u && !u->password.empty() && u->password.rfind("SCRAM-SHA-256$", 0) != 0) {
    s.password = u->password;
  }
  s.size = cfg.poolSizeFor(db, u);
  s.minSize = cfg.minPoolSizeFor(db);
  s.reserveSize = cfg.reservePoolSizeFor(db);
  s.reserveTimeout = cfg.general.reservePoolTimeout;
  s.mode = cfg.poolModeFor(db, u);
  s.resetQuery = cfg.general.serverResetQuery;
  s.maxPrepared = cfg.general.maxPreparedStatements;
  s.serverIdleTimeout = cfg.general.serverIdleTimeout;
  s.serverLifetime = cfg.general.serverLifetime;
  s.serverConnectTimeout = cfg.general.serverConnectTimeout;
  s.tlsMode = cfg.serverTlsModeFor(db);
  if (s.tlsMode != config::TlsMode::Disable) {
    s.tls = TlsContext::forConnect(s.tlsMode >= config::TlsMode::VerifyCa,
                                   cfg.serverTlsCaFileFor(db), cfg.general.serverTlsCertFile,
                                   cfg.general.serverTlsKeyFile, s.tlsError);
    if (!s.tls) log::error(name(key), "server TLS unavailable: {}", s.tlsError);
  }
  ConnectionLimit* dbLimit = limit(dbLimits_, db.name == "*" ? s.dbname : db.name,
                                   cfg.maxDbConnectionsFor(db));
  ConnectionLimit* userLimit = limit(userLimits_, user, cfg.maxUserConnectionsFor(u));
  auto pool = std::make_unique<Pool>(*this, key.first, key.second, std::move(s), workers_,
                                     dbLimit, userLimit);
  Pool& ref = *pool;
  pools_.emplace(std::move(key), std::move(pool));
  return ref;
}

std::vector<Pool*> PoolRegistry::all() {
  std::lock_guard lock(mutex_);
  std::vector<Pool*> out;
  for (auto& [k, p] : pools_) out.push_back(p.get());
  return out;
}

void PoolRegistry::makeRoomFor(Worker& worker, Pool& pool) {
  for (Pool* other : all()) {
    if (!other->sharesLimitWith(pool)) continue;
    Pool::Counts c = other->counts();
    if (c.idle == 0) continue;
    // The idle server lives on some worker; ask each to close one until one does.
    for (unsigned i = 0; i < worker.proxy().workerCount(); ++i)
      worker.proxy().worker(i).post([other](Worker& w) { other->closeOneIdle(w); });
    return;
  }
}

void PoolRegistry::slotFreed(Worker& worker, Pool& pool) {
  for (Pool* other : all())
    if (other->sharesLimitWith(pool) && other->hasWaiters()) other->retry(worker);
}

}  // namespace shardpool::pooler
