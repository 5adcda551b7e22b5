#include "pooler/pool.h"

#include <algorithm>

#include "pooler/proxy.h"
#include "pooler/server_conn.h"
#include "pooler/worker.h"

namespace shardpool::pooler {

Pool::Pool(std::string clientDb, std::string clientUser, PoolSettings settings, unsigned workers)
    : clientDb_(std::move(clientDb)),
      clientUser_(std::move(clientUser)),
      name_(clientUser_ + "@" + clientDb_),
      settings_(std::move(settings)),
      idle_(workers) {}

Pool::Acquired Pool::acquire(Worker& worker, uint64_t clientId) {
  std::unique_lock lock(mutex_);
  auto& mine = idle_[worker.index()];
  if (!mine.empty() && waiters_.empty()) {
    ServerConn* s = mine.back();
    mine.pop_back();
    --idleTotal_;
    return {Grant::Idle, s};
  }
  if (total_ < settings_.size && waiters_.empty()) {
    ++total_;
    return {Grant::Connect, nullptr};
  }
  waiters_.push_back({worker.index(), clientId});
  int donor = -1;
  if (idleTotal_ > 0) {
    for (size_t i = 0; i < idle_.size(); ++i)
      if (!idle_[i].empty()) donor = static_cast<int>(i);
  }
  lock.unlock();
  if (donor >= 0) worker.proxy().worker(unsigned(donor)).post([this](Worker& w) { stealFor(w); });
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
  --total_;
  if (waiters_.empty() || total_ >= settings_.size) return;
  Waiter w = waiters_.front();
  waiters_.pop_front();
  ++total_;
  lock.unlock();
  if (w.worker == worker.index())
    worker.connectFor(*this, w.clientId);
  else
    worker.proxy().worker(w.worker).post(
        [this, id = w.clientId](Worker& target) { target.connectFor(*this, id); });
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

std::vector<ServerConn*> Pool::idleOn(unsigned workerIndex) {
  std::lock_guard lock(mutex_);
  return idle_[workerIndex];
}

Pool::Counts Pool::counts() {
  std::lock_guard lock(mutex_);
  return {total_, idleTotal_, static_cast<uint32_t>(waiters_.size())};
}

Pool& PoolRegistry::get(const config::Config& cfg, const config::Database& db,
                        std::string_view clientDb, std::string_view user) {
  std::lock_guard lock(mutex_);
  auto key = std::make_pair(std::string(clientDb), std::string(user));
  auto it = pools_.find(key);
  if (it != pools_.end()) return *it->second;

  const config::User* u = cfg.findUser(user);
  PoolSettings s;
  s.host = db.host;
  s.port = db.port;
  s.dbname = db.dbname.empty() ? std::string(clientDb) : db.dbname;
  if (db.name == "*" && db.dbname.empty()) s.dbname = std::string(clientDb);
  if (db.user) {
    s.user = *db.user;
    s.password = db.password;
  } else {
    s.user = std::string(user);
    if (u && !u->password.empty() && u->password.rfind("SCRAM-SHA-256$", 0) != 0)
      s.password = u->password;
  }
  s.size = cfg.poolSizeFor(db, u);
  s.mode = cfg.poolModeFor(db, u);
  s.resetQuery = cfg.general.serverResetQuery;
  s.serverIdleTimeout = cfg.general.serverIdleTimeout;
  s.serverLifetime = cfg.general.serverLifetime;
  s.serverConnectTimeout = cfg.general.serverConnectTimeout;
  auto pool = std::make_unique<Pool>(key.first, key.second, std::move(s), workers_);
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

}  // namespace shardpool::pooler
