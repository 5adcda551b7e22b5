// Helpers shared by the sharding tests: a two-shard database to add keys to, and a table of
// expected errors checked by key path, the line they point at and message fragments.
#pragma once

#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config_test_support.h"

namespace shardpool::config::testing {

// [databases.app] with `appKeys`, then shards s0 and s1, then `after`.
inline std::string twoShards(std::string_view appKeys, std::string_view after = "") {
  std::string out = "[databases.app]\npool_mode = \"transaction\"\n";
  out += appKeys;
  out +=
      "\n[[databases.app.shards]]\nname = \"s0\"\nhost = \"10.0.0.1\"\n"
      "\n[[databases.app.shards]]\nname = \"s1\"\nhost = \"10.0.0.2\"\n";
  out += after;
  return out;
}

inline constexpr std::string_view kHash = "sharding_function = \"hash\"\n";
inline constexpr std::string_view kDirectory = "sharding_function = \"directory\"\n";

// The text of line `line` (1-based) of `text`.
inline std::string lineOf(const std::string& text, uint32_t line) {
  std::istringstream in(text);
  std::string out;
  for (uint32_t i = 0; i < line && std::getline(in, out); ++i) {
  }
  return out;
}

struct ErrorCase {
  std::string name;
  std::string toml;
  std::string keyPath;
  std::string at;  // text on the line the error points at
  std::vector<std::string> fragments;
};

inline void checkError(const ErrorCase& c) {
  INFO(c.name);
  INFO(c.toml);
  ConfigError e = loadOneError(c.toml);
  INFO(e.format());
  CHECK(e.file == "test.toml");
  CHECK(e.keyPath == c.keyPath);
  REQUIRE(e.line != 0);
  CHECK(lineOf(c.toml, e.line).find(c.at) != std::string::npos);
  for (const auto& fragment : c.fragments) CHECK(e.message.find(fragment) != std::string::npos);
}

}  // namespace shardpool::config::testing
