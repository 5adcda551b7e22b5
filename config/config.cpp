// Config lookups, enum names, error formatting and `--set` parsing: the parts of config.h that
// need no TOML.
#include "config/config.h"

#include <fmt/format.h>

#include "config/password_format.h"

namespace shardpool::config {

std::string_view toString(PoolMode m) {
  switch (m) {
    case PoolMode::Session:
      return "session";
    case PoolMode::Transaction:
      return "transaction";
    case PoolMode::Statement:
      return "statement";
  }
  return "unknown";
}

std::string_view toString(Protocol p) {
  switch (p) {
    case Protocol::Postgres:
      return "postgres";
    case Protocol::MySql:
      return "mysql";
  }
  return "unknown";
}

std::string_view toString(LoadBalanceHosts l) {
  switch (l) {
    case LoadBalanceHosts::RoundRobin:
      return "round-robin";
    case LoadBalanceHosts::Disable:
      return "disable";
  }
  return "unknown";
}

std::string_view toString(AuthType a) {
  switch (a) {
    case AuthType::Trust:
      return "trust";
    case AuthType::Password:
      return "password";
    case AuthType::Md5:
      return "md5";
    case AuthType::ScramSha256:
      return "scram-sha-256";
    case AuthType::Cert:
      return "cert";
    case AuthType::Hba:
      return "hba";
    case AuthType::Peer:
      return "peer";
    case AuthType::Reject:
      return "reject";
  }
  return "unknown";
}

std::string_view toString(LogLevel l) {
  switch (l) {
    case LogLevel::Debug:
      return "debug";
    case LogLevel::Info:
      return "info";
    case LogLevel::Warn:
      return "warn";
    case LogLevel::Error:
      return "error";
  }
  return "unknown";
}

std::string_view toString(TlsMode m) {
  switch (m) {
    case TlsMode::Disable:
      return "disable";
    case TlsMode::Allow:
      return "allow";
    case TlsMode::Prefer:
      return "prefer";
    case TlsMode::Require:
      return "require";
    case TlsMode::VerifyCa:
      return "verify-ca";
    case TlsMode::VerifyFull:
      return "verify-full";
  }
  return "unknown";
}

namespace {

constexpr std::string_view kFallbackDatabase = "*";

}  // namespace

const Database* Config::findDatabase(std::string_view name) const {
  if (auto it = databases.find(name); it != databases.end()) return &it->second;
  if (auto it = databases.find(kFallbackDatabase); it != databases.end()) return &it->second;
  return nullptr;
}

const User* Config::findUser(std::string_view name) const {
  auto it = users.find(name);
  return it == users.end() ? nullptr : &it->second;
}

PoolMode Config::poolModeFor(const Database& db, const User* user) const {
  // A session cannot hold a server on every shard: a multi-shard database keeps its own mode.
  bool userApplies =
      !(db.shards.size() > 1 && user != nullptr && user->poolMode == PoolMode::Session);
  if (user != nullptr && user->poolMode && userApplies) return *user->poolMode;
  if (db.poolMode) return *db.poolMode;
  return general.poolMode;
}

uint32_t Config::poolSizeFor(const Database& db, const User* user) const {
  if (user != nullptr && user->poolSize) return *user->poolSize;
  if (db.poolSize) return *db.poolSize;
  return general.defaultPoolSize;
}

AuthType Config::authTypeFor(const User* user) const {
  if (user != nullptr && user->authType) return *user->authType;
  return general.authType;
}

namespace {

// md5 with a SCRAM secret runs SCRAM (PgBouncer's rule).
AuthType withSecret(AuthType auth, const User* user) {
  if (auth == AuthType::Md5 && user != nullptr && secretKind(user->password) == SecretKind::Scram)
    return AuthType::ScramSha256;
  return auth;
}

}  // namespace

AuthType Config::loginAuthTypeFor(const User* user) const {
  return withSecret(authTypeFor(user), user);
}

AuthType Config::loginMethodFor(const User* user, const HbaClient& client,
                                const HbaRule** rule) const {
  AuthType auth = authTypeFor(user);
  if (rule != nullptr) *rule = nullptr;
  if (auth != AuthType::Hba) return withSecret(auth, user);
  const HbaRule* found = general.hba ? general.hba->match(client) : nullptr;
  if (rule != nullptr) *rule = found;
  return found == nullptr ? AuthType::Reject : withSecret(found->method, user);
}

std::optional<std::string> Config::loginProblemFor(const User& user) const {
  return loginProblem(user, loginAuthTypeFor(&user),
                      user.authType ? "" : " (from general.auth_type)");
}

std::optional<std::string> Config::loginProblem(const User& user, AuthType auth,
                                                std::string_view from) {
  switch (secretKind(user.password)) {
    case SecretKind::Empty:
      // cert and peer need no password; under hba the method depends on the connection.
      if (auth == AuthType::Trust || auth == AuthType::Cert || auth == AuthType::Peer ||
          auth == AuthType::Hba)
        return std::nullopt;
      return fmt::format(
          "user \"{}\" has no password, which auth_type \"{}\"{} needs: it cannot log in; set "
          "its password, or auth_type = \"trust\"",
          user.name, toString(auth), from);
    case SecretKind::Md5:
      if (auth != AuthType::ScramSha256) return std::nullopt;
      return fmt::format(
          "the password of user \"{}\" is an md5 hash, which cannot verify auth_type "
          "\"scram-sha-256\"{}: it cannot log in; store the plain password or a SCRAM secret, or "
          "use auth_type = \"md5\"",
          user.name, from);
    case SecretKind::Plain:
    case SecretKind::Scram:
      return std::nullopt;
  }
  return std::nullopt;
}

uint32_t Config::minPoolSizeFor(const Database& db) const {
  return db.minPoolSize.value_or(general.minPoolSize);
}

uint32_t Config::reservePoolSizeFor(const Database& db) const {
  return db.reservePoolSize.value_or(general.reservePoolSize);
}

uint32_t Config::maxDbConnectionsFor(const Database& db) const {
  return db.maxDbConnections.value_or(general.maxDbConnections);
}

uint32_t Config::maxUserConnectionsFor(const User* user) const {
  if (user != nullptr && user->maxUserConnections) return *user->maxUserConnections;
  return general.maxUserConnections;
}

TlsMode Config::serverTlsModeFor(const Database& db) const {
  return db.sslmode.value_or(general.serverTlsSslmode);
}

const std::string& Config::connectQueryFor(const Database& db) const {
  return db.connectQuery ? *db.connectQuery : general.connectQuery;
}

const std::string& Config::authUserFor(const Database& db) const {
  return db.authUser ? *db.authUser : general.authUser;
}

const std::string& Config::authQueryFor(const Database& db) const {
  return db.authQuery ? *db.authQuery : general.authQuery;
}

const std::string& Config::authDbnameFor(const Database& db) const {
  return db.authDbname ? *db.authDbname : general.authDbname;
}

const std::string& Config::serverTlsCaFileFor(const Database& db) const {
  return db.sslrootcert ? *db.sslrootcert : general.serverTlsCaFile;
}

std::string ConfigError::format() const {
  std::string out = file;
  if (line != 0) {
    out += fmt::format(":{}", line);
    if (column != 0) out += fmt::format(":{}", column);
  }
  if (!keyPath.empty()) out += out.empty() ? keyPath : ": " + keyPath;
  if (!out.empty()) out += ": ";
  return out + message;
}

std::optional<Override> parseOverride(std::string_view text) {
  size_t eq = text.find('=');
  if (eq == std::string_view::npos) return std::nullopt;
  std::string_view key = text.substr(0, eq);
  while (!key.empty() && (key.front() == ' ' || key.front() == '\t')) key.remove_prefix(1);
  while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.remove_suffix(1);
  if (key.empty()) return std::nullopt;
  return Override{std::string(key), std::string(text.substr(eq + 1))};
}

}  // namespace shardpool::config
