// TOML tree -> Config structs: types, ranges and unknown keys. Cross-field rules live in
// validate.h. Internal to config/ (includes toml++).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "config/config.h"
#include "config/diagnostics.h"

namespace shardpool::config {

enum class Section { Top, General, Database, User };

// The keys a table of this kind may hold, in schema order.
std::vector<std::string_view> knownKeys(Section section);

// The message for an unknown top-level key, suggesting a close top-level table or, for a
// [general] key written at the top, "general.<key>".
std::string unknownTopLevelMessage(std::string_view key);

void decodeConfig(const toml::table& root, Config& out, Diagnostics& diag);

}  // namespace shardpool::config
