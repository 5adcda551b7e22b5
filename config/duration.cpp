#include "config/duration.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

namespace shardpool::config {

namespace {

struct Unit {
  std::string_view suffix;
  double millis;
};

// "ms" before "m" and "s" so the longest suffix wins.
constexpr Unit kUnits[] = {{"ms", 1.0}, {"s", 1000.0}, {"m", 60'000.0}, {"h", 3'600'000.0}};

bool isNumber(std::string_view text) {
  if (!text.empty() && text.front() == '-') text.remove_prefix(1);
  size_t digits = 0;
  size_t dots = 0;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c == '.') {
      ++dots;
    } else {
      return false;
    }
  }
  return digits > 0 && dots <= 1 && text.front() != '.' && text.back() != '.';
}

}  // namespace

std::optional<double> parseDurationMillis(std::string_view text) {
  for (const Unit& unit : kUnits) {
    if (text.size() <= unit.suffix.size() || !text.ends_with(unit.suffix)) continue;
    std::string_view number = text.substr(0, text.size() - unit.suffix.size());
    if (!isNumber(number)) return std::nullopt;
    double value = 0;
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (ec != std::errc() || end != number.data() + number.size()) return std::nullopt;
    return value * unit.millis;
  }
  return std::nullopt;
}

std::optional<Duration> toDuration(double millis) {
  if (!std::isfinite(millis) || millis < 0) return std::nullopt;
  if (millis > static_cast<double>(kMaxDuration.count())) return std::nullopt;
  auto rounded = static_cast<Duration::rep>(std::llround(millis));
  if (rounded == 0 && millis > 0) rounded = 1;
  return Duration(rounded);
}

std::string formatDuration(Duration d) {
  if (d.count() % 1000 == 0) return fmt::format("{}s", d.count() / 1000);
  return fmt::format("{}ms", d.count());
}

}  // namespace shardpool::config
