#include "config/validate.h"

#include <fmt/format.h>

#include "config/password_format.h"
#include "config/text.h"

namespace shardpool::config {

namespace {

// Where `key` sits in `table` (the key itself, not its value); empty when absent.
toml::source_region keyRegion(const toml::table* table, std::string_view key) {
  if (table == nullptr) return {};
  auto it = table->find(key);
  return it == table->end() ? toml::source_region{} : it->first.source();
}

const toml::table* childTable(const toml::table* table, std::string_view key) {
  if (table == nullptr) return nullptr;
  const toml::node* node = table->get(key);
  return node == nullptr ? nullptr : node->as_table();
}

toml::source_region valueRegion(const toml::table* table, std::string_view key) {
  const toml::node* node = table == nullptr ? nullptr : table->get(key);
  return node == nullptr ? toml::source_region{} : node->source();
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
  }
}

std::string authSource(const User& user) {
  return user.authType ? std::string() : " (from general.auth_type)";
}

void checkUser(const Config& config, const User& user, const toml::table* table,
               const toml::source_region& userKey, Diagnostics& diag) {
  std::string path = joinKeyPath("users", user.name);
  std::string passwordPath = joinKeyPath(path, "password");
  AuthType auth = config.authTypeFor(&user);
  std::string authName = quote(toString(auth));
  SecretKind kind = secretKind(user.password);

  if (auto error = secretFormatError(user.password)) {
    diag.at(valueRegion(table, "password"), passwordPath, *error);
    return;
  }
  if (auth == AuthType::Trust) return;
  switch (kind) {
    case SecretKind::Empty:
      diag.at(
          userKey, path,
          fmt::format("auth_type {}{} requires a password; set password, or auth_type = \"trust\"",
                      authName, authSource(user)));
      break;
    case SecretKind::Md5:
      if (auth == AuthType::Password || auth == AuthType::ScramSha256) {
        diag.at(valueRegion(table, "password"), passwordPath,
                fmt::format("an md5-hashed password cannot verify auth_type {}{}; store the plain "
                            "password or a SCRAM secret, or use auth_type = \"md5\"",
                            authName, authSource(user)));
      }
      break;
    case SecretKind::Scram:
      if (auth == AuthType::Md5) {
        diag.at(valueRegion(table, "password"), passwordPath,
                fmt::format("a SCRAM secret cannot verify auth_type {}{}; store the plain password "
                            "or an md5 hash, or use auth_type = \"scram-sha-256\"",
                            authName, authSource(user)));
      }
      break;
    case SecretKind::Plain:
      break;
  }
}

void checkUsers(const Config& config, const toml::table& root, Diagnostics& diag) {
  const toml::table* section = childTable(&root, "users");
  for (const auto& [name, user] : config.users) {
    if (diag.hasErrorsUnder(joinKeyPath("users", name))) continue;
    checkUser(config, user, childTable(section, name), keyRegion(section, name), diag);
  }
}

}  // namespace

void validateConfig(const Config& config, const toml::table& root, Diagnostics& diag) {
  checkDatabases(config, root, diag);
  // A bad general.auth_type leaves users' effective auth type unknown.
  if (!diag.hasErrorsUnder("general.auth_type")) checkUsers(config, root, diag);
}

}  // namespace shardpool::config
