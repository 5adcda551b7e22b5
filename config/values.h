// Reads one TOML value as the type a key expects, reporting a ConfigError when it is not.
// Internal to config/ (includes toml++).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "config/config.h"
#include "config/diagnostics.h"

namespace shardpool::config {

// How a value appears in "got ..." messages: `"abc"`, `42`, `1.5`, `true`, `a table`.
std::string describe(const toml::node& node);

class ValueReader {
 public:
  ValueReader(const toml::node& node, std::string keyPath, Diagnostics& diag)
      : node_(node), keyPath_(std::move(keyPath)), diag_(diag) {}

  std::optional<int64_t> integer(int64_t min, int64_t max) const;
  std::optional<std::string> string(bool allowEmpty) const;
  // An array of non-empty strings, or one string of comma-separated names (PgBouncer's form).
  std::optional<std::vector<std::string>> nameList() const;
  // A number of seconds, or a string with a unit; zero only when allowZero.
  std::optional<Duration> duration(bool allowZero) const;
  std::optional<PoolMode> poolMode() const;
  std::optional<AuthType> authType() const;
  std::optional<LogLevel> logLevel() const;
  std::optional<TlsMode> tlsMode() const;
  std::optional<bool> boolean() const;
  // Index of the string value in `names`, or nullopt after reporting.
  std::optional<size_t> choice(std::span<const std::string_view> names) const;
  std::optional<ShardingFunction> shardingFunction() const;  // not "none"
  std::optional<KeyType> keyType() const;
  std::optional<ReadFrom> readFrom() const;
  std::optional<LoadBalanceHosts> loadBalanceHosts() const;
  std::optional<Protocol> protocol() const;

  // Reports `message` at this value.
  void error(std::string message) const;
  const std::string& keyPath() const { return keyPath_; }
  // For values made of tables and arrays, read key by key.
  const toml::node& node() const { return node_; }
  Diagnostics& diagnostics() const { return diag_; }

 private:

  const toml::node& node_;
  std::string keyPath_;
  Diagnostics& diag_;
};

}  // namespace shardpool::config
