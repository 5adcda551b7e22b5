// Exact decimal order and addition for numeric values (pg_merge_values.h).
#include <algorithm>

#include "pooler/merge/pg_merge_values.h"

namespace shardpool::protocol::pg::merge {
namespace {

template <typename T>
int cmp(T a, T b) {
  return a < b ? -1 : (a > b ? 1 : 0);
}

}  // namespace

std::optional<Decimal> parseDecimal(std::string_view text) {
  Decimal d;
  if (text == "NaN") {
    d.special = Decimal::Special::NaN;
    return d;
  }
  if (text == "Infinity") {
    d.special = Decimal::Special::PositiveInfinity;
    return d;
  }
  if (text == "-Infinity") {
    d.special = Decimal::Special::NegativeInfinity;
    return d;
  }
  size_t p = 0;
  if (!text.empty() && text[0] == '-') {
    d.negative = true;
    ++p;
  }
  size_t intStart = p;
  while (p < text.size() && text[p] >= '0' && text[p] <= '9') ++p;
  d.integer = text.substr(intStart, p - intStart);
  if (p < text.size() && text[p] == '.') {
    size_t fracStart = ++p;
    while (p < text.size() && text[p] >= '0' && text[p] <= '9') ++p;
    d.fraction = text.substr(fracStart, p - fracStart);
    if (d.fraction.empty()) return std::nullopt;
  }
  if (p != text.size() || (d.integer.empty() && d.fraction.empty())) return std::nullopt;
  while (!d.integer.empty() && d.integer[0] == '0') d.integer.remove_prefix(1);
  bool zero = d.integer.empty() && d.fraction.find_first_not_of('0') == std::string_view::npos;
  if (zero) d.negative = false;
  return d;
}

namespace {

int rank(const Decimal& d) {
  switch (d.special) {
    case Decimal::Special::NegativeInfinity:
      return 0;
    case Decimal::Special::Finite:
      return 1;
    case Decimal::Special::PositiveInfinity:
      return 2;
    case Decimal::Special::NaN:
      return 3;
  }
  return 1;
}

bool isZero(const Decimal& d) {
  return d.integer.empty() && d.fraction.find_first_not_of('0') == std::string_view::npos;
}

int compareMagnitude(const Decimal& a, const Decimal& b) {
  if (a.integer.size() != b.integer.size()) return cmp(a.integer.size(), b.integer.size());
  if (int r = a.integer.compare(b.integer); r != 0) return r < 0 ? -1 : 1;
  size_t n = std::max(a.fraction.size(), b.fraction.size());
  for (size_t i = 0; i < n; ++i) {
    char x = i < a.fraction.size() ? a.fraction[i] : '0';
    char y = i < b.fraction.size() ? b.fraction[i] : '0';
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

// The digits of `d` scaled to `scale` fraction digits, right-aligned in `width`, one digit per
// byte value 0..9.
std::string scaledDigits(const Decimal& d, size_t scale, size_t width) {
  std::string out(width, 0);
  size_t len = d.integer.size() + scale;
  size_t at = width - len;
  for (char c : d.integer) out[at++] = static_cast<char>(c - '0');
  for (size_t i = 0; i < scale; ++i) {
    out[at++] = static_cast<char>(i < d.fraction.size() ? d.fraction[i] - '0' : 0);
  }
  return out;
}

}  // namespace

int compareDecimal(const Decimal& a, const Decimal& b) {
  if (rank(a) != rank(b)) return cmp(rank(a), rank(b));
  if (a.special != Decimal::Special::Finite) return 0;
  int sa = isZero(a) ? 0 : (a.negative ? -1 : 1);
  int sb = isZero(b) ? 0 : (b.negative ? -1 : 1);
  if (sa != sb) return cmp(sa, sb);
  return sa * compareMagnitude(a, b);
}

std::string addDecimal(const Decimal& a, const Decimal& b) {
  using S = Decimal::Special;
  if (a.special == S::NaN || b.special == S::NaN) return "NaN";
  if (a.special != S::Finite || b.special != S::Finite) {
    if (a.special != S::Finite && b.special != S::Finite && a.special != b.special) return "NaN";
    S s = a.special != S::Finite ? a.special : b.special;
    return s == S::PositiveInfinity ? "Infinity" : "-Infinity";
  }
  size_t scale = std::max(a.fraction.size(), b.fraction.size());
  size_t width = std::max(a.integer.size(), b.integer.size()) + scale + 1;
  std::string x = scaledDigits(a, scale, width);
  std::string y = scaledDigits(b, scale, width);
  bool negative = a.negative;
  if (a.negative != b.negative) {
    int m = compareMagnitude(a, b);
    if (m < 0) {
      std::swap(x, y);
      negative = b.negative;
    }
    int borrow = 0;
    for (size_t i = width; i-- > 0;) {
      int v = x[i] - y[i] - borrow;
      borrow = v < 0;
      x[i] = static_cast<char>(v + (borrow ? 10 : 0));
    }
  } else {
    int carry = 0;
    for (size_t i = width; i-- > 0;) {
      int v = x[i] + y[i] + carry;
      carry = v >= 10;
      x[i] = static_cast<char>(v - (carry ? 10 : 0));
    }
  }
  std::string out;
  size_t intDigits = width - scale;
  size_t first = 0;
  while (first < intDigits && x[first] == 0) ++first;
  bool zero = std::all_of(x.begin(), x.end(), [](char c) { return c == 0; });
  if (negative && !zero) out.push_back('-');
  if (first == intDigits) {
    out.push_back('0');
  } else {
    for (size_t i = first; i < intDigits; ++i) out.push_back(static_cast<char>('0' + x[i]));
  }
  if (scale > 0) {
    out.push_back('.');
    for (size_t i = intDigits; i < width; ++i) out.push_back(static_cast<char>('0' + x[i]));
  }
  return out;
}

}  // namespace shardpool::protocol::pg::merge
