#include "pooler/admin/metrics.h"

#include <fmt/format.h>

#include <map>

#include "pooler/health/failover_manager.h"
#include "pooler/session/pool.h"
#include "pooler/session/runtime.h"
#include "pooler/net/version.h"

namespace shardpool::pooler::admin {

std::string escapeLabel(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

namespace {

class Exposition {
 public:
  // Starts a metric family: HELP and TYPE lines.
  void family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name,
                   type);
  }
  void sample(std::string_view name, std::string_view labels, double value) {
    if (labels.empty())
      fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
    else
      fmt::format_to(std::back_inserter(out_), "{}{{{}}} {}\n", name, labels, value);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

struct StateCounts {
  std::map<std::string_view, uint32_t> clients, servers;
  std::chrono::microseconds maxWait{0};
};

std::string poolLabels(const Pool& p) {
  return fmt::format("database=\"{}\",user=\"{}\"", escapeLabel(p.database()),
                     escapeLabel(p.user()));
}

}  // namespace

std::string renderMetrics(ControlPlane& control, const Snapshot* snapshot) {
  Exposition e;
  e.family("shardpool_info", "gauge", "shardpool build information.");
  e.sample("shardpool_info", fmt::format("version=\"{}\"", kVersion), 1);
  e.family("shardpool_start_time_seconds", "gauge", "Start time, seconds since the Unix epoch.");
  e.sample("shardpool_start_time_seconds", "",
           std::chrono::duration<double>(control.startTime().time_since_epoch()).count());
  e.family("shardpool_scrape_complete", "gauge",
           "1 when every worker answered for the per-state gauges of this scrape.");
  e.sample("shardpool_scrape_complete", "", snapshot ? 1 : 0);
  e.family("shardpool_clients_connected", "gauge",
           "Client connections counted against max_client_conn.");
  e.sample("shardpool_clients_connected", "", control.runtime().clientCount());
  e.family("shardpool_max_client_conn", "gauge", "The max_client_conn setting.");
  e.sample("shardpool_max_client_conn", "", control.runtime().config()->general.maxClientConn);
  e.family("shardpool_reloads_total", "counter", "Configuration reloads applied.");
  e.sample("shardpool_reloads_total", "", static_cast<double>(control.reloadCount()));
  e.family("shardpool_reload_failures_total", "counter",
           "Reloads refused because the new configuration had errors.");
  e.sample("shardpool_reload_failures_total", "", static_cast<double>(control.reloadFailureCount()));
  e.family("shardpool_client_errors_total", "counter",
           "Client connections ended with an error, by reason.");
  for (const auto& [reason, n] : control.runtime().errorCounts())
    e.sample("shardpool_client_errors_total", fmt::format("reason=\"{}\"", escapeLabel(reason)),
             static_cast<double>(n));

  if (health::FailoverManager* f = control.failover()) {
    auto backends = f->backends();
    auto labels = [](const health::BackendView& b) {
      return fmt::format("database=\"{}\",shard=\"{}\",backend=\"{}\"", escapeLabel(b.database),
                         escapeLabel(b.shard), escapeLabel(b.address));
    };
    e.family("shardpool_backend_up", "gauge", "1 while a health-checked backend answers.");
    for (const auto& b : backends) e.sample("shardpool_backend_up", labels(b), b.up ? 1 : 0);
    e.family("shardpool_backend_write_target", "gauge", "1 for the backend taking writes.");
    for (const auto& b : backends)
      e.sample("shardpool_backend_write_target", labels(b), b.writeTarget ? 1 : 0);
    e.family("shardpool_backend_in_recovery", "gauge", "1 for a standby (pg_is_in_recovery).");
    for (const auto& b : backends)
      e.sample("shardpool_backend_in_recovery", labels(b), b.inRecovery ? 1 : 0);
    e.family("shardpool_backend_fenced", "gauge",
             "1 for a backend fenced off writes (a second primary).");
    for (const auto& b : backends) e.sample("shardpool_backend_fenced", labels(b), b.fenced ? 1 : 0);
    e.family("shardpool_backend_replay_lag_bytes", "gauge",
             "How far a standby's replay is behind the write target's WAL position.");
    for (const auto& b : backends)
      e.sample("shardpool_backend_replay_lag_bytes", labels(b), static_cast<double>(b.lagBytes));
    e.family("shardpool_failovers_total", "counter", "Write-target changes after a failure.");
    e.sample("shardpool_failovers_total", "", static_cast<double>(f->failovers()));
  }

  std::vector<Pool*> pools = control.runtime().pools().all();
  std::map<const Pool*, StateCounts> states;
  if (snapshot) {
    for (const ConnRow& c : snapshot->clients) {
      if (!c.pool) continue;
      StateCounts& s = states[c.pool];
      ++s.clients[stateName(c.state)];
      s.maxWait = std::max(s.maxWait, c.wait);
    }
    for (const ConnRow& sv : snapshot->servers) ++states[sv.pool].servers[stateName(sv.state)];
    e.family("shardpool_pool_clients", "gauge", "Client connections of a pool by state.");
    for (Pool* p : pools)
      for (std::string_view st : {"active", "waiting"})
        e.sample("shardpool_pool_clients", fmt::format("{},state=\"{}\"", poolLabels(*p), st),
                 states[p].clients[st]);
    e.family("shardpool_pool_servers", "gauge", "Server connections of a pool by state.");
    for (Pool* p : pools)
      for (std::string_view st : {"active", "idle", "used", "login"})
        e.sample("shardpool_pool_servers", fmt::format("{},state=\"{}\"", poolLabels(*p), st),
                 states[p].servers[st]);
    e.family("shardpool_pool_max_wait_seconds", "gauge",
             "How long the longest-waiting client of a pool has waited for a server.");
    for (Pool* p : pools)
      e.sample("shardpool_pool_max_wait_seconds", poolLabels(*p),
               static_cast<double>(states[p].maxWait.count()) / 1e6);
  }
  e.family("shardpool_pool_size", "gauge", "The pool size in effect.");
  for (Pool* p : pools) e.sample("shardpool_pool_size", poolLabels(*p), p->settings().size);
  e.family("shardpool_pool_paused", "gauge", "1 while a pool is paused (PAUSE or KILL).");
  for (Pool* p : pools) e.sample("shardpool_pool_paused", poolLabels(*p), p->adminPaused() ? 1 : 0);

  std::map<const Pool*, PoolTotals> totals;
  for (Pool* p : pools) totals[p] = p->totals();
  struct Counter {
    const char* name;
    const char* help;
    double (*value)(const PoolTotals&);
  };
  static const Counter kCounters[] = {
      {"shardpool_pool_transactions_total", "Transactions completed (ReadyForQuery idle).",
       [](const PoolTotals& t) { return double(t.xacts); }},
      {"shardpool_pool_queries_total", "Queries completed (each ReadyForQuery).",
       [](const PoolTotals& t) { return double(t.queries); }},
      {"shardpool_pool_transaction_seconds_total", "Time spent in transactions.",
       [](const PoolTotals& t) { return double(t.xactUs) / 1e6; }},
      {"shardpool_pool_query_seconds_total", "Time spent in queries.",
       [](const PoolTotals& t) { return double(t.queryUs) / 1e6; }},
      {"shardpool_pool_wait_seconds_total", "Time clients waited for a server connection.",
       [](const PoolTotals& t) { return double(t.waitUs) / 1e6; }},
      {"shardpool_pool_server_assignments_total", "Times a server was given to a client.",
       [](const PoolTotals& t) { return double(t.assignments); }},
      {"shardpool_pool_received_bytes_total", "Bytes received from clients.",
       [](const PoolTotals& t) { return double(t.received); }},
      {"shardpool_pool_sent_bytes_total", "Bytes sent to clients by servers.",
       [](const PoolTotals& t) { return double(t.sent); }},
      {"shardpool_pool_server_connects_total", "Server connections opened and logged in.",
       [](const PoolTotals& t) { return double(t.serverConnects); }},
      {"shardpool_pool_server_connect_failures_total",
       "Server connections that failed to connect or log in.",
       [](const PoolTotals& t) { return double(t.serverConnectFailures); }},
  };
  for (const Counter& c : kCounters) {
    e.family(c.name, "counter", c.help);
    for (Pool* p : pools) e.sample(c.name, poolLabels(*p), c.value(totals[p]));
  }
  return e.take();
}

}  // namespace shardpool::pooler::admin
