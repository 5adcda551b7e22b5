// loadFile / loadString: read, parse, expand ${ENV}, then the shared build steps.
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/build.h"
#include "config/config.h"
#include "config/diagnostics.h"
#include "config/env_subst.h"
#include "config/text.h"

namespace shardpool::config {

namespace {

void expandEnvIn(toml::node& node, const std::string& path, const EnvLookup& env, Diagnostics& diag);

void expandEnvInTable(toml::table& table, const std::string& prefix, const EnvLookup& env,
                      Diagnostics& diag) {
  for (auto&& [key, node] : table) expandEnvIn(node, joinKeyPath(prefix, key.str()), env, diag);
}

void expandEnvIn(toml::node& node, const std::string& path, const EnvLookup& env, Diagnostics& diag) {
  if (auto* table = node.as_table()) {
    expandEnvInTable(*table, path, env, diag);
  } else if (auto* array = node.as_array()) {
    for (size_t i = 0; i < array->size(); ++i) {
      expandEnvIn(*array->get(i), fmt::format("{}[{}]", path, i), env, diag);
    }
  } else if (auto* text = node.as_string()) {
    EnvExpansion expanded = expandEnv(text->get(), env);
    for (auto& message : expanded.errors) diag.at(node.source(), path, std::move(message));
    text->get() = std::move(expanded.value);
  }
}

LoadResult internalError(std::string_view source, const std::exception& e) {
  return failure(ConfigError{std::string(source), 0, 0, {},
                             fmt::format("internal error while loading the configuration: {}", e.what())});
}

}  // namespace

LoadResult loadString(std::string_view toml, std::string_view sourceName,
                      const std::vector<Override>& overrides) {
  try {
    toml::table root;
    try {
      root = toml::parse(toml, sourceName);
    } catch (const toml::parse_error& e) {
      const toml::source_region& where = e.source();
      return failure(ConfigError{where.path ? *where.path : std::string(sourceName), where.begin.line,
                                 where.begin.column, {}, std::string(e.description())});
    }
    Diagnostics diag{std::string(sourceName)};
    EnvLookup env = processEnvironment();
    expandEnvInTable(root, "", env, diag);
    return buildConfig(root, std::string(sourceName), overrides, env, diag);
  } catch (const std::exception& e) {
    return internalError(sourceName, e);
  }
}

LoadResult loadFile(const std::string& path, const std::vector<Override>& overrides) {
  try {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      return failure(ConfigError{path, 0, 0, {}, "cannot read the configuration file: it is a directory"});
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return failure(ConfigError{path, 0, 0, {},
                                 fmt::format("cannot open the configuration file: {}", std::strerror(errno))});
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
      return failure(ConfigError{path, 0, 0, {},
                                 fmt::format("cannot read the configuration file: {}", std::strerror(errno))});
    }
    return loadString(text.str(), path, overrides);
  } catch (const std::exception& e) {
    return internalError(path, e);
  }
}

}  // namespace shardpool::config
