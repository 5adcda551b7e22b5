// A pool of server connections for one (database, user) pair, shared by all workers. Counts and
// the FIFO of waiting clients are global (under one mutex), so pool_size holds exactly across
// threads; idle servers stay on the worker that owns their socket and are handed over to another
// worker's waiting client when needed. Caps shared between pools (max_db_connections,
// max_user_connections) are counted in ConnectionLimit objects owned by the registry.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "config/config.h"
#include "pooler/auth/auth_crypto.h"
#include "pooler/session/settings_list.h"

namespace shardpool::pooler {

class Worker;
class ServerLink;
class PoolRegistry;
class TlsContext;

using PoolClock = std::chrono::steady_clock;

// A cap on server connections shared by several pools; max 0 means unlimited. A reload may
// change the cap; connections above a lowered cap close as they are released.
class ConnectionLimit {
 public:
  explicit ConnectionLimit(uint32_t max) : max_(max) {}
  bool tryTake();
  void give() { used_.fetch_sub(1, std::memory_order_relaxed); }
  uint32_t max() const { return max_.load(std::memory_order_relaxed); }
  void setMax(uint32_t max) { max_.store(max, std::memory_order_relaxed); }
  uint32_t used() const { return used_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint32_t> max_;
  std::atomic<uint32_t> used_{0};
};

// Traffic counters of one pool for SHOW STATS and /metrics. Each worker writes only its own
// block (a plain load and store, no locked instruction, no shared cache line); readers sum them.
struct PoolTotals {
  uint64_t xacts = 0, queries = 0;   // transactions (ReadyForQuery 'I') and queries (any)
  uint64_t received = 0, sent = 0;   // bytes from clients / to clients
  uint64_t xactUs = 0, queryUs = 0;  // time spent in them, microseconds
  uint64_t waitUs = 0,
           assignments = 0;  // time clients waited for a server; servers given to clients
  uint64_t serverConnects = 0, serverConnectFailures = 0;
  PoolTotals& operator+=(const PoolTotals& o);
};

class alignas(64) PoolCounters {
 public:
  void add(std::atomic<uint64_t>& c, uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  PoolTotals read() const;
  std::atomic<uint64_t> xacts{0}, queries{0}, received{0}, sent{0}, xactUs{0}, queryUs{0},
      waitUs{0}, assignments{0}, serverConnects{0}, serverConnectFailures{0};
};

// What a pool needs to open and manage server connections. A reload publishes a new copy; the
// ones it replaces stay alive (they are small and reloads are rare), so a reference taken on the
// data path never dangles.
struct PoolSettings {
  // The protocol of its database: which engine opens its servers, which clients may use it.
  config::Protocol protocol = config::Protocol::Postgres;
  std::string host;
  uint16_t port = 5432;
  // A database's host list (host:port is its first entry); empty for a single host. A new
  // server tries them from Pool::firstHost() on, skipping those it cannot reach.
  struct Endpoint {
    std::string host;
    uint16_t port = 5432;
    bool operator==(const Endpoint&) const = default;
  };
  std::vector<Endpoint> hostList;
  config::LoadBalanceHosts balance = config::LoadBalanceHosts::RoundRobin;
  size_t hostCount() const { return hostList.empty() ? 1 : hostList.size(); }
  const std::string& hostAt(size_t i) const {
    return hostList.empty() ? host : hostList[i % hostList.size()].host;
  }
  uint16_t portAt(size_t i) const {
    return hostList.empty() ? port : hostList[i % hostList.size()].port;
  }
  // Failover: one address from now on (a write target), in place of the configured ones.
  void pointAt(const std::string& h, uint16_t p) {
    host = h;
    port = p;
    hostList.clear();
  }
  std::string dbname;
  std::string user;
  std::optional<std::string> password;  // plaintext or md5-stored; nullopt: none configured
  uint32_t size = 20;
  uint32_t minSize = 0;
  uint32_t reserveSize = 0;
  config::Duration reserveTimeout{};
  config::PoolMode mode = config::PoolMode::Session;
  std::string resetQuery;
  std::string connectQuery;  // run on each new server after login (and after the reset query)
  uint32_t maxPrepared = 0;
  config::TlsMode tlsMode = config::TlsMode::Disable;
  std::shared_ptr<TlsContext> tls;  // for tlsMode != Disable; null when it could not be built
  std::string tlsError;
  // The CA file verify-ca / verify-full check servers against; empty: the system's default CA
  // store (as PgBouncer without server_tls_ca_file).
  std::string tlsCaFile;
  config::Duration serverIdleTimeout{};
  config::Duration serverLifetime{};
  config::Duration serverConnectTimeout{};
  // True when servers opened with `other` cannot serve these settings (another address,
  // database, user, password, TLS setup or connect_query): existing servers are then replaced.
  bool sameBackend(const PoolSettings& other) const;
};

// Which host of its pool's list a server connection tries (every engine): from
// Pool::firstHost() on, each host once, moving on when one cannot be reached before the login.
class HostCursor {
 public:
  void start(size_t first, const PoolSettings& s) {
    index_ = first % s.hostCount();
    tried_ = 1;
  }
  // The next host of the list, unless every one was tried.
  bool next(const PoolSettings& s) {
    if (tried_ >= s.hostCount()) return false;
    index_ = (index_ + 1) % s.hostCount();
    ++tried_;
    return true;
  }
  size_t index() const { return index_; }
  const std::string& host(const PoolSettings& s) const { return s.hostAt(index_); }
  uint16_t port(const PoolSettings& s) const { return s.portAt(index_); }

