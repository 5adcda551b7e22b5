// The pool without sockets: slots, the FIFO of waiters, pause and failover holds, caps shared
// between pools, and what a reload or RECONNECT changes. Two workers whose loops never run: a
// server handed to a waiter of the other worker is a task posted there, which these tests count
// instead of running.
#include "pooler/session/pool.h"

#include <catch2/catch.hpp>

#include <memory>
#include <string_view>
#include <thread>

#include "pooler/session/conn_rows.h"
#include "pooler/session/runtime.h"
#include "tests/pooler/session/fake_engine.h"
#include "tests/config/config_test_support.h"

namespace shardpool::pooler {
namespace {

class TestRuntime final : public Runtime {
 public:
  explicit TestRuntime(std::string_view toml)
      : Runtime(config::testing::loadOk(toml), std::make_unique<testing::FakeEngine>()) {}
  TestRuntime(std::string_view toml, std::vector<std::unique_ptr<Engine>> engines)
      : Runtime(config::testing::loadOk(toml), std::move(engines)) {}
  // The servers opened so far by the engine of `protocol` (a pool's Connect grant carried out
  // by the worker).
  const std::vector<testing::FakeServer*>& opened(
      config::Protocol protocol = config::Protocol::Postgres) {
    return static_cast<testing::FakeEngine&>(*engine(protocol)).opened;
  }
  ~TestRuntime() override {
    for (auto& w : workers_) w->stop();  // close the loops' handles; nothing ever ran
  }
  std::unique_ptr<ConsoleSession> openConsole(ClientSession&, bool) override { return nullptr; }
  void postControl(std::function<void()>) override {}

  // Runs the tasks other threads posted to worker `i` (its loop never runs on a thread here).
  void runPosted(unsigned i) { uv_run(worker(i).loop(), UV_RUN_NOWAIT); }

  Pool& pool(std::string_view user, std::string_view db = "appdb") {
    auto cfg = config();
    return pools().get(*cfg, *cfg->findDatabase(db), db, user);
  }
};

constexpr std::string_view kTwoWorkers = R"(
[general]
workers = 2
default_pool_size = 2
max_db_connections = 3

[databases.appdb]
host = "127.0.0.1"

[users.alice]
auth_type = "trust"

[users.bob]
auth_type = "trust"
)";

// Both of alice's servers opened on worker 0 (clients 1 and 2); the first one.
testing::FakeServer* twoServersOnWorker0(TestRuntime& rt, Pool& p) {
  Worker& w0 = rt.worker(0);
  REQUIRE(p.acquire(w0, 1).grant == Pool::Grant::Connect);
  REQUIRE(p.acquire(w0, 2).grant == Pool::Grant::Connect);
  w0.connectFor(p, 1);
  w0.connectFor(p, 2);
  return rt.opened()[0];
}

}  // namespace

TEST_CASE("a pool grants pool_size connects, then queues clients in order", "[session][pool]") {
  TestRuntime rt(kTwoWorkers);
  Worker& w0 = rt.worker(0);
  Pool& p = rt.pool("alice");
  CHECK(p.settings().size == 2);
  CHECK(p.acquire(w0, 1).grant == Pool::Grant::Connect);
  CHECK(p.acquire(w0, 2).grant == Pool::Grant::Connect);
  CHECK(p.acquire(w0, 3).grant == Pool::Grant::Queued);
  CHECK(p.acquire(w0, 4).grant == Pool::Grant::Queued);
  Pool::Counts c = p.counts();
  CHECK(c.total == 2);
  CHECK(c.idle == 0);
  CHECK(c.waiting == 2);
  CHECK(p.hasWaiters());

  // A client that gives up leaves the queue once; a server on its way cannot be cancelled.
  CHECK(p.cancelWait(0, 3));
  CHECK_FALSE(p.cancelWait(0, 3));
  CHECK_FALSE(p.cancelWait(1, 4));  // the waiter is on worker 0, not 1
  CHECK(p.counts().waiting == 1);
}

