// Duration values: a number of seconds, or a string with a unit ("250ms", "1.5s", "5m", "2h").
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace shardpool::config {

// The longest duration accepted anywhere in the config.
inline constexpr Duration kMaxDuration = std::chrono::hours(24 * 365);

// Milliseconds spelled by "<number><unit>" with unit ms, s, m or h; the number may have a fraction
// and a leading '-'. nullopt when the text has another shape. Range is checked by toDuration.
std::optional<double> parseDurationMillis(std::string_view text);

// Rounds to whole milliseconds (a positive value never rounds down to 0); nullopt when negative,
// not finite or longer than kMaxDuration.
std::optional<Duration> toDuration(double millis);

// "5s" for whole seconds, else "250ms": how SHOW CONFIG shows a duration.
std::string formatDuration(Duration d);

}  // namespace shardpool::config
