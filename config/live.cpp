// What can change while shardpool runs: reloading the way a configuration was built, the keys
// that need a restart, and [general] as text for SHOW CONFIG.
#include <fmt/format.h>

#include <charconv>
#include <functional>

#include "config/config.h"
#include "config/duration.h"
#include "config/pgbouncer_settings.h"

namespace shardpool::config {

namespace {

std::string millis(Duration d) {
  return formatDuration(d);
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}

// One [general] key as text. Restart-only keys carry `keep`, which copies the running value into
// a reloaded configuration (what a reload cannot apply).
struct GeneralKey {
  std::string_view key;
  std::function<std::string(const General&)> show;
  void (*keep)(General& next, const General& running) = nullptr;
  bool restartOnly() const { return keep != nullptr; }
};

const std::vector<GeneralKey>& generalKeys() {
  static const std::vector<GeneralKey> keys = {
      {"listen_addr", [](const General& g) { return g.listenAddr; },
       [](General& n, const General& r) { n.listenAddr = r.listenAddr; }},
      {"listen_port", [](const General& g) { return std::to_string(g.listenPort); },
       [](General& n, const General& r) { n.listenPort = r.listenPort; }},
      {"mysql_listen_port", [](const General& g) { return std::to_string(g.mysqlListenPort); },
       [](General& n, const General& r) { n.mysqlListenPort = r.mysqlListenPort; }},
      {"mysql_default_auth",
       [](const General& g) {
         return std::string(g.mysqlCachingSha2 ? "caching_sha2_password" : "mysql_native_password");
       }},
      {"workers", [](const General& g) { return std::to_string(g.workers); },
       [](General& n, const General& r) { n.workers = r.workers; }},
      {"unix_socket_dir", [](const General& g) { return g.unixSocketDir; },
       [](General& n, const General& r) { n.unixSocketDir = r.unixSocketDir; }},
      {"unix_socket_mode", [](const General& g) { return fmt::format("{:04o}", g.unixSocketMode); },
       [](General& n, const General& r) { n.unixSocketMode = r.unixSocketMode; }},
      {"unix_socket_group", [](const General& g) { return g.unixSocketGroup; },
       [](General& n, const General& r) { n.unixSocketGroup = r.unixSocketGroup; }},
      {"max_client_conn", [](const General& g) { return std::to_string(g.maxClientConn); }},
      {"pool_mode", [](const General& g) { return std::string(toString(g.poolMode)); }},
      {"default_pool_size", [](const General& g) { return std::to_string(g.defaultPoolSize); }},
      {"min_pool_size", [](const General& g) { return std::to_string(g.minPoolSize); }},
      {"reserve_pool_size", [](const General& g) { return std::to_string(g.reservePoolSize); }},
      {"reserve_pool_timeout", [](const General& g) { return millis(g.reservePoolTimeout); }},
      {"max_db_connections", [](const General& g) { return std::to_string(g.maxDbConnections); }},
      {"max_user_connections",
       [](const General& g) { return std::to_string(g.maxUserConnections); }},
      {"auth_type", [](const General& g) { return std::string(toString(g.authType)); }},
      {"auth_hba_file", [](const General& g) { return g.authHbaFile; }},
      {"server_reset_query", [](const General& g) { return g.serverResetQuery; }},
      {"connect_query", [](const General& g) { return g.connectQuery; }},
      {"auth_user", [](const General& g) { return g.authUser; }},
      {"auth_query", [](const General& g) { return g.authQuery; }},
      {"auth_dbname", [](const General& g) { return g.authDbname; }},
      {"auth_query_cache_ttl", [](const General& g) { return millis(g.authQueryCacheTtl); }},
      {"auth_query_timeout", [](const General& g) { return millis(g.authQueryTimeout); }},
      {"query_wait_timeout", [](const General& g) { return millis(g.queryWaitTimeout); }},
      {"query_timeout", [](const General& g) { return millis(g.queryTimeout); }},
      {"idle_transaction_timeout",
       [](const General& g) { return millis(g.idleTransactionTimeout); }},
      {"client_login_timeout", [](const General& g) { return millis(g.clientLoginTimeout); }},
      {"client_idle_timeout", [](const General& g) { return millis(g.clientIdleTimeout); }},
      {"auth_failure_threshold",
       [](const General& g) { return std::to_string(g.authFailureThreshold); }},
      {"auth_failure_delay", [](const General& g) { return millis(g.authFailureDelay); }},
      {"auth_failure_max_delay", [](const General& g) { return millis(g.authFailureMaxDelay); }},
      {"auth_failure_window", [](const General& g) { return millis(g.authFailureWindow); }},
      {"auth_failure_trusted_networks",
       [](const General& g) {
         std::string out;
         for (const auto& n : g.authFailureTrustedNetworks) out += (out.empty() ? "" : ",") + n.text;
         return out;
       }},
      {"server_idle_timeout", [](const General& g) { return millis(g.serverIdleTimeout); }},
      {"server_lifetime", [](const General& g) { return millis(g.serverLifetime); }},
      {"server_connect_timeout", [](const General& g) { return millis(g.serverConnectTimeout); }},
      {"shutdown_timeout", [](const General& g) { return millis(g.shutdownTimeout); }},
      {"suspend_timeout", [](const General& g) { return millis(g.suspendTimeout); }},
      {"max_prepared_statements",
       [](const General& g) { return std::to_string(g.maxPreparedStatements); }},
      {"log_level", [](const General& g) { return std::string(toString(g.logLevel)); }},
      {"client_tls_sslmode",
       [](const General& g) { return std::string(toString(g.clientTlsSslmode)); }},
      {"client_tls_cert_file", [](const General& g) { return g.clientTlsCertFile; }},
      {"client_tls_key_file", [](const General& g) { return g.clientTlsKeyFile; }},
      {"client_tls_ca_file", [](const General& g) { return g.clientTlsCaFile; }},
      {"server_tls_sslmode",
       [](const General& g) { return std::string(toString(g.serverTlsSslmode)); }},
      {"server_tls_ca_file", [](const General& g) { return g.serverTlsCaFile; }},
      {"server_tls_cert_file", [](const General& g) { return g.serverTlsCertFile; }},
      {"server_tls_key_file", [](const General& g) { return g.serverTlsKeyFile; }},
      {"admin_users", [](const General& g) { return joined(g.adminUsers); }},
      {"stats_users", [](const General& g) { return joined(g.statsUsers); }},
      {"metrics_addr", [](const General& g) { return g.metricsAddr; },
       [](General& n, const General& r) { n.metricsAddr = r.metricsAddr; }},
      {"metrics_port", [](const General& g) { return std::to_string(g.metricsPort); },
       [](General& n, const General& r) { n.metricsPort = r.metricsPort; }},
      {"takeover_socket", [](const General& g) { return g.takeoverSocket; },
       [](General& n, const General& r) { n.takeoverSocket = r.takeoverSocket; }},
      {"health_check_interval", [](const General& g) { return millis(g.healthCheckInterval); }},
      {"health_check_timeout", [](const General& g) { return millis(g.healthCheckTimeout); }},
      {"health_check_failures",
       [](const General& g) { return std::to_string(g.healthCheckFailures); }},
      {"health_check_user", [](const General& g) { return g.healthCheckUser; }},
      {"failover_wait_timeout", [](const General& g) { return millis(g.failoverWaitTimeout); }},
      {"auto_promote", [](const General& g) { return std::string(g.autoPromote ? "on" : "off"); }},
      {"replica_ban_time", [](const General& g) { return millis(g.replicaBanTime); }},
  };
  return keys;
}

}  // namespace

LoadResult reloadConfig(const Config& current, const std::vector<Override>& extra) {
  std::vector<Override> overrides = current.origin.overrides;
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  switch (current.origin.kind) {
    case ConfigOrigin::Kind::File:
      return loadFile(current.origin.path, overrides);
    case ConfigOrigin::Kind::Sidecar:
      return fromSidecar(current.origin.sidecar, overrides);
    case ConfigOrigin::Kind::Text:
      break;
  }
  LoadResult r;
  r.errors.push_back({current.sourcePath,
                      0,
                      0,
                      {},
                      "this configuration was not loaded from a file and cannot be reloaded"});
  return r;
}

bool needsRestart(std::string_view keyPath) {
  std::string_view key = keyPath;
  if (key.rfind("general.", 0) == 0)
    key.remove_prefix(8);
  else if (key.find('.') != std::string_view::npos)
    return false;  // databases.* and users.* apply live
  for (const GeneralKey& k : generalKeys())
    if (k.key == key) return k.restartOnly();
  return false;
}

std::vector<std::string> restartOnlyChanges(const Config& running, const Config& next) {
  std::vector<std::string> out;
  for (const GeneralKey& k : generalKeys())
    if (k.restartOnly() && k.show(running.general) != k.show(next.general))
      out.push_back("general." + std::string(k.key));
  return out;
}

void keepRestartOnly(Config& next, const Config& running) {
  for (const GeneralKey& k : generalKeys())
    if (k.keep) k.keep(next.general, running.general);
}

std::vector<SettingView> describeGeneral(const Config& config) {
  static const General defaults;
  std::vector<SettingView> out;
  for (const GeneralKey& k : generalKeys())
    out.push_back({std::string(k.key), k.show(config.general), k.show(defaults), !k.restartOnly()});
  // PgBouncer's verbose, as translateLiveSet maps it onto log_level.
  out.push_back({"verbose", config.general.logLevel == LogLevel::Debug ? "1" : "0", "0", true});
  // PgBouncer settings without effect: as set, else PgBouncer's default.
  for (const PgbouncerOnlySetting& s : pgbouncerOnlySettings()) {
    auto it = config.general.pgbouncerOnly.find(s.key);
    std::string value(it == config.general.pgbouncerOnly.end() ? s.pgbouncerDefault : it->second);
    out.push_back({std::string(s.key), std::move(value), std::string(s.pgbouncerDefault), true});
  }
  return out;
}

bool translateLiveSet(std::string& keyPath, std::string& value, std::string& error) {
  if (keyPath != "general.verbose") return true;
  // PgBouncer's verbosity: 0 is its normal logging, each step above adds debug output.
  unsigned long long level = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), level);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size()) {
    error = fmt::format("verbose: expected an integer of at least 0, got \"{}\"", value);
    return false;
  }
  keyPath = "general.log_level";
  value = level > 0 ? "debug" : "info";
  return true;
}

}  // namespace shardpool::config
