// Collects ConfigErrors while loading, turning toml++ source regions into file:line:col.
// Internal to config/ (includes toml++).
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "config/config.h"

namespace shardpool::config {

// The `file` of errors about `--set` overrides; they carry no line or column.
inline constexpr std::string_view kOverrideSource = "<override>";

class Diagnostics {
 public:
  explicit Diagnostics(std::string sourceName) : sourceName_(std::move(sourceName)) {}

  // Errors at this key path are reported against kOverrideSource from now on.
  void markOverridden(std::string keyPath) { overridden_.insert(std::move(keyPath)); }
  bool isOverridden(std::string_view keyPath) const { return overridden_.contains(keyPath); }

  // An error at a node or key; nodes without a source region (built in code) get line 0.
  void at(const toml::source_region& where, std::string keyPath, std::string message);
  void atOverride(std::string keyPath, std::string message);
  void add(ConfigError error) { errors_.push_back(std::move(error)); }
  // A warning: the configuration loads, and the process logs it (start, reload, SET). For
  // settings that are accepted as PgBouncer accepts them but need attention (a value capped, a
  // user who cannot log in).
  void warnAt(const toml::source_region& where, std::string keyPath, std::string message);

  // "file:line:col" of a region, to name a second place in a message; "file" when unknown.
  std::string where(const toml::source_region& region) const;

  bool hasErrors() const { return !errors_.empty(); }
  // Whether any error so far is exactly at `keyPath`.
  bool hasErrorsAt(std::string_view keyPath) const;
  // Whether any error so far is at `keyPath` or below it (`keyPath.x` or `keyPath[i]`).
  bool hasErrorsUnder(std::string_view keyPath) const;
  // All errors, ordered by line and column; those without a line keep their order, last.
  std::vector<ConfigError> take();
  // All warnings, in the same order.
  std::vector<ConfigError> takeWarnings();

 private:
  std::string sourceName_;
  std::set<std::string, std::less<>> overridden_;
  std::vector<ConfigError> errors_;
  std::vector<ConfigError> warnings_;
};

}  // namespace shardpool::config
