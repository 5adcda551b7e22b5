#include "config/decode.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>

#include "config/decode_sharding.h"
#include "config/duration.h"
#include "config/fields.h"
#include "config/pgbouncer_settings.h"
#include "config/suggest.h"
#include "config/text.h"
#include "config/values.h"

namespace shardpool::config {

namespace {

constexpr int64_t kMaxCount = std::numeric_limits<uint32_t>::max();
constexpr int64_t kMaxWorkers = 256;

// A count where 0 is allowed (and usually means "off" or "unlimited").
std::optional<uint32_t> count(const ValueReader& v) {
  if (auto n = v.integer(0, kMaxCount)) return static_cast<uint32_t>(*n);
  return std::nullopt;
}

// A PgBouncer setting with no effect in shardpool (pgbouncer_settings.h): its value is checked
// for its type and kept as text.
void readPgbouncerOnly(General& g, const ValueReader& v) {
  std::string_view key = v.keyPath();
  key.remove_prefix(key.rfind('.') + 1);
  const PgbouncerOnlySetting* s = findPgbouncerOnlySetting(key);
  if (s == nullptr) return;
  switch (s->kind) {
    case PgbouncerOnlySetting::Kind::Count:
      if (auto n = v.integer(0, std::numeric_limits<int32_t>::max()))
        g.pgbouncerOnly.insert_or_assign(std::string(key), std::to_string(*n));
      break;
    case PgbouncerOnlySetting::Kind::Seconds:
      if (auto d = v.duration(true))
        g.pgbouncerOnly.insert_or_assign(std::string(key), formatDuration(*d));
      break;
    case PgbouncerOnlySetting::Kind::Text:
      if (auto t = v.string(true)) g.pgbouncerOnly.insert_or_assign(std::string(key), *t);
      break;
  }
}

const Field<General> kGeneralFields[] = {
    {"listen_addr",
     [](General& g, const ValueReader& v) {
       if (auto s = v.string(false)) g.listenAddr = *s;
     }},
    {"listen_port",
     [](General& g, const ValueReader& v) {
       if (auto p = v.integer(1, kMaxPort)) g.listenPort = static_cast<uint16_t>(*p);
     }},
    {"mysql_listen_port",
     [](General& g, const ValueReader& v) {
       if (auto p = v.integer(0, kMaxPort)) g.mysqlListenPort = static_cast<uint16_t>(*p);
     }},
    {"mysql_default_auth",
     [](General& g, const ValueReader& v) {
       static constexpr std::string_view kPlugins[] = {"mysql_native_password",
                                                      "caching_sha2_password"};
       if (auto i = v.choice(kPlugins)) g.mysqlCachingSha2 = *i == 1;
     }},
    {"unix_socket_dir",
     [](General& g, const ValueReader& v) {
       if (auto s = v.string(true)) g.unixSocketDir = *s;
     }},
    {"unix_socket_mode",  // PgBouncer's octal text ("0777"), or a TOML integer (0o777)
     [](General& g, const ValueReader& v) {
       if (v.node().is_integer()) {
         if (auto n = v.integer(0, 0777)) g.unixSocketMode = static_cast<uint32_t>(*n);
         return;
       }
       auto s = v.string(false);
       if (!s) return;
       uint32_t mode = 0;
       auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), mode, 8);
       if (ec != std::errc() || end != s->data() + s->size() || mode > 0777) {
         v.error(fmt::format("expected a file mode in octal, such as \"0777\" or \"0700\", got {}",
                             quote(*s)));
         return;
       }
       g.unixSocketMode = mode;
     }},
    {"unix_socket_group",
     [](General& g, const ValueReader& v) {
       if (auto s = v.string(true)) g.unixSocketGroup = *s;
     }},
    {"workers",
     [](General& g, const ValueReader& v) {
       if (auto n = v.integer(0, kMaxWorkers)) g.workers = static_cast<unsigned>(*n);
     }},
    {"max_client_conn",
     [](General& g, const ValueReader& v) {
       if (auto n = v.integer(1, kMaxCount)) g.maxClientConn = static_cast<uint32_t>(*n);
     }},
    {"pool_mode",
     [](General& g, const ValueReader& v) {
       if (auto m = v.poolMode()) g.poolMode = *m;
     }},
    {"default_pool_size",
     [](General& g, const ValueReader& v) {
       if (auto n = v.integer(1, kMaxCount)) g.defaultPoolSize = static_cast<uint32_t>(*n);
     }},
    {"auth_type",
     [](General& g, const ValueReader& v) {
       if (auto a = v.authType()) g.authType = *a;
     }},
    {"auth_hba_file",
     [](General& g, const ValueReader& v) {
       if (auto s = v.string(true)) g.authHbaFile = *s;
     }},
    {"server_reset_query",
     [](General& g, const ValueReader& v) {
       if (auto s = v.string(true)) g.serverResetQuery = *s;
     }},
    {"connect_query",
     [](General& g, const ValueReader& v) {
       if (auto s = v.string(true)) g.connectQuery = *s;
     }},
    {"auth_user",
     [](General& g, const ValueReader& v) {
       if (auto s = v.string(true)) g.authUser = *s;
     }},
    {"auth_query",
     [](General& g, const ValueReader& v) {
       if (auto s = v.string(false)) g.authQuery = *s;
     }},
    {"auth_dbname",
     [](General& g, const ValueReader& v) {
       if (auto s = v.string(true)) g.authDbname = *s;
     }},
    {"auth_query_cache_ttl",
     [](General& g, const ValueReader& v) {
       if (auto d = v.duration(true)) g.authQueryCacheTtl = *d;
     }},
    {"auth_query_timeout",
     [](General& g, const ValueReader& v) {
       if (auto d = v.duration(false)) g.authQueryTimeout = *d;
     }},
    {"query_wait_timeout",
     [](General& g, const ValueReader& v) {
       if (auto d = v.duration(true)) g.queryWaitTimeout = *d;
     }},
    {"server_idle_timeout",
     [](General& g, const ValueReader& v) {
       if (auto d = v.duration(true)) g.serverIdleTimeout = *d;
     }},
    {"server_lifetime",
     [](General& g, const ValueReader& v) {
       if (auto d = v.duration(true)) g.serverLifetime = *d;
     }},
    {"server_connect_timeout",
     [](General& g, const ValueReader& v) {
       if (auto d = v.duration(false)) g.serverConnectTimeout = *d;
     }},
    {"shutdown_timeout",
     [](General& g, const ValueReader& v) {
       if (auto d = v.duration(true)) g.shutdownTimeout = *d;
     }},
    {"suspend_timeout",
     [](General& g, const ValueReader& v) {
       if (auto d = v.duration(true)) g.suspendTimeout = *d;
     }},
    {"log_level",
     [](General& g, const ValueReader& v) {
       if (auto l = v.logLevel()) g.logLevel = *l;
     }},
    {"min_pool_size",
     [](General& g, const ValueReader& v) {
       if (auto n = count(v)) g.minPoolSize = *n;
     }},
    {"reserve_pool_size",
     [](General& g, const ValueReader& v) {
       if (auto n = count(v)) g.reservePoolSize = *n;
     }},
    {"reserve_pool_timeout",
     [](General& g, const ValueReader& v) {
       if (auto d = v.duration(true)) g.reservePoolTimeout = *d;
     }},
    {"max_db_connections",
     [](General& g, const ValueReader& v) {
       if (auto n = count(v)) g.maxDbConnections = *n;
     }},
    {"max_user_connections",
     [](General& g, const ValueReader& v) {
       if (auto n = count(v)) g.maxUserConnections = *n;
     }},
    {"query_timeout",
     [](General& g, const ValueReader& v) {
       if (auto d = v.duration(true)) g.queryTimeout = *d;
     }},
    {"idle_transaction_timeout",
     [](General& g, const ValueReader& v) {
       if (auto d = v.duration(true)) g.idleTransactionTimeout = *d;
     }},
    {"client_login_timeout",
     [](General& g, const ValueReader& v) {
       if (auto d = v.duration(true)) g.clientLoginTimeout = *d;
     }},
    {"client_idle_timeout",
     [](General& g, const ValueReader& v) {
       if (auto d = v.duration(true)) g.clientIdleTimeout = *d;
     }},
    {"auth_failure_threshold",
     [](General& g, const ValueReader& v) {
       if (auto n = count(v)) g.authFailureThreshold = *n;
     }},
    {"auth_failure_delay",
     [](General& g, const ValueReader& v) {
       if (auto d = v.duration(true)) g.authFailureDelay = *d;
     }},
    {"auth_failure_max_delay",
     [](General& g, const ValueReader& v) {
       if (auto d = v.duration(true)) g.authFailureMaxDelay = *d;
     }},
    {"auth_failure_window",
     [](General& g, const ValueReader& v) {
       if (auto d = v.duration(false)) g.authFailureWindow = *d;
     }},
    {"auth_failure_trusted_networks",
     [](General& g, const ValueReader& v) {
       auto texts = v.nameList();
       if (!texts) return;
       std::vector<Network> networks;
       for (const auto& t : *texts) {
         auto n = parseNetwork(t);
         if (!n) {
           v.error(fmt::format("expected addresses or networks such as \"10.0.0.0/8\" or "
                               "\"::1\", got {}",
                               quote(t)));
           return;
         }
         networks.push_back(std::move(*n));
       }
       g.authFailureTrustedNetworks = std::move(networks);
     }},
    {"max_prepared_statements",
     [](General& g, const ValueReader& v) {
       if (auto n = count(v)) g.maxPreparedStatements = *n;
     }},
    {"client_tls_sslmode",
     [](General& g, const ValueReader& v) {
       if (auto m = v.tlsMode()) g.clientTlsSslmode = *m;
     }},
    {"client_tls_cert_file",
     [](General& g, const ValueReader& v) {
       if (auto s = v.string(false)) g.clientTlsCertFile = *s;
     }},
    {"client_tls_key_file",
     [](General& g, const ValueReader& v) {
       if (auto s = v.string(false)) g.clientTlsKeyFile = *s;
     }},
    {"client_tls_ca_file",
     [](General& g, const ValueReader& v) {
       if (auto s = v.string(false)) g.clientTlsCaFile = *s;
     }},
    {"server_tls_sslmode",
     [](General& g, const ValueReader& v) {
       if (auto m = v.tlsMode()) g.serverTlsSslmode = *m;
     }},
    {"server_tls_ca_file",  // empty: not set (PgBouncer's SET server_tls_ca_file = '')
     [](General& g, const ValueReader& v) {
       if (auto s = v.string(true)) g.serverTlsCaFile = *s;
     }},
    {"server_tls_cert_file",  // empty: not set (PgBouncer's SET server_tls_cert_file = '')
     [](General& g, const ValueReader& v) {
       if (auto s = v.string(true)) g.serverTlsCertFile = *s;
     }},
    {"server_tls_key_file",  // empty: not set (PgBouncer's SET server_tls_key_file = '')
     [](General& g, const ValueReader& v) {
       if (auto s = v.string(true)) g.serverTlsKeyFile = *s;
     }},
    {"admin_users",
     [](General& g, const ValueReader& v) {
       if (auto n = v.nameList()) g.adminUsers = std::move(*n);
     }},
    {"stats_users",
     [](General& g, const ValueReader& v) {
       if (auto n = v.nameList()) g.statsUsers = std::move(*n);
     }},
    {"metrics_addr",
     [](General& g, const ValueReader& v) {
       if (auto s = v.string(false)) g.metricsAddr = *s;
     }},
    {"metrics_port",
     [](General& g, const ValueReader& v) {
       if (auto p = v.integer(0, kMaxPort)) g.metricsPort = static_cast<uint16_t>(*p);
     }},
    {"takeover_socket",
     [](General& g, const ValueReader& v) {
       if (auto s = v.string(true)) g.takeoverSocket = *s;
     }},
    {"health_check_interval",
     [](General& g, const ValueReader& v) {
       if (auto d = v.duration(true)) g.healthCheckInterval = *d;
     }},
    {"health_check_timeout",
     [](General& g, const ValueReader& v) {
       if (auto d = v.duration(false)) g.healthCheckTimeout = *d;
     }},
    {"health_check_failures",
     [](General& g, const ValueReader& v) {
       if (auto n = v.integer(1, 1000)) g.healthCheckFailures = static_cast<uint32_t>(*n);
     }},
    {"health_check_user",
     [](General& g, const ValueReader& v) {
       if (auto s = v.string(true)) g.healthCheckUser = *s;
     }},
    {"health_check_password",
     [](General& g, const ValueReader& v) {
       if (auto s = v.string(true)) g.healthCheckPassword = *s;
     }},
    {"failover_wait_timeout",
     [](General& g, const ValueReader& v) {
       if (auto d = v.duration(true)) g.failoverWaitTimeout = *d;
     }},
    {"auto_promote",
     [](General& g, const ValueReader& v) {
       if (auto b = v.boolean()) g.autoPromote = *b;
     }},
    {"replica_ban_time",
     [](General& g, const ValueReader& v) {
       if (auto d = v.duration(true)) g.replicaBanTime = *d;
     }},
};