TEST_CASE("a server gone gives its slot to the first waiter", "[session][pool]") {
  TestRuntime rt(kTwoWorkers);
  Worker& w0 = rt.worker(0);
  Worker& w1 = rt.worker(1);
  Pool& p = rt.pool("alice");
  uint32_t g0 = p.serverOpened();
  REQUIRE(p.acquire(w0, 1).grant == Pool::Grant::Connect);
  uint32_t g1 = p.serverOpened();
  REQUIRE(p.acquire(w0, 2).grant == Pool::Grant::Connect);
  REQUIRE(p.acquire(w1, 10).grant == Pool::Grant::Queued);  // waits on worker 1
  REQUIRE(p.acquire(w1, 11).grant == Pool::Grant::Queued);

  // Worker 0 loses a server: the slot goes to worker 1's first waiter at once (a connect is
  // posted there), so the count stays at pool_size and one client still waits.
  p.serverGone(w0, g0);
  Pool::Counts c = p.counts();
  CHECK(c.total == 2);
  CHECK(c.waiting == 1);
  CHECK_FALSE(p.cancelWait(1, 10));  // already served
  CHECK(p.cancelWait(1, 11));

  // With nobody waiting a server gone frees its slot.
  p.serverGone(w0, g1);
  CHECK(p.counts().total == 1);
  CHECK(p.acquire(w0, 3).grant == Pool::Grant::Connect);
}

TEST_CASE("PAUSE and a failover hold queue every client until they end", "[session][pool]") {
  TestRuntime rt(kTwoWorkers);
  Worker& w0 = rt.worker(0);
  Worker& w1 = rt.worker(1);
  Pool& p = rt.pool("alice");
  p.setPaused(true);
  CHECK(p.paused());
  CHECK(p.acquire(w1, 1).grant == Pool::Grant::Queued);  // slots are free, but paused
  CHECK(p.counts().total == 0);
  p.resume(w0);  // serves worker 1's waiter from worker 0: a slot is taken for it
  CHECK_FALSE(p.paused());
  CHECK(p.counts().total == 1);
  CHECK(p.counts().waiting == 0);

  p.setHeld(true);
  CHECK(p.paused());
  CHECK_FALSE(p.adminPaused());
  CHECK(p.acquire(w1, 2).grant == Pool::Grant::Queued);
  p.setHeld(false);
  p.unhold(w0);
  CHECK(p.counts().total == 2);
  CHECK(p.counts().waiting == 0);
}

TEST_CASE("max_db_connections is shared by the pools of one database", "[session][pool]") {
  TestRuntime rt(kTwoWorkers);
  Worker& w0 = rt.worker(0);
  Pool& alice = rt.pool("alice");
  Pool& bob = rt.pool("bob");
  CHECK(alice.sharesLimitWith(bob));
  CHECK_FALSE(alice.sharesLimitWith(alice));
  CHECK(alice.acquire(w0, 1).grant == Pool::Grant::Connect);
  CHECK(alice.acquire(w0, 2).grant == Pool::Grant::Connect);
  CHECK(bob.acquire(w0, 3).grant == Pool::Grant::Connect);  // the third of 3
  CHECK(bob.acquire(w0, 4).grant == Pool::Grant::Queued);   // bob's pool_size allows it; the cap does not
  CHECK(bob.counts().total == 1);
  CHECK(bob.counts().waiting == 1);

  // Alice's pool frees a slot: the registry lets bob's waiter connect at once (slotFreed),
  // on the waiter's worker, in bob's pool; a retry afterwards finds nobody waiting.
  CHECK(rt.opened().empty());
  uint32_t g = alice.serverOpened();
  alice.serverGone(w0, g);
  CHECK(alice.counts().total == 1);
  CHECK(bob.counts().total == 2);
  CHECK(bob.counts().waiting == 0);
  REQUIRE(rt.opened().size() == 1);
  CHECK(&rt.opened()[0]->pool() == &bob);
  CHECK(rt.opened()[0]->openedFor == 4);
  bob.retry(w0);
  CHECK(rt.opened().size() == 1);
}

TEST_CASE("a reload that shrinks the pool, and RECONNECT, mark servers to replace",
          "[session][pool]") {
  TestRuntime rt(kTwoWorkers);
  Worker& w0 = rt.worker(0);
  Pool& p = rt.pool("alice");
  REQUIRE(p.acquire(w0, 1).grant == Pool::Grant::Connect);
  REQUIRE(p.acquire(w0, 2).grant == Pool::Grant::Connect);
  p.serverOpened();
  p.serverOpened();
  CHECK_FALSE(p.overSize());
  PoolSettings smaller = p.settings();
  smaller.size = 1;
  p.updateSettings(smaller, false);
  CHECK(p.settings().size == 1);
  CHECK(p.overSize());
  CHECK(p.staleServers() == 0);

  uint32_t before = p.generation();
  p.reconnect();
  CHECK(p.generation() == before + 1);
  CHECK(p.staleServers() == 2);
  // A reload to another backend replaces the servers too.
  PoolSettings moved = p.settings();
  moved.port = 6543;
  CHECK_FALSE(moved.sameBackend(p.settings()));
  p.updateSettings(moved, true);
  CHECK(p.generation() == before + 2);
}

