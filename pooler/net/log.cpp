#include "pooler/net/log.h"

#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>

namespace shardpool::pooler::log {

std::string Who::text() const {
  if (kind_ == 0) return std::string(text_);
  if (user_.empty()) return fmt::format("{}-{}", kind_, id_);
  return fmt::format("{}-{} {}@{}", kind_, id_, user_, database_);
}
namespace {
std::atomic<int> gLevel{static_cast<int>(Level::Info)};
std::mutex gWriteMutex;

const char* levelName(Level l) {
  switch (l) {
    case Level::Debug: return "DEBUG";
    case Level::Info: return "INFO ";
    case Level::Warn: return "WARN ";
    case Level::Error: return "ERROR";
  }
  return "?";
}
}  // namespace

void setLevel(Level level) { gLevel.store(static_cast<int>(level), std::memory_order_relaxed); }

bool enabled(Level level) {
  return static_cast<int>(level) >= gLevel.load(std::memory_order_relaxed);
}

void write(Level level, std::string_view who, std::string_view message) {
  timeval tv{};
  gettimeofday(&tv, nullptr);
  tm t{};
  gmtime_r(&tv.tv_sec, &t);
  fmt::memory_buffer line;
  fmt::format_to(std::back_inserter(line), "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03} UTC {} ",
                 t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                 tv.tv_usec / 1000, levelName(level));
  if (!who.empty()) fmt::format_to(std::back_inserter(line), "[{}] ", who);
  line.append(message);
  line.push_back('\n');
  std::lock_guard lock(gWriteMutex);
  ::fwrite(line.data(), 1, line.size(), stderr);
  ::fflush(stderr);
}

}  // namespace shardpool::pooler::log
