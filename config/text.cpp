#include "config/text.h"

#include <fmt/format.h>

namespace shardpool::config {

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

bool isBareKey(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string joinKeyPath(std::string_view prefix, std::string_view key) {
  std::string segment = isBareKey(key) ? std::string(key) : quote(key);
  if (prefix.empty()) return segment;
  return fmt::format("{}.{}", prefix, segment);
}

std::string elementPath(std::string_view path, size_t index) {
  return fmt::format("{}[{}]", path, index);
}

namespace {

bool isSpace(char c) {
  return c == ' ' || c == '\t';
}

}  // namespace

SplitKeyPath splitKeyPath(std::string_view path) {
  SplitKeyPath result;
  size_t i = 0;
  auto skipSpace = [&] {
    while (i < path.size() && isSpace(path[i])) ++i;
  };
  while (true) {
    skipSpace();
    std::string segment;
    if (i < path.size() && path[i] == '"') {
      ++i;
      bool closed = false;
      while (i < path.size()) {
        char c = path[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\' && i < path.size()) c = path[i++];
        segment += c;
      }
      if (!closed) {
        result.error = "unterminated quote in key path";
        return result;
      }
    } else {
      size_t start = i;
      while (i < path.size() && path[i] != '.' && path[i] != '"') ++i;
      std::string_view bare = path.substr(start, i - start);
      while (!bare.empty() && isSpace(bare.back())) bare.remove_suffix(1);
      if (bare.empty()) {
        result.error = "empty key in key path";
        return result;
      }
      segment = bare;
    }
    skipSpace();
    result.segments.push_back(std::move(segment));
    if (i == path.size()) return result;
    if (path[i] != '.') {
      result.error = "expected '.' between keys in key path";
      return result;
    }
    ++i;
  }
}

}  // namespace shardpool::config
