#include "router/pg_int8.h"

#include <cctype>

namespace shardpool::router {

namespace {

bool isPgSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

}  // namespace

Int8Status parseInt8(std::string_view s, int64_t& out) {
  size_t i = 0, n = s.size();
  while (i < n && isPgSpace(s[i])) ++i;
  bool negative = false;
  if (i < n && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  if (i == n || std::isdigit(static_cast<unsigned char>(s[i])) == 0) return Int8Status::Syntax;
  const uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  uint64_t value = 0;
  bool overflow = false;
  for (; i < n && std::isdigit(static_cast<unsigned char>(s[i])) != 0; ++i) {
    auto digit = static_cast<uint64_t>(s[i] - '0');
    if (value > (limit - digit) / 10) overflow = true;
    if (!overflow) value = value * 10 + digit;
  }
  while (i < n && isPgSpace(s[i])) ++i;
  if (i != n) return Int8Status::Syntax;
  if (overflow) return Int8Status::Range;
  out = negative ? static_cast<int64_t>(0 - value) : static_cast<int64_t>(value);
  return Int8Status::Ok;
}

}  // namespace shardpool::router
