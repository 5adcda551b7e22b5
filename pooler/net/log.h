// Leveled logging through fmt. Every connection-related line names its connection with a prefix
// built by the connection itself ("C-12 alice@appdb", "S-3 app@shard0").
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.h"

namespace shardpool::pooler::log {

using Level = config::LogLevel;

// Whom a line is about: a text, or a connection's parts ("C-12 alice@appdb"), put together only
// when a line is written, so that a connection need not keep its prefix as a string.
class Who {
 public:
  Who(std::string_view text) : text_(text) {}  // NOLINT: any text names its line
  Who(const std::string& text) : text_(text) {}  // NOLINT
  Who(const char* text) : text_(text) {}         // NOLINT
  // "<kind>-<id>", then " <user>@<database>" once the user is known.
  Who(char kind, uint64_t id, std::string_view user, std::string_view database)
      : text_(), kind_(kind), id_(id), user_(user), database_(database) {}
  std::string text() const;

 private:
  std::string_view text_;
  char kind_ = 0;  // 0: text_ is the whole prefix
  uint64_t id_ = 0;
  std::string_view user_, database_;
};

void setLevel(Level level);
bool enabled(Level level);
void write(Level level, std::string_view who, std::string_view message);

template <class... Args>
void at(Level level, const Who& who, fmt::format_string<Args...> f, Args&&... args) {
  if (!enabled(level)) return;
  write(level, who.text(), fmt::format(f, std::forward<Args>(args)...));
}

template <class... Args>
void debug(const Who& who, fmt::format_string<Args...> f, Args&&... args) {
  at(Level::Debug, who, f, std::forward<Args>(args)...);
}
template <class... Args>
void info(const Who& who, fmt::format_string<Args...> f, Args&&... args) {
  at(Level::Info, who, f, std::forward<Args>(args)...);
}
template <class... Args>
void warn(const Who& who, fmt::format_string<Args...> f, Args&&... args) {
  at(Level::Warn, who, f, std::forward<Args>(args)...);
}
template <class... Args>
void error(const Who& who, fmt::format_string<Args...> f, Args&&... args) {
  at(Level::Error, who, f, std::forward<Args>(args)...);
}

}  // namespace shardpool::pooler::log
