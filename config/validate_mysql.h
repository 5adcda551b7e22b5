// What a MySQL database (protocol = "mysql") may have so far: no PostgreSQL-only keys
// (auth_query, sharding and replicas, server TLS, connect_query), one TCP host, a plaintext
// backend password, and a port for its clients.
// Internal to config/ (includes toml++).
#pragma once

#include <toml++/toml.h>

#include "config/config.h"
#include "config/diagnostics.h"

namespace shardpool::config {

// Part of validateConfig; `root` locates errors. Databases with decode errors are skipped.
void validateMysql(const Config& config, const toml::table& root, Diagnostics& diag);

}  // namespace shardpool::config
