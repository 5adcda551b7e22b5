// Decoding a TOML table into a struct through a table of Field readers, one per key, with
// did-you-mean for unknown keys. Internal to config/ (includes toml++).
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "config/diagnostics.h"
#include "config/suggest.h"
#include "config/text.h"
#include "config/values.h"

namespace shardpool::config {

inline constexpr int64_t kMaxPort = 65535;

template <class T>
struct Field {
  std::string_view key;
  // nullptr: a known key that is read elsewhere, after the others (decodeFields skips it).
  void (*read)(T& out, const ValueReader& value);
};

template <class T>
std::vector<std::string_view> keysOf(std::span<const Field<T>> fields) {
  std::vector<std::string_view> keys;
  for (const auto& f : fields) keys.push_back(f.key);
  return keys;
}

template <class T>
void decodeFields(const toml::table& table, const std::string& prefix,
                  std::span<const Field<T>> fields, T& out, Diagnostics& diag) {
  for (auto&& [key, node] : table) {
    std::string path = joinKeyPath(prefix, key.str());
    // A named copy: lambdas cannot capture a structured binding before clang 16 (the fuzz
    // build's clang 14 refuses it).
    std::string_view name = key.str();
    auto field = std::find_if(fields.begin(), fields.end(),
                              [&](const Field<T>& f) { return f.key == name; });
    if (field == fields.end()) {
      diag.at(key.source(), std::move(path), unknownNameMessage("key", key.str(), keysOf(fields)));
      continue;
    }
    if (field->read != nullptr) field->read(out, ValueReader(node, std::move(path), diag));
  }
}

// `node` as a table; nullptr after reporting "expected a table" at `path`.
const toml::table* expectTable(const toml::node& node, const std::string& path, Diagnostics& diag);

}  // namespace shardpool::config
