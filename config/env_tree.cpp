#include "config/env_tree.h"

#include <fmt/format.h>

#include <string>

#include "config/text.h"

namespace shardpool::config {

namespace {

void expandNode(toml::node& node, const std::string& path, const EnvLookup& env, Diagnostics& diag);

void expandTable(toml::table& table, const std::string& prefix, const EnvLookup& env,
                 Diagnostics& diag) {
  for (auto&& [key, node] : table) expandNode(node, joinKeyPath(prefix, key.str()), env, diag);
}

void expandNode(toml::node& node, const std::string& path, const EnvLookup& env,
                Diagnostics& diag) {
  if (diag.isOverridden(path)) return;
  if (auto* table = node.as_table()) {
    expandTable(*table, path, env, diag);
  } else if (auto* array = node.as_array()) {
    for (size_t i = 0; i < array->size(); ++i) {
      expandNode(*array->get(i), fmt::format("{}[{}]", path, i), env, diag);
    }
  } else if (auto* text = node.as_string()) {
    EnvExpansion expanded = expandEnv(text->get(), env);
    for (auto& message : expanded.errors) diag.at(node.source(), path, std::move(message));
    text->get() = std::move(expanded.value);
  }
}

}  // namespace

void expandEnvInTree(toml::table& root, const EnvLookup& env, Diagnostics& diag) {
  expandTable(root, "", env, diag);
}

}  // namespace shardpool::config
