#include "config/build.h"

#include "config/decode.h"
#include "config/diagnostics.h"
#include "config/env_tree.h"
#include "config/overrides.h"
#include "config/validate.h"

namespace shardpool::config {

namespace {

// general.auth_hba_file, read now: a reload reads it again; its problems are the load's errors,
// each at its line of the hba file.
void loadAuthHba(Config& config, Diagnostics& diag) {
  General& g = config.general;
  if (g.authHbaFile.empty() || diag.hasErrorsAt("general.auth_hba_file")) return;
  std::vector<HbaError> errors;
  HbaRules rules = loadHbaFile(g.authHbaFile, errors);
  for (HbaError& e : errors)
    diag.add(ConfigError{e.file, e.line, 0, "general.auth_hba_file", std::move(e.message)});
  if (errors.empty()) g.hba = std::make_shared<const HbaRules>(std::move(rules));
}

}  // namespace

LoadResult buildConfig(toml::table& root, std::string sourcePath,
                       const std::vector<Override>& overrides, const EnvLookup& env,
                       ExpandEnv expand, Diagnostics& diag) {
  // Overrides first, so a --set can replace a value whose ${NAME} would not expand.
  applyOverrides(root, overrides, env, diag);
  if (expand == ExpandEnv::InTree) expandEnvInTree(root, env, diag);
  Config config;
  config.sourcePath = std::move(sourcePath);
  decodeConfig(root, config, diag);
  loadAuthHba(config, diag);
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
