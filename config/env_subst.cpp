#include "config/env_subst.h"

#include <fmt/format.h>

#include <cstdlib>

#include "config/text.h"

namespace shardpool::config {

namespace {

bool isNameStart(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool isNameChar(char c) {
  return isNameStart(c) || (c >= '0' && c <= '9');
}

bool isValidName(std::string_view name) {
  if (name.empty() || !isNameStart(name.front())) return false;
  for (char c : name) {
    if (!isNameChar(c)) return false;
  }
  return true;
}

}  // namespace

EnvLookup processEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

EnvExpansion expandEnv(std::string_view text, const EnvLookup& lookup) {
  EnvExpansion out;
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 3, "$${") == 0) {
      out.value += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      out.value += text[i++];
      continue;
    }
    size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      out.errors.push_back("unterminated \"${\" (write \"$${\" for a literal \"${\")");
      out.value += text.substr(i);
      break;
    }
    std::string_view body = text.substr(i + 2, close - i - 2);
    std::optional<std::string_view> fallback;
    if (size_t sep = body.find(":-"); sep != std::string_view::npos) {
      fallback = body.substr(sep + 2);
      body = body.substr(0, sep);
    }
    i = close + 1;
    if (!isValidName(body)) {
      out.errors.push_back(
          fmt::format("invalid environment variable name {} in \"${{...}}\"", quote(body)));
      continue;
    }
    std::optional<std::string> value = lookup(std::string(body));
    if (fallback && (!value || value->empty())) {
      out.value += *fallback;
    } else if (value) {
      out.value += *value;
    } else {
      out.errors.push_back(fmt::format("environment variable {} is not set", quote(body)));
    }
  }
  return out;
}

}  // namespace shardpool::config
