// Finding keys and values in a decoded TOML tree, to point cross-key errors at the right place.
// Internal to config/ (includes toml++).
#pragma once

#include <string_view>

#include <toml++/toml.h>

namespace shardpool::config {

// The table at `key` in `table`; nullptr when `table` is null, or the key is absent or no table.
const toml::table* childTable(const toml::table* table, std::string_view key);

// The table at position `index` of the array at `key` in `table` (e.g. one [[shards]]); nullptr
// when there is none.
const toml::table* elementTable(const toml::table* table, std::string_view key, size_t index);

// Where `key` sits in `table` (the key itself, not its value); empty when absent.
toml::source_region keyRegion(const toml::table* table, std::string_view key);

// Where the value of `key` sits in `table`; empty when absent.
toml::source_region valueRegion(const toml::table* table, std::string_view key);

}  // namespace shardpool::config
