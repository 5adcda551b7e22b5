// Small string helpers shared by config/: quoting values in messages and building or splitting
// dotted key paths such as `databases."*".pool_size`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace shardpool::config {

// `abc` -> `"abc"`, escaping quotes, backslashes and control characters.
std::string quote(std::string_view text);

// A TOML bare key: letters, digits, '_' and '-'.
bool isBareKey(std::string_view key);

// Appends `key` to a dotted path, quoting it when it is not a bare key.
std::string joinKeyPath(std::string_view prefix, std::string_view key);

// "path[index]", the key path of an array element (e.g. databases.app.shards[0]).
std::string elementPath(std::string_view path, size_t index);

struct SplitKeyPath {
  std::vector<std::string> segments;
  std::string error;  // empty on success
};

// Splits "a.b.c" or `databases."my.db".port`. Unquoted segments may hold any character but '.'
// and '"' (so `databases.*.port` works); surrounding whitespace is ignored.
SplitKeyPath splitKeyPath(std::string_view path);

}  // namespace shardpool::config
