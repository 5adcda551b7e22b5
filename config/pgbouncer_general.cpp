// [pgbouncer] -> [general].
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>

#include "config/pgbouncer_map.h"
#include "config/pgbouncer_settings.h"
#include "config/text.h"

namespace shardpool::config::pgbouncer {

namespace {

constexpr int64_t kMaxCount = std::numeric_limits<uint32_t>::max();
constexpr int64_t kMaxPort = 65535;
constexpr int64_t kPgbouncerMaxClientConn = 100;  // PgBouncer's default; shardpool's is 1000

// Settings that keep their name and meaning, differing at most in how the value is written.
enum class Kind { Count, Positive, Port, Seconds, PositiveSeconds, Text, Path, Mode, Tls };

struct Direct {
  std::string_view key;
  Kind kind;
};

constexpr Direct kDirect[] = {
    {"listen_port", Kind::Port},
    {"max_client_conn", Kind::Positive},
    {"default_pool_size", Kind::Positive},
    {"min_pool_size", Kind::Count},
    {"reserve_pool_size", Kind::Count},
    {"reserve_pool_timeout", Kind::Seconds},
    {"max_db_connections", Kind::Count},
    {"max_user_connections", Kind::Count},
    {"pool_mode", Kind::Mode},
    {"server_reset_query", Kind::Text},
    {"query_wait_timeout", Kind::Seconds},
    {"server_idle_timeout", Kind::Seconds},
    {"server_connect_timeout", Kind::PositiveSeconds},
    {"query_timeout", Kind::Seconds},
    {"idle_transaction_timeout", Kind::Seconds},
    {"client_login_timeout", Kind::Seconds},
    {"client_idle_timeout", Kind::Seconds},
    {"suspend_timeout", Kind::Seconds},
    {"max_prepared_statements", Kind::Count},
    {"client_tls_sslmode", Kind::Tls},
    {"client_tls_key_file", Kind::Path},
    {"client_tls_cert_file", Kind::Path},
    {"client_tls_ca_file", Kind::Path},
    {"auth_hba_file", Kind::Path},
    {"server_tls_sslmode", Kind::Tls},
    {"server_tls_ca_file", Kind::Path},
    {"server_tls_cert_file", Kind::Path},
    {"server_tls_key_file", Kind::Path},
    {"unix_socket_mode", Kind::Text},
    {"unix_socket_group", Kind::Text},
    {"auth_user", Kind::Text},
    {"auth_query", Kind::Text},
    {"auth_dbname", Kind::Text},
};

constexpr std::string_view kPgbouncerSocketDir = "/tmp";  // PgBouncer's unix_socket_dir default
constexpr std::string_view kTcpHint = "shardpool uses the operating system's TCP settings";
constexpr std::string_view kDnsHint = "shardpool resolves host names with the system resolver";
constexpr std::string_view kIgnored = "ignored";

struct Hint {
  std::string_view key;
  std::string_view hint;
};

// PgBouncer settings that shardpool has no counterpart for, with what to do instead, beyond
// those its [general] accepts without effect (pgbouncerOnlySettings(), which says what
// shardpool does instead of each).
constexpr Hint kNoEquivalent[] = {
    {"pidfile", "shardpool writes no pid file; run it under a service manager"},
    {"user", "start shardpool as that user instead (e.g. User= in its systemd unit)"},
    {"disable_pqexec", kIgnored},
    {"track_extra_parameters", kIgnored},
    {"so_reuseport", "not needed: one shardpool process runs `workers` threads on the same port"},
    {"listen_backlog", kTcpHint},
    {"pkt_buf", kIgnored},
    {"resolv_conf", kDnsHint},
    {"service_name", kIgnored},
    {"job_name", kIgnored},
};

void direct(Importer& im, const IniEntry& e, Kind kind) {
  const std::string& key = e.key;
  std::string_view v = e.value;
  toml::table& g = im.general;
  switch (kind) {
    case Kind::Count:
      if (auto n = im.integer(e, key, v, 0, kMaxCount)) g.insert_or_assign(key, *n);
      break;
    case Kind::Positive:
      if (auto n = im.integer(e, key, v, 1, kMaxCount)) g.insert_or_assign(key, *n);
      break;
    case Kind::Port:
      if (auto n = im.integer(e, key, v, 1, kMaxPort)) g.insert_or_assign(key, *n);
      break;
    case Kind::Seconds:
      im.seconds(e, key, v, g, key, true);
      break;
    case Kind::PositiveSeconds:
      im.seconds(e, key, v, g, key, false);
      break;
    case Kind::Text:
      g.insert_or_assign(key, escapeEnv(v));
      break;
    case Kind::Path:
      if (v.empty()) {
        im.note(e, key, "empty value; left unset");
      } else {
        g.insert_or_assign(key, escapeEnv(v));
      }
      break;
    case Kind::Mode:
      if (auto m = im.poolMode(e, key, v)) g.insert_or_assign(key, std::string(toString(*m)));
      break;
    case Kind::Tls:
      if (auto m = im.tlsMode(e, key, v)) g.insert_or_assign(key, std::string(toString(*m)));
      break;
  }
}

void listenAddr(Importer& im, const IniEntry& e) {
  std::vector<std::string> addrs = splitList(e.value);
  if (addrs.empty()) {
    im.note(e, e.key,
            "empty: PgBouncer then listens on its unix socket only; shardpool listens on its unix "
            "socket and on 127.0.0.1 (its default)");
    return;
  }
  std::string addr = addrs.front();
  if (addrs.size() > 1) {
    im.note(e, e.key,
            fmt::format("shardpool listens on one address: {} is kept, the others dropped (use "
                        "\"0.0.0.0\" or \"::\" for all addresses)",
                        quote(addr)));
  }
  if (addr == "*") {
    addr = "0.0.0.0";
    im.note(e, e.key,
            "\"*\" (every IPv4 and IPv6 address) becomes \"0.0.0.0\" (every IPv4 address); set "
            "\"::\" to accept IPv6 clients");
  }
  im.general.insert_or_assign("listen_addr", escapeEnv(addr));
}

void serverLifetime(Importer& im, const IniEntry& e) {
  std::optional<double> value = parseNumber(e.value);
  if (value && *value == 0) {
    im.general.insert_or_assign("server_lifetime", "1ms");
    im.note(e, e.key,
            "0 (use each server connection only once) becomes \"1ms\": shardpool then closes a "
            "server when it goes back to the pool (0 would keep servers forever)");
    return;
  }
  im.seconds(e, e.key, e.value, im.general, "server_lifetime", true);
}

void verbose(Importer& im, const IniEntry& e) {
  auto n = im.integer(e, e.key, e.value, 0, kMaxCount);
  if (!n || *n == 0) return;
  im.general.insert_or_assign("log_level", "debug");
  im.note(e, e.key, fmt::format("verbose = {} becomes log_level = \"debug\"", *n));
}

bool isTrue(std::string_view text) {
  std::string v = lowerCase(text);
  return v == "1" || v == "yes" || v == "on" || v == "true";
}

void resetAlways(Importer& im, const IniEntry& e) {
  if (!isTrue(e.value)) return;
  im.note(e, e.key,
          "no equivalent in shardpool: server_reset_query runs only when a session-mode client "
          "disconnects; in transaction mode, reset session state in the application");
}

// auth_type, once client_tls_sslmode is known.
void authType(Importer& im, const IniEntry* e) {
  if (e == nullptr) {
    im.general.insert_or_assign("auth_type", std::string(toString(im.authType)));
    return;
  }
  std::string v = lowerCase(e->value);
  if (v == "plain") {
    im.authType = AuthType::Password;
  } else if (v == "md5") {
    im.authType = AuthType::Md5;
  } else if (v == "scram-sha-256") {
    im.authType = AuthType::ScramSha256;
  } else if (v == "trust") {
    im.authType = AuthType::Trust;
  } else if (v == "any") {
    im.authType = AuthType::Trust;
    im.note(*e, e->key,
            "\"any\" becomes \"trust\": no password is asked, but shardpool only admits the "
            "users listed in [users] and logs in to servers as the client's user unless the "
            "database sets user");
  } else if (v == "cert") {
    im.authType = AuthType::Cert;
  } else if (v == "hba") {
    im.authType = AuthType::Hba;
  } else if (v == "pam" || v == "ldap") {
    im.authType = AuthType::ScramSha256;
    im.perUserAuthFallback = true;
    im.note(*e, e->key,
            fmt::format("{} has no equivalent; every user now needs a password in userlist.txt, "
                        "checked with scram-sha-256 (md5 for users whose stored password is an "
                        "md5 hash)",
                        quote(v)));
  } else {
    im.note(*e, e->key,
            fmt::format("unknown auth_type {}; using \"md5\", PgBouncer's default", quote(v)));
    im.authType = AuthType::Md5;
  }
  im.general.insert_or_assign("auth_type", std::string(toString(im.authType)));
}

}  // namespace

void importGeneral(Importer& im, const std::vector<const IniEntry*>& entries) {
  // A repeated key: the last one wins, as in PgBouncer.
  std::map<std::string, const IniEntry*, std::less<>> last;
  for (const IniEntry* e : entries) {
    auto [it, inserted] = last.emplace(e->key, e);
    if (inserted) continue;
    im.note(*e, e->key,
            fmt::format("set again (first on {}:{}); this later value is used", it->second->file,
                        it->second->line));
    it->second = e;
  }
  const IniEntry* auth = nullptr;
  for (const IniEntry* e : entries) {
    if (last[e->key] != e) continue;
    const std::string& key = e->key;
    if (auto d = std::find_if(std::begin(kDirect), std::end(kDirect),
                              [&](const Direct& x) { return x.key == key; });
        d != std::end(kDirect)) {
      direct(im, *e, d->kind);
    } else if (key == "listen_addr") {
      listenAddr(im, *e);
    } else if (key == "server_lifetime") {
      serverLifetime(im, *e);
    } else if (key == "auth_type") {
      auth = e;
    } else if (key == "admin_users" || key == "stats_users") {
      ListedUsers& list = key == "admin_users" ? im.adminUsers : im.statsUsers;
      list = {splitList(e->value), e};
    } else if (key == "auth_file") {
      // Read before the sections are imported (importPgbouncer).
    } else if (key == "verbose") {
      verbose(im, *e);
    } else if (key == "unix_socket_dir") {
      // Also the server socket directory of databases without host (importDatabases).
      im.unixSocketDir = e->value;
      im.general.insert_or_assign("unix_socket_dir", escapeEnv(e->value));
    } else if (key == "server_reset_query_always") {
      resetAlways(im, *e);
    } else if (auto h = std::find_if(std::begin(kNoEquivalent), std::end(kNoEquivalent),
                                     [&](const Hint& x) { return x.key == key; });
               h != std::end(kNoEquivalent)) {
      im.note(*e, key, fmt::format("no equivalent in shardpool; {}", h->hint));
    } else if (const PgbouncerOnlySetting* o = findPgbouncerOnlySetting(key)) {
      im.note(*e, key, fmt::format("no equivalent in shardpool; {}", o->instead));
    } else {
      im.note(*e, key, "unknown setting with no equivalent in shardpool; ignored");
    }
  }
  authType(im, auth);
  if (last.count("listen_addr") == 0) {
    im.note(im.iniName, 0, "listen_addr",
            "not set: PgBouncer then listens on its unix socket only; shardpool listens on its "
            "unix socket and on 127.0.0.1 (its default)");
  }
  if (last.count("unix_socket_dir") == 0)
    im.general.insert_or_assign("unix_socket_dir", std::string(kPgbouncerSocketDir));
  if (last.count("max_client_conn") == 0) {
    im.general.insert_or_assign("max_client_conn", kPgbouncerMaxClientConn);
  }
}

}  // namespace shardpool::config::pgbouncer
