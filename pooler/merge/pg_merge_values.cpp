// Result values as PostgreSQL orders, groups and adds them (pg_merge_values.h).
#include "pooler/merge/pg_merge_values.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

namespace shardpool::protocol::pg::merge {

std::string typeName(uint32_t typeOid) {
  switch (typeOid) {
    case oid::kBool:
      return "boolean";
    case oid::kName:
      return "name";
    case oid::kInt8:
      return "bigint";
    case oid::kInt2:
      return "smallint";
    case oid::kInt4:
      return "integer";
    case oid::kText:
      return "text";
    case oid::kOid:
      return "oid";
    case oid::kFloat4:
      return "real";
    case oid::kFloat8:
      return "double precision";
    case oid::kUnknown:
      return "unknown";
    case oid::kBpchar:
      return "character";
    case oid::kVarchar:
      return "character varying";
    case oid::kDate:
      return "date";
    case oid::kTime:
      return "time";
    case oid::kTimestamp:
      return "timestamp";
    case oid::kTimestamptz:
      return "timestamptz";
    case oid::kNumeric:
      return "numeric";
    case oid::kUuid:
      return "uuid";
    case 790:
      return "money";
    case 1186:
      return "interval";
    case 114:
      return "json";
    case 3802:
      return "jsonb";
    default:
      return fmt::format("type {}", typeOid);
  }
}

namespace {

bool isTextType(uint32_t t) {
  return t == oid::kText || t == oid::kVarchar || t == oid::kName || t == oid::kUnknown ||
         t == oid::kBpchar;
}

// "a text", "an integer".
std::string withArticle(uint32_t typeOid) {
  std::string name = typeName(typeOid);
  bool vowel = !name.empty() && std::string_view("aeio").find(name[0]) != std::string_view::npos;
  return fmt::format("{} {}", vowel ? "an" : "a", name);
}

bool isoDateStyle(const MergeOptions& o) {
  return o.dateStyle.substr(0, 3) == "ISO";
}

// The kind of a text-format value, or nullopt for types not read here.
std::optional<ValueKind> textKind(uint32_t t) {
  switch (t) {
    case oid::kInt2:
    case oid::kInt4:
    case oid::kInt8:
    case oid::kOid:
      return ValueKind::Integer;
    case oid::kFloat4:
    case oid::kFloat8:
      return ValueKind::Float;
    case oid::kNumeric:
      return ValueKind::Numeric;
    case oid::kBool:
      return ValueKind::Bool;
    case oid::kDate:
    case oid::kTimestamp:
    case oid::kTimestamptz:
      return ValueKind::DateTime;
    case oid::kTime:
      return ValueKind::Time;
    case oid::kUuid:
      return ValueKind::Uuid;
    case oid::kBpchar:
      return ValueKind::Bpchar;
    default:
      if (isTextType(t)) return ValueKind::Text;
      return std::nullopt;
  }
}

std::optional<ValueKind> binaryKind(uint32_t t) {
  switch (t) {
    case oid::kInt2:
    case oid::kInt4:
    case oid::kInt8:
      return ValueKind::Integer;
    case oid::kFloat4:
    case oid::kFloat8:
      return ValueKind::Float;
    case oid::kBool:
      return ValueKind::Bool;
    default:
      return std::nullopt;
  }
}

// Shared by orderingFor and groupingFor: the kind, or nullopt with `why`.
std::optional<ColumnValue> kindFor(uint32_t typeOid, int16_t format, const MergeOptions& options,
                                   std::string& why) {
  if (format != 0 && format != 1) {
    why = fmt::format("a column in format {}", format);
    return std::nullopt;
  }
  bool binary = format == 1;
  auto kind = binary ? binaryKind(typeOid) : textKind(typeOid);
  if (!kind) {
    why = binary ? fmt::format("a binary-format {} column", typeName(typeOid))
                 : fmt::format("{} column", withArticle(typeOid));
    return std::nullopt;
  }
  if ((*kind == ValueKind::DateTime || *kind == ValueKind::Time) && !isoDateStyle(options)) {
    why = fmt::format("{} column under DateStyle {}", withArticle(typeOid),
                      options.dateStyle.empty() ? "(unknown)" : options.dateStyle);
    return std::nullopt;
  }
  return ColumnValue{*kind, binary};
}

}  // namespace

std::optional<ColumnValue> orderingFor(uint32_t typeOid, int16_t format, std::string_view collation,
                                       const MergeOptions& options, std::string& why) {
  auto c = kindFor(typeOid, format, options, why);
  if (!c) return std::nullopt;
  if (c->kind == ValueKind::Text || c->kind == ValueKind::Bpchar) {
    if (collation != "C" && collation != "POSIX") {
      why = collation.empty()
                ? fmt::format("{} column without COLLATE \"C\"", withArticle(typeOid))
                : fmt::format("{} column under COLLATE \"{}\"", withArticle(typeOid), collation);
      return std::nullopt;
    }
    if (options.clientEncoding.empty() || options.clientEncoding != options.serverEncoding) {
      why = fmt::format("{} column with client_encoding {} and server_encoding {}",
                        withArticle(typeOid), options.clientEncoding, options.serverEncoding);
      return std::nullopt;
    }
  }
  return c;
}

std::optional<ColumnValue> groupingFor(uint32_t typeOid, int16_t format,
                                       const MergeOptions& options, std::string& why) {
  return kindFor(typeOid, format, options, why);
}

// ---- readers -----------------------------------------------------------------------------------

std::optional<int64_t> parseInt(std::string_view text) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

namespace {

uint64_t readBigEndian(std::string_view b) {
  uint64_t v = 0;
  for (char c : b) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

std::optional<double> readFloat(const ColumnValue& c, std::string_view v) {
  if (c.binary) {
    if (v.size() == 4) {
      uint32_t bits = static_cast<uint32_t>(readBigEndian(v));
      float f;
      std::memcpy(&f, &bits, 4);
      return f;
    }
    if (v.size() == 8) {
      uint64_t bits = readBigEndian(v);
      double d;
      std::memcpy(&d, &bits, 8);
      return d;
    }
    return std::nullopt;
  }
  if (v == "NaN") return std::nan("");
  if (v == "Infinity") return HUGE_VAL;
  if (v == "-Infinity") return -HUGE_VAL;
  double d = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (ec != std::errc{} || ptr != v.data() + v.size() || v.empty() || std::isnan(d)) {
    return std::nullopt;
  }
  return d;
}

int cmpFloat(double a, double b) {
  bool na = std::isnan(a), nb = std::isnan(b);
  if (na || nb) return na == nb ? 0 : (na ? 1 : -1);
  return a < b ? -1 : (a > b ? 1 : 0);
}

template <typename T>
int cmp(T a, T b) {
  return a < b ? -1 : (a > b ? 1 : 0);
}

int cmpBytes(std::string_view a, std::string_view b) {
  int r = a.compare(b);  // char_traits<char>::compare is memcmp: unsigned bytes
  return r < 0 ? -1 : (r > 0 ? 1 : 0);
}

std::string_view trimBlanks(std::string_view v) {
  size_t end = v.find_last_not_of(' ');
  return end == std::string_view::npos ? std::string_view{} : v.substr(0, end + 1);
}

// Digits at `p` in `s` (exactly n when n > 0, else at least one): the value; advances p.
std::optional<int64_t> digits(std::string_view s, size_t& p, size_t n) {
  size_t start = p;
  int64_t v = 0;
  while (p < s.size() && s[p] >= '0' && s[p] <= '9' && (n == 0 || p - start < n)) {
    if (p - start >= 12) return std::nullopt;
    v = v * 10 + (s[p] - '0');
    ++p;
  }
  if (p == start || (n > 0 && p - start != n)) return std::nullopt;
  return v;
}

int64_t daysFromCivil(int64_t y, int64_t m, int64_t d) {  // proleptic Gregorian, year 0 = 1 BC
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// HH:MM:SS[.ffffff] at p: microseconds of the day.
std::optional<int64_t> timeOfDay(std::string_view s, size_t& p) {
  auto h = digits(s, p, 2);
  if (!h || p >= s.size() || s[p++] != ':') return std::nullopt;
  auto mi = digits(s, p, 2);
  if (!mi || p >= s.size() || s[p++] != ':') return std::nullopt;
  auto sec = digits(s, p, 2);
  if (!sec) return std::nullopt;
  int64_t micros = ((*h * 60 + *mi) * 60 + *sec) * 1000000;
  if (p < s.size() && s[p] == '.') {
    ++p;
    int64_t frac = 0;
    size_t n = 0;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
      if (++n > 6) return std::nullopt;
      frac = frac * 10 + (s[p++] - '0');
    }
    if (n == 0) return std::nullopt;
    for (; n < 6; ++n) frac *= 10;
    micros += frac;
  }
  return micros;
}

// A date/timestamp/timestamptz in ISO style as (rank, microseconds since 2000 UTC): rank -1 for
// -infinity, 1 for infinity.
struct Instant {
  int rank = 0;
  __int128 micros = 0;
};

std::optional<Instant> readDateTime(std::string_view s) {
  if (s == "infinity") return Instant{1, 0};
  if (s == "-infinity") return Instant{-1, 0};
  size_t p = 0;
  auto year = digits(s, p, 0);
  if (!year || p >= s.size() || s[p++] != '-') return std::nullopt;
  auto month = digits(s, p, 2);
  if (!month || p >= s.size() || s[p++] != '-') return std::nullopt;
  auto day = digits(s, p, 2);
  if (!day || *month < 1 || *month > 12 || *day < 1 || *day > 31) return std::nullopt;
  int64_t micros = 0, offset = 0;
  if (p < s.size() && s[p] == ' ' && p + 1 < s.size() && s[p + 1] != 'B') {
    ++p;
    auto t = timeOfDay(s, p);
    if (!t) return std::nullopt;
    micros = *t;
    if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
      int sign = s[p++] == '-' ? -1 : 1;
      auto oh = digits(s, p, 2);
      if (!oh) return std::nullopt;
      int64_t secs = *oh * 3600;
      for (int64_t unit : {60, 1}) {
        if (p < s.size() && s[p] == ':') {
          ++p;
          auto part = digits(s, p, 2);
          if (!part) return std::nullopt;
          secs += *part * unit;
        } else {
          break;
        }
      }
      offset = sign * secs;
    }
  }
  int64_t y = *year;
  if (s.substr(p) == " BC") {
    y = 1 - y;
    p = s.size();
  }
  if (p != s.size()) return std::nullopt;
  __int128 total = static_cast<__int128>(daysFromCivil(y, *month, *day)) * 86400000000LL + micros -
                   static_cast<__int128>(offset) * 1000000;
  return Instant{0, total};
}

std::optional<int64_t> readTime(std::string_view s) {
  size_t p = 0;
  auto t = timeOfDay(s, p);
  if (!t || p != s.size()) return std::nullopt;
  return t;
}

int cmpInstant(const Instant& a, const Instant& b) {
  if (a.rank != b.rank) return cmp(a.rank, b.rank);
  return a.rank != 0 ? 0 : cmp(a.micros, b.micros);
}

void appendTagged(std::string& key, char tag, std::string_view bytes) {
  key.push_back(tag);
  uint32_t n = static_cast<uint32_t>(bytes.size());
  key.append(reinterpret_cast<const char*>(&n), sizeof n);
  key.append(bytes);
}

template <typename T>
void appendRaw(std::string& key, char tag, const T& v) {
  appendTagged(key, tag, std::string_view(reinterpret_cast<const char*>(&v), sizeof v));
}

}  // namespace

std::optional<int64_t> readInteger(const ColumnValue& c, std::string_view v) {
  if (!c.binary) return parseInt(v);
  switch (v.size()) {
    case 2:
      return static_cast<int16_t>(readBigEndian(v));
    case 4:
      return static_cast<int32_t>(readBigEndian(v));
    case 8:
      return static_cast<int64_t>(readBigEndian(v));
    default:
      return std::nullopt;
  }
}

std::optional<bool> readBool(const ColumnValue& c, std::string_view v) {
  if (c.binary) {
    if (v.size() != 1 || static_cast<uint8_t>(v[0]) > 1) return std::nullopt;
    return v[0] == 1;
  }
  if (v == "t") return true;
  if (v == "f") return false;
  return std::nullopt;
}

int compareValues(const ColumnValue& c, std::string_view a, std::string_view b, bool& bad) {
  switch (c.kind) {
    case ValueKind::Integer: {
      auto x = readInteger(c, a), y = readInteger(c, b);
      if (!x || !y) break;
      return cmp(*x, *y);
    }
    case ValueKind::Float: {
      auto x = readFloat(c, a), y = readFloat(c, b);
      if (!x || !y) break;
      return cmpFloat(*x, *y);
    }
    case ValueKind::Numeric: {
      auto x = parseDecimal(a), y = parseDecimal(b);
      if (!x || !y) break;
      return compareDecimal(*x, *y);
    }
    case ValueKind::Bool: {
      auto x = readBool(c, a), y = readBool(c, b);
      if (!x || !y) break;
      return cmp(*x, *y);
    }
    case ValueKind::DateTime: {
      auto x = readDateTime(a), y = readDateTime(b);
      if (!x || !y) break;
      return cmpInstant(*x, *y);
    }
    case ValueKind::Time: {
      auto x = readTime(a), y = readTime(b);
      if (!x || !y) break;
      return cmp(*x, *y);
    }
    case ValueKind::Uuid:
    case ValueKind::Text:
      return cmpBytes(a, b);
    case ValueKind::Bpchar:
      return cmpBytes(trimBlanks(a), trimBlanks(b));
  }
  bad = true;
  return 0;
}

bool appendKey(const ColumnValue& c, std::string_view v, std::string& key) {
  switch (c.kind) {
    case ValueKind::Integer: {
      auto x = readInteger(c, v);
      if (!x) return false;
      appendRaw(key, 'i', *x);
      return true;
    }
    case ValueKind::Float: {
      auto x = readFloat(c, v);
      if (!x) return false;
      if (std::isnan(*x)) {
        appendTagged(key, 'n', {});
      } else {
        double d = *x == 0 ? 0.0 : *x;  // -0 = 0
        appendRaw(key, 'f', d);
      }
      return true;
    }
    case ValueKind::Numeric: {
      auto x = parseDecimal(v);
      if (!x) return false;
      std::string canonical;
      switch (x->special) {
        case Decimal::Special::NaN:
          canonical = "NaN";
          break;
        case Decimal::Special::PositiveInfinity:
          canonical = "Inf";
          break;
        case Decimal::Special::NegativeInfinity:
          canonical = "-Inf";
          break;
        case Decimal::Special::Finite: {
          std::string_view frac = x->fraction;
          while (!frac.empty() && frac.back() == '0') frac.remove_suffix(1);
          if (x->negative) canonical.push_back('-');
          canonical.append(x->integer.empty() ? "0" : x->integer);
          if (!frac.empty()) canonical.append(".").append(frac);
        }
      }
      appendTagged(key, 'd', canonical);
      return true;
    }
    case ValueKind::Bool: {
      auto x = readBool(c, v);
      if (!x) return false;
      appendTagged(key, 'b', *x ? "t" : "f");
      return true;
    }
    case ValueKind::DateTime: {
      auto x = readDateTime(v);
      if (!x) return false;
      appendRaw(key, 'T', x->rank);
      appendRaw(key, 't', x->micros);
      return true;
    }
    case ValueKind::Time: {
      auto x = readTime(v);
      if (!x) return false;
      appendRaw(key, 'h', *x);
      return true;
    }
    case ValueKind::Uuid:
    case ValueKind::Text:
      appendTagged(key, 's', v);
      return true;
    case ValueKind::Bpchar:
      appendTagged(key, 's', trimBlanks(v));
      return true;
  }
  return false;
}

}  // namespace shardpool::protocol::pg::merge