TEST_CASE("an idle server is parked on its worker, taken back there, and unparked as it closes",
          "[session][pool]") {
  TestRuntime rt(kTwoWorkers);
  Worker& w0 = rt.worker(0);
  Pool& p = rt.pool("alice");
  REQUIRE(p.acquire(w0, 1).grant == Pool::Grant::Connect);
  w0.connectFor(p, 1);
  REQUIRE(rt.opened().size() == 1);
  testing::FakeServer* s = rt.opened()[0];
  CHECK(s->openedFor == 1);
  CHECK_FALSE(s->parked());

  // Client 1 is done: nobody waits, the server is parked on worker 0.
  p.release(w0, s);
  CHECK(s->parked());
  CHECK(p.counts().idle == 1);
  // The next client of worker 0 gets that very server, with no connect.
  Pool::Acquired a = p.acquire(w0, 2);
  CHECK(a.grant == Pool::Grant::Idle);
  CHECK(a.server == s);
  CHECK_FALSE(s->parked());
  CHECK(p.counts().idle == 0);

  // Parked again, then closed (server_idle_timeout, KILL): it leaves the idle list with its
  // state, so no client is ever given a closed server.
  p.release(w0, s);
  REQUIRE(p.counts().idle == 1);
  s->close("test");
  CHECK_FALSE(s->parked());
  CHECK(p.counts().idle == 0);
  CHECK(p.acquire(w0, 3).grant != Pool::Grant::Idle);
}

TEST_CASE("a client is given an idle server of its flavor, a new one while there is room, "
          "another kind only when the pool is full",
          "[session][pool]") {
  TestRuntime rt(kTwoWorkers);  // pool_size 2
  Worker& w0 = rt.worker(0);
  Pool& p = rt.pool("alice");
  auto open = [&](uint64_t client, uint64_t kind) {
    REQUIRE(p.acquire(w0, client, kind).grant == Pool::Grant::Connect);
    w0.connectFor(p, client);
    testing::FakeServer* s = rt.opened().back();
    s->kind = kind;
    p.release(w0, s);
    return s;
  };
  testing::FakeServer* a = open(1, 7);
  // Another kind: a is idle but not for it, and there is room: a new server.
  testing::FakeServer* b = open(2, 9);
  REQUIRE(p.counts().idle == 2);
  // Kind 7 gets a, though b was parked last.
  Pool::Acquired got = p.acquire(w0, 3, 7);
  CHECK(got.grant == Pool::Grant::Idle);
  CHECK(got.server == a);
  CHECK(b->parked());
  p.release(w0, a);
  // Full (2 of 2) and no server of kind 5: the most recently parked one, which the engine
  // replaces.
  got = p.acquire(w0, 4, 5);
  CHECK(got.grant == Pool::Grant::Idle);
  CHECK(got.server == a);
  p.release(w0, a);
  // Flavor 0 (PostgreSQL's): any, the most recently parked.
  got = p.acquire(w0, 5);
  CHECK(got.server == a);
  p.release(w0, a);
  got = p.acquire(w0, 6, 9);
  CHECK(got.server == b);
}

TEST_CASE("a client is given the server it had last when that one is idle", "[session][pool]") {
  TestRuntime rt(kTwoWorkers);  // pool_size 2
  Worker& w0 = rt.worker(0);
  Pool& p = rt.pool("alice");
  testing::FakeServer* a = twoServersOnWorker0(rt, p);
  testing::FakeServer* b = rt.opened()[1];
  p.release(w0, a);
  p.release(w0, b);  // b parked last: on top
  // Client 1 had a: it gets a, not the most recently parked b.
  Pool::Acquired got = p.acquire(w0, 1, 0, a->id());
  CHECK(got.grant == Pool::Grant::Idle);
  CHECK(got.server == a);
  CHECK(b->parked());
  p.release(w0, a);
  // Without a preference, or preferring a server that is not idle here: the top one.
  got = p.acquire(w0, 2, 0, 0);
  CHECK(got.server == a);
  got = p.acquire(w0, 3, 0, 987654);
  CHECK(got.server == b);
}