// A port, or one port per host of a host list: "5432,5433" or [5432, 5433].
void readPorts(Database& d, const ValueReader& v) {
  const toml::node& n = v.node();
  if (!n.is_array() && !(n.is_string() && n.as_string()->get().find(',') != std::string::npos)) {
    if (auto p = v.integer(1, kMaxPort)) d.port = static_cast<uint16_t>(*p);
    return;
  }
  std::vector<uint16_t> ports;
  if (const auto* array = v.node().as_array()) {
    for (const auto& item : *array) {
      if (!item.is_integer()) break;
      ports.push_back(static_cast<uint16_t>(std::clamp<int64_t>(**item.as_integer(), 0, 65536)));
    }
    if (ports.size() != array->size()) ports.clear();
  } else if (auto texts = v.nameList()) {
    for (const auto& t : *texts) {
      int64_t n = 0;
      auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
      if (ec != std::errc() || end != t.data() + t.size()) {
        ports.clear();
        break;
      }
      ports.push_back(static_cast<uint16_t>(std::clamp<int64_t>(n, 0, 65536)));
    }
  } else {
    return;  // nameList() reported it
  }
  for (uint16_t p : ports)
    if (p == 0 || p > kMaxPort) ports.clear();
  if (ports.empty()) {
    v.error(
        fmt::format("expected a port (1 to 65535), or one per host as \"5432,5433\" or "
                    "[5432, 5433], got {}",
                    describe(v.node())));
    return;
  }
  d.port = ports.front();
  if (ports.size() > 1) d.ports = std::move(ports);
}