 private:
  size_t index_ = 0;
  size_t tried_ = 0;
};

class Pool {
 public:
  Pool(PoolRegistry& registry, std::string clientDb, std::string user, uint32_t shard,
       uint32_t member, std::string shardName, PoolSettings settings, unsigned workers,
       ConnectionLimit* dbLimit, ConnectionLimit* userLimit);

  // A server released on a worker goes to the oldest waiter, unless that one is another
  // worker's and has waited less than this: then to the releasing worker's oldest waiter.
  // Moving a server to another worker costs a dup, a close, epoll changes and a wake-up per
  // transaction; no waiter is passed over for longer than this.
  static constexpr std::chrono::milliseconds kLocalFirst{5};

  const std::string& name() const { return name_; }  // "user@db", sharded "user@db/shard"
  const std::string& database() const { return clientDb_; }
  const std::string& user() const { return user_; }
  // Sharded databases have a pool per shard (its primary, or the write target after a
  // failover); others have shard 0 and an empty shard name.
  uint32_t shard() const { return shard_; }
  // 0: the shard's primary (its write target); k > 0: its k-th replica, for reads (read_from).
  uint32_t member() const { return member_; }
  const std::string& shardName() const { return shardName_; }
  const PoolSettings& settings() const { return *settings_.load(std::memory_order_acquire); }
  // Reload: later connects and checks use `s`; with replaceServers, servers already open are
  // closed as soon as they are idle (as RECONNECT does).
  void updateSettings(PoolSettings s, bool replaceServers);

  // Servers opened before the last RECONNECT (or a backend change) are "stale": they close
  // instead of going back to the pool.
  uint32_t generation() const { return generation_.load(std::memory_order_relaxed); }
  void reconnect();         // bumps the generation
  uint32_t serverOpened();  // a server object was created: returns its generation
  uint32_t staleServers();
  // PAUSE / KILL: no server is handed out or opened until resume(); clients queue.
  void setPaused(bool paused);
  bool adminPaused() const { return paused_.load(std::memory_order_relaxed); }
  void resume(Worker& worker);
  // Failover: while the database has no write target, clients queue as when paused.
  void setHeld(bool held) { held_.store(held, std::memory_order_relaxed); }
  bool held() const { return held_.load(std::memory_order_relaxed); }
  // The registry cleared the hold (under its lock): serve the clients that queued meanwhile.
  void unhold(Worker& worker);
  // Gate for handing out and opening servers: PAUSE, KILL or a failover in progress.
  bool paused() const { return adminPaused() || held(); }
  // The pool was dropped from the configuration: no upkeep; servers close as they are released.
  void retire();
  bool retired() const { return retired_.load(std::memory_order_relaxed); }
  // More servers open than the pool size allows (after a reload lowered it).
  bool overSize();

