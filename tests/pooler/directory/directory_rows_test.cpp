// Rows of a directory table as libpq gives them (text values, type OIDs) -> directory entries:
// the column types accepted, nulls, ranges, shard names and indexes, and the messages that name
// a bad row.
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "pooler/directory/directory_rows.h"

namespace shardpool::pooler {
namespace {

using Kind = config::DirectoryEntry::Kind;
constexpr uint32_t kInt8 = 20, kInt4 = 23, kText = 25, kVarchar = 1043, kNumeric = 1700;

struct RowCase {
  const char* name;
  uint32_t keyType, shardType;
  const char* keyFrom;
  const char* keyTo;
  const char* shard;
  std::optional<config::DirectoryEntry> expected;  // nullopt: refused
  std::string error;                               // contained in the message
};

}  // namespace

TEST_CASE("directory rows: values to entries", "[pooler][directory]") {
  const std::vector<RowCase> cases = {
      {"an integer key, shard by name", kInt8, kText, "42", nullptr, "s1",
       config::DirectoryEntry{Kind::Integer, 42, 42, {}, 1}, ""},
      {"a range, shard by index", kInt8, kInt4, "1000", "1999", "0",
       config::DirectoryEntry{Kind::Range, 1000, 1999, {}, 0}, ""},
      {"a one-key range", kInt4, kText, "-5", "-5", "s0",
       config::DirectoryEntry{Kind::Range, -5, -5, {}, 0}, ""},
      {"bounds", kInt8, kText, "-9223372036854775808", "9223372036854775807", "s2",
       config::DirectoryEntry{Kind::Range, INT64_MIN, INT64_MAX, {}, 2}, ""},
      {"a text key", kText, kText, "acme", nullptr, "s2",
       config::DirectoryEntry{Kind::Text, 0, 0, "acme", 2}, ""},
      {"a text key, varchar", kVarchar, kVarchar, "globex", nullptr, "1",
       config::DirectoryEntry{Kind::Text, 0, 0, "globex", 1}, ""},
      {"a shard named like a number wins over the index", kInt8, kText, "1", nullptr, "7",
       config::DirectoryEntry{Kind::Integer, 1, 1, {}, 3}, ""},
      {"key_from null", kInt8, kText, nullptr, nullptr, "s0", std::nullopt, "key_from null"},
      {"shard null", kInt8, kText, "3", nullptr, nullptr, std::nullopt,
       "row key_from 3: shard is null"},
      {"key_to before key_from", kInt8, kText, "10", "9", "s0", std::nullopt,
       "row key_from 10: key_to 9 is less than key_from"},
      {"an unknown shard name", kInt8, kText, "3", nullptr, "s9", std::nullopt,
       "row key_from 3: no shard is named \"s9\" (the shards are \"s0\", \"s1\", \"s2\", \"7\")"},
      {"a shard index out of range", kInt8, kInt4, "3", nullptr, "4", std::nullopt,
       "row key_from 3: shard 4 does not exist (the database has 4 shard(s), 0 to 3)"},
      {"a negative shard index", kInt8, kInt4, "3", nullptr, "-1", std::nullopt,
       "shard -1 does not exist"},
      {"a text key with key_to", kText, kText, "a", "b", "s0", std::nullopt,
       "row key_from 'a': key_to must be null"},
      {"an empty text key", kText, kText, "", nullptr, "s0", std::nullopt,
       "a text key may not be empty"},
  };
  for (const RowCase& c : cases) {
    DYNAMIC_SECTION(c.name) {
      DirectoryRowReader reader({"s0", "s1", "s2", "7"});
      uint32_t keyToType = c.keyType;
      REQUIRE(reader.setColumns(c.keyType, keyToType, c.shardType).empty());
      config::DirectoryEntry out;
      std::string error;
      bool ok = reader.read(c.keyFrom, c.keyTo, c.shard, out, error);
      INFO(error);
      REQUIRE(ok == c.expected.has_value());
      if (ok) {
        CHECK(out.kind == c.expected->kind);
        CHECK(out.from == c.expected->from);
        CHECK(out.to == c.expected->to);
        CHECK(out.text == c.expected->text);
        CHECK(out.shard == c.expected->shard);
      } else {
        CHECK_THAT(error, Catch::Contains(c.error));
      }
    }
  }
}

TEST_CASE("directory rows: column types", "[pooler][directory]") {
  DirectoryRowReader reader({"s0"});
  CHECK(reader.setColumns(kInt8, kInt8, kText).empty());
  CHECK(reader.setColumns(kText, kText, kInt4).empty());
  CHECK_THAT(reader.setColumns(kNumeric, kNumeric, kText),
             Catch::Contains("column key_from has type OID 1700"));
  CHECK_THAT(reader.setColumns(kInt8, kText, kText),
             Catch::Contains("column key_to has type OID 25 (text); it must have the type of "
                             "key_from (integer)"));
  CHECK_THAT(reader.setColumns(kInt8, kInt8, kNumeric), Catch::Contains("column shard"));
  CHECK(parseInt64("-12") == -12);
  CHECK(parseInt64("") == std::nullopt);
  CHECK(parseInt64("1x") == std::nullopt);
  CHECK(parseInt64("9223372036854775808") == std::nullopt);
}

}  // namespace shardpool::pooler
