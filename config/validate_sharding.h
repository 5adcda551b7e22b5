// Sharding rules that span keys: what needs shards, what a sharded database may not have, the
// sharding function against the key types and the directory, the pool mode, read_from.
// Internal to config/ (includes toml++).
#pragma once

#include <toml++/toml.h>

#include "config/config.h"
#include "config/diagnostics.h"

namespace shardpool::config {

// Part of validateConfig; `root` locates errors. Databases with decode errors are skipped.
void validateSharding(const Config& config, const toml::table& root, Diagnostics& diag);

}  // namespace shardpool::config