  // Host lists: the index of the host a new server tries first (the next in turn, or the last
  // one that worked, per load_balance_hosts), and the one a server logged in to.
  size_t firstHost();
  void hostWorked(size_t index) { goodHost_.store(index, std::memory_order_relaxed); }

  // The settings a freshly logged-in server of this pool reports (ParameterStatus): what a
  // client that did not set them expects, whatever other clients left on the server it gets.
  // Refreshed by every server login that reports different values; null before the first.
  void noteLoginParams(const SettingsList& params);
  // The pool's one copy of a client's settings list equal to `list` (a new one when the pool
  // already keeps kMaxProfiles different lists): clients with the same settings share it
  // (SharedSettings), which saves most of an idle client's memory.
  std::shared_ptr<SettingsList> internSettings(const SettingsList& list);
  std::shared_ptr<const SettingsList> loginParams() const;
  // When the settings have no password (the user's secret is a SCRAM secret, or comes from
  // auth_query): what the last client that logged in as this pool's user proved, for new
  // servers to log in with. Replaced by each login that proves something else (a new password).
  void learnCredential(auth::LoginCredential credential);
  std::shared_ptr<const auth::LoginCredential> learnedCredential() const;
  // Startup parameter values a server of this pool accepted: what it reports for a reported one
  // (PostgreSQL's spelling, e.g. "utf8" -> "UTF8"), the value itself for the others. A login
  // whose every parameter is known here is answered without a server.
  void learnStartupValue(const std::string& name, const std::string& raw, std::string accepted);
  std::optional<std::string> acceptedStartupValue(const std::string& name,
                                                  const std::string& raw) const;
  // Server-side statement names (query and parameter types) a server of this pool prepared
  // without error: a client's Parse of one needs no server to be answered.
  void noteValidStatement(const std::string& serverName);
  bool validStatement(const std::string& serverName) const;
  // A server found `serverName` broken by a schema change (StatementCache::markStale): copies
  // other servers prepared before that moment are stale too, though they have not said so yet.
  void noteStaleStatement(const std::string& serverName, uint64_t sequence);
  bool staleSince(const std::string& serverName, uint64_t preparedAt) const;
  // A client sent a statement that may change prepared statements' result columns (ALTER,
  // DROP, CREATE OR REPLACE): a new Parse no longer reuses a copy prepared before it.
  void noteSchemaChange();
  uint64_t schemaChangedAt() const { return schemaChangedAt_.load(std::memory_order_relaxed); }

  PoolCounters& counters(unsigned worker) { return counters_[worker]; }
  PoolTotals totals() const;

