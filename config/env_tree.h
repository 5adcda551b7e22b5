// Applies `${NAME}` expansion to the string values of a parsed file.
// Internal to config/ (includes toml++).
#pragma once

#include <toml++/toml.h>

#include "config/diagnostics.h"
#include "config/env_subst.h"

namespace shardpool::config {

// Expands every string value in `root` (arrays included), reporting unset variables at the value.
// Keys marked overridden are skipped: their values came from `--set` and were expanded there.
void expandEnvInTree(toml::table& root, const EnvLookup& env, Diagnostics& diag);

}  // namespace shardpool::config
