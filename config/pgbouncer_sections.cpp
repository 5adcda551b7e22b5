// [databases] -> [databases.<name>], [users] -> [users.<name>] settings.
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>
#include <span>

#include "config/password_format.h"
#include "config/pgbouncer_map.h"
#include "config/text.h"

namespace shardpool::config::pgbouncer {

namespace {

constexpr int64_t kMaxCount = std::numeric_limits<uint32_t>::max();
constexpr int64_t kMaxPort = 65535;

// The admin console answers to these database names.
constexpr std::string_view kReservedDatabases[] = {"shardpool", "pgbouncer"};

constexpr std::string_view kSessionSetting =
    "set it in the client's connection string, or on the server with ALTER DATABASE ... SET";

struct Hint {
  std::string_view param;
  std::string_view hint;
};

constexpr Hint kDatabaseHints[] = {
    {"client_encoding", kSessionSetting},
    {"datestyle", kSessionSetting},
    {"timezone", kSessionSetting},
    {"application_name", kSessionSetting},
    {"max_db_client_connections", "max_client_conn caps all clients together"},
    {"server_lifetime", "general.server_lifetime applies to every database"},
};

constexpr Hint kUserHints[] = {
    {"max_user_client_connections", "max_client_conn caps all clients together"},
    {"reserve_pool_size", "reserve_pool_size can be set per database or in [general]"},
    {"query_timeout", "query_timeout is set in [general] for everyone"},
    {"idle_transaction_timeout", "idle_transaction_timeout is set in [general] for everyone"},
    {"client_idle_timeout", "client_idle_timeout is set in [general] for everyone"},
};

std::string paramKey(std::string_view section, std::string_view name, std::string_view param) {
  std::string path = joinKeyPath(section, name);
  return param.empty() ? path : joinKeyPath(path, param);
}

// Notes a parameter with no equivalent (with its hint) or an unknown one.
void noEquivalent(Importer& im, const IniEntry& e, const std::string& key, std::string_view param,
                  std::span<const Hint> hints) {
  auto h =
      std::find_if(hints.begin(), hints.end(), [&](const Hint& x) { return x.param == param; });
  if (h != hints.end()) {
    im.note(e, key, fmt::format("no equivalent in shardpool; {}", h->hint));
  } else {
    im.note(e, key, "unknown parameter with no equivalent in shardpool; ignored");
  }
}

// The last entry of each name, in order; earlier ones get a note.
std::vector<const IniEntry*> lastOfEach(Importer& im, const std::vector<const IniEntry*>& entries,
                                        std::string_view section) {
  std::map<std::string, const IniEntry*, std::less<>> last;
  for (const IniEntry* e : entries) {
    auto [it, inserted] = last.emplace(e->key, e);
    if (inserted) continue;
    im.note(*e, paramKey(section, e->key, ""),
            fmt::format("defined again (first on {}:{}); this later definition is used",
                        it->second->file, it->second->line));
    it->second = e;
  }
  std::vector<const IniEntry*> out;
  for (const IniEntry* e : entries) {
    if (last[e->key] == e) out.push_back(e);
  }
  return out;
}

// host=a,b,c and port=p or port=p1,p2,p3 (one per host): a host list as shardpool writes it.
void importHosts(Importer& im, const IniEntry& e, const std::string& dbKey,
                 const std::optional<std::string>& hostValue,
                 const std::optional<std::string>& portValue, toml::table& db) {
  std::vector<std::string> hosts = hostValue ? splitList(*hostValue) : std::vector<std::string>();
  if (hosts.size() == 1) {
    db.insert_or_assign("host", escapeEnv(hosts.front()));
  } else if (hosts.size() > 1) {
    toml::array list;
    for (const auto& h : hosts) list.push_back(escapeEnv(h));
    db.insert_or_assign("host", std::move(list));
  }
  if (!portValue) return;
  std::string key = joinKeyPath(dbKey, "port");
  std::vector<std::string> texts = splitList(*portValue);
  std::vector<int64_t> ports;
  for (const auto& t : texts) {
    auto n = im.integer(e, key, t, 1, kMaxPort);
    if (!n) return;
    ports.push_back(*n);
  }
  if (ports.size() > 1 && ports.size() != hosts.size()) {
    im.note(e, key,
            fmt::format("{} ports for {} host(s): the first port, {}, is used for every host",
                        ports.size(), std::max<size_t>(hosts.size(), 1), ports.front()));
    ports.resize(1);
  }
  if (ports.size() == 1) {
    db.insert_or_assign("port", ports.front());
  } else if (ports.size() > 1) {
    toml::array list;
    for (int64_t p : ports) list.push_back(p);
    db.insert_or_assign("port", std::move(list));
  }
}

struct Login {
  std::optional<std::string> user;
  std::optional<std::string> password;
};

// Completes a forced backend login the way PgBouncer does (a user without password takes it
// from the userlist) and drops what shardpool cannot use.
void checkLogin(Importer& im, const IniEntry& e, const std::string& dbKey, Login& login) {
  std::string key = joinKeyPath(dbKey, "password");
  if (login.password && !login.user) {
    im.note(e, key, "a password without user has no effect; dropped");
    login.password.reset();
  }
  if (login.user && !login.password) {
    auto it = im.userlist.find(*login.user);
    if (it != im.userlist.end() && !it->second.password.empty()) {
      login.password = it->second.password;
    } else {
      im.note(e, key,
              fmt::format("no password for user {} here or in the userlist; shardpool logs in "
                          "without one (only a server that trusts it accepts that)",
                          quote(*login.user)));
    }
  }
  if (!login.password) return;
  if (auto error = secretFormatError(*login.password)) {
    im.note(e, key, fmt::format("{}; dropped", *error));
    login.password.reset();
  } else if (secretKind(*login.password) == SecretKind::Scram) {
    im.note(e, key,
            "a SCRAM secret cannot be used to log in to a server; dropped (set the plain "
            "password with password=)");
    login.password.reset();
  }
}

void importDatabase(Importer& im, const IniEntry& e) {
  const std::string& name = e.key;
  std::string dbKey = paramKey("databases", name, "");
  if (std::find(std::begin(kReservedDatabases), std::end(kReservedDatabases), name) !=
      std::end(kReservedDatabases)) {
    im.note(e, dbKey,
            fmt::format("{} is the name of shardpool's admin console; entry skipped (rename it "
                        "and set dbname={} to reach that server database)",
                        quote(name), name));
    return;
  }
  ConnParams parsed = parseConnParams(e.value);
  if (!parsed.error.empty()) {
    im.note(e, dbKey, fmt::format("{}; entry skipped", parsed.error));
    return;
  }
  toml::table db;
  Login login;
  std::optional<std::string> hostValue, portValue;
  for (const ConnParam& p : parsed.params) {
    std::string key = joinKeyPath(dbKey, p.key);
    const std::string& v = p.value;
    if (p.key == "host") {
      hostValue = v;
    } else if (p.key == "port") {
      portValue = v;
    } else if (p.key == "load_balance_hosts") {
      std::string mode = lowerCase(v);
      if (mode == "round-robin" || mode == "disable")
        db.insert_or_assign("load_balance_hosts", mode);
      else
        im.note(e, key, fmt::format("unknown value {}; left at \"round-robin\"", quote(v)));
    } else if (p.key == "dbname") {
      if (!v.empty()) db.insert_or_assign("dbname", escapeEnv(v));
    } else if (p.key == "user") {
      if (!v.empty()) login.user = v;
    } else if (p.key == "password") {
      login.password = v;
    } else if (p.key == "pool_size") {
      if (auto n = im.integer(e, key, v, 1, kMaxCount)) db.insert_or_assign("pool_size", *n);
    } else if (p.key == "pool_mode") {
      if (auto m = im.poolMode(e, key, v)) {
        db.insert_or_assign("pool_mode", std::string(toString(*m)));
      }
    } else if (p.key == "min_pool_size" || p.key == "max_db_connections") {
      if (auto n = im.integer(e, key, v, 0, kMaxCount)) db.insert_or_assign(p.key, *n);
    } else if (p.key == "connect_query") {
      if (!v.empty()) db.insert_or_assign("connect_query", escapeEnv(v));
    } else if (p.key == "auth_user" || p.key == "auth_query" || p.key == "auth_dbname") {
      db.insert_or_assign(p.key, escapeEnv(v));
    } else if (p.key == "reserve_pool" || p.key == "reserve_pool_size") {
      if (auto n = im.integer(e, key, v, 0, kMaxCount))
        db.insert_or_assign("reserve_pool_size", *n);
    } else {
      noEquivalent(im, e, key, p.key, kDatabaseHints);
    }
  }
  importHosts(im, e, dbKey, hostValue, portValue, db);
  if (!db.contains("host")) {
    std::string dir = im.unixSocketDir.empty() ? std::string(kDefaultSocketDir) : im.unixSocketDir;
    db.insert_or_assign("host", escapeEnv(dir));
    im.note(e, joinKeyPath(dbKey, "host"),
            fmt::format("no host: PgBouncer connects over a unix socket; using the socket "
                        "directory {}{}",
                        quote(dir), im.unixSocketDir.empty() ? "" : " (from unix_socket_dir)"));
  }
  checkLogin(im, e, dbKey, login);
  if (login.user) db.insert_or_assign("user", escapeEnv(*login.user));
  if (login.password) db.insert_or_assign("password", escapeEnv(*login.password));
  if (!login.user || !login.password) im.serversUseClientPasswords = true;
  im.databases.insert_or_assign(name, std::move(db));
}

}  // namespace

void importDatabases(Importer& im, const std::vector<const IniEntry*>& entries) {
  for (const IniEntry* e : lastOfEach(im, entries, "databases")) importDatabase(im, *e);
}

void importUserSettings(Importer& im, const std::vector<const IniEntry*>& entries) {
  for (const IniEntry* e : lastOfEach(im, entries, "users")) {
    std::string userKey = paramKey("users", e->key, "");
    ConnParams parsed = parseConnParams(e->value);
    if (!parsed.error.empty()) {
      im.note(*e, userKey, fmt::format("{}; settings skipped", parsed.error));
      continue;
    }
    toml::table user;
    for (const ConnParam& p : parsed.params) {
      std::string key = joinKeyPath(userKey, p.key);
      if (p.key == "pool_mode") {
        if (auto m = im.poolMode(*e, key, p.value)) {
          user.insert_or_assign("pool_mode", std::string(toString(*m)));
        }
      } else if (p.key == "pool_size") {
        if (auto n = im.integer(*e, key, p.value, 1, kMaxCount)) user.insert_or_assign(p.key, *n);
      } else if (p.key == "max_user_connections") {
        if (auto n = im.integer(*e, key, p.value, 0, kMaxCount)) user.insert_or_assign(p.key, *n);
      } else {
        noEquivalent(im, *e, key, p.key, kUserHints);
      }
    }
    im.users.insert_or_assign(e->key, std::move(user));
    im.userEntries[e->key] = e;
  }
}

}  // namespace shardpool::config::pgbouncer