const Field<Database> kDatabaseFields[] = {
    {"protocol",
     [](Database& d, const ValueReader& v) {
       if (auto p = v.protocol()) d.protocol = *p;
     }},
    {"host",  // one host, or a host list: "a,b,c" or ["a", "b", "c"]
     [](Database& d, const ValueReader& v) {
       const toml::node& n = v.node();
       bool list =
           n.is_array() || (n.is_string() && n.as_string()->get().find(',') != std::string::npos);
       if (!list) {
         if (auto s = v.string(false)) d.host = *s;
         return;
       }
       auto hosts = v.nameList();
       if (!hosts || hosts->empty()) return;
       d.host = hosts->front();
       if (hosts->size() > 1) d.hosts = std::move(*hosts);
     }},
    {"port", readPorts},
    {"load_balance_hosts",
     [](Database& d, const ValueReader& v) {
       if (auto l = v.loadBalanceHosts()) d.loadBalanceHosts = *l;
     }},
    {"dbname",
     [](Database& d, const ValueReader& v) {
       if (auto s = v.string(false)) d.dbname = *s;
     }},
    {"user",
     [](Database& d, const ValueReader& v) {
       if (auto s = v.string(false)) d.user = *s;
     }},
    {"password",
     [](Database& d, const ValueReader& v) {
       if (auto s = v.string(true)) d.password = *s;
     }},
    {"pool_size",
     [](Database& d, const ValueReader& v) {
       if (auto n = v.integer(1, kMaxCount)) d.poolSize = static_cast<uint32_t>(*n);
     }},
    {"pool_mode",
     [](Database& d, const ValueReader& v) {
       if (auto m = v.poolMode()) d.poolMode = *m;
     }},
    {"min_pool_size",
     [](Database& d, const ValueReader& v) {
       if (auto n = count(v)) d.minPoolSize = *n;
     }},
    {"reserve_pool_size",
     [](Database& d, const ValueReader& v) {
       if (auto n = count(v)) d.reservePoolSize = *n;
     }},
    {"max_db_connections",
     [](Database& d, const ValueReader& v) {
       if (auto n = count(v)) d.maxDbConnections = *n;
     }},
    {"connect_query",
     [](Database& d, const ValueReader& v) {
       if (auto s = v.string(true)) d.connectQuery = *s;
     }},
    {"auth_user",
     [](Database& d, const ValueReader& v) {
       if (auto s = v.string(true)) d.authUser = *s;
     }},
    {"auth_query",
     [](Database& d, const ValueReader& v) {
       if (auto s = v.string(false)) d.authQuery = *s;
     }},
    {"auth_dbname",
     [](Database& d, const ValueReader& v) {
       if (auto s = v.string(true)) d.authDbname = *s;
     }},
    {"sslmode",
     [](Database& d, const ValueReader& v) {
       if (auto m = v.tlsMode()) d.sslmode = *m;
     }},
    {"sslrootcert",
     [](Database& d, const ValueReader& v) {
       if (auto s = v.string(false)) d.sslrootcert = *s;
     }},
    // Sharding and replicas (decode_sharding.h).
    {"replicas",
     [](Database& d, const ValueReader& v) {
       if (auto r = readReplicas(v)) d.replicas = std::move(*r);
     }},
    {"shards",
     [](Database& d, const ValueReader& v) {
       if (auto s = readShards(v)) d.shards = std::move(*s);
     }},
    {"sharding_function",
     [](Database& d, const ValueReader& v) {
       if (auto f = v.shardingFunction()) d.shardingFunction = *f;
     }},
    {"read_from",
     [](Database& d, const ValueReader& v) {
       if (auto r = v.readFrom()) d.readFrom = *r;
     }},
    {"allow_unkeyed_writes",
     [](Database& d, const ValueReader& v) {
       if (auto b = v.boolean()) d.allowUnkeyedWrites = *b;
     }},
    // These name shards: read by decodeShardReferences once `shards` is known.
    {"default_shard", nullptr},
    {"tables", nullptr},
    {"directory", nullptr},
};

