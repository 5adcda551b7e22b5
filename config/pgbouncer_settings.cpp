#include "config/pgbouncer_settings.h"

#include <algorithm>

namespace shardpool::config {

namespace {

using Kind = PgbouncerOnlySetting::Kind;

constexpr std::string_view kLogs =
    "shardpool logs every connection to stderr; log_level sets how much";
constexpr std::string_view kAuthLookup =
    "shardpool checks passwords against [users] and auth_query only (no auth file)";
constexpr std::string_view kTls = "shardpool uses TLS 1.2 or later with OpenSSL's defaults";
constexpr std::string_view kTcp = "shardpool uses the operating system's TCP settings";
constexpr std::string_view kDns = "shardpool resolves host names with the system resolver";
constexpr std::string_view kClientCaps = "max_client_conn caps all clients together";

constexpr PgbouncerOnlySetting kSettings[] = {
    {"application_name_add_host", Kind::Count, "0",
     "application_name is passed on as the client set it"},
    {"auth_file", Kind::Text, "", kAuthLookup},
    {"auth_ident_file", Kind::Text, "", kAuthLookup},
    {"auth_ldap_options", Kind::Text, "", kAuthLookup},
    {"autodb_idle_timeout", Kind::Seconds, "3600s", "no counterpart"},
    {"cancel_wait_timeout", Kind::Seconds, "10s",
     "cancel requests are forwarded at once, never queued"},
    {"client_tls13_ciphers", Kind::Text, "", kTls},
    {"client_tls_ciphers", Kind::Text, "default", kTls},
    {"client_tls_dheparams", Kind::Text, "auto", kTls},
    {"client_tls_ecdhcurve", Kind::Text, "auto", kTls},
    {"client_tls_protocols", Kind::Text, "secure", kTls},
    {"conffile", Kind::Text, "", "shardpool reads the file given with -c"},
    {"dns_max_ttl", Kind::Seconds, "15s", kDns},
    {"dns_nxdomain_ttl", Kind::Seconds, "15s", kDns},
    {"dns_zone_check_period", Kind::Seconds, "0s", kDns},
    {"ignore_startup_parameters", Kind::Text, "",
     "shardpool accepts every startup parameter and sets it on the server"},
    {"log_connections", Kind::Count, "1", kLogs},
    {"log_disconnections", Kind::Count, "1", kLogs},
    {"log_pooler_errors", Kind::Count, "1", kLogs},
    {"log_stats", Kind::Count, "1", "counters are live: SHOW STATS, or metrics_port"},
    {"logfile", Kind::Text, "", kLogs},
    {"max_db_client_connections", Kind::Count, "0", kClientCaps},
    {"max_packet_size", Kind::Count, "2147483647",
     "shardpool takes messages as large as PostgreSQL does"},
    {"max_user_client_connections", Kind::Count, "0", kClientCaps},
    {"peer_id", Kind::Count, "0", "shardpool has no peering"},
    {"query_wait_notify", Kind::Count, "5", "no counterpart"},
    {"sbuf_loopcnt", Kind::Count, "5", "no counterpart"},
    {"scram_iterations", Kind::Count, "4096",
     "SCRAM secrets made from plain passwords use 4096 iterations"},
    {"server_check_delay", Kind::Seconds, "30s", "idle servers are not probed before reuse"},
    {"server_check_query", Kind::Text, "", "idle servers are not probed before reuse"},
    {"server_fast_close", Kind::Count, "0",
     "a server marked by RECONNECT or a reload closes when its client releases it"},
    {"server_login_retry", Kind::Seconds, "15s",
     "a failed server login fails the client waiting for it at once; the next request tries again"},
    {"server_reset_query_always", Kind::Count, "0",
     "server_reset_query runs when a session-mode client disconnects"},
    {"server_round_robin", Kind::Count, "0", "the most recently used idle server is reused"},
    {"server_tls13_ciphers", Kind::Text, "", kTls},
    {"server_tls_ciphers", Kind::Text, "default", kTls},
    {"server_tls_protocols", Kind::Text, "secure", kTls},
    {"stats_period", Kind::Count, "60", "SHOW STATS averages cover 15 seconds"},
    {"syslog", Kind::Count, "0", kLogs},
    {"syslog_facility", Kind::Text, "daemon", kLogs},
    {"syslog_ident", Kind::Text, "pgbouncer", kLogs},
    {"tcp_defer_accept", Kind::Count, "1", kTcp},
    {"tcp_keepalive", Kind::Count, "1", kTcp},
    {"tcp_keepcnt", Kind::Count, "0", kTcp},
    {"tcp_keepidle", Kind::Count, "0", kTcp},
    {"tcp_keepintvl", Kind::Count, "0", kTcp},
    {"tcp_socket_buffer", Kind::Count, "0", kTcp},
    {"tcp_user_timeout", Kind::Count, "0", kTcp},
    {"transaction_timeout", Kind::Seconds, "0s",
     "use idle_transaction_timeout, or the server's transaction_timeout"},
};

}  // namespace

std::span<const PgbouncerOnlySetting> pgbouncerOnlySettings() {
  return kSettings;
}

const PgbouncerOnlySetting* findPgbouncerOnlySetting(std::string_view key) {
  auto it = std::find_if(std::begin(kSettings), std::end(kSettings),
                         [&](const PgbouncerOnlySetting& s) { return s.key == key; });
  return it == std::end(kSettings) ? nullptr : &*it;
}

}  // namespace shardpool::config
