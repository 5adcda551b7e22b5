// Rules that span keys: at least one database, well-formed passwords (those that cannot verify
// their user's auth type, and a min_pool_size above the pool size, are warnings), sharding
// (validate_sharding.h) and TLS settings (validate_tls.h). Internal to config/ (includes toml++).
#pragma once

#include <toml++/toml.h>

#include "config/config.h"
#include "config/diagnostics.h"

namespace shardpool::config {

// `root` is the tree `config` was decoded from; it locates errors. Entries that already have
// decode errors are skipped so one mistake is not reported twice.
void validateConfig(const Config& config, const toml::table& root, Diagnostics& diag);

}  // namespace shardpool::config
