#include "config/overrides.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "config/decode.h"
#include "config/suggest.h"
#include "config/text.h"

namespace shardpool::config {

namespace {

// Where an override lands: the table that holds the key, and which keys it may hold.
struct Target {
  toml::table* parent = nullptr;
  Section section = Section::General;
  std::string canonicalPath;
};

std::vector<std::string_view> namesIn(const toml::table* table) {
  std::vector<std::string_view> names;
  if (table == nullptr) return names;
  for (auto&& [key, node] : *table) names.push_back(key.str());
  return names;
}

// Finds the table for segments[0..n-1]; reports and returns nullopt when the path is not valid.
std::optional<Target> resolve(toml::table& root, const std::vector<std::string>& segments,
                              const std::string& rawPath, Diagnostics& diag) {
  const std::string& head = segments.front();
  Target target;
  if (head == "general") {
    if (segments.size() != 2) {
      diag.atOverride(rawPath, "expected a key of the form general.<key>, e.g. general.pool_mode");
      return std::nullopt;
    }
    if (!root.contains("general")) root.insert("general", toml::table{});
    target.parent = root.get("general")->as_table();
    target.section = Section::General;
  } else if (head == "databases" || head == "users") {
    bool databases = head == "databases";
    if (segments.size() != 3) {
      diag.atOverride(
          rawPath,
          fmt::format("expected a key of the form {0}.<name>.<key>, e.g. {0}.{1}.pool_size", head,
                      databases ? "appdb" : "alice"));
      return std::nullopt;
    }
    toml::node* sectionNode = root.get(head);
    toml::table* section = sectionNode == nullptr ? nullptr : sectionNode->as_table();
    toml::node* entry = section == nullptr ? nullptr : section->get(segments[1]);
    if (entry == nullptr) {
      diag.atOverride(rawPath, unknownNameMessage(databases ? "database" : "user", segments[1],
                                                  namesIn(section)) +
                                   " (--set cannot add entries)");
      return std::nullopt;
    }
    target.parent = entry->as_table();
    target.section = databases ? Section::Database : Section::User;
  } else {
    diag.atOverride(rawPath, unknownTopLevelMessage(head));
    return std::nullopt;
  }
  if (target.parent == nullptr) {
    diag.atOverride(rawPath, "cannot override a key inside a value that is not a table");
    return std::nullopt;
  }
  auto keys = knownKeys(target.section);
  const std::string& leaf = segments.back();
  if (std::find(keys.begin(), keys.end(), leaf) == keys.end()) {
    diag.atOverride(rawPath, unknownNameMessage("key", leaf, keys));
    return std::nullopt;
  }
  for (const auto& segment : segments)
    target.canonicalPath = joinKeyPath(target.canonicalPath, segment);
  return target;
}

// `v = <value>` parsed as TOML; a plain string when that fails or yields more than one key.
toml::table parseValue(const std::string& value) {
  try {
    toml::table parsed = toml::parse("v = " + value, std::string_view(kOverrideSource));
    if (parsed.size() == 1 && parsed.contains("v")) return parsed;
  } catch (const toml::parse_error&) {
    // Not a TOML value: taken as a bare string below.
  }
  toml::table fallback;
  fallback.insert("v", value);
  return fallback;
}

void applyOne(toml::table& root, const Override& override, const EnvLookup& env,
              Diagnostics& diag) {
  SplitKeyPath split = splitKeyPath(override.keyPath);
  if (!split.error.empty()) {
    diag.atOverride(override.keyPath, split.error);
    return;
  }
  std::optional<Target> target = resolve(root, split.segments, override.keyPath, diag);
  if (!target) return;

  toml::table parsed = parseValue(override.value);
  toml::node& value = *parsed.get("v");
  if (auto* text = value.as_string()) {
    EnvExpansion expanded = expandEnv(text->get(), env);
    for (auto& message : expanded.errors)
      diag.atOverride(target->canonicalPath, std::move(message));
    if (!expanded.errors.empty()) return;
    text->get() = std::move(expanded.value);
  }
  const std::string& leaf = split.segments.back();
  value.visit([&](auto&& node) { target->parent->insert_or_assign(leaf, std::move(node)); });
  diag.markOverridden(target->canonicalPath);
}

}  // namespace

void applyOverrides(toml::table& root, const std::vector<Override>& overrides, const EnvLookup& env,
                    Diagnostics& diag) {
  for (const Override& override : overrides) applyOne(root, override, env, diag);
}

}  // namespace shardpool::config
