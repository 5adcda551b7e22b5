#include "config/build.h"

#include "config/decode.h"
#include "config/env_tree.h"
#include "config/overrides.h"
#include "config/validate.h"

namespace shardpool::config {

LoadResult buildConfig(toml::table& root, std::string sourcePath,
                       const std::vector<Override>& overrides, const EnvLookup& env,
                       ExpandEnv expand, Diagnostics& diag) {
  // Overrides first, so a --set can replace a value whose ${NAME} would not expand.
  applyOverrides(root, overrides, env, diag);
  if (expand == ExpandEnv::InTree) expandEnvInTree(root, env, diag);
  Config config;
  config.sourcePath = std::move(sourcePath);
  decodeConfig(root, config, diag);
  validateConfig(config, root, diag);

  LoadResult result;
  result.warnings = diag.takeWarnings();
  if (diag.hasErrors()) {
    result.errors = diag.take();
  } else {
    result.config = std::make_shared<const Config>(std::move(config));
  }
  return result;
}

LoadResult failure(ConfigError error) {
  LoadResult result;
  result.errors.push_back(std::move(error));
  return result;
}

}  // namespace shardpool::config
