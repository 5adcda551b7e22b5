// `--set key.path=value` overrides, applied to the parsed TOML tree before it is decoded.
// Internal to config/ (includes toml++).
#pragma once

#include <vector>

#include <toml++/toml.h>

#include "config/config.h"
#include "config/diagnostics.h"
#include "config/env_subst.h"

namespace shardpool::config {

// Each override must name a known key of [general], or of an existing database or user
// (`databases.<name>.<key>`, `users.<name>.<key>`); it cannot add entries. The value is parsed as
// a TOML value, falling back to a plain string; `${NAME}` in string values is expanded. Errors are
// reported with file kOverrideSource, and later errors at an overridden key are too.
void applyOverrides(toml::table& root, const std::vector<Override>& overrides, const EnvLookup& env,
                    Diagnostics& diag);

}  // namespace shardpool::config
