// Helpers shared by the config tests: environment variables set for one test, and error lookup.
#pragma once

#include <catch2/catch.hpp>

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace shardpool::config::testing {

// A valid SCRAM-SHA-256 secret (password "secret") and md5 hash (password "secret", user "alice").
inline constexpr std::string_view kScramSecret =
    "SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$bpSY5Ze9NUH+I35LC3gVq+DpBfK46iXBxvhAKqVu9pE=:"
    "VpYlBuxyzeCI1KnctrefdljpB1mk3Gp7sBI/t11+NkQ=";
inline constexpr std::string_view kMd5Secret = "md54a0a68b43b6cd5cf266fa02f196e2371";

// Sets (or, with nullopt, unsets) an environment variable and restores it on destruction.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, std::optional<std::string> value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    set(value);
  }
  ~ScopedEnv() { set(old_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  void set(const std::optional<std::string>& value) {
    if (value) {
      ::setenv(name_.c_str(), value->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }

  std::string name_;
  std::optional<std::string> old_;
};

inline std::string formatAll(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const auto& e : errors) out += e.format() + "\n";
  return out;
}

// Loads `toml` as "test.toml", requires it to succeed and returns the config.
inline std::shared_ptr<const Config> loadOk(std::string_view toml,
                                            const std::vector<Override>& overrides = {}) {
  LoadResult result = loadString(toml, "test.toml", overrides);
  INFO(formatAll(result.errors));
  REQUIRE(result.ok());
  REQUIRE(result.errors.empty());
  return result.config;
}

// Loads `toml` as "test.toml", requires exactly one error and returns it.
inline ConfigError loadOneError(std::string_view toml,
                                const std::vector<Override>& overrides = {}) {
  LoadResult result = loadString(toml, "test.toml", overrides);
  INFO(formatAll(result.errors));
  REQUIRE_FALSE(result.ok());
  REQUIRE(result.errors.size() == 1);
  return result.errors.front();
}

// Loads `toml` as "test.toml", requires it to succeed with exactly one warning and returns it.
inline ConfigError loadOneWarning(std::string_view toml,
                                  const std::vector<Override>& overrides = {}) {
  LoadResult result = loadString(toml, "test.toml", overrides);
  INFO(formatAll(result.errors) << formatAll(result.warnings));
  REQUIRE(result.ok());
  REQUIRE(result.warnings.size() == 1);
  return result.warnings.front();
}

// A minimal valid body to append keys to.
inline constexpr std::string_view kOneDatabase = "[databases.appdb]\nhost = \"127.0.0.1\"\n";

}  // namespace shardpool::config::testing
