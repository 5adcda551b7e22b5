#include "pooler/admin/show.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <array>
#include <iterator>
#include <map>
#include <vector>

#include "pooler/session/pool.h"
#include "pooler/health/failover_manager.h"
#include "pooler/session/runtime.h"
#include "pooler/net/version.h"

namespace shardpool::pooler::admin {

namespace {

using Type = ResultSet::Type;

std::string timestamp(std::chrono::system_clock::time_point t) {
  if (t.time_since_epoch().count() == 0) return {};
  return fmt::format("{:%Y-%m-%d %H:%M:%S} UTC",
                     std::chrono::time_point_cast<std::chrono::seconds>(t));
}

std::string modeName(config::PoolMode m) {
  return std::string(config::toString(m));
}

std::string roleName(const Pool& p) {
  return p.member() == 0 ? std::string("primary") : fmt::format("replica{}", p.member());
}

struct PoolCounts {
  uint32_t clActive = 0, clWaiting = 0, svActive = 0, svIdle = 0, svUsed = 0, svLogin = 0;
  std::chrono::microseconds maxWait{0};
};

std::map<const Pool*, PoolCounts> countByPool(const Snapshot& snap) {
  std::map<const Pool*, PoolCounts> out;
  for (const ConnRow& c : snap.clients) {
    if (!c.pool) continue;
    PoolCounts& pc = out[c.pool];
    if (c.state == ConnRow::State::Waiting) {
      ++pc.clWaiting;
      pc.maxWait = std::max(pc.maxWait, c.wait);
    } else if (c.state == ConnRow::State::Active) {
      ++pc.clActive;
    }
  }
  for (const ConnRow& s : snap.servers) {
    PoolCounts& pc = out[s.pool];
    switch (s.state) {
      case ConnRow::State::Active:
        ++pc.svActive;
        break;
      case ConnRow::State::Idle:
        ++pc.svIdle;
        break;
      case ConnRow::State::Used:
        ++pc.svUsed;
        break;
      case ConnRow::State::Login:
      case ConnRow::State::Waiting:
      case ConnRow::State::Admin:
        ++pc.svLogin;
        break;
    }
  }
  return out;
}

ResultSet showPools(ControlPlane& control, const Snapshot& snap) {
  ResultSet rs;
  for (const char* c : {"database", "user"}) rs.column(c);
  for (const char* c : {"cl_active", "cl_waiting", "cl_active_cancel_req", "cl_waiting_cancel_req",
                        "sv_active", "sv_active_cancel", "sv_being_canceled", "sv_idle", "sv_used",
                        "sv_tested", "sv_login", "maxwait", "maxwait_us"})
    rs.column(c, Type::Int);
  rs.column("pool_mode").column("paused", Type::Int).column("stale_servers", Type::Int);
  // The pool's own books: server slots in use (open or opening), clients queued, failover hold.
  rs.column("slots", Type::Int).column("queued", Type::Int).column("held", Type::Int);
  // Sharded databases and read_from: a pool per shard and member.
  rs.column("shard").column("role");
  auto counts = countByPool(snap);
  for (Pool* p : control.runtime().pools().all()) {
    auto it = counts.find(p);
    if (p->retired() && it == counts.end()) continue;
    PoolCounts pc = it == counts.end() ? PoolCounts{} : it->second;
    rs.row().add(p->database()).add(p->user());
    rs.add(pc.clActive).add(pc.clWaiting).add(0).add(0);
    rs.add(pc.svActive).add(0).add(0).add(pc.svIdle).add(pc.svUsed).add(0).add(pc.svLogin);
    rs.add(static_cast<int64_t>(pc.maxWait.count() / 1000000))
        .add(static_cast<int64_t>(pc.maxWait.count() % 1000000));
    rs.add(modeName(p->settings().mode)).add(p->adminPaused()).add(p->staleServers());
    Pool::Counts books = p->counts();
    rs.add(books.total).add(books.waiting).add(p->held());
    rs.add(p->shardName()).add(roleName(*p));
  }
  return rs;
}

// Where the shards of each routed database are, and the traffic each member of each shard had
// (all users' pools summed).
ResultSet showShards(ControlPlane& control, const Snapshot& snap) {
  ResultSet rs;
  rs.column("database").column("shard").column("index", Type::Int).column("role");
  rs.column("host").column("port", Type::Int).column("dbname").column("sharding_function");
  for (const char* c : {"cl_active", "cl_waiting", "sv_active", "sv_idle", "xact_count",
                        "query_count"})
    rs.column(c, Type::Int);
  auto cfg = control.runtime().config();
  auto counts = countByPool(snap);
  std::vector<Pool*> pools = control.runtime().pools().all();
  for (const auto& [name, db] : cfg->databases) {
    if (name == "*" || (db.shards.size() < 2 && db.readFrom == config::ReadFrom::Primary))
      continue;
    std::vector<config::Shard> shards = cfg->shardsOf(db);
    for (uint32_t i = 0; i < shards.size(); ++i) {
      for (uint32_t m = 0; m <= shards[i].replicas.size(); ++m) {
        const config::Backend& b = m == 0 ? shards[i].primary : shards[i].replicas[m - 1];
        PoolCounts pc;
        PoolTotals t;
        std::string host = b.host;
        uint16_t port = b.port;
        for (Pool* p : pools) {
          if (p->database() != name || p->shard() != i || p->member() != m || p->retired())
            continue;
          host = p->settings().host;  // after a failover: the write target
          port = p->settings().port;
          if (auto it = counts.find(p); it != counts.end()) {
            pc.clActive += it->second.clActive;
            pc.clWaiting += it->second.clWaiting;
            pc.svActive += it->second.svActive;
            pc.svIdle += it->second.svIdle;
          }
          t += p->totals();
        }
        rs.row().add(name).add(shards[i].name).add(i);
        rs.add(m == 0 ? std::string("primary") : fmt::format("replica{}", m));
        rs.add(host).add(static_cast<uint64_t>(port)).add(b.dbname.empty() ? name : b.dbname);
        rs.add(std::string(config::toString(db.shardingFunction)));
        rs.add(pc.clActive).add(pc.clWaiting).add(pc.svActive).add(pc.svIdle);
        rs.add(t.xacts).add(t.queries);
      }
    }
  }
  return rs;
}

ResultSet showConnections(const std::vector<ConnRow>& rows, bool servers) {
  ResultSet rs;
  for (const char* c : {"type", "user", "database", "state", "addr"}) rs.column(c);
  rs.column("port", Type::Int).column("local_addr").column("local_port", Type::Int);
  rs.column("connect_time").column("request_time");
  rs.column("wait", Type::Int).column("wait_us", Type::Int).column("close_needed", Type::Int);
  rs.column("ptr").column("link").column("remote_pid", Type::Int).column("tls");
  rs.column("application_name").column("prepared_statements", Type::Int).column("id", Type::Int);
  for (const ConnRow& r : rows) {
    rs.row()
        .add(servers ? "S" : "C")
        .add(r.user)
        .add(r.database)
        .add(std::string(stateName(r.state)));
    rs.add(r.addr).add(r.port).add(r.localAddr).add(r.localPort);
    rs.add(timestamp(r.connectTime)).add(timestamp(r.requestTime));
    rs.add(static_cast<int64_t>(r.wait.count() / 1000000))
        .add(static_cast<int64_t>(r.wait.count() % 1000000))
        .add(r.closeNeeded);
    rs.add(fmt::format("{:x}", r.id)).add(r.link ? fmt::format("{:x}", r.link) : std::string());
    rs.add(r.remotePid).add(r.tls).add(r.applicationName).add(r.preparedStatements).add(r.id);
  }
  return rs;
}

// One statistic of SHOW STATS and its halves, under the three names PgBouncer gives it: in
// STATS_TOTALS and STATS_AVERAGES, and prefixed in STATS (where the bytes are named differently).
struct StatName {
  const char* plain;
  const char* total;
  const char* avg;
};

// PgBouncer 1.18's columns in its order (checked against its console), then ours. Newer
// PgBouncer versions have server_assignment_count too, but put it first; keeping it last means
// a reader that takes 1.18's columns by position still finds them where it expects.
constexpr StatName kStatNames[] = {
    {"xact_count", "total_xact_count", "avg_xact_count"},
    {"query_count", "total_query_count", "avg_query_count"},
    {"bytes_received", "total_received", "avg_recv"},
    {"bytes_sent", "total_sent", "avg_sent"},
    {"xact_time", "total_xact_time", "avg_xact_time"},
    {"query_time", "total_query_time", "avg_query_time"},
    {"wait_time", "total_wait_time", "avg_wait_time"},
    {"server_assignment_count", "total_server_assignment_count", "avg_server_assignment_count"},
};
constexpr size_t kPgBouncerStats = 7;  // the first seven; the rest are ours
constexpr size_t kStats = std::size(kStatNames);
using StatValues = std::array<int64_t, kStats>;

StatValues totalValues(const PoolTotals& t) {
  auto v = [](uint64_t x) { return static_cast<int64_t>(x); };
  return {v(t.xacts),  v(t.queries), v(t.received), v(t.sent),
          v(t.xactUs), v(t.queryUs), v(t.waitUs),   v(t.assignments)};
}

// Counts and bytes per second over the window; times per transaction, query or assignment.
StatValues averageValues(const PoolTotals& a, const PoolTotals& b, double secs) {
  auto rate = [&](uint64_t later, uint64_t earlier) {
    return static_cast<int64_t>(later >= earlier ? (later - earlier) / secs : 0);
  };
  auto per = [](uint64_t time1, uint64_t time0, uint64_t n1, uint64_t n0) {
    return n1 > n0 ? static_cast<int64_t>((time1 - time0) / (n1 - n0)) : int64_t{0};
  };
  return {rate(b.xacts, a.xacts),
          rate(b.queries, a.queries),
          rate(b.received, a.received),
          rate(b.sent, a.sent),
          per(b.xactUs, a.xactUs, b.xacts, a.xacts),
          per(b.queryUs, a.queryUs, b.queries, a.queries),
          per(b.waitUs, a.waitUs, b.assignments, a.assignments),
          rate(b.assignments, a.assignments)};
}

enum class StatsTable { All, Totals, Averages };

// SHOW STATS: database, PgBouncer's total_* then avg_*, then our total_* and avg_*.
// SHOW STATS_TOTALS / STATS_AVERAGES: database and the unprefixed names, PgBouncer's first.
ResultSet showStats(ControlPlane& control, StatsTable table) {
  ResultSet rs;
  rs.column("database");
  // Column order as (index into kStatNames, average?) pairs.
  std::vector<std::pair<size_t, bool>> order;
  auto addRange = [&](size_t from, size_t to) {
    if (table != StatsTable::Averages)
      for (size_t i = from; i < to; ++i) order.emplace_back(i, false);
    if (table != StatsTable::Totals)
      for (size_t i = from; i < to; ++i) order.emplace_back(i, true);
  };
  addRange(0, kPgBouncerStats);
  addRange(kPgBouncerStats, kStats);
  for (auto [i, avg] : order) {
    const StatName& n = kStatNames[i];
    const char* name = table != StatsTable::All ? n.plain : avg ? n.avg : n.total;
    rs.column(name, Type::Int);
  }

  std::map<std::string, PoolTotals> byDb;
  for (Pool* p : control.runtime().pools().all()) byDb[p->database()] += p->totals();
  ControlPlane::StatsWindow window = control.statsWindow();
  double secs = std::max(1.0, std::chrono::duration<double>(window.to - window.from).count());
  for (auto& [db, t] : byDb) {
    PoolTotals a, b;
    if (auto it = window.fromTotals.find(db); it != window.fromTotals.end()) a = it->second;
    if (auto it = window.toTotals.find(db); it != window.toTotals.end()) b = it->second;
    StatValues totals = totalValues(t);
    StatValues averages = averageValues(a, b, secs);
    rs.row().add(db);
    for (auto [i, avg] : order) rs.add(avg ? averages[i] : totals[i]);
  }
  return rs;
}

ResultSet showDatabases(ControlPlane& control, const Snapshot& snap) {
  auto cfg = control.runtime().config();
  ResultSet rs;
  rs.column("name").column("host").column("port", Type::Int).column("database");
  rs.column("force_user").column("pool_size", Type::Int).column("min_pool_size", Type::Int);
  rs.column("reserve_pool", Type::Int).column("pool_mode").column("max_connections", Type::Int);
  rs.column("current_connections", Type::Int).column("paused", Type::Int);
  rs.column("disabled", Type::Int);
  std::map<std::string, uint32_t> current;
  for (const ConnRow& s : snap.servers)
    if (s.pool) ++current[s.pool->database()];
  for (const auto& [name, db] : cfg->databases) {
    std::string hosts = db.host;  // a host list in full, as PgBouncer shows it
    for (size_t i = 1; i < db.hosts.size(); ++i) hosts += "," + db.hosts[i];
    rs.row().add(name).add(hosts).add(db.port).add(db.dbname.empty() ? name : db.dbname);
    rs.add(db.user ? *db.user : std::string());
    rs.add(cfg->poolSizeFor(db, nullptr)).add(cfg->minPoolSizeFor(db));
    rs.add(cfg->reservePoolSizeFor(db));
    rs.add(db.poolMode ? modeName(*db.poolMode) : std::string());
    rs.add(cfg->maxDbConnectionsFor(db)).add(current[name]);
    rs.add(control.runtime().pools().isPaused(name)).add(control.runtime().isDisabled(name));
  }
  return rs;
}

ResultSet showUsers(ControlPlane& control) {
  auto cfg = control.runtime().config();
  ResultSet rs;
  rs.column("name").column("pool_size", Type::Int).column("pool_mode");
  rs.column("max_user_connections", Type::Int);
  for (const auto& [name, u] : cfg->users) {
    rs.row().add(name);
    if (u.poolSize)
      rs.add(*u.poolSize);
    else
      rs.addNull();
    rs.add(u.poolMode ? modeName(*u.poolMode) : std::string());
    rs.add(cfg->maxUserConnectionsFor(&u));
  }
  return rs;
}

ResultSet showConfig(ControlPlane& control) {
  ResultSet rs;
  rs.column("key").column("value").column("default").column("changeable");
  for (const auto& s : config::describeGeneral(*control.runtime().config()))
    rs.row().add(s.key).add(s.value).add(s.defaultValue).add(s.changeable ? "yes" : "no");
  return rs;
}

ResultSet showLists(ControlPlane& control, const Snapshot& snap) {
  auto cfg = control.runtime().config();
  uint32_t usedClients = 0, loginClients = 0, usedServers = 0, freeServers = 0;
  for (const ConnRow& c : snap.clients)
    (c.state == ConnRow::State::Login ? loginClients : usedClients)++;
  for (const ConnRow& s : snap.servers)
    (s.state == ConnRow::State::Idle ? freeServers : usedServers)++;
  ResultSet rs;
  rs.column("list").column("items", Type::Int);
  auto item = [&](const char* name, uint64_t n) { rs.row().add(name).add(n); };
  item("databases", cfg->databases.size());
  item("users", cfg->users.size());
  item("pools", control.runtime().pools().all().size());
  item("free_clients", 0);
  item("used_clients", usedClients);
  item("login_clients", loginClients);
  item("free_servers", freeServers);
  item("used_servers", usedServers);
  item("dns_names", 0);
  item("dns_zones", 0);
  item("dns_queries", 0);
  item("dns_pending", 0);
  return rs;
}

// Health-checked backends (databases with standbys) and their roles.
ResultSet showBackends(ControlPlane& control) {
  ResultSet rs;
  rs.column("database").column("shard").column("backend").column("role").column("state");
  rs.column("write_target", Type::Int).column("configured_primary", Type::Int);
  rs.column("lag_bytes", Type::Int).column("failures", Type::Int).column("last_error");
  rs.column("banned", Type::Int).column("ban_left_ms", Type::Int);
  if (!control.failover()) return rs;
  for (const auto& b : control.failover()->backends()) {
    std::string role = !b.probed ? "unknown" : b.inRecovery ? "standby" : "primary";
    std::string state = b.fenced ? "fenced" : b.up ? "up" : "down";
    rs.row().add(b.database).add(b.shard).add(b.address).add(role).add(state);
    rs.add(b.writeTarget).add(b.configuredPrimary).add(b.lagBytes).add(b.failures);
    rs.add(b.lastError).add(b.banned).add(b.banLeftMs);
  }
  return rs;
}

// Directory-sharded databases: where each map comes from and what it holds.
ResultSet showDirectory(ControlPlane& control) {
  ResultSet rs;
  rs.column("database").column("source").column("entries", Type::Int).column("ranges", Type::Int);
  rs.column("text_keys", Type::Int).column("version", Type::Int).column("loaded_at");
  rs.column("last_error");
  for (const auto& d : control.runtime().directories().status()) {
    rs.row().add(d.database).add(d.source).add(static_cast<uint64_t>(d.entries));
    rs.add(static_cast<uint64_t>(d.ranges)).add(static_cast<uint64_t>(d.textKeys)).add(d.version);
    rs.add(timestamp(d.loadedAt)).add(d.lastError);
  }
  return rs;
}

ResultSet showEvents(ControlPlane& control) {
  ResultSet rs;
  rs.column("event");
  if (control.failover())
    for (const auto& e : control.failover()->events()) rs.row().add(e);
  return rs;
}

ResultSet showVersion() {
  ResultSet rs;
  rs.column("version").row().add(fmt::format("shardpool {}", kVersion));
  return rs;
}

ResultSet showHelp() {
  ResultSet rs;
  rs.column("command");
  for (const char* c :
       {"SHOW POOLS|STATS|STATS_TOTALS|STATS_AVERAGES|CLIENTS|SERVERS|DATABASES|USERS|CONFIG|"
        "LISTS|BACKENDS|EVENTS|DIRECTORY|SHARDS|VERSION|HELP",
        "UNFENCE host:port", "PAUSE [db]", "SUSPEND", "RESUME [db]", "RECONNECT [db]", "KILL db",
        "KILL_CLIENT id", "DISABLE db", "ENABLE db", "WAIT_CLOSE [db]", "RELOAD",
        "SHUTDOWN [WAIT_FOR_SERVERS|WAIT_FOR_CLIENTS]", "SET key = value"})
    rs.row().add(c);
  return rs;
}

}  // namespace

bool showNeedsSnapshot(std::string_view what) {
  return what == "POOLS" || what == "CLIENTS" || what == "SERVERS" || what == "LISTS" ||
         what == "DATABASES" || what == "SHARDS";
}

std::optional<ResultSet> show(std::string_view what, ControlPlane& control, const Snapshot* snap,
                              std::string& error) {
  static const Snapshot kEmpty;
  const Snapshot& s = snap ? *snap : kEmpty;
  if (what == "POOLS") return showPools(control, s);
  if (what == "CLIENTS") return showConnections(s.clients, false);
  if (what == "SERVERS") return showConnections(s.servers, true);
  if (what == "STATS") return showStats(control, StatsTable::All);
  if (what == "STATS_TOTALS") return showStats(control, StatsTable::Totals);
  if (what == "STATS_AVERAGES") return showStats(control, StatsTable::Averages);
  if (what == "DATABASES") return showDatabases(control, s);
  if (what == "USERS") return showUsers(control);
  if (what == "CONFIG") return showConfig(control);
  if (what == "LISTS") return showLists(control, s);
  if (what == "VERSION") return showVersion();
  if (what == "BACKENDS") return showBackends(control);
  if (what == "EVENTS") return showEvents(control);
  if (what == "DIRECTORY") return showDirectory(control);
  if (what == "SHARDS") return showShards(control, s);
  if (what == "HELP") return showHelp();
  error = fmt::format("unknown SHOW \"{}\"; SHOW HELP lists what can be shown", what);
  return std::nullopt;
}

}  // namespace shardpool::pooler::admin
