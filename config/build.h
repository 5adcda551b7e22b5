// The steps loadString and fromSidecar share once they hold a TOML tree: overrides, ${ENV}
// expansion, decoding, validation. Internal to config/ (includes toml++).
#pragma once

#include <string>
#include <vector>

#include <toml++/toml.h>

#include "config/config.h"
#include "config/diagnostics.h"
#include "config/env_subst.h"

namespace shardpool::config {

// Whether `${NAME}` is expanded in the tree's own values (override values always are).
enum class ExpandEnv { InTree, OnlyOverrides };

LoadResult buildConfig(toml::table& root, std::string sourcePath,
                       const std::vector<Override>& overrides, const EnvLookup& env,
                       ExpandEnv expand, Diagnostics& diag);

// A LoadResult holding one error.
LoadResult failure(ConfigError error);

}  // namespace shardpool::config