const Field<User> kUserFields[] = {
    {"password",
     [](User& u, const ValueReader& v) {
       if (auto s = v.string(true)) u.password = *s;
     }},
    {"auth_type",
     [](User& u, const ValueReader& v) {
       if (auto a = v.authType()) u.authType = *a;
     }},
    {"pool_size",
     [](User& u, const ValueReader& v) {
       if (auto n = v.integer(1, kMaxCount)) u.poolSize = static_cast<uint32_t>(*n);
     }},
    {"pool_mode",
     [](User& u, const ValueReader& v) {
       if (auto m = v.poolMode()) u.poolMode = *m;
     }},
    {"max_user_connections",
     [](User& u, const ValueReader& v) {
       if (auto n = count(v)) u.maxUserConnections = *n;
     }},
};

// After a database's keys: a MySQL database without a port has MySQL's (3306); then the keys
// that name shards.
void finishDatabase(const toml::table& table, const std::string& path, Database& db,
                    Diagnostics& diag) {
  if (db.protocol == Protocol::MySql && !table.contains("port")) db.port = 3306;
  decodeShardReferences(table, path, db, diag);
}

constexpr std::string_view kTopLevelKeys[] = {"general", "databases", "users"};

// [databases.<name>] or [users.<name>] entries.
// `finish`, when set, runs on each entry after its fields.
template <class T>
void decodeNamed(const toml::node& node, std::string_view section, std::span<const Field<T>> fields,
                 std::map<std::string, T, std::less<>>& out, Diagnostics& diag,
                 void (*finish)(const toml::table&, const std::string&, T&,
                                Diagnostics&) = nullptr) {
  const toml::table* table = expectTable(node, std::string(section), diag);
  if (table == nullptr) return;
  for (auto&& [key, entry] : *table) {
    std::string path = joinKeyPath(section, key.str());
    if (key.str().empty()) {
      diag.at(key.source(), path, "the name must not be empty");
      continue;
    }
    const toml::table* body = expectTable(entry, path, diag);
    if (body == nullptr) continue;
    T item;
    item.name = std::string(key.str());
    decodeFields(*body, path, fields, item, diag);
    if (finish != nullptr) finish(*body, path, item, diag);
    out.emplace(item.name, std::move(item));
  }
}

}  // namespace

