// TLS rules that span keys: the files each sslmode needs, certificates paired with their keys,
// and every configured file readable at load time.
// Internal to config/ (includes toml++).
#pragma once

#include <toml++/toml.h>

#include "config/config.h"
#include "config/diagnostics.h"

namespace shardpool::config {

// Part of validateConfig; `root` locates errors. Keys that already failed to decode are not
// judged again.
void validateTls(const Config& config, const toml::table& root, Diagnostics& diag);

}  // namespace shardpool::config
