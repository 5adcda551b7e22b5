// `${NAME}` substitution in string values.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shardpool::config {

// Looks up an environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// The real process environment (getenv).
EnvLookup processEnvironment();

struct EnvExpansion {
  std::string value;
  std::vector<std::string> errors;  // one message per problem; empty on success
};

// Replaces `${NAME}` with the variable's value and `${NAME:-default}` with the value, or with
// `default` when NAME is unset or empty. `$${` stands for a literal "${"; any other '$' is kept.
// NAME is [A-Za-z_][A-Za-z0-9_]*. Errors: unset variable, bad name, unterminated "${".
EnvExpansion expandEnv(std::string_view text, const EnvLookup& lookup);

}  // namespace shardpool::config
