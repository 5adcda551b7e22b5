// Leveled logging through fmt. Every connection-related line names its connection with a prefix
// built by the connection itself ("C-12 alice@appdb", "S-3 app@shard0").
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <string_view>

#include "config/config.h"

namespace shardpool::pooler::log {

using Level = config::LogLevel;

void setLevel(Level level);
bool enabled(Level level);
void write(Level level, std::string_view who, std::string_view message);

template <class... Args>
void at(Level level, std::string_view who, fmt::format_string<Args...> f, Args&&... args) {
  if (!enabled(level)) return;
  write(level, who, fmt::format(f, std::forward<Args>(args)...));
}

template <class... Args>
void debug(std::string_view who, fmt::format_string<Args...> f, Args&&... args) {
  at(Level::Debug, who, f, std::forward<Args>(args)...);
}
template <class... Args>
void info(std::string_view who, fmt::format_string<Args...> f, Args&&... args) {
  at(Level::Info, who, f, std::forward<Args>(args)...);
}
template <class... Args>
void warn(std::string_view who, fmt::format_string<Args...> f, Args&&... args) {
  at(Level::Warn, who, f, std::forward<Args>(args)...);
}
template <class... Args>
void error(std::string_view who, fmt::format_string<Args...> f, Args&&... args) {
  at(Level::Error, who, f, std::forward<Args>(args)...);
}

}  // namespace shardpool::pooler::log
