// loadFile / loadString: read and parse the file, then the shared build steps.
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

namespace shardpool::config {

namespace {

ConfigError fileError(std::string_view file, std::string message) {
  return ConfigError{std::string(file), 0, 0, {}, std::move(message)};
}

LoadResult internalError(std::string_view file, const std::exception& e) {
  return failure(
      fileError(file, fmt::format("internal error while loading the configuration: {}", e.what())));
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
      return failure(ConfigError{where.path ? *where.path : std::string(sourceName),
                                 where.begin.line,
                                 where.begin.column,
                                 {},
                                 std::string(e.description())});
    }
    Diagnostics diag{std::string(sourceName)};
    return buildConfig(root, std::string(sourceName), overrides, processEnvironment(),
                       ExpandEnv::InTree, diag);
  } catch (const std::exception& e) {
    return internalError(sourceName, e);
  }
}

LoadResult loadFile(const std::string& path, const std::vector<Override>& overrides) {
  try {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      return failure(fileError(path, "cannot read the configuration file: it is a directory"));
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return failure(fileError(
          path, fmt::format("cannot open the configuration file: {}", std::strerror(errno))));
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
      return failure(fileError(
          path, fmt::format("cannot read the configuration file: {}", std::strerror(errno))));
    }
    LoadResult r = loadString(text.str(), path, overrides);
    if (r.ok()) {
      auto c = std::make_shared<Config>(*r.config);
      c->origin = {ConfigOrigin::Kind::File, path, {}, overrides};
      r.config = std::move(c);
    }
    return r;
  } catch (const std::exception& e) {
    return internalError(path, e);
  }
}

}  // namespace shardpool::config
