#include "pooler/session/pool.h"
#include "pooler/session/statement_cache.h"

#include <algorithm>

#include "pooler/session/client_session.h"
#include "pooler/net/log.h"
#include "pooler/session/runtime.h"
#include "pooler/session/server_link.h"
#include "pooler/session/worker.h"

namespace shardpool::pooler {

bool ConnectionLimit::tryTake() {
  uint32_t cur = used_.load(std::memory_order_relaxed);
  while (max_ == 0 || cur < max_) {
    if (used_.compare_exchange_weak(cur, cur + 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

PoolTotals& PoolTotals::operator+=(const PoolTotals& o) {
  xacts += o.xacts;
  queries += o.queries;
  received += o.received;
  sent += o.sent;
  xactUs += o.xactUs;
  queryUs += o.queryUs;
  waitUs += o.waitUs;
  assignments += o.assignments;
  serverConnects += o.serverConnects;
  serverConnectFailures += o.serverConnectFailures;
  return *this;
}

PoolTotals PoolCounters::read() const {
  auto get = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  PoolTotals t;
  t.xacts = get(xacts);
  t.queries = get(queries);
  t.received = get(received);
  t.sent = get(sent);
  t.xactUs = get(xactUs);
  t.queryUs = get(queryUs);
  t.waitUs = get(waitUs);
  t.assignments = get(assignments);
  t.serverConnects = get(serverConnects);
  t.serverConnectFailures = get(serverConnectFailures);
  return t;
}

bool PoolSettings::sameBackend(const PoolSettings& o) const {
  return protocol == o.protocol && host == o.host && port == o.port && dbname == o.dbname && user == o.user &&
         password == o.password && tlsMode == o.tlsMode && tlsError == o.tlsError &&
         tlsCaFile == o.tlsCaFile && (tls == nullptr) == (o.tls == nullptr) &&
         connectQuery == o.connectQuery && hostList == o.hostList;
}

Pool::Pool(PoolRegistry& registry, std::string clientDb, std::string user, uint32_t shard,
           uint32_t member, std::string shardName, PoolSettings settings, unsigned workers,
           ConnectionLimit* dbLimit, ConnectionLimit* userLimit)
    : registry_(registry),
      clientDb_(std::move(clientDb)),
      user_(std::move(user)),
      shard_(shard),
      member_(member),
      shardName_(std::move(shardName)),
      name_(user_ + "@" + clientDb_ + (shardName_.empty() ? "" : "/" + shardName_) +
            (member == 0 ? "" : "/replica" + std::to_string(member))),
      dbLimit_(dbLimit),
      userLimit_(userLimit),
      counters_(std::make_unique<PoolCounters[]>(workers)),
      workerCount_(workers),
      idle_(workers) {
  settingsVersions_.push_back(std::make_unique<const PoolSettings>(std::move(settings)));
  settings_.store(settingsVersions_.back().get(), std::memory_order_release);
}

PoolTotals Pool::totals() const {
  PoolTotals t;
  for (unsigned i = 0; i < workerCount_; ++i) t += counters_[i].read();
  return t;
}

size_t Pool::firstHost() {
  if (settings().balance == config::LoadBalanceHosts::Disable)
    return goodHost_.load(std::memory_order_relaxed);
  return nextHost_.fetch_add(1, std::memory_order_relaxed);
}

void Pool::updateSettings(PoolSettings s, bool replaceServers) {
  {
    std::lock_guard lock(mutex_);
    settingsVersions_.push_back(std::make_unique<const PoolSettings>(std::move(s)));
    settings_.store(settingsVersions_.back().get(), std::memory_order_release);
  }
  if (replaceServers) reconnect();
}

void Pool::reconnect() {
  generation_.fetch_add(1, std::memory_order_relaxed);
}

uint32_t Pool::serverOpened() {
  std::lock_guard lock(mutex_);
  uint32_t g = generation();
  ++openByGeneration_[g];
  return g;
}

uint32_t Pool::staleServers() {
  std::lock_guard lock(mutex_);
  uint32_t current = generation(), n = 0;
  for (auto [g, count] : openByGeneration_)
    if (g != current) n += count;
  return n;
}

void Pool::setPaused(bool paused) {
  paused_.store(paused, std::memory_order_relaxed);
}

void Pool::resume(Worker& worker) {
  setPaused(false);
  serveWaiters(worker);
}

void Pool::unhold(Worker& worker) { serveWaiters(worker); }

void Pool::serveWaiters(Worker& worker) {
  if (paused()) return;
  std::unique_lock lock(mutex_);
  std::vector<Waiter> served;
  while (!waiters_.empty() && reserveSlot(settings().size)) served.push_back(popWaiter());
  std::vector<unsigned> donors;
  if (!waiters_.empty()) donors = idleWorkers();
  lock.unlock();
  for (const Waiter& w : served) connectForWaiter(worker, w);
  for (unsigned d : donors) worker.runtime().worker(d).post([this](Worker& w) { stealFor(w); });
}

void Pool::retire() {
  retired_.store(true, std::memory_order_relaxed);
  reconnect();
}

bool Pool::overSize() {
  const PoolSettings& s = settings();
  return total_.load(std::memory_order_relaxed) > s.size + s.reserveSize;
}

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
    from.runtime().worker(w.worker).post(
        [this, id = w.clientId](Worker& target) { target.connectFor(*this, id); });
}

Pool::Acquired Pool::acquire(Worker& worker, uint64_t clientId, uint64_t flavor,
                             uint64_t preferred) {
  IdleList& mine = idle_[worker.index()];
  // The steady path: nobody waits and this worker has an idle server; no lock. A waiter that
  // queues meanwhile on another worker is served by the next release (see release()).
  if (!paused() && waiting_.load() == 0)
    if (ServerLink* s = unparkFlavor(mine, flavor, preferred)) return {Grant::Idle, s};
  std::unique_lock lock(mutex_);
  if (!paused() && waiters_.empty()) {
    if (ServerLink* s = unparkFlavor(mine, flavor, preferred)) return {Grant::Idle, s};
    if (reserveSlot(settings().size)) return {Grant::Connect, nullptr};
    // Full: one of another flavor, which the engine replaces.
    if (!mine.servers.empty()) return {Grant::Idle, unpark(mine)};
  }
  pushWaiter({worker.index(), clientId, worker.now()});
  if (paused()) return {Grant::Queued, nullptr};
  std::vector<unsigned> donors = idleWorkers();
  bool capped = capped_ && donors.empty();
  lock.unlock();
  // Idle servers of other workers go to the waiters, oldest first (stealFor on their owner).
  for (unsigned d : donors) worker.runtime().worker(d).post([this](Worker& w) { stealFor(w); });
  if (capped) registry_.makeRoomFor(worker, *this);
  return {Grant::Queued, nullptr};
}

void Pool::pushWaiter(const Waiter& w) {
  waiters_.push_back(w);
  waiting_.store(static_cast<uint32_t>(waiters_.size()));
}

Pool::Waiter Pool::popWaiter() {
  Waiter w = waiters_.front();
  waiters_.pop_front();
  waiting_.store(static_cast<uint32_t>(waiters_.size()));
  return w;
}

std::vector<unsigned> Pool::idleWorkers() const {
  std::vector<unsigned> out;
  for (unsigned i = 0; i < idle_.size(); ++i)
    if (idle_[i].count.load() > 0) out.push_back(i);
  return out;
}

ServerLink* Pool::unpark(IdleList& list) {
  ServerLink* s = list.servers.back();
  list.servers.pop_back();
  list.count.store(static_cast<uint32_t>(list.servers.size()));
  s->parked_ = false;
  return s;
}

ServerLink* Pool::unparkFlavor(IdleList& list, uint64_t flavor, uint64_t preferred) {
  if (list.servers.empty()) return nullptr;
  auto takeAt = [&](size_t i) {
    ServerLink* s = list.servers[i];
    list.servers.erase(list.servers.begin() + static_cast<std::ptrdiff_t>(i));
    list.count.store(static_cast<uint32_t>(list.servers.size()));
    s->parked_ = false;
    return s;
  };
  // The client's last server, when it is parked here (most often on top: nobody took it).
  if (preferred != 0 && list.servers.back()->id() != preferred) {
    for (size_t i = list.servers.size() - 1; i-- > 0;) {
      ServerLink* s = list.servers[i];
      if (s->id() == preferred && (flavor == 0 || s->flavor() == flavor)) return takeAt(i);
    }
  }
  if (flavor == 0 || list.servers.back()->flavor() == flavor) return unpark(list);
  for (size_t i = list.servers.size() - 1; i-- > 0;)
    if (list.servers[i]->flavor() == flavor) return takeAt(i);
  return nullptr;
}

void Pool::park(IdleList& list, ServerLink* server) {
  list.servers.push_back(server);
  server->parked_ = true;
  list.count.store(static_cast<uint32_t>(list.servers.size()));
}

bool Pool::cancelWait(unsigned workerIndex, uint64_t clientId) {
  std::lock_guard lock(mutex_);
  auto it = std::find_if(waiters_.begin(), waiters_.end(), [&](const Waiter& w) {
    return w.worker == workerIndex && w.clientId == clientId;
  });
  if (it == waiters_.end()) return false;
  waiters_.erase(it);
  waiting_.store(static_cast<uint32_t>(waiters_.size()));
  return true;
}

namespace {
// Gives `server` (owned by `from`) to a waiting client, moving it between workers if needed.
void dispatch(Worker& from, ServerLink* server, unsigned toWorker, uint64_t clientId) {
  if (toWorker == from.index()) {
    from.giveServer(server, clientId);
    return;
  }
  std::unique_ptr<ServerLink> owned = from.releaseServer(server);
  int fd = owned->detachFd();
  Worker& to = from.runtime().worker(toWorker);
  owned->rebind(to);
  ServerLink* raw = owned.release();
  to.post([raw, fd, clientId](Worker& w) {
    ServerLink* s = w.adoptServer(std::unique_ptr<ServerLink>(raw));
    if (fd < 0 || s->openFd(fd) != 0) {
      s->fail("hand-over between workers failed");
      if (ClientSession* c = w.findClient(clientId)) c->serverWithdrawn();
      return;
    }
    s->startReading();
    w.giveServer(s, clientId);
  });
}
}  // namespace

void Pool::release(Worker& worker, ServerLink* server) {
  IdleList& mine = idle_[worker.index()];
  if (waiting_.load() == 0 || paused()) {
    // Nobody waits: parked without a lock. A client of another worker may have queued between
    // the check and the park, seeing no idle server: the count is published before waiting_ is
    // read again (both sequentially consistent, as acquire() publishes waiting_ before reading
    // the counts), so one of the two always sees the other.
    park(mine, server);
    if (waiting_.load() > 0 && !paused()) stealFor(worker);
    return;
  }
  std::unique_lock lock(mutex_);
  if (waiters_.empty() || paused()) {
    lock.unlock();
    park(mine, server);
    return;
  }
  Waiter w = popWaiterFor(worker.index());
  lock.unlock();
  dispatch(worker, server, w.worker, w.clientId);
}

Pool::Waiter Pool::popWaiterFor(unsigned worker) {
  if (waiters_.front().worker != worker &&
      PoolClock::now() - waiters_.front().since < kLocalFirst) {
    for (auto it = waiters_.begin() + 1; it != waiters_.end(); ++it) {
      if (it->worker != worker) continue;
      Waiter w = *it;
      waiters_.erase(it);
      waiting_.store(static_cast<uint32_t>(waiters_.size()));
      return w;
    }
  }
  return popWaiter();
}

void Pool::stealFor(Worker& worker) {
  // Every idle server of this worker goes to a waiter, as long as both last: the least
  // recently parked first, so that the one a client of this worker just left (and is likely
  // to ask for again: acquire's `preferred`) stays here.
  IdleList& mine = idle_[worker.index()];
  for (;;) {
    if (mine.servers.empty()) return;
    std::unique_lock lock(mutex_);
    if (waiters_.empty() || paused()) return;
    ServerLink* s = mine.servers.front();
    mine.servers.erase(mine.servers.begin());
    mine.count.store(static_cast<uint32_t>(mine.servers.size()));
    s->parked_ = false;
    Waiter w = popWaiter();
    lock.unlock();
    dispatch(worker, s, w.worker, w.clientId);
  }
}

void Pool::serverGone(Worker& worker, uint32_t generation) {
  std::unique_lock lock(mutex_);
  freeSlot();
  if (auto it = openByGeneration_.find(generation); it != openByGeneration_.end())
    if (--it->second == 0) openByGeneration_.erase(it);
  std::optional<Waiter> next;
  if (!waiters_.empty() && !paused() && reserveSlot(settings().size)) next = popWaiter();
  lock.unlock();
  if (next) connectForWaiter(worker, *next);
  if (dbLimit_->max() > 0 || userLimit_->max() > 0) registry_.slotFreed(worker, *this);
}

void Pool::retry(Worker& worker) {
  std::unique_lock lock(mutex_);
  if (waiters_.empty() || paused() || !reserveSlot(settings().size)) return;
  Waiter w = popWaiter();
  lock.unlock();
  connectForWaiter(worker, w);
}

void Pool::maintain(Worker& worker, PoolClock::time_point now) {
  if (paused() || retired()) return;
  std::unique_lock lock(mutex_);
  const PoolSettings& cur = settings();
  uint32_t warm = 0;
  while (total_ < cur.minSize && reserveSlot(cur.minSize)) ++warm;
  std::vector<Waiter> served;
  if (!waiters_.empty() && cur.reserveSize > 0 && cur.reserveTimeout.count() > 0 &&
      now - waiters_.front().since >= cur.reserveTimeout &&
      reserveSlot(cur.size + cur.reserveSize)) {
    served.push_back(popWaiter());
    log::info(
        name_, "reserve pool: a client waited {} ms; opening server {} of {}+{}",
        std::chrono::duration_cast<std::chrono::milliseconds>(now - served.back().since).count(),
        total_.load(), cur.size, cur.reserveSize);
  }
  while (!waiters_.empty() && reserveSlot(cur.size)) served.push_back(popWaiter());
  bool blocked = capped_ && !waiters_.empty();
  lock.unlock();
  for (uint32_t i = 0; i < warm; ++i) worker.connectFor(*this, 0);
  for (const Waiter& w : served) connectForWaiter(worker, w);
  if (blocked) registry_.makeRoomFor(worker, *this);
}

bool Pool::closeOneIdle(Worker& worker) {
  IdleList& mine = idle_[worker.index()];
  if (mine.servers.empty()) return false;
  // The least recently used; closing it unparks it (ServerLink::setState).
  mine.servers.front()->close(
      "making room for another pool (max_db_connections / max_user_connections)");
  return true;
}

bool Pool::aboveMinimum() {
  return total_.load(std::memory_order_relaxed) > settings().minSize;
}

bool Pool::hasWaiters() { return waiting_.load() > 0; }

bool Pool::sharesLimitWith(const Pool& other) const {
  return &other != this && ((dbLimit_ == other.dbLimit_ && dbLimit_->max() > 0) ||
                            (userLimit_ == other.userLimit_ && userLimit_->max() > 0));
}

void Pool::unpark(Worker& worker, ServerLink* server) {
  IdleList& mine = idle_[worker.index()];
  auto it = std::find(mine.servers.begin(), mine.servers.end(), server);
  if (it == mine.servers.end()) return;
  mine.servers.erase(it);
  mine.count.store(static_cast<uint32_t>(mine.servers.size()));
  server->parked_ = false;
}

Pool::Counts Pool::counts() {
  uint32_t idle = 0;
  for (const IdleList& l : idle_) idle += l.count.load(std::memory_order_relaxed);
  std::lock_guard lock(mutex_);
  return {total_.load(), idle, static_cast<uint32_t>(waiters_.size()),
          waiters_.empty() ? PoolClock::time_point{} : waiters_.front().since};
}

void Pool::noteLoginParams(const SettingsList& params) {
  std::lock_guard lock(loginMutex_);
  if (loginParams_ && *loginParams_ == params) return;
  if (loginParams_) log::info(name_, "a server reported different login parameters; using them");
  loginParams_ = std::make_shared<const SettingsList>(params);
}

std::shared_ptr<const SettingsList> Pool::loginParams() const {
  std::lock_guard lock(loginMutex_);
  return loginParams_;
}

namespace {
bool sameCredential(const auth::LoginCredential& a, const auth::LoginCredential& b) {
  if (a.password != b.password || a.scram.has_value() != b.scram.has_value()) return false;
  return !a.scram || (a.scram->clientKey == b.scram->clientKey &&
                      a.scram->serverKey == b.scram->serverKey && a.scram->salt == b.scram->salt &&
                      a.scram->iterations == b.scram->iterations);
}
}  // namespace

void Pool::learnCredential(auth::LoginCredential credential) {
  std::lock_guard lock(loginMutex_);
  if (credential_ && sameCredential(*credential_, credential)) return;
  credential_ = std::make_shared<const auth::LoginCredential>(std::move(credential));
}

std::shared_ptr<const auth::LoginCredential> Pool::learnedCredential() const {
  std::lock_guard lock(loginMutex_);
  return credential_;
}

void Pool::learnStartupValue(const std::string& name, const std::string& raw,
                             std::string accepted) {
  std::lock_guard lock(loginMutex_);
  if (acceptedStartup_.size() >= kMaxAcceptedStartup) return;  // distinct values are few
  acceptedStartup_[{name, raw}] = std::move(accepted);
}

void Pool::noteValidStatement(const std::string& serverName) {
  std::lock_guard lock(loginMutex_);
  if (validStatements_.size() < kMaxValidStatements) validStatements_.insert(serverName);
}

std::shared_ptr<SettingsList> Pool::internSettings(const SettingsList& list) {
  std::lock_guard lock(loginMutex_);
  for (const auto& p : profiles_)
    if (*p == list) return p;
  auto p = std::make_shared<SettingsList>(list);
  if (profiles_.size() < kMaxProfiles) profiles_.push_back(p);
  return p;
}

void Pool::noteStaleStatement(const std::string& serverName, uint64_t sequence) {
  std::lock_guard lock(loginMutex_);
  validStatements_.erase(serverName);
  if (staleStatements_.size() < kMaxValidStatements) staleStatements_[serverName] = sequence;
}

bool Pool::staleSince(const std::string& serverName, uint64_t preparedAt) const {
  std::lock_guard lock(loginMutex_);
  auto it = staleStatements_.find(serverName);
  return it != staleStatements_.end() && preparedAt < it->second;
}

void Pool::noteSchemaChange() {
  std::lock_guard lock(loginMutex_);
  schemaChangedAt_.store(StatementCache::nextSequence(), std::memory_order_relaxed);
  validStatements_.clear();
}

bool Pool::validStatement(const std::string& serverName) const {
  std::lock_guard lock(loginMutex_);
  return validStatements_.count(serverName) != 0;
}

std::optional<std::string> Pool::acceptedStartupValue(const std::string& name,
                                                      const std::string& raw) const {
  std::lock_guard lock(loginMutex_);
  auto it = acceptedStartup_.find({name, raw});
  if (it == acceptedStartup_.end()) return std::nullopt;
  return it->second;
}

}  // namespace shardpool::pooler
