// The steps loadString and fromSidecar share once they hold a TOML tree: overrides, decoding,
// validation. Internal to config/ (includes toml++).
#pragma once

#include <string>
#include <vector>

#include <toml++/toml.h>

#include "config/config.h"
#include "config/diagnostics.h"
#include "config/env_subst.h"

namespace shardpool::config {

LoadResult buildConfig(toml::table& root, std::string sourcePath, const std::vector<Override>& overrides,
                       const EnvLookup& env, Diagnostics& diag);

// A LoadResult holding one error.
LoadResult failure(ConfigError error);

}  // namespace shardpool::config