TEST_CASE("a server released while a client of another worker waits goes to that client",
          "[session][pool]") {
  TestRuntime rt(kTwoWorkers);
  Worker& w0 = rt.worker(0);
  Worker& w1 = rt.worker(1);
  Pool& p = rt.pool("alice");
  REQUIRE(p.acquire(w0, 1).grant == Pool::Grant::Connect);
  REQUIRE(p.acquire(w0, 2).grant == Pool::Grant::Connect);
  w0.connectFor(p, 1);
  w0.connectFor(p, 2);
  REQUIRE(rt.opened().size() == 2);
  testing::FakeServer* s = rt.opened()[0];
  REQUIRE(p.acquire(w1, 10).grant == Pool::Grant::Queued);

  // Released on worker 0: not parked there, but moved to worker 1 for its waiter.
  p.release(w0, s);
  CHECK_FALSE(s->parked());
  CHECK(p.counts().idle == 0);
  CHECK(p.counts().waiting == 0);
  CHECK(w0.findServer(s->id()) == nullptr);
  rt.runPosted(1);
  CHECK(w1.findServer(s->id()) == s);
}

TEST_CASE("a server parked on one worker is handed to a client queued on another",
          "[session][pool]") {
  TestRuntime rt(kTwoWorkers);
  Worker& w0 = rt.worker(0);
  Worker& w1 = rt.worker(1);
  Pool& p = rt.pool("alice");
  testing::FakeServer* s = twoServersOnWorker0(rt, p);
  p.release(w0, s);
  REQUIRE(s->parked());

  // Worker 1's client finds no idle server of its own and the pool full: it queues, and the
  // worker holding the idle server is asked to give it up (stealFor, run on worker 0).
  CHECK(p.acquire(w1, 10).grant == Pool::Grant::Queued);
  CHECK(p.counts().waiting == 1);
  CHECK(p.counts().idle == 1);
  rt.runPosted(0);
  CHECK_FALSE(s->parked());
  CHECK(p.counts().waiting == 0);
  CHECK(p.counts().idle == 0);
  rt.runPosted(1);
  CHECK(w1.findServer(s->id()) == s);
}

TEST_CASE("a worker gives a client queued elsewhere its least recently parked server",
          "[session][pool]") {
  TestRuntime rt(kTwoWorkers);
  Worker& w0 = rt.worker(0);
  Worker& w1 = rt.worker(1);
  Pool& p = rt.pool("alice");
  testing::FakeServer* older = twoServersOnWorker0(rt, p);
  testing::FakeServer* newer = rt.opened()[1];
  p.release(w0, older);
  p.release(w0, newer);  // just left by its client, who may ask for it again
  CHECK(p.acquire(w1, 10).grant == Pool::Grant::Queued);
  rt.runPosted(0);
  CHECK_FALSE(older->parked());  // on its way to worker 1
  CHECK(newer->parked());        // stays for worker 0's clients
  rt.runPosted(1);
  CHECK(w1.findServer(older->id()) == older);
}

TEST_CASE("after RECONNECT a parked server closes at the next tick, one in use is left alone",
          "[session][pool]") {
  TestRuntime rt(kTwoWorkers);
  Worker& w0 = rt.worker(0);
  Pool& p = rt.pool("alice");
  REQUIRE(p.acquire(w0, 1).grant == Pool::Grant::Connect);
  REQUIRE(p.acquire(w0, 2).grant == Pool::Grant::Connect);
  w0.connectFor(p, 1);
  w0.connectFor(p, 2);
  testing::FakeServer* parked = rt.opened()[0];
  testing::FakeServer* linked = rt.opened()[1];
  parked->loggedIn(0);
  linked->loggedIn(2);
  CHECK(parked->state() == ServerState::Idle);
  p.release(w0, parked);  // what the worker does with a server offered to nobody
  REQUIRE(parked->parked());
  CHECK_FALSE(linked->parked());  // idle, but on its way to client 2

  parked->checkTimers(w0.now());
  linked->checkTimers(w0.now());
  CHECK(parked->closedBecause.empty());

  p.reconnect();
  // SHOW SERVERS says so before the tick acts on it.
  ConnRow row;
  parked->describe(row);
  CHECK(row.kind == ConnRow::Kind::Server);
  CHECK(row.state == ConnRow::State::Idle);
  CHECK(row.closeNeeded);
  CHECK(row.pool == &p);
  parked->checkTimers(w0.now());
  linked->checkTimers(w0.now());
  CHECK(parked->closedBecause == "RECONNECT or a configuration change");
  CHECK(parked->state() == ServerState::Closed);
  CHECK(p.counts().idle == 0);
  CHECK(linked->closedBecause.empty());
  CHECK(linked->state() == ServerState::Idle);
}

