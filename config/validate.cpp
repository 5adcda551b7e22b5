#include "config/validate.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "config/password_format.h"
#include "config/pgbouncer_settings.h"
#include "config/text.h"
#include "config/tree_lookup.h"
#include "config/validate_mysql.h"
#include "config/validate_sharding.h"
#include "config/validate_tls.h"

namespace shardpool::config {

namespace {

// A host list: one port for every host or one per host; not with replicas or shards, whose
// members are the failover's to choose.
void checkHostList(const Database& db, const toml::table* table, const std::string& path,
                   Diagnostics& diag) {
  size_t hosts = std::max<size_t>(1, db.hosts.size());
  if (!db.ports.empty() && db.ports.size() != hosts) {
    diag.at(valueRegion(table, "port"), joinKeyPath(path, "port"),
            fmt::format("{} ports for {} host(s): give one port for every host, or one per host",
                        db.ports.size(), hosts));
  }
  if (!db.hosts.empty() && (db.sharded() || !db.replicas.empty())) {
    diag.at(valueRegion(table, "host"), joinKeyPath(path, "host"),
            "a host list cannot be combined with shards or replicas (their members are "
            "health-checked and failed over one by one): list the standbys in replicas instead");
  }
}

void checkDatabases(const Config& config, const toml::table& root, Diagnostics& diag) {
  const toml::table* section = childTable(&root, "databases");
  if (config.databases.empty()) {
    const toml::node* node = root.get("databases");
    if (node == nullptr || (section != nullptr && section->empty())) {
      diag.at(keyRegion(&root, "databases"), "databases",
              "no databases defined; add a [databases.<name>] table");
    }
    return;
  }
  for (const auto& [name, db] : config.databases) {
    std::string path = joinKeyPath("databases", name);
    if (diag.hasErrorsUnder(path)) continue;
    const toml::table* table = childTable(section, name);
    if (db.password && !db.user) {
      diag.at(valueRegion(table, "password"), joinKeyPath(path, "password"),
              "a password needs a user: set user as well, or remove password");
    }
    if (db.password) {
      if (auto error = secretFormatError(*db.password)) {
        diag.at(valueRegion(table, "password"), joinKeyPath(path, "password"), *error);
      }
    }
    checkHostList(db, table, path, diag);
  }
}

// A malformed password is an error; a password that cannot verify the user's auth type is a
// warning (Config::loginProblemFor): PgBouncer accepts such users and fails their logins only.
void checkUser(const Config& config, const User& user, const toml::table* table,
               const toml::source_region& userKey, Diagnostics& diag) {
  std::string path = joinKeyPath("users", user.name);
  if (auto error = secretFormatError(user.password)) {
    diag.at(valueRegion(table, "password"), joinKeyPath(path, "password"), *error);
    return;
  }
  if (auto problem = config.loginProblemFor(user)) diag.warnAt(userKey, path, *problem);
}

void checkUsers(const Config& config, const toml::table& root, Diagnostics& diag) {
  const toml::table* section = childTable(&root, "users");
  for (const auto& [name, user] : config.users) {
    if (diag.hasErrorsUnder(joinKeyPath("users", name))) continue;
    checkUser(config, user, childTable(section, name), keyRegion(section, name), diag);
  }
}

// A setting's effective value and the key it comes from, to point errors at.
struct Source {
  uint32_t value = 0;
  std::string keyPath;
  toml::source_region where;  // the value in the file; empty for a default
};

Source minPoolSizeSource(const Config& config, const Database& db, const toml::table& root) {
  if (db.minPoolSize) {
    const toml::table* table = childTable(childTable(&root, "databases"), db.name);
    return {*db.minPoolSize, joinKeyPath(joinKeyPath("databases", db.name), "min_pool_size"),
            valueRegion(table, "min_pool_size")};
  }
  return {config.general.minPoolSize, "general.min_pool_size",
          valueRegion(childTable(&root, "general"), "min_pool_size")};
}

std::string poolSizePath(const Database& db, const User* user) {
  if (user != nullptr && user->poolSize)
    return joinKeyPath(joinKeyPath("users", user->name), "pool_size");
  if (db.poolSize) return joinKeyPath(joinKeyPath("databases", db.name), "pool_size");
  return "general.default_pool_size";
}

// min_pool_size above the pool size of a (database, user) pair it applies to is accepted, as
// PgBouncer accepts it, and capped at that pool size (pooler/session/pool.cpp); each pool it is
// capped for gets a warning at min_pool_size. Sizes whose own value failed to decode are not
// judged.
void checkMinPoolSizes(const Config& config, const toml::table& root, Diagnostics& diag) {
  auto failed = [&](std::string_view section, std::string_view name, std::string_view key) {
    return diag.hasErrorsAt(joinKeyPath(joinKeyPath(section, name), key));
  };
  std::vector<const User*> users{nullptr};
  for (const auto& [name, user] : config.users) {
    if (user.poolSize && !failed("users", name, "pool_size")) users.push_back(&user);
  }
  if (diag.hasErrorsAt("general.default_pool_size")) return;
  for (const auto& [name, db] : config.databases) {
    if (failed("databases", name, "pool_size") || failed("databases", name, "min_pool_size"))
      continue;
    Source min = minPoolSizeSource(config, db, root);
    if (min.value == 0) continue;
    for (const User* user : users) {
      uint32_t size = config.poolSizeFor(db, user);
      if (min.value <= size) continue;
      std::string pool = user == nullptr
                             ? fmt::format("database {}", quote(name))
                             : fmt::format("database {}, user {}", quote(name), quote(user->name));
      diag.warnAt(min.where, min.keyPath,
                  fmt::format("min_pool_size {} exceeds the pool size {} ({}) of {}: capped at {}",
                              min.value, size, poolSizePath(db, user), pool, size));
    }
  }
}

// The admin console answers to these database names, so no [databases] entry may take them.
constexpr std::string_view kAdminDatabases[] = {"shardpool", "pgbouncer"};

void checkConsole(const Config& config, const toml::table& root, Diagnostics& diag) {
  const toml::table* dbs = childTable(&root, "databases");
  for (std::string_view name : kAdminDatabases) {
    if (config.databases.count(name) == 0) continue;
    diag.at(keyRegion(dbs, name), joinKeyPath("databases", name),
            fmt::format("the database name {} is reserved for the admin console; give it another "
                        "name and set dbname = {}",
                        quote(name), quote(name)));
  }
  const toml::table* general = childTable(&root, "general");
  for (std::string_view key : {"admin_users", "stats_users"}) {
    std::string path = joinKeyPath("general", key);
    if (diag.hasErrorsAt(path)) continue;
    const auto& names = key == "admin_users" ? config.general.adminUsers : config.general.statsUsers;
    // A listed name that is no user cannot log in; the others are unaffected (a warning).
    for (const auto& name : names) {
      if (config.findUser(name) != nullptr) continue;
      if (!config.general.unixSocketDir.empty()) {
        diag.warnAt(valueRegion(general, key), path,
                    fmt::format("{} is not a configured user: it can log in to the admin console "
                                "only over the unix socket, as the OS user of that name; add "
                                "[users.{}] with a password for TCP",
                                quote(name), name));
        continue;
      }
      diag.warnAt(valueRegion(general, key), path,
                  fmt::format("{} is not a configured user: it cannot log in to the admin "
                              "console; add [users.{}] with a password",
                              quote(name), name));
    }
  }
  if (!config.general.unixSocketDir.empty() &&
      config.general.unixSocketDir.size() + sizeof("/.s.PGSQL.65535") > 108) {
    diag.at(valueRegion(general, "unix_socket_dir"), "general.unix_socket_dir",
            "too long for a unix socket path (at most about 90 characters)");
  }
  if (config.general.metricsPort != 0 && config.general.metricsPort == config.general.listenPort &&
      config.general.metricsAddr == config.general.listenAddr) {
    diag.at(valueRegion(general, "metrics_port"), "general.metrics_port",
            fmt::format("metrics_port {} is the listen_port; pick another port",
                        config.general.metricsPort));
  }
}

// PgBouncer settings that shardpool accepts and keeps but does not act on.
void checkPgbouncerOnly(const Config& config, const toml::table& root, Diagnostics& diag) {
  const toml::table* general = childTable(&root, "general");
  for (const auto& [key, value] : config.general.pgbouncerOnly) {
    const PgbouncerOnlySetting* s = findPgbouncerOnlySetting(key);
    if (s == nullptr) continue;
    diag.warnAt(valueRegion(general, key), joinKeyPath("general", key),
                fmt::format("PgBouncer's {} is accepted but has no effect in shardpool: {}", key,
                            s->instead));
  }
}

// The back-off's longest wait must not be shorter than its first.
void checkAuthBackoff(const Config& config, const toml::table& root, Diagnostics& diag) {
  const General& g = config.general;
  if (diag.hasErrorsAt("general.auth_failure_delay") ||
      diag.hasErrorsAt("general.auth_failure_max_delay"))
    return;
  if (g.authFailureDelay.count() > 0 && g.authFailureMaxDelay < g.authFailureDelay)
    diag.at(valueRegion(childTable(&root, "general"), "auth_failure_max_delay"),
            "general.auth_failure_max_delay",
            fmt::format("auth_failure_max_delay ({} ms) is shorter than auth_failure_delay ({} ms)",
                        g.authFailureMaxDelay.count(), g.authFailureDelay.count()));
}

// auth_user logs in to run auth_query with its [users] password, which must therefore be the
// plain password. A missing one is a warning: only the logins that need a lookup fail.
void checkAuthUser(const Config& config, const std::string& authUser, const toml::table* table,
                   const std::string& path, Diagnostics& diag) {
  if (authUser.empty()) return;
  const User* user = config.findUser(authUser);
  if (user != nullptr && secretKind(user->password) == SecretKind::Plain) return;
  diag.warnAt(valueRegion(table, "auth_user"), joinKeyPath(path, "auth_user"),
              fmt::format("auth_user \"{}\" {}: password lookups (auth_query) will fail; give it "
                          "its plain password in [users.{}]",
                          authUser, user == nullptr ? "is not in [users]" : "has no plain password",
                          authUser));
}

void checkAuthUsers(const Config& config, const toml::table& root, Diagnostics& diag) {
  checkAuthUser(config, config.general.authUser, childTable(&root, "general"), "general", diag);
  const toml::table* section = childTable(&root, "databases");
  for (const auto& [name, db] : config.databases)
    if (db.authUser)
      checkAuthUser(config, *db.authUser, childTable(section, name),
                    joinKeyPath("databases", name), diag);
}

// An auth type a login may run, where it is set: general's, then each user's.
struct AuthTypeSetting {
  AuthType type;
  const toml::table* table;
  std::string path;  // "general" or "users.<name>"
};

std::vector<AuthTypeSetting> authTypeSettings(const Config& config, const toml::table& root) {
  std::vector<AuthTypeSetting> out{
      {config.general.authType, childTable(&root, "general"), "general"}};
  const toml::table* users = childTable(&root, "users");
  for (const auto& [name, user] : config.users)
    if (user.authType)
      out.push_back({*user.authType, childTable(users, name), joinKeyPath("users", name)});
  return out;
}

// auth_type "hba" needs its rules; "cert" (as an auth type or an hba method) needs client TLS
// that asks clients for a certificate and can verify it.
void checkAuthMethods(const Config& config, const toml::table& root, Diagnostics& diag) {
  const General& g = config.general;
  bool hbaCert = false;
  if (g.hba)
    for (const HbaRule& r : g.hba->rules) hbaCert = hbaCert || r.method == AuthType::Cert;
  bool certReady = g.clientTlsSslmode != TlsMode::Disable && !g.clientTlsCaFile.empty();
  for (const AuthTypeSetting& s : authTypeSettings(config, root)) {
    std::string path = joinKeyPath(s.path, "auth_type");
    if (diag.hasErrorsAt(path)) continue;
    if (s.type == AuthType::Hba && g.authHbaFile.empty()) {
      diag.at(valueRegion(s.table, "auth_type"), path,
              "auth_type \"hba\" takes each login's method from auth_hba_file: set "
              "general.auth_hba_file");
    }
    bool cert = s.type == AuthType::Cert || (s.type == AuthType::Hba && hbaCert);
    if (cert && !certReady) {
      diag.at(valueRegion(s.table, "auth_type"), path,
              fmt::format("{} checks client certificates, which needs client TLS with a CA: set "
                          "general.client_tls_sslmode (at least \"prefer\") and "
                          "general.client_tls_ca_file",
                          s.type == AuthType::Cert ? "auth_type \"cert\""
                                                   : "a cert rule of auth_hba_file"));
    }
  }
}

}  // namespace

void validateConfig(const Config& config, const toml::table& root, Diagnostics& diag) {
  checkDatabases(config, root, diag);
  // A bad general.auth_type leaves users' effective auth type unknown.
  if (!diag.hasErrorsUnder("general.auth_type")) checkUsers(config, root, diag);
  checkMinPoolSizes(config, root, diag);
  // Before sharding and TLS, which skip a database already refused here.
  validateMysql(config, root, diag);
  validateSharding(config, root, diag);
  validateTls(config, root, diag);
  checkConsole(config, root, diag);
  checkAuthBackoff(config, root, diag);
  checkAuthUsers(config, root, diag);
  checkAuthMethods(config, root, diag);
  checkPgbouncerOnly(config, root, diag);
}

}  // namespace shardpool::config
