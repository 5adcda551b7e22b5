#include "config/validate_mysql.h"

#include <fmt/format.h>

#include <string_view>

#include "config/password_format.h"
#include "config/text.h"
#include "config/tree_lookup.h"

namespace shardpool::config {

namespace {

// Keys of [databases.<name>] that only PostgreSQL databases have for now.
constexpr std::string_view kPostgresOnlyKeys[] = {"connect_query"};

bool hasUpper(std::string_view s) {
  for (char c : s)
    if (c >= 'A' && c <= 'Z') return true;
  return false;
}

void checkDatabase(const Config&, const Database& db, const toml::table* table,
                   const std::string& path, Diagnostics& diag) {
  if (db.name == "*") {
    diag.at(valueRegion(table, "protocol"), joinKeyPath(path, "protocol"),
            "the fallback database \"*\" cannot be a MySQL database; name each MySQL database");
  }
  for (std::string_view key : kPostgresOnlyKeys) {
    if (table == nullptr || !table->contains(key)) continue;
    diag.at(keyRegion(table, key), joinKeyPath(path, key),
            fmt::format("{} is not supported on a MySQL database (protocol = \"mysql\") yet", key));
  }
  bool unixSocket = db.host.starts_with('/');
  for (const auto& h : db.hosts) unixSocket = unixSocket || h.starts_with('/');
  if (unixSocket) {
    diag.at(valueRegion(table, "host"), joinKeyPath(path, "host"),
            "a MySQL database's hosts are TCP hosts (no unix socket for now)");
  }
  // MySQL matches table and column names without regard to case (the analyzer folds them):
  // a rule written with capitals would never match.
  const toml::table* tables = childTable(table, "tables");
  for (const auto& [name, rule] : db.tables) {
    if (!hasUpper(name) && !hasUpper(rule.keyColumn)) continue;
    diag.at(keyRegion(tables, name), joinKeyPath(joinKeyPath(path, "tables"), name),
            fmt::format("a MySQL database's table rules are matched without regard to case: "
                        "write {} in lower case",
                        hasUpper(name) ? "the table name" : "the key column"));
  }
  if (db.password && secretKind(*db.password) != SecretKind::Plain) {
    diag.at(valueRegion(table, "password"), joinKeyPath(path, "password"),
            "a MySQL database's backend password must be the plaintext password");
  }
}

// A password a MySQL client's login can be checked against (mysql_native_password): the
// plaintext, or mysql.user's "*" and 40 hex digits; empty for a user without one.
bool mysqlCheckable(std::string_view password) {
  SecretKind kind = secretKind(password);
  return kind == SecretKind::Plain || kind == SecretKind::Empty;
}

}  // namespace

void validateMysql(const Config& config, const toml::table& root, Diagnostics& diag) {
  const toml::table* section = childTable(&root, "databases");
  const toml::table* general = childTable(&root, "general");
  const Database* first = nullptr;
  for (const auto& [name, db] : config.databases) {
    if (db.protocol != Protocol::MySql) continue;
    if (first == nullptr) first = &db;
    std::string path = joinKeyPath("databases", name);
    if (diag.hasErrorsUnder(path)) continue;
    checkDatabase(config, db, childTable(section, name), path, diag);
  }
  const General& g = config.general;
  if (g.mysqlListenPort != 0 && g.mysqlListenPort == g.listenPort) {
    diag.at(valueRegion(general, "mysql_listen_port"), "general.mysql_listen_port",
            fmt::format("mysql_listen_port {} is the listen_port; pick another port",
                        g.mysqlListenPort));
  } else if (g.mysqlListenPort != 0 && g.mysqlListenPort == g.metricsPort &&
             g.metricsAddr == g.listenAddr) {
    diag.at(valueRegion(general, "mysql_listen_port"), "general.mysql_listen_port",
            fmt::format("mysql_listen_port {} is the metrics_port; pick another port",
                        g.mysqlListenPort));
  }
  if (first == nullptr) return;
  if (g.mysqlListenPort == 0) {
    diag.warnAt(keyRegion(section, first->name), "general.mysql_listen_port",
                "MySQL databases are configured but mysql_listen_port is 0: no client can reach "
                "them; set mysql_listen_port");
  }
  // Users are not bound to a protocol: one whose password is an md5 hash or a SCRAM secret
  // still serves PostgreSQL databases, but cannot log in to MySQL ones.
  const toml::table* users = childTable(&root, "users");
  for (const auto& [name, user] : config.users) {
    if (mysqlCheckable(user.password)) continue;
    diag.warnAt(keyRegion(users, name), joinKeyPath("users", name),
                fmt::format("{}'s password is {}: it cannot log in to MySQL databases, whose "
                            "logins need the plaintext password or mysql.user's \"*\" hash",
                            quote(name),
                            secretKind(user.password) == SecretKind::Md5 ? "an md5 hash"
                                                                         : "a SCRAM secret"));
  }
}

}  // namespace shardpool::config
