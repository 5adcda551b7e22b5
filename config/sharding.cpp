// The parts of sharding.h that need no TOML: enum names, table-rule lookup and the effective
// servers of a database (Config::shardsOf).
#include "config/sharding.h"

#include <fmt/format.h>

#include "config/config.h"

namespace shardpool::config {

std::string_view toString(ShardingFunction f) {
  switch (f) {
    case ShardingFunction::None:
      return "none";
    case ShardingFunction::Modulo:
      return "modulo";
    case ShardingFunction::Hash:
      return "hash";
    case ShardingFunction::Directory:
      return "directory";
  }
  return "unknown";
}

std::string_view toString(KeyType t) {
  switch (t) {
    case KeyType::Integer:
      return "integer";
    case KeyType::Text:
      return "text";
  }
  return "unknown";
}

std::string_view toString(ReadFrom r) {
  switch (r) {
    case ReadFrom::Primary:
      return "primary";
    case ReadFrom::Replicas:
      return "replicas";
    case ReadFrom::Any:
      return "any";
  }
  return "unknown";
}

namespace {

// PostgreSQL's NAMEDATALEN - 1: identifiers are at most this many bytes.
constexpr size_t kMaxIdentifier = 63;

}  // namespace

const TableRule* findTableRule(const TableRules& tables, std::string_view name, bool quoted) {
  char lowered[kMaxIdentifier];
  if (!quoted) {
    if (name.size() > kMaxIdentifier) return nullptr;
    for (size_t i = 0; i < name.size(); ++i) {
      char c = name[i];
      lowered[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    name = std::string_view(lowered, name.size());
  }
  auto it = tables.find(name);
  return it == tables.end() ? nullptr : &it->second;
}

namespace {

// `b` with each unset field taken from `from`.
Backend filled(Backend b, const Backend& from) {
  if (b.host.empty()) b.host = from.host;
  if (b.port == 0) b.port = from.port;
  if (b.dbname.empty()) b.dbname = from.dbname;
  if (!b.sslmode) b.sslmode = from.sslmode;
  if (!b.sslrootcert) b.sslrootcert = from.sslrootcert;
  return b;
}

}  // namespace

std::vector<Shard> Config::shardsOf(const Database& db) const {
  Backend base;
  base.host = db.host;
  base.port = db.port;
  base.dbname = !db.dbname.empty() || db.name == "*" ? db.dbname : db.name;
  base.sslmode = db.sslmode;
  base.sslrootcert = db.sslrootcert;

  std::vector<Shard> out;
  if (db.shards.empty()) {
    Shard& shard = out.emplace_back();
    shard.name = "shard0";
    shard.primary = base;
    for (const Backend& replica : db.replicas) shard.replicas.push_back(filled(replica, base));
    return out;
  }
  out.reserve(db.shards.size());
  for (size_t i = 0; i < db.shards.size(); ++i) {
    const Shard& written = db.shards[i];
    Shard& shard = out.emplace_back();
    shard.name = written.name.empty() ? fmt::format("shard{}", i) : written.name;
    shard.primary = filled(written.primary, base);
    for (const Backend& replica : written.replicas)
      shard.replicas.push_back(filled(replica, shard.primary));
  }
  return out;
}

}  // namespace shardpool::config