const toml::table* expectTable(const toml::node& node, const std::string& path, Diagnostics& diag) {
  if (const auto* table = node.as_table()) return table;
  diag.at(node.source(), path, fmt::format("expected a table, got {}", describe(node)));
  return nullptr;
}

namespace {

// shardpool's own [general] keys, then PgBouncer's that have no effect.
std::span<const Field<General>> generalFields() {
  static const std::vector<Field<General>> fields = [] {
    std::vector<Field<General>> out(std::begin(kGeneralFields), std::end(kGeneralFields));
    for (const PgbouncerOnlySetting& s : pgbouncerOnlySettings())
      out.push_back({s.key, readPgbouncerOnly});
    return out;
  }();
  return fields;
}

}  // namespace

std::vector<std::string_view> knownKeys(Section section) {
  switch (section) {
    case Section::Top:
      return {std::begin(kTopLevelKeys), std::end(kTopLevelKeys)};
    case Section::General:
      return keysOf<General>(generalFields());
    case Section::Database:
      return keysOf<Database>(kDatabaseFields);
    case Section::User:
      return keysOf<User>(kUserFields);
  }
  return {};
}

std::string unknownTopLevelMessage(std::string_view key) {
  std::string message = unknownNameMessage("key", key, kTopLevelKeys);
  if (closestMatch(key, kTopLevelKeys)) return message;
  auto general = knownKeys(Section::General);
  if (std::find(general.begin(), general.end(), key) != general.end()) {
    message += fmt::format("; did you mean {}?", quote(joinKeyPath("general", key)));
  }
  return message;
}

void decodeConfig(const toml::table& root, Config& out, Diagnostics& diag) {
  for (auto&& [key, node] : root) {
    std::string path = joinKeyPath("", key.str());
    if (key.str() == "general") {
      if (const auto* table = expectTable(node, path, diag)) {
        decodeFields<General>(*table, path, generalFields(), out.general, diag);
      }
    } else if (key.str() == "databases") {
      decodeNamed<Database>(node, "databases", kDatabaseFields, out.databases, diag,
                            finishDatabase);
    } else if (key.str() == "users") {
      decodeNamed<User>(node, "users", kUserFields, out.users, diag);
    } else {
      diag.at(key.source(), std::move(path), unknownTopLevelMessage(key.str()));
    }
  }
}

}  // namespace shardpool::config
