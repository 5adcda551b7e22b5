// Failover to a hot standby: a primary and a streaming standby started by the test
// (scripts/pg-cluster.sh start / standby), shardpool in front with health checks. The primary is
// killed (SIGKILL of the whole server) under a write load; or the standby is, and comes back.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "integration/admin_util.h"
#include "integration/cluster_util.h"
#include "integration/extended_query.h"
#include "integration/raw_socket.h"

using namespace shardpool::integration;

namespace {

std::string failoverConfig(const Cluster& primary, const Cluster& standby, bool autoPromote,
                           const std::string& generalExtra = "") {
  return generalSection(
             "pool_mode = \"transaction\"\nadmin_users = [\"sp_scram\"]\n"
             "health_check_interval = \"200ms\"\nhealth_check_failures = 2\n"
             "failover_wait_timeout = \"20s\"\nauto_promote = " +
             std::string(autoPromote ? "true" : "false") + "\n" + generalExtra) +
         "[databases.sp_db]\nhost = \"127.0.0.1\"\nport = " + std::to_string(primary.port()) +
         "\nuser = \"sp_admin\"\npassword = \"admin_pass\"\n"
         "replicas = [ { host = \"127.0.0.1\", port = " +
         std::to_string(standby.port()) + " } ]\n\n" + userSection("sp_scram", "scram_pass");
}

// Writers that insert unique ids through shardpool on their own connection until stopped;
// acknowledged ids are kept, errors counted, and a closed connection recorded.
class WriteLoad {
 public:
  WriteLoad(const Proxy& proxy, int clients) {
    for (int i = 0; i < clients; ++i)
      threads_.emplace_back([this, &proxy, i] {
        Conn c(proxy.conninfo("sp_scram", "scram_pass"));
        if (!c.ok()) {
          ++closed_;
          return;
        }
        for (int64_t n = 0; !stop_; ++n) {
          int64_t id = static_cast<int64_t>(i) * 1000000 + n;
          std::string sql = "INSERT INTO acks VALUES (" + std::to_string(id) + ")";
          auto r = c.exec(sql, 30s);
          bool ok = !r.empty() && r.back() && PQresultStatus(r.back().get()) == PGRES_COMMAND_OK;
          if (ok) {
            std::lock_guard lock(mutex_);
            acked_.insert(id);
            if (crashed_) ++afterCrash_;
          } else {
            ++errors_;
            std::lock_guard lock(mutex_);
            if (!r.empty() && r.back()) lastError_ = errorFrom(r.back().get()).message;
          }
          if (PQstatus(c.get()) != CONNECTION_OK) {
            ++closed_;
            return;
          }
        }
      });
  }
  ~WriteLoad() { stop(); }
  void markCrash() { crashed_ = true; }
  void stop() {
    stop_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
  std::set<int64_t> acked() {
    std::lock_guard lock(mutex_);
    return acked_;
  }
  int errors() const { return errors_; }
  int closed() const { return closed_; }
  int afterCrash() const { return afterCrash_; }
  std::string lastError() {
    std::lock_guard lock(mutex_);
    return lastError_;
  }

 private:
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false}, crashed_{false};
  std::atomic<int> errors_{0}, closed_{0}, afterCrash_{0};
  std::mutex mutex_;
  std::set<int64_t> acked_;
  std::string lastError_;
};

std::string writeTarget(Conn& console) {
  for (const auto& row : showRows(console, "SHOW BACKENDS"))
    if (row.at("write_target") == "1") return row.at("backend");
  return {};
}

// Polls `done` every 50 ms for up to `timeout`.
template <class Pred>
bool eventually(Pred done, Ms timeout) {
  auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

// SHOW EVENTS lines that contain all of `parts`.
int countEvents(Conn& console, const std::vector<std::string>& parts) {
  int n = 0;
  for (const auto& e : showRows(console, "SHOW EVENTS")) {
    bool all = true;
    for (const auto& p : parts) all = all && contains(e.at("event"), p);
    n += all ? 1 : 0;
  }
  return n;
}

// shardpool_failovers_total from the metrics endpoint on `port`.
long failoversTotal(uint16_t port) {
  RawSocket s(port);
  REQUIRE(s.send("GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
  s.readToClose(5s);
  const std::string key = "\nshardpool_failovers_total ";
  size_t at = s.received().find(key);
  if (at == std::string::npos) throw std::runtime_error("no " + key.substr(1) + "in /metrics");
  return std::stol(s.received().substr(at + key.size()));
}

}  // namespace

TEST_CASE("failover: SIGKILL of the primary under writes, auto_promote, no acknowledged commit lost",
          "[integration][failover]") {
  Cluster primary;
  Cluster standby(&primary);
  {
    Conn p = primary.admin();
    REQUIRE(p.ok());
    p.query("ALTER SYSTEM SET synchronous_standby_names = '" + standby.value("STANDBY_NAME") +
            "'");
    p.query("ALTER SYSTEM SET synchronous_commit = 'on'");
    p.query("SELECT pg_reload_conf()");
    p.query("CREATE TABLE acks (id bigint PRIMARY KEY)");
  }
  Proxy proxy(failoverConfig(primary, standby, true));
  Conn console(proxy.conninfo("sp_scram", "scram_pass", "shardpool"));
  REQUIRE(console.ok());
  std::this_thread::sleep_for(500ms);
  CHECK(writeTarget(console) == "127.0.0.1:" + std::to_string(primary.port()));

  const int kClients = 6;
  WriteLoad load(proxy, kClients);
  std::this_thread::sleep_for(1s);
  auto crashAt = Clock::now();
  load.markCrash();
  primary.run("crash");
  // Writes resume on the standby.
  auto deadline = Clock::now() + 20s;
  while (load.afterCrash() < 50 && Clock::now() < deadline) std::this_thread::sleep_for(50ms);
  auto resumedAfter = std::chrono::duration_cast<Ms>(Clock::now() - crashAt);
  std::this_thread::sleep_for(500ms);
  load.stop();
  INFO("resumed after " << resumedAfter.count() << " ms; errors " << load.errors()
                        << "; last error: " << load.lastError());
  CHECK(load.afterCrash() >= 50);
  CHECK(load.closed() == 0);                  // no client connection was closed
  CHECK(load.errors() <= 2 * kClients);       // at most the statements in flight failed
  CHECK(writeTarget(console) == "127.0.0.1:" + std::to_string(standby.port()));
  bool promoted = false;
  for (const auto& e : showRows(console, "SHOW EVENTS"))
    if (contains(e.at("event"), "promoting")) promoted = true;
  CHECK(promoted);

  // Every acknowledged commit is on the new primary.
  std::set<int64_t> acked = load.acked();
  REQUIRE(acked.size() > 50);
  Conn s = standby.admin();
  REQUIRE(s.ok());
  CHECK(s.scalar("SELECT pg_is_in_recovery()") == "f");
  std::string ids;
  for (int64_t id : acked) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  std::string missing = s.scalar("SELECT count(*) FROM unnest(ARRAY[" + ids +
                                 "]::bigint[]) AS a(id) WHERE NOT EXISTS (SELECT 1 FROM acks "
                                 "WHERE acks.id = a.id)");
  CHECK(missing == "0");
}

TEST_CASE("failover: an external promotion is followed and the old primary is fenced",
          "[integration][failover]") {
  Cluster primary;
  Cluster standby(&primary);
  Proxy proxy(failoverConfig(primary, standby, false));
  Conn console(proxy.conninfo("sp_scram", "scram_pass", "shardpool"));
  Conn app(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(app.ok());
  CHECK(app.scalar("SELECT inet_server_port()") == std::to_string(primary.port()));

  primary.run("crash");
  std::this_thread::sleep_for(1s);
  // No primary: a query waits (manual promotion), the connection stays.
  REQUIRE(PQsendQuery(app.get(), "SELECT inet_server_port()"));
  CHECK_FALSE(finishedWithin(app, 1s));
  standby.run("promote");
  REQUIRE(finishedWithin(app, 10s));
  auto r = app.collect(1s);
  // The first attempt may have been the in-flight casualty; then the next one runs.
  std::string port;
  for (auto& res : r)
    if (res && PQresultStatus(res.get()) == PGRES_TUPLES_OK) port = PQgetvalue(res.get(), 0, 0);
  if (port.empty()) port = app.scalar("SELECT inet_server_port()");
  CHECK(port == std::to_string(standby.port()));

  // The old primary comes back, not in recovery: it must not take writes.
  primary.run("restart");
  std::this_thread::sleep_for(1500ms);
  NamedRow old = findRow(showRows(console, "SHOW BACKENDS"), "backend",
                         "127.0.0.1:" + std::to_string(primary.port()));
  CHECK(old.at("state") == "fenced");
  CHECK(writeTarget(console) == "127.0.0.1:" + std::to_string(standby.port()));
  CHECK(app.scalar("SELECT inet_server_port()") == std::to_string(standby.port()));
  // An operator can lift the fence; with the standby still primary it stays fenced.
  CHECK(console.expectError("UNFENCE 10.9.9.9:1").sqlstate == "22023");
}

TEST_CASE(
    "failover: a standby down and back is banned, rejoins after replica_ban_time, writes go on",
    "[integration][failover][standby]") {
  Cluster primary;
  Cluster standby(&primary);  // asynchronous: the primary never waits for it
  {
    Conn p = primary.admin();
    REQUIRE(p.ok());
    p.query("CREATE TABLE acks (id bigint PRIMARY KEY)");
  }
  const Ms kBan = 6s;
  uint16_t metricsPort = freePort();
  Proxy proxy(
      failoverConfig(primary, standby, false,
                     "replica_ban_time = \"6s\"\nmetrics_port = " + std::to_string(metricsPort)));
  Conn console(proxy.conninfo("sp_scram", "scram_pass", "shardpool"));
  REQUIRE(console.ok());
  const std::string primaryAddr = "127.0.0.1:" + std::to_string(primary.port());
  const std::string standbyAddr = "127.0.0.1:" + std::to_string(standby.port());
  auto standbyRow = [&] {
    return findRow(showRows(console, "SHOW BACKENDS"), "backend", standbyAddr);
  };
  // SHOW BACKENDS may have a banned column (1 while banned): checked where it exists.
  auto bannedIs = [](const NamedRow& row, const char* value) {
    return row.count("banned") == 0 || row.at("banned") == value;
  };
  auto rejoinEvents = [&] {
    return countEvents(console, {standbyAddr, "rejoins the read rotation"});
  };
  REQUIRE(eventually(
      [&] {
        NamedRow r = standbyRow();
        return r.at("role") == "standby" && r.at("state") == "up";
      },
      5s));
  CHECK(writeTarget(console) == primaryAddr);

  WriteLoad load(proxy, 2);
  std::this_thread::sleep_for(500ms);
  // The ban starts when the probes find the standby down: after this.
  auto crashAt = Clock::now();
  size_t ackedBeforeCrash = load.acked().size();
  standby.run("crash");
  REQUIRE(eventually([&] { return standbyRow().at("state") == "down"; }, 5s));
  CHECK(bannedIs(standbyRow(), "1"));
  CHECK(countEvents(console, {standbyAddr, "is down"}) == 1);
  CHECK(countEvents(console, {standbyAddr, "banned from reads for 6s"}) == 1);
  // Writes on the primary went on while the standby died.
  CHECK(load.acked().size() > ackedBeforeCrash + 10);

  standby.run("restart");
  REQUIRE(eventually([&] { return standbyRow().at("state") == "up"; }, 10s));
  auto upSeen = Clock::now();
  size_t ackedAtUp = load.acked().size();
  if (upSeen - crashAt < kBan - 300ms) {
    // Healthy again within the ban: still out of the read rotation until it ends.
    CHECK(rejoinEvents() == 0);
    CHECK(bannedIs(standbyRow(), "1"));
    CHECK(countEvents(console, {standbyAddr, "is up again, still banned from reads"}) == 1);
  }
  REQUIRE(eventually([&] { return rejoinEvents() == 1; }, 10s));
  auto rejoinSeen = Clock::now();
  INFO("crash -> up seen " << std::chrono::duration_cast<Ms>(upSeen - crashAt).count()
                           << " ms, -> rejoin seen "
                           << std::chrono::duration_cast<Ms>(rejoinSeen - crashAt).count()
                           << " ms");
  CHECK(rejoinSeen - crashAt >= kBan);  // the ban ran its time
  CHECK(load.acked().size() > ackedAtUp + 10);
  NamedRow back = standbyRow();
  CHECK(back.at("role") == "standby");
  CHECK(bannedIs(back, "0"));
  std::this_thread::sleep_for(300ms);
  load.stop();

  // No failover: the primary kept writes throughout, and no write failed.
  INFO("errors " << load.errors() << "; last error: " << load.lastError());
  CHECK(load.errors() == 0);
  CHECK(load.closed() == 0);
  CHECK(writeTarget(console) == primaryAddr);
  CHECK(failoversTotal(metricsPort) == 0);
  CHECK(countEvents(console, {"write target"}) == 0);
  CHECK(countEvents(console, {"promoting"}) == 0);
  // The standby catches up with every acknowledged write.
  std::string acked = std::to_string(load.acked().size());
  Conn s = standby.admin();
  REQUIRE(s.ok());
  CHECK(eventually([&] { return s.scalar("SELECT count(*) FROM acks") == acked; }, 10s));
}

// Sharded: each shard fails over on its own. Shard "a" is a primary with a synchronous standby,
// shard "b" a lone primary; a writer per shard inserts keys of its shard (modulo 2). Killing a's
// primary holds and then moves only a's writes; b's writer never sees an error.
TEST_CASE("failover: in a sharded database only the dead shard fails over",
          "[integration][failover][sharding]") {
  Cluster primaryA;
  Cluster standbyA(&primaryA);
  Cluster primaryB;
  {
    Conn p = primaryA.admin();
    REQUIRE(p.ok());
    p.query("ALTER SYSTEM SET synchronous_standby_names = '" + standbyA.value("STANDBY_NAME") +
            "'");
    p.query("ALTER SYSTEM SET synchronous_commit = 'on'");
    p.query("SELECT pg_reload_conf()");
    p.query("CREATE TABLE acks (id bigint PRIMARY KEY)");
    Conn b = primaryB.admin();
    REQUIRE(b.ok());
    b.query("CREATE TABLE acks (id bigint PRIMARY KEY)");
  }
  std::string config =
      generalSection("pool_mode = \"transaction\"\nadmin_users = [\"sp_scram\"]\n"
                     "health_check_interval = \"200ms\"\nhealth_check_failures = 2\n"
                     "failover_wait_timeout = \"20s\"\nauto_promote = true\n") +
      "[databases.sp_db]\nhost = \"127.0.0.1\"\nuser = \"sp_admin\"\npassword = "
      "\"admin_pass\"\nsharding_function = \"modulo\"\n\n"
      "[[databases.sp_db.shards]]\nname = \"a\"\nport = " +
      std::to_string(primaryA.port()) + "\nreplicas = [ { host = \"127.0.0.1\", port = " +
      std::to_string(standbyA.port()) + " } ]\n\n[[databases.sp_db.shards]]\nname = \"b\"\nport = " +
      std::to_string(primaryB.port()) + "\n\n[databases.sp_db.tables]\nacks = { key = \"id\" }\n\n" +
      userSection("sp_scram", "scram_pass");
  Proxy proxy(config);
  Conn console(proxy.conninfo("sp_scram", "scram_pass", "shardpool"));
  REQUIRE(console.ok());

  // One writer per shard: even ids live on a (shard 0), odd ones on b.
  std::atomic<bool> stop{false}, crashed{false};
  std::atomic<int> errors[2] = {0, 0}, afterCrash[2] = {0, 0}, closed{0};
  std::mutex mutex;
  std::set<int64_t> ackedA;
  std::vector<std::thread> writers;
  for (int shard = 0; shard < 2; ++shard)
    writers.emplace_back([&, shard] {
      Conn c(proxy.conninfo("sp_scram", "scram_pass"));
      if (!c.ok()) {
        ++closed;
        return;
      }
      for (int64_t n = 0; !stop; ++n) {
        int64_t id = 2 * n + shard;
        auto r = c.exec("INSERT INTO acks (id) VALUES (" + std::to_string(id) + ")", 30s);
        bool ok = !r.empty() && r.back() && PQresultStatus(r.back().get()) == PGRES_COMMAND_OK;
        if (!ok) {
          ++errors[shard];
        } else {
          if (crashed) ++afterCrash[shard];
          if (shard == 0) {
            std::lock_guard lock(mutex);
            ackedA.insert(id);
          }
        }
        if (PQstatus(c.get()) != CONNECTION_OK) {
          ++closed;
          return;
        }
      }
    });
  std::this_thread::sleep_for(1s);
  crashed = true;
  primaryA.run("crash");
  auto deadline = Clock::now() + 20s;
  while (afterCrash[0] < 50 && Clock::now() < deadline) std::this_thread::sleep_for(50ms);
  std::this_thread::sleep_for(300ms);
  stop = true;
  for (auto& t : writers) t.join();

  INFO("shard a: errors " << errors[0] << ", after crash " << afterCrash[0] << "; shard b: errors "
                          << errors[1] << ", after crash " << afterCrash[1]);
  CHECK(closed == 0);
  CHECK(afterCrash[0] >= 50);  // a's writes resumed on its promoted standby
  CHECK(errors[0] <= 2);       // at most the statement in flight
  CHECK(errors[1] == 0);       // b never noticed
  CHECK(afterCrash[1] > 0);    // and kept writing
  // SHOW SHARDS: a's primary is now reached at the standby's address; b's is unchanged.
  NamedRow a = findRow(showRows(console, "SHOW SHARDS"), "shard", "a");
  CHECK(a.at("port") == std::to_string(standbyA.port()));
  NamedRow b = findRow(showRows(console, "SHOW SHARDS"), "shard", "b");
  CHECK(b.at("port") == std::to_string(primaryB.port()));
  // Every acknowledged write of shard a is on its new primary.
  Conn s = standbyA.admin();
  REQUIRE(s.ok());
  std::string ids;
  for (int64_t id : ackedA) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  REQUIRE_FALSE(ids.empty());
  CHECK(s.scalar("SELECT count(*) FROM unnest(ARRAY[" + ids +
                 "]::bigint[]) AS x(id) WHERE NOT EXISTS (SELECT 1 FROM acks WHERE acks.id = x.id)") ==
        "0");
}

// The issue's own workload: pgbench writing through shardpool (rate-limited, so most clients sit
// between transactions) while the primary is SIGKILLed. With auto_promote the load resumes on the
// standby; only clients with a transaction in flight see an error (pgbench aborts those), the
// others carry on over the same connections.
TEST_CASE("failover: a pgbench write load resumes on the promoted standby",
          "[integration][failover][pgbench]") {
  Cluster primary;
  Cluster standby(&primary);
  {
    Conn p = primary.admin();
    REQUIRE(p.ok());
    p.query("CREATE TABLE pgb_acks (id bigserial PRIMARY KEY, at timestamptz DEFAULT now())");
  }
  Proxy proxy(failoverConfig(primary, standby, true));
  TempDir tmp;
  std::string script = tmp.write("insert.sql", "INSERT INTO pgb_acks DEFAULT VALUES;\n");
  CommandResult bench;
  std::thread runner([&] {
    bench = runCommand({"pgbench", "-n", "-h", "127.0.0.1", "-p", std::to_string(proxy.port()),
                        "-U", "sp_scram", "-c", "8", "-j", "2", "-T", "12", "-R", "200", "-f",
                        script, "sp_db"},
                       clientEnv("scram_pass"), 60s);
  });
  std::this_thread::sleep_for(3s);
  double killedAt = std::chrono::duration<double>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  primary.run("crash");
  runner.join();
  INFO(bench.all());
  REQUIRE_FALSE(bench.timedOut);
  // Clients pgbench aborted: those whose transaction was in flight at the kill.
  size_t aborted = 0;
  for (size_t at = bench.all().find("aborted"); at != std::string::npos;
       at = bench.all().find("aborted", at + 1))
    ++aborted;
  CHECK(aborted <= 4);
  // Rows written on the promoted standby after the kill: the load resumed there.
  Conn s = standby.admin();
  REQUIRE(s.ok());
  REQUIRE(s.scalar("SELECT pg_is_in_recovery()") == "f");
  // (The servers share this machine's clock.)
  long after = std::stol(s.scalar("SELECT count(*) FROM pgb_acks WHERE at > to_timestamp(" +
                                  std::to_string(killedAt) + ")"));
  CHECK(after > 100);
  CHECK(std::stol(s.scalar("SELECT count(*) FROM pgb_acks")) > 300);
}

// read_from = "replicas": lone reads outside transactions go to the standby, writes and whole
// transactions to the primary; with the standby down (banned) reads go to the primary, and they
// come back to the standby once it has rejoined.
TEST_CASE("read_from replicas: reads on the standby, writes and transactions on the primary",
          "[integration][failover][read_from]") {
  Cluster primary;
  Cluster standby(&primary);
  primary.admin().query("CREATE TABLE rf (id bigint PRIMARY KEY)");
  std::string config = failoverConfig(primary, standby, false, "replica_ban_time = \"1s\"\n");
  size_t at = config.find("replicas = [");
  REQUIRE(at != std::string::npos);
  config.insert(at, "read_from = \"replicas\"\n");
  Proxy proxy(config);
  Conn app(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(app.ok());
  const std::string p = std::to_string(primary.port()), s = std::to_string(standby.port());
  auto port = [&](const std::string& sql) { return app.scalar(sql); };

  for (int i = 0; i < 5; ++i) CHECK(port("SELECT inet_server_port()") == s);
  app.query("INSERT INTO rf VALUES (1)");  // a write: the primary (the standby would refuse it)
  CHECK(port("SELECT inet_server_port() FROM rf FOR UPDATE") == p);  // locks rows: a write
  app.query("BEGIN");
  CHECK(port("SELECT inet_server_port()") == p);  // inside a transaction: the primary
  app.query("COMMIT");
  // Extended protocol too.
  auto r = execParams(app, "SELECT inet_server_port()::text WHERE $1 = 1", {"1"});
  CHECK(firstValue(r.get()) == s);

  // The standby goes down: its ban sends reads to the primary, with no error for the client.
  standby.run("crash");
  Conn console(proxy.conninfo("sp_scram", "scram_pass", "shardpool"));
  REQUIRE(eventually(
      [&] {
        for (const auto& row : showRows(console, "SHOW BACKENDS"))
          if (row.at("backend") == "127.0.0.1:" + s && row.at("state") == "down") return true;
        return false;
      },
      10s));
  for (int i = 0; i < 5; ++i) CHECK(port("SELECT inet_server_port()") == p);
  standby.run("restart");
  CHECK(eventually([&] { return port("SELECT inet_server_port()") == s; }, 20s));
}
