// [databases.<name>] keys for sharding and replicas: replicas, shards, and the keys that name
// shards (default_shard, tables, directory). Cross-key rules are in validate_sharding.h.
// Internal to config/ (includes toml++).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "config/config.h"
#include "config/diagnostics.h"
#include "config/values.h"

namespace shardpool::config {

// `replicas = [ { host = "...", port = 5432 }, ... ]`: host is required, the rest default to
// the shard's (or the database's) values. Entries that fail are left out after reporting.
std::optional<std::vector<Backend>> readReplicas(const ValueReader& value);

// `[[databases.<name>.shards]]`: a non-empty array of tables. Each shard gets its name (as
// written, else "shard<index>"), even when its table had errors; names must be unique.
std::optional<std::vector<Shard>> readShards(const ValueReader& value);

// A shard named by its index (an integer) or its name (a string); nullopt after reporting an
// index out of range or an unknown name (with the names there are, and a did-you-mean).
std::optional<uint32_t> readShardRef(const ValueReader& value, const std::vector<Shard>& shards);

// default_shard, tables and directory of one database, read after its other keys because they
// name shards. Skipped on a database without shards: validateSharding reports the keys there.
void decodeShardReferences(const toml::table& table, const std::string& path, Database& db,
                           Diagnostics& diag);

// [databases.<name>.directory] (decode_directory.cpp).
void decodeDirectory(const toml::node& node, const std::string& path,
                     const std::vector<Shard>& shards, Directory& out, Diagnostics& diag);

}  // namespace shardpool::config