TEST_CASE("clients with the same settings share the pool's one copy of them", "[session][pool]") {
  TestRuntime rt(kTwoWorkers);
  Pool& p = rt.pool("alice");
  SettingsList utc{{"application_name", "app"}, {"TimeZone", "UTC"}};
  SettingsList tokyo{{"application_name", "app"}, {"TimeZone", "Asia/Tokyo"}};
  auto a = p.internSettings(utc);
  auto b = p.internSettings(SettingsList(utc));
  auto c = p.internSettings(tokyo);
  CHECK(a == b);
  CHECK(a != c);
  CHECK(*c == tokyo);
  // Another pool keeps its own copies.
  CHECK(rt.pool("bob").internSettings(utc) != a);
}


TEST_CASE("a pool's servers are opened by the engine of its database's protocol",
          "[session][pool]") {
  std::vector<std::unique_ptr<Engine>> engines;
  engines.push_back(std::make_unique<testing::FakeEngine>(config::Protocol::Postgres));
  engines.push_back(std::make_unique<testing::FakeEngine>(config::Protocol::MySql));
  TestRuntime rt(std::string(kTwoWorkers) +
                     "[databases.shop]\nprotocol = \"mysql\"\n",
                 std::move(engines));
  Worker& w0 = rt.worker(0);
  Pool& pg = rt.pool("alice");
  Pool& my = rt.pool("alice", "shop");
  CHECK(pg.settings().protocol == config::Protocol::Postgres);
  CHECK(my.settings().protocol == config::Protocol::MySql);
  CHECK(my.settings().port == 3306);
  CHECK_FALSE(pg.settings().sameBackend(my.settings()));

  REQUIRE(my.acquire(w0, 1).grant == Pool::Grant::Connect);
  w0.connectFor(my, 1);
  REQUIRE(pg.acquire(w0, 2).grant == Pool::Grant::Connect);
  w0.connectFor(pg, 2);
  REQUIRE(rt.opened(config::Protocol::MySql).size() == 1);
  REQUIRE(rt.opened(config::Protocol::Postgres).size() == 1);
  CHECK(&rt.opened(config::Protocol::MySql)[0]->pool() == &my);
  CHECK(rt.opened(config::Protocol::MySql)[0]->openedFor == 1);
  CHECK(&rt.opened(config::Protocol::Postgres)[0]->pool() == &pg);
}

}  // namespace shardpool::pooler

namespace shardpool::pooler {

TEST_CASE("a released server goes to a waiter of its own worker before a newer one of another",
          "[session][pool]") {
  TestRuntime rt(kTwoWorkers);
  Worker& w0 = rt.worker(0);
  Worker& w1 = rt.worker(1);
  Pool& p = rt.pool("alice");
  testing::FakeServer* s = twoServersOnWorker0(rt, p);
  // Worker 1's client queued first, worker 0's right after it.
  REQUIRE(p.acquire(w1, 10).grant == Pool::Grant::Queued);
  REQUIRE(p.acquire(w0, 3).grant == Pool::Grant::Queued);
  p.release(w0, s);
  // Worker 0's waiter was served first (it is no longer queued); the test has no client 3, so
  // the server came back and went on to worker 1's.
  CHECK_FALSE(p.cancelWait(0, 3));
  rt.runPosted(1);
  CHECK(w1.findServer(s->id()) == s);
}

TEST_CASE("a waiter of another worker is passed over for a few milliseconds only",
          "[session][pool]") {
  TestRuntime rt(kTwoWorkers);
  Worker& w0 = rt.worker(0);
  Worker& w1 = rt.worker(1);
  Pool& p = rt.pool("alice");
  testing::FakeServer* s = twoServersOnWorker0(rt, p);
  REQUIRE(p.acquire(w1, 10).grant == Pool::Grant::Queued);
  std::this_thread::sleep_for(Pool::kLocalFirst + std::chrono::milliseconds(2));
  REQUIRE(p.acquire(w0, 3).grant == Pool::Grant::Queued);
  p.release(w0, s);
  // Worker 1's waiter waited long enough: first come, first served.
  CHECK(p.cancelWait(0, 3));
  rt.runPosted(1);
  CHECK(w1.findServer(s->id()) == s);
}

}  // namespace shardpool::pooler
