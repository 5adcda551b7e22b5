#include "config/diagnostics.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <tuple>

namespace shardpool::config {

namespace {

ConfigError located(const toml::source_region& where, const std::string& sourceName,
                    std::string keyPath, std::string message) {
  ConfigError error;
  error.file = where.path ? *where.path : sourceName;
  error.line = where.begin.line;
  error.column = where.begin.column;
  error.keyPath = std::move(keyPath);
  error.message = std::move(message);
  return error;
}

void sortByPosition(std::vector<ConfigError>& items) {
  auto position = [](const ConfigError& e) {
    uint32_t line = e.line == 0 ? std::numeric_limits<uint32_t>::max() : e.line;
    return std::make_tuple(line, e.line == 0 ? 0 : e.column);
  };
  std::stable_sort(items.begin(), items.end(), [&](const ConfigError& a, const ConfigError& b) {
    return position(a) < position(b);
  });
}

}  // namespace

void Diagnostics::at(const toml::source_region& where, std::string keyPath, std::string message) {
  if (overridden_.contains(keyPath)) {
    atOverride(std::move(keyPath), std::move(message));
    return;
  }
  errors_.push_back(located(where, sourceName_, std::move(keyPath), std::move(message)));
}

void Diagnostics::warnAt(const toml::source_region& where, std::string keyPath,
                         std::string message) {
  if (overridden_.contains(keyPath)) {
    warnings_.push_back(
        ConfigError{std::string(kOverrideSource), 0, 0, std::move(keyPath), std::move(message)});
    return;
  }
  warnings_.push_back(located(where, sourceName_, std::move(keyPath), std::move(message)));
}

std::string Diagnostics::where(const toml::source_region& region) const {
  std::string out = region.path ? *region.path : sourceName_;
  if (region.begin.line != 0) out += fmt::format(":{}:{}", region.begin.line, region.begin.column);
  return out;
}

void Diagnostics::atOverride(std::string keyPath, std::string message) {
  errors_.push_back(
      ConfigError{std::string(kOverrideSource), 0, 0, std::move(keyPath), std::move(message)});
}

bool Diagnostics::hasErrorsAt(std::string_view keyPath) const {
  return std::any_of(errors_.begin(), errors_.end(),
                     [&](const ConfigError& e) { return e.keyPath == keyPath; });
}

bool Diagnostics::hasErrorsUnder(std::string_view keyPath) const {
  return std::any_of(errors_.begin(), errors_.end(), [&](const ConfigError& e) {
    std::string_view path = e.keyPath;
    return path == keyPath || (path.starts_with(keyPath) && path.size() > keyPath.size() &&
                               (path[keyPath.size()] == '.' || path[keyPath.size()] == '['));
  });
}

std::vector<ConfigError> Diagnostics::take() {
  sortByPosition(errors_);
  return std::move(errors_);
}

std::vector<ConfigError> Diagnostics::takeWarnings() {
  sortByPosition(warnings_);
  return std::move(warnings_);
}

}  // namespace shardpool::config
