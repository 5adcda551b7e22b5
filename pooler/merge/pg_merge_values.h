// Internal to pg_merge*: reading result values as PostgreSQL orders and adds them. Text format
// is the type's output function's text; binary is its send function's bytes. Every reader is
// strict: a value it cannot read is reported (`bad`), never guessed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pooler/protocol/pg_codec.h"
#include "pooler/merge/pg_merge.h"

namespace shardpool::protocol::pg::merge {

namespace oid {
constexpr uint32_t kBool = 16, kName = 19, kInt8 = 20, kInt2 = 21, kInt4 = 23, kText = 25,
                   kOid = 26, kFloat4 = 700, kFloat8 = 701, kUnknown = 705, kBpchar = 1042,
                   kVarchar = 1043, kDate = 1082, kTime = 1083, kTimestamp = 1114,
                   kTimestamptz = 1184, kNumeric = 1700, kUuid = 2950;
}  // namespace oid

std::string typeName(uint32_t typeOid);  // "int4", "text", "type 1234"

// How a column's values compare and group.
enum class ValueKind : uint8_t {
  Integer,   // int2/int4/int8/oid
  Float,     // float4/float8: -Infinity < ... < Infinity < NaN, -0 = 0, NaN = NaN
  Numeric,   // exact decimal; NaN above Infinity
  Bool,      // f < t
  DateTime,  // date, timestamp, timestamptz (as the instant), ISO DateStyle
  Time,      // time, ISO
  Uuid,      // bytes
  Text,      // bytes (C collation order; equality under any deterministic collation)
  Bpchar,    // bytes without trailing spaces
};

struct ColumnValue {
  ValueKind kind = ValueKind::Text;
  bool binary = false;
};

// How a column of type `typeOid` in `format` (0 text, 1 binary) compares under `collation`
// (ORDER BY, min/max); nullopt with `why` set when shardpool cannot order it.
std::optional<ColumnValue> orderingFor(uint32_t typeOid, int16_t format, std::string_view collation,
                                       const MergeOptions& options, std::string& why);
// How a column groups (GROUP BY / DISTINCT key); nullopt with `why` when it cannot.
std::optional<ColumnValue> groupingFor(uint32_t typeOid, int16_t format,
                                       const MergeOptions& options, std::string& why);

// -1, 0, 1 for two non-NULL values; `bad` set when one cannot be read.
int compareValues(const ColumnValue& c, std::string_view a, std::string_view b, bool& bad);
// Appends a canonical form of the value to `key` (equal values, equal forms); false when it
// cannot be read.
bool appendKey(const ColumnValue& c, std::string_view v, std::string& key);

// An Integer (text or binary int2/int4/int8) value; a Bool value.
std::optional<int64_t> readInteger(const ColumnValue& c, std::string_view v);
std::optional<bool> readBool(const ColumnValue& c, std::string_view v);

// ---- exact arithmetic --------------------------------------------------------------------------

std::optional<int64_t> parseInt(std::string_view text);
// A numeric's text: [-]digits[.digits], NaN, Infinity, -Infinity.
struct Decimal {
  enum class Special : uint8_t { Finite, NaN, PositiveInfinity, NegativeInfinity };
  Special special = Special::Finite;
  bool negative = false;      // never for zero
  std::string_view integer;   // without leading zeros ("" for zero)
  std::string_view fraction;  // as written: its length is the display scale
};
std::optional<Decimal> parseDecimal(std::string_view text);
int compareDecimal(const Decimal& a, const Decimal& b);
// a + b exactly, as PostgreSQL's numeric addition shows it (scale = the larger scale).
std::string addDecimal(const Decimal& a, const Decimal& b);

}  // namespace shardpool::protocol::pg::merge