  enum class Grant { Idle, Connect, Queued };
  struct Acquired {
    Grant grant;
    ServerLink* server = nullptr;  // with Idle
  };
  // Called on `worker` for one of its clients. Connect: a slot is reserved, open a server.
  // `flavor`: what the client needs a server to share with it (ServerLink::flavor(); 0: any).
  // An idle server of another flavor is taken only when no new one may be opened.
  // `preferred`: the id of the server the client had last; taken when it is idle on `worker`
  // (its prepared statements are there), else the most recently parked one.
  Acquired acquire(Worker& worker, uint64_t clientId, uint64_t flavor = 0,
                   uint64_t preferred = 0);
  // Removes a waiting client; false when a server is already on its way to it.
  bool cancelWait(unsigned workerIndex, uint64_t clientId);
  // A clean server is free again (on its owning worker): give it to the first waiter or park it.
  void release(Worker& worker, ServerLink* server);
  // A server (connected or not) is gone: frees its slot, maybe starting a connect for a waiter.
  // `generation` is the one it was created in (see serverOpened).
  void serverGone(Worker& worker, uint32_t generation);
  // Takes a parked server out of this worker's idle list (ServerLink::setState, as it leaves
  // the idle state); nothing when it is not parked.
  void unpark(Worker& worker, ServerLink* server);
  // True when closing one more idle server keeps min_pool_size.
  bool aboveMinimum();
  // Periodic upkeep from one worker: min_pool_size, the reserve pool, waiters blocked by a cap.
  void maintain(Worker& worker, PoolClock::time_point now);
  // Another pool freed a shared slot: start a connect for our first waiter if we now may.
  void retry(Worker& worker);
  // Closes one idle server of this pool (to free a shared slot); false when none is idle.
  bool closeOneIdle(Worker& worker);
  bool sharesLimitWith(const Pool& other) const;
  bool hasWaiters();

  struct Counts {
    uint32_t total, idle, waiting;
    PoolClock::time_point oldestWait;  // meaningful when waiting > 0
  };
  Counts counts();

 private:
  struct Waiter {
    unsigned worker;
    uint64_t clientId;
    PoolClock::time_point since;
  };
  // See kLocalFirst. Under the lock, with waiters.
  Waiter popWaiterFor(unsigned worker);
  // A worker's idle servers: touched only on that worker's thread, without a lock; `count`
  // is what other threads read (whether to ask that worker for one).
  struct alignas(64) IdleList {
    std::vector<ServerLink*> servers;  // most recently parked last
    std::atomic<uint32_t> count{0};
  };
  ServerLink* unpark(IdleList& list);  // the most recently parked
  // The most recently parked one of `flavor` (any with 0); nullptr when none.
  ServerLink* unparkFlavor(IdleList& list, uint64_t flavor, uint64_t preferred = 0);
  void park(IdleList& list, ServerLink* server);
  std::vector<unsigned> idleWorkers() const;  // workers with idle servers
  void pushWaiter(const Waiter& w);  // under mutex_
  Waiter popWaiter();                // under mutex_
  bool reserveSlot(uint32_t limit);  // under mutex_
  void freeSlot();                   // under mutex_
  void connectForWaiter(Worker& from, const Waiter& w);
  void stealFor(Worker& worker);
  void serveWaiters(Worker& worker);  // after the gate opens

