#include "config/validate_sharding.h"

#include <fmt/format.h>

#include <string>
#include <string_view>

#include "config/text.h"
#include "config/tree_lookup.h"

namespace shardpool::config {

namespace {

// Keys that mean nothing without shards.
constexpr std::string_view kShardOnlyKeys[] = {"sharding_function", "default_shard", "tables",
                                               "directory", "allow_unkeyed_writes"};

struct Db {
  const Database& db;
  const toml::table* table;  // [databases.<name>]
  std::string path;          // databases.<name>

  std::string key(std::string_view k) const { return joinKeyPath(path, k); }
};

bool anyReplicas(const Database& db) {
  if (!db.replicas.empty()) return true;
  for (const Shard& s : db.shards)
    if (!s.replicas.empty()) return true;
  return false;
}

void checkReadFrom(const Db& d, Diagnostics& diag) {
  if (d.db.readFrom != ReadFrom::Replicas || anyReplicas(d.db)) return;
  diag.at(valueRegion(d.table, "read_from"), d.key("read_from"),
          fmt::format("read_from \"replicas\" needs replicas: add replicas = [ {{ host = ... }} ] "
                      "{}, or use \"primary\"",
                      d.db.sharded() ? "to the shards" : "here"));
}

void checkUnsharded(const Db& d, Diagnostics& diag) {
  for (std::string_view key : kShardOnlyKeys) {
    if (d.table == nullptr || !d.table->contains(key)) continue;
    diag.at(keyRegion(d.table, key), d.key(key),
            fmt::format("{} applies to sharded databases only: add [[{}]] tables, or remove {}",
                        key, d.key("shards"), key));
  }
}

void checkPoolMode(const Config& config, const Db& d, Diagnostics& diag) {
  size_t count = d.db.shards.size();
  if (count < 2 || config.poolModeFor(d.db, nullptr) != PoolMode::Session) return;
  std::string why = fmt::format(
      "pool_mode \"session\"{} cannot serve a database with {} shards (a client would hold a "
      "server on every shard)",
      d.db.poolMode ? "" : " (from general.pool_mode)", count);
  if (d.db.poolMode) {
    diag.at(valueRegion(d.table, "pool_mode"), d.key("pool_mode"),
            why + ": use \"transaction\" or \"statement\"");
  } else if (!diag.hasErrorsAt("general.pool_mode")) {
    diag.at(keyRegion(d.table, "shards"), d.key("pool_mode"),
            why + ": set pool_mode = \"transaction\" or \"statement\" here");
  }
}

void checkFunction(const Db& d, Diagnostics& diag) {
  const Database& db = d.db;
  if (db.shards.size() > 1 && db.shardingFunction == ShardingFunction::None) {
    diag.at(keyRegion(d.table, "shards"), d.key("sharding_function"),
            fmt::format("a database with {} shards needs a sharding_function: \"modulo\", "
                        "\"hash\" or \"directory\"",
                        db.shards.size()));
  }
  if (db.shardingFunction == ShardingFunction::Modulo) {
    const toml::table* tables = childTable(d.table, "tables");
    for (const auto& [name, rule] : db.tables) {
      if (rule.kind != TableRule::Kind::Sharded || rule.keyType != KeyType::Text) continue;
      diag.at(valueRegion(childTable(tables, name), "type"),
              joinKeyPath(joinKeyPath(d.key("tables"), name), "type"),
              "sharding_function \"modulo\" shards integer keys only: use \"hash\" or "
              "\"directory\" to shard by a text key");
    }
  }
  if (db.shardingFunction == ShardingFunction::Directory && !db.directory) {
    diag.at(valueRegion(d.table, "sharding_function"), d.key("directory"),
            fmt::format("sharding_function \"directory\" needs a [{}] table: its entries, or the "
                        "PostgreSQL table to load them from",
                        d.key("directory")));
  }
  if (db.directory && db.shardingFunction != ShardingFunction::Directory) {
    diag.at(keyRegion(d.table, "directory"), d.key("directory"),
            db.shardingFunction == ShardingFunction::None
                ? std::string("a directory needs sharding_function = \"directory\"")
                : fmt::format("a directory is only used with sharding_function = \"directory\", "
                              "not {}",
                              quote(toString(db.shardingFunction))));
  }
}

void checkSharded(const Config& config, const Db& d, Diagnostics& diag) {
  if (d.db.name == "*") {
    diag.at(keyRegion(d.table, "shards"), d.key("shards"),
            "the fallback database \"*\" passes any database name through and cannot be sharded: "
            "give the sharded database a [databases.<name>] table of its own");
    return;
  }
  if (d.table != nullptr && d.table->contains("replicas")) {
    diag.at(keyRegion(d.table, "replicas"), d.key("replicas"),
            fmt::format("a sharded database's replicas belong to its shards: move them into the "
                        "[[{}]] tables of the primaries they replicate",
                        d.key("shards")));
  }
  checkFunction(d, diag);
  checkPoolMode(config, d, diag);
}

}  // namespace

void validateSharding(const Config& config, const toml::table& root, Diagnostics& diag) {
  const toml::table* section = childTable(&root, "databases");
  for (const auto& [name, db] : config.databases) {
    Db d{db, childTable(section, name), joinKeyPath("databases", name)};
    if (diag.hasErrorsUnder(d.path)) continue;
    if (db.sharded()) {
      checkSharded(config, d, diag);
    } else {
      checkUnsharded(d, diag);
    }
    checkReadFrom(d, diag);
  }
}

}  // namespace shardpool::config
