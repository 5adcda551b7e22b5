// Small helpers shared by the harness sources (not for tests).
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "integration/harness.h"

namespace shardpool::integration::detail {

inline std::runtime_error fail(const std::string& what) {
  return std::runtime_error(what);
}

// Milliseconds left until `deadline`, never negative (for poll()).
inline int remainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

// $name, else `fallback` (a compiled-in default; may be null); throws when neither is set.
std::string requiredEnv(const char* name, const char* fallback);

// Exit code of a waitpid() status, or 128 + the signal that ended the process.
int decodeStatus(int status);
// Whether something accepts TCP connections on 127.0.0.1:port now.
bool portAccepts(uint16_t port);

}  // namespace shardpool::integration::detail