  PoolRegistry& registry_;
  std::string clientDb_;
  std::string user_;
  uint32_t shard_;
  uint32_t member_;
  std::string shardName_;
  std::string name_;
  std::atomic<const PoolSettings*> settings_;
  std::vector<std::unique_ptr<const PoolSettings>> settingsVersions_;  // under mutex_
  ConnectionLimit* dbLimit_;
  ConnectionLimit* userLimit_;
  std::atomic<uint32_t> generation_{0};
  std::atomic<bool> paused_{false};
  std::atomic<bool> held_{false};
  std::atomic<bool> retired_{false};
  std::atomic<size_t> nextHost_{0};  // round-robin over a host list
  std::atomic<size_t> goodHost_{0};  // load_balance_hosts = "disable": the last that worked
  std::map<uint32_t, uint32_t> openByGeneration_;  // under mutex_
  std::unique_ptr<PoolCounters[]> counters_;
  unsigned workerCount_;
  std::mutex mutex_;
  // Servers open or opening: changed under mutex_, read without it (overSize, aboveMinimum).
  std::atomic<uint32_t> total_{0};
  bool capped_ = false;  // a waiter is blocked by a shared cap, not by pool_size
  std::deque<Waiter> waiters_;
  // waiters_.size(), read without the lock: while it is 0, acquire() takes an idle server of its
  // own worker and release() parks one without locking (sequentially consistent, see release()).
  std::atomic<uint32_t> waiting_{0};
  mutable std::mutex loginMutex_;
  std::shared_ptr<const SettingsList> loginParams_;  // under loginMutex_
  std::shared_ptr<const auth::LoginCredential> credential_;  // under loginMutex_
  std::map<std::pair<std::string, std::string>, std::string> acceptedStartup_;  // ditto
  static constexpr size_t kMaxAcceptedStartup = 4096;
  std::set<std::string> validStatements_;  // under loginMutex_
  std::map<std::string, uint64_t> staleStatements_;  // ditto: name -> when found stale
  std::atomic<uint64_t> schemaChangedAt_{0};
  static constexpr size_t kMaxValidStatements = 16384;
  std::vector<std::shared_ptr<SettingsList>> profiles_;  // under loginMutex_
  static constexpr size_t kMaxProfiles = 256;
  std::vector<IdleList> idle_;  // per worker
};

class PoolRegistry {
 public:
  explicit PoolRegistry(unsigned workers) : workers_(workers) {}
  // The pool serving client database `clientDb` for `user` (created on first use), on shard
  // `shard` of a sharded database. With a forced backend user, all clients of that database
  // share the forced user's pool.
  Pool& get(const config::Config& cfg, const config::Database& db, std::string_view clientDb,
            std::string_view user, uint32_t shard = 0, uint32_t member = 0);
  std::vector<Pool*> all();
  // Pools serving client database `db` (all pools when db is empty).
  std::vector<Pool*> forDatabase(std::string_view db);
  // Reload: new settings for every pool; pools whose database (or forced user) is gone retire.
  void applyConfig(const config::Config& cfg);
  // Failover: the write target of a database's shard (its pools connect there from now on;
  // servers to the old one are replaced), or none (its pools hold their clients). Remembered
  // for pools created later and applied over the configured address on reload. Unsharded
  // databases have shard 0.
  void setWriteTarget(Worker& worker, const std::string& db, const std::string& host,
                      uint16_t port, uint32_t shard = 0);
  void holdDatabase(const std::string& db, bool held, Worker* worker, uint32_t shard = 0);
  bool isHeld(std::string_view db, uint32_t shard = 0);
  // PAUSE/KILL remembered per database ("" = all), so pools created later start paused too.
  void setPaused(std::string_view db, bool paused);
  bool isPaused(std::string_view db);
  // A pool is blocked by a shared cap: close an idle server of another pool sharing it.
  void makeRoomFor(Worker& worker, Pool& pool);
  // A shared slot was freed by `pool`: let other pools sharing a cap retry their waiters.
  void slotFreed(Worker& worker, Pool& pool);

 private:
  ConnectionLimit* limit(std::map<std::string, std::unique_ptr<ConnectionLimit>>& m,
                         const std::string& key, uint32_t max);  // under mutex_
  static PoolSettings settingsFor(const config::Config& cfg, const config::Database& db,
                                  std::string_view clientDb, const std::string& user,
                                  uint32_t shard, uint32_t member);
  // A pool's identity: client database, backend user, shard, member (0 primary, k replica k).
  using Key = std::tuple<std::string, std::string, uint32_t, uint32_t>;
  using ShardKey = std::pair<std::string, uint32_t>;  // database, shard
  std::string dbLimitKey(const config::Database& db, std::string_view clientDb) const;

  unsigned workers_;
  std::mutex mutex_;
  std::map<Key, std::unique_ptr<Pool>> pools_;
  std::map<std::string, std::unique_ptr<ConnectionLimit>> dbLimits_;
  std::map<std::string, std::unique_ptr<ConnectionLimit>> userLimits_;
  std::vector<std::string> pausedDbs_;          // "" pauses all
  std::map<ShardKey, std::pair<std::string, uint16_t>> writeTargets_;
  std::set<ShardKey> heldDbs_;
  std::vector<std::unique_ptr<Pool>> retired_;  // dropped by a reload; clients may still use them
};

}  // namespace shardpool::pooler
