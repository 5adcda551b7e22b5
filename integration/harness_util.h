// Small helpers shared by the harness sources (not for tests).
#pragma once

#include <chrono>
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

}  // namespace shardpool::integration::detail
