// Merging rows: ORDER BY per column type (each shard's rows already sorted as PostgreSQL sorts
// them; the merged order written from PostgreSQL's rules), LIMIT, aggregates, GROUP BY,
// DISTINCT, exact sums and the refusals only RowDescription can tell.
#include <fmt/format.h>
#include <catch2/catch.hpp>

#include "pooler/merge/pg_merge_values.h"
#include "tests/pooler/merge/pg_merge_helpers.h"

namespace shardpool::protocol::pg::test {
namespace {

constexpr std::nullopt_t NUL = std::nullopt;

// One text column `x` of type `oid`: the shards' rows in, the merged column out.
std::vector<Value> sortOne(std::string_view sql, uint32_t oid,
                           const std::vector<std::vector<Value>>& shards,
                           const MergeOptions& options = isoUtf8()) {
  std::vector<std::string> replies;
  for (const auto& values : shards) {
    Reply r;
    r.T({{"x", oid}});
    for (const Value& v : values) r.D({v});
    r.C(fmt::format("SELECT {}", values.size())).Z();
    replies.push_back(r.bytes());
  }
  MergeResult m = mergeSql(sql, replies, options);
  INFO(m.error);
  REQUIRE(m.status == MergeStatus::Ok);
  auto msgs = messages(m.bytes);
  std::vector<Value> out;
  for (const Values& row : dataRows(msgs)) out.push_back(row.at(0));
  CHECK(first(msgs, 'C').tag() == fmt::format("SELECT {}", out.size()));
  return out;
}

TEST_CASE("merge: ORDER BY each type", "[protocol][merge]") {
  struct Case {
    std::string_view sql;
    uint32_t oid;
    std::vector<std::vector<Value>> shards;
    std::vector<Value> expect;
  };
  const Case cases[] = {
      {"SELECT x FROM orders ORDER BY x",
       23,
       {{"-5", "3", "10"}, {"-7", "4", "100"}},
       {"-7", "-5", "3", "4", "10", "100"}},
      {"SELECT x FROM orders ORDER BY x",
       20,
       {{"-9223372036854775808", "9"}, {"-1", "9223372036854775807"}},
       {"-9223372036854775808", "-1", "9", "9223372036854775807"}},
      // DESC: NULLs first unless told otherwise.
      {"SELECT x FROM orders ORDER BY x DESC",
       21,
       {{NUL, "300", "2"}, {NUL, "10", "-1"}},
       {NUL, NUL, "300", "10", "2", "-1"}},
      {"SELECT x FROM orders ORDER BY x DESC NULLS LAST",
       21,
       {{"300", NUL}, {"10", NUL}},
       {"300", "10", NUL, NUL}},
      {"SELECT x FROM orders ORDER BY x NULLS FIRST",
       23,
       {{NUL, "2"}, {NUL, "1"}},
       {NUL, NUL, "1", "2"}},
      {"SELECT x FROM orders ORDER BY x",
       26,
       {{"5", "4000000000"}, {"70"}},
       {"5", "70", "4000000000"}},
      // float8: -Infinity < ... < Infinity < NaN; -0 = 0 (ties keep shard order).
      {"SELECT x FROM orders ORDER BY x",
       701,
       {{"-Infinity", "-1.5", "0", "2", "NaN"}, {"-0", "1e+100", "Infinity", "NaN"}},
       {"-Infinity", "-1.5", "0", "-0", "2", "1e+100", "Infinity", "NaN", "NaN"}},
      {"SELECT x FROM orders ORDER BY x NULLS FIRST",
       700,
       {{NUL, "0.5", "NaN"}, {NUL, "-3.25"}},
       {NUL, NUL, "-3.25", "0.5", "NaN"}},
      // numeric: exact, whatever the length; 0.001 = 0.0010.
      {"SELECT x FROM orders ORDER BY x",
       1700,
       {{"-10.5", "0.001", "99999999999999999999.1"},
        {"-Infinity", "-10.50001", "0.0010", "0.01", "100000000000000000000", "NaN"}},
       {"-Infinity", "-10.50001", "-10.5", "0.001", "0.0010", "0.01", "99999999999999999999.1",
        "100000000000000000000", "NaN"}},
      {"SELECT x FROM orders ORDER BY x DESC",
       1700,
       {{"0.30000000000000000001", "-0.5"}, {"0.3", "0"}},
       {"0.30000000000000000001", "0.3", "0", "-0.5"}},
      {"SELECT x FROM orders ORDER BY x",
       16,
       {{"f", "t"}, {"f", "t", NUL}},
       {"f", "f", "t", "t", NUL}},
      {"SELECT x FROM orders ORDER BY x",
       1082,
       {{"-infinity", "0044-03-15 BC", "2024-01-02", "10000-01-01"},
        {"0001-01-01", "1999-12-31", "infinity"}},
       {"-infinity", "0044-03-15 BC", "0001-01-01", "1999-12-31", "2024-01-02", "10000-01-01",
        "infinity"}},
      {"SELECT x FROM orders ORDER BY x",
       1114,
       {{"2024-01-02 03:04:05", "2024-01-02 03:04:05.5"},
        {"2024-01-02 03:04:05.25", "2024-01-02 10:00:00"}},
       {"2024-01-02 03:04:05", "2024-01-02 03:04:05.25", "2024-01-02 03:04:05.5",
        "2024-01-02 10:00:00"}},
      // timestamptz: by the instant, whatever offset each value shows.
      {"SELECT x FROM orders ORDER BY x",
       1184,
       {{"2024-01-02 03:00:00+02", "2024-01-02 03:00:00+00"}, {"2024-01-02 02:30:00+00:30"}},
       {"2024-01-02 03:00:00+02", "2024-01-02 02:30:00+00:30", "2024-01-02 03:00:00+00"}},
      {"SELECT x FROM orders ORDER BY x DESC",
       1184,
       {{"2024-06-01 00:00:00-07", "0010-01-01 00:00:00+00:53:28 BC"}, {"2024-06-01 05:00:00+00"}},
       {"2024-06-01 00:00:00-07", "2024-06-01 05:00:00+00", "0010-01-01 00:00:00+00:53:28 BC"}},
      {"SELECT x FROM orders ORDER BY x",
       1083,
       {{"00:00:00", "12:00:00.5"}, {"09:30:00", "24:00:00"}},
       {"00:00:00", "09:30:00", "12:00:00.5", "24:00:00"}},
      {"SELECT x FROM orders ORDER BY x",
       2950,
       {{"00000000-0000-0000-0000-000000000001", "a0000000-0000-0000-0000-000000000000"},
        {"10000000-0000-0000-0000-000000000000"}},
       {"00000000-0000-0000-0000-000000000001", "10000000-0000-0000-0000-000000000000",
        "a0000000-0000-0000-0000-000000000000"}},
      // Text only under the C collation: byte order.
      {"SELECT x FROM orders ORDER BY x COLLATE \"C\"",
       25,
       {{"B", "a", "é"}, {"A", "b", "z"}},
       {"A", "B", "a", "b", "z", "é"}},
      {"SELECT x COLLATE \"C\" AS x FROM orders ORDER BY 1",
       1043,
       {{"B", "a"}, {"A", "b"}},
       {"A", "B", "a", "b"}},
      {"SELECT x FROM orders ORDER BY x COLLATE \"POSIX\" DESC",
       1043,
       {{"b", "a"}, {"c", "B"}},
       {"c", "b", "a", "B"}},
      // character(n): trailing blanks do not count.
      {"SELECT x FROM orders ORDER BY x COLLATE \"C\"",
       1042,
       {{"a  ", "b  "}, {"a  ", "ab "}},
       {"a  ", "a  ", "ab ", "b  "}},
      {"SELECT x FROM orders ORDER BY x COLLATE \"C\"",
       19,
       {{"pg_class"}, {"abc", "pg_type"}},
       {"abc", "pg_class", "pg_type"}},
  };
  for (const Case& c : cases) {
    INFO(c.sql << " on " << merge::typeName(c.oid));
    CHECK(sortOne(c.sql, c.oid, c.shards) == c.expect);
  }
}

TEST_CASE("merge: ORDER BY several keys, by name, under SELECT *", "[protocol][merge]") {
  std::vector<Col> cols = {{"id", 23}, {"created_at", 1114}, {"total", 1700}};
  std::string s0 = Reply()
                       .T(cols)
                       .rows({{"2", "2024-01-01 00:00:00", "7"}, {"1", "2024-01-03 00:00:00", "5"}})
                       .C("SELECT 2")
                       .Z()
                       .bytes();
  std::string s1 = Reply()
                       .T(cols)
                       .rows({{"3", "2024-01-02 00:00:00", "1"}, {"4", NUL, "1"}})
                       .C("SELECT 2")
                       .Z()
                       .bytes();
  auto ids = [](const MergeResult& r) {
    std::vector<std::string> out;
    for (const Values& row : dataRows(messages(r.bytes))) out.push_back(*row[0]);
    return out;
  };
  // created_at ASC: NULLs last.
  CHECK(ids(mergeSql("SELECT * FROM orders ORDER BY created_at", {s0, s1})) ==
        std::vector<std::string>{"2", "3", "1", "4"});
  CHECK(ids(mergeSql("SELECT * FROM orders ORDER BY created_at LIMIT 2", {s0, s1})) ==
        std::vector<std::string>{"2", "3"});

  // Two keys: total DESC, then id.
  std::string t0 = Reply()
                       .T(cols)
                       .rows({{"5", NUL, "9"}, {"1", NUL, "2"}, {"3", NUL, "2"}})
                       .C("SELECT 3")
                       .Z()
                       .bytes();
  std::string t1 =
      Reply().T(cols).rows({{"2", NUL, "9"}, {"4", NUL, "2"}}).C("SELECT 2").Z().bytes();
  CHECK(ids(mergeSql("SELECT id, created_at, total FROM orders ORDER BY total DESC, id",
                     {t0, t1})) == std::vector<std::string>{"2", "5", "1", "3", "4"});
  // WITH TIES: the rows equal to the last one within the limit stay.
  CHECK(ids(mergeSql("SELECT id, created_at, total FROM orders ORDER BY total DESC "
                     "FETCH FIRST 3 ROWS WITH TIES",
                     {t0, t1})) == std::vector<std::string>{"5", "2", "1", "3", "4"});
  CHECK(ids(mergeSql("SELECT id, created_at, total FROM orders ORDER BY total DESC "
                     "FETCH FIRST 2 ROWS WITH TIES",
                     {t0, t1})) == std::vector<std::string>{"5", "2"});
}

TEST_CASE("merge: ORDER BY refusals that only RowDescription shows", "[protocol][merge]") {
  struct Case {
    std::string_view sql;
    uint32_t oid;
    int16_t format;
    MergeOptions options;
    std::string_view message;  // a part of the message
    std::string_view hint;     // a part of the hint
  };
  MergeOptions sqlStyle = isoUtf8();
  sqlStyle.dateStyle = "SQL, DMY";
  MergeOptions latin = isoUtf8();
  latin.clientEncoding = "LATIN1";
  const Case cases[] = {
      {"SELECT x FROM orders ORDER BY x", 25, 0, isoUtf8(), "a text column without COLLATE \"C\"",
       "COLLATE \"C\""},
      {"SELECT x FROM orders ORDER BY x COLLATE \"en_US\"", 1043, 0, isoUtf8(),
       "under COLLATE \"en_US\"", "COLLATE \"C\""},
      {"SELECT x FROM orders ORDER BY x COLLATE \"C\"", 25, 0, latin,
       "client_encoding LATIN1 and server_encoding UTF8", ""},
      {"SELECT x FROM orders ORDER BY x", 1082, 0, sqlStyle, "a date column under DateStyle SQL",
       ""},
      {"SELECT x FROM orders ORDER BY x", 1082, 0, MergeOptions{}, "DateStyle (unknown)", ""},
      {"SELECT x FROM orders ORDER BY x", 3802, 0, isoUtf8(), "a jsonb column", ""},
      {"SELECT x FROM orders ORDER BY x", 1700, 1, isoUtf8(), "a binary-format numeric column", ""},
      {"SELECT * FROM orders ORDER BY y", 23, 0, isoUtf8(), "not in the select list", ""},
  };
  for (const Case& c : cases) {
    INFO(c.sql);
    std::string reply = Reply().T({{"x", c.oid, c.format}}).D({"1"}).C("SELECT 1").Z().bytes();
    MergeResult r = mergeSql(c.sql, {reply, reply}, c.options);
    CHECK(r.status == MergeStatus::Refused);
    auto msgs = messages(r.bytes);
    CHECK(types(msgs) == "TEZ");
    ErrorFields e = first(msgs, 'E').error();
    CHECK(e.sqlstate == "0A000");
    CHECK_THAT(e.message, Catch::StartsWith("SELECT with "));
    CHECK_THAT(e.message, Catch::Contains(std::string(c.message)));
    if (!c.hint.empty()) CHECK_THAT(e.hint, Catch::Contains(std::string(c.hint)));
  }
  // A shard whose rows are not in the order shardpool reads them in is not merged.
  std::string sorted = Reply().T({{"x", 23}}).rows({{"1"}, {"5"}}).C("SELECT 2").Z().bytes();
  std::string unsorted = Reply().T({{"x", 23}}).rows({{"9"}, {"2"}}).C("SELECT 2").Z().bytes();
  MergeResult disorder = mergeSql("SELECT x FROM orders ORDER BY x", {sorted, unsorted});
  CHECK(disorder.status == MergeStatus::Refused);
  CHECK_THAT(disorder.error, Catch::Contains("whose order on a shard differs"));
  // The DateStyle a shard reports in the same reply counts.
  std::string reply = Reply()
                          .S("DateStyle", "ISO, DMY")
                          .T({{"x", 1082}})
                          .D({"2024-01-01"})
                          .C("SELECT 1")
                          .Z()
                          .bytes();
  CHECK(mergeSql("SELECT x FROM orders ORDER BY x", {reply, reply}, sqlStyle).status ==
        MergeStatus::Ok);
  // Under SELECT *, a name found twice in the output is ambiguous.
  std::string twice = Reply().T({{"x", 23}, {"x", 23}}).D({"1", "2"}).C("SELECT 1").Z().bytes();
  CHECK(mergeSql("SELECT * FROM orders ORDER BY x COLLATE \"C\"", {twice, twice}).status ==
        MergeStatus::Refused);
}

TEST_CASE("merge: aggregates without GROUP BY", "[protocol][merge]") {
  std::vector<Col> cols = {{"count", 20}, {"sum", 20},   {"sum", 1700},    {"sum", 1700},
                           {"min", 1700}, {"max", 1114}, {"bool_and", 16}, {"bool_or", 16}};
  std::string sql =
      "SELECT count(*), sum(qty), sum(big), sum(price), min(price), max(at), bool_and(ok), "
      "bool_or(ok) FROM orders";
  std::string s0 =
      Reply()
          .T(cols)
          .D({"3", "10", "9223372036854775807", "0.1", "0.1", "2024-01-01 00:00:00", "t", "f"})
          .C("SELECT 1")
          .Z()
          .bytes();
  std::string s1 =
      Reply()
          .T(cols)
          .D({"4", "-3", "9223372036854775807", "0.20", "-5", "2024-02-01 00:00:00", "f", "t"})
          .C("SELECT 1")
          .Z()
          .bytes();
  // A shard with no rows: count 0, the others NULL.
  std::string s2 =
      Reply().T(cols).D({"0", NUL, NUL, NUL, NUL, NUL, NUL, NUL}).C("SELECT 1").Z().bytes();
  MergeResult r = mergeSql(sql, {s0, s1, s2});
  INFO(r.error);
  REQUIRE(r.status == MergeStatus::Ok);
  auto msgs = messages(r.bytes);
  CHECK(types(msgs) == "TDCZ");
  CHECK(dataRows(msgs) == std::vector<Values>{{"7", "7", "18446744073709551614", "0.30", "-5",
                                               "2024-02-01 00:00:00", "f", "t"}});
  CHECK(first(msgs, 'C').tag() == "SELECT 1");

  // Every shard empty: count 0, sum NULL.
  std::vector<Col> two = {{"count", 20}, {"sum", 1700}};
  std::string none = Reply().T(two).D({"0", NUL}).C("SELECT 1").Z().bytes();
  CHECK(dataRows(messages(mergeSql("SELECT count(*), sum(x) FROM orders", {none, none}).bytes)) ==
        std::vector<Values>{{"0", NUL}});

  // Non-aggregate columns come from the first shard (now() differs between shards).
  std::vector<Col> withNow = {{"now", 1184}, {"count", 20}};
  std::string n0 = Reply().T(withNow).D({"2024-01-01 00:00:00+00", "1"}).C("SELECT 1").Z().bytes();
  std::string n1 = Reply().T(withNow).D({"2024-01-01 00:00:01+00", "2"}).C("SELECT 1").Z().bytes();
  CHECK(dataRows(messages(mergeSql("SELECT now(), count(*) FROM orders", {n0, n1}).bytes)) ==
        std::vector<Values>{{"2024-01-01 00:00:00+00", "3"}});

  // int8 overflow: PostgreSQL says bigint out of range, and so does the merge.
  std::vector<Col> sum8 = {{"sum", 20}};
  std::string big = Reply().T(sum8).D({"9223372036854775807"}).C("SELECT 1").Z().bytes();
  std::string one = Reply().T(sum8).D({"1"}).C("SELECT 1").Z().bytes();
  MergeResult over = mergeSql("SELECT sum(qty) FROM orders", {big, one});
  CHECK(over.status == MergeStatus::Refused);
  CHECK(first(messages(over.bytes), 'E').error().sqlstate == "22003");

  // Binary count and sum (extended protocol).
  std::vector<Col> bin = {{"count", 20, 1}, {"bool_or", 16, 1}};
  std::string b0 =
      Reply().msg('2').T(bin).D({int8Binary(5), std::string(1, '\0')}).C("SELECT 1").Z().bytes();
  std::string b1 =
      Reply().msg('2').T(bin).D({int8Binary(-2), std::string(1, '\1')}).C("SELECT 1").Z().bytes();
  MergePlan plan = planFor("SELECT count(*), bool_or(ok) FROM orders");
  CHECK(dataRows(messages(mergeWith({{plan}}, {b0, b1}).bytes)) ==
        std::vector<Values>{{int8Binary(3), std::string(1, '\1')}});
}

TEST_CASE("merge: GROUP BY and DISTINCT", "[protocol][merge]") {
  std::vector<Col> cols = {{"region", 23}, {"count", 20}, {"sum", 1700}};
  std::string s0 =
      Reply().T(cols).rows({{"1", "3", "10.5"}, {"2", "1", "1"}}).C("SELECT 2").Z().bytes();
  std::string s1 = Reply()
                       .T(cols)
                       .rows({{"2", "4", "0.50"}, {"3", "1", NUL}, {NUL, "2", "1"}})
                       .C("SELECT 3")
                       .Z()
                       .bytes();
  std::string s2 = Reply().T(cols).rows({{NUL, "1", "2"}}).C("SELECT 1").Z().bytes();
  std::string sql = "SELECT region, count(*), sum(total) FROM orders GROUP BY region";
  auto rows = dataRows(messages(mergeSql(sql, {s0, s1, s2}).bytes));
  CHECK(rows == std::vector<Values>{
                    {"1", "3", "10.5"}, {"2", "5", "1.50"}, {"3", "1", NUL}, {NUL, "3", "3"}});
  MergeResult sorted = mergeSql(sql + " ORDER BY 2 DESC, 1", {s0, s1, s2});
  auto msgs = messages(sorted.bytes);
  CHECK(dataRows(msgs) ==
        std::vector<Values>{
            {"2", "5", "1.50"}, {"1", "3", "10.5"}, {NUL, "3", "3"}, {"3", "1", NUL}});
  CHECK(first(msgs, 'C').tag() == "SELECT 4");

  // Keys by value: numeric 1.0 = 1.00, float -0 = 0, timestamptz by instant.
  std::vector<Col> keys = {{"n", 1700}, {"f", 701}, {"t", 1184}, {"count", 20}};
  std::string k0 =
      Reply().T(keys).D({"1.0", "0", "2024-01-01 02:00:00+02", "1"}).C("SELECT 1").Z().bytes();
  std::string k1 =
      Reply().T(keys).D({"1.00", "-0", "2024-01-01 00:00:00+00", "2"}).C("SELECT 1").Z().bytes();
  CHECK(dataRows(messages(
            mergeSql("SELECT n, f, t, count(*) FROM orders GROUP BY 1, 2, 3", {k0, k1}).bytes)) ==
        std::vector<Values>{{"1.0", "0", "2024-01-01 02:00:00+02", "3"}});

  // Text keys group by bytes under any deterministic collation: no COLLATE needed.
  std::vector<Col> text = {{"name", 25}, {"min", 25}};
  std::string t0 = Reply().T(text).rows({{"b", "x"}, {"a", "y"}}).C("SELECT 2").Z().bytes();
  std::string t1 = Reply().T(text).rows({{"a", "w"}}).C("SELECT 1").Z().bytes();
  CHECK(dataRows(messages(mergeSql("SELECT name, min(note COLLATE \"C\") FROM orders GROUP BY "
                                   "name",
                                   {t0, t1})
                              .bytes)) == std::vector<Values>{{"b", "x"}, {"a", "w"}});
  // ... but min/max of text need COLLATE "C".
  MergeResult noCollate = mergeSql("SELECT name, min(note) FROM orders GROUP BY name", {t0, t1});
  CHECK(noCollate.status == MergeStatus::Refused);
  CHECK_THAT(first(messages(noCollate.bytes), 'E').error().hint,
             Catch::Contains("min(name COLLATE \"C\")"));

  // DISTINCT is a GROUP BY on every column; with ORDER BY and LIMIT.
  std::vector<Col> ab = {{"a", 23}, {"b", 16}};
  std::string d0 =
      Reply().T(ab).rows({{"1", "t"}, {"2", "f"}, {"5", "t"}}).C("SELECT 3").Z().bytes();
  std::string d1 =
      Reply().T(ab).rows({{"2", "f"}, {"2", "t"}, {"3", NUL}}).C("SELECT 3").Z().bytes();
  CHECK(dataRows(messages(
            mergeSql("SELECT DISTINCT a, b FROM orders ORDER BY a, b LIMIT 4", {d0, d1}).bytes)) ==
        std::vector<Values>{{"1", "t"}, {"2", "f"}, {"2", "t"}, {"3", NUL}});
  CHECK(dataRows(messages(mergeSql("SELECT DISTINCT * FROM orders", {d0, d1}).bytes)).size() == 5);
}

TEST_CASE("merge: aggregate refusals that only RowDescription shows", "[protocol][merge]") {
  struct Case {
    std::string_view sql;
    std::vector<Col> cols;
    std::string_view message;
  };
  const Case cases[] = {
      {"SELECT sum(x) FROM orders", {{"sum", 701}}, "sum() of type double precision"},
      {"SELECT sum(x) FROM orders", {{"sum", 1186}}, "sum() of type interval"},
      {"SELECT sum(x) FROM orders", {{"sum", 1700, 1}}, "sum() of type binary numeric"},
      {"SELECT x, count(*) FROM orders GROUP BY x",
       {{"x", 3802}, {"count", 20}},
       "GROUP BY or DISTINCT on a jsonb column"},
      {"SELECT x, count(*) FROM orders GROUP BY x",
       {{"x", 1186}, {"count", 20}},
       "GROUP BY or DISTINCT on an interval column"},
      {"SELECT max(x) FROM orders", {{"max", 1082}}, "max() of a date column under DateStyle"},
      {"SELECT x, count(*) FROM orders GROUP BY x", {{"x", 23}}, "a select list of 2 entries"},
  };
  MergeOptions noDate = isoUtf8();
  noDate.dateStyle = "Postgres, MDY";
  for (const Case& c : cases) {
    INFO(c.sql);
    Values row(c.cols.size(), Value("1"));
    std::string reply = Reply().T(c.cols).D(row).C("SELECT 1").Z().bytes();
    MergeResult r = mergeSql(c.sql, {reply, reply}, noDate);
    CHECK(r.status == MergeStatus::Refused);
    auto msgs = messages(r.bytes);
    CHECK(types(msgs) == "TEZ");
    CHECK_THAT(first(msgs, 'E').error().message, Catch::Contains(std::string(c.message)));
  }
}

TEST_CASE("merge values: exact decimals", "[protocol][merge]") {
  struct Case {
    std::string_view a, b, sum;
  };
  const Case cases[] = {
      {"0.1", "0.2", "0.3"},
      {"1", "0.50", "1.50"},
      {"9223372036854775807", "9223372036854775807", "18446744073709551614"},
      {"99999999999999999999.99", "0.01", "100000000000000000000.00"},
      {"-1.5", "1.5", "0.0"},
      {"-1.5", "0.25", "-1.25"},
      {"0.25", "-1.5", "-1.25"},
      {"-2", "-3.001", "-5.001"},
      {"10", "-0.001", "9.999"},
      {"0", "0", "0"},
      {"NaN", "1", "NaN"},
      {"Infinity", "-5", "Infinity"},
      {"-Infinity", "-Infinity", "-Infinity"},
      {"Infinity", "-Infinity", "NaN"},
  };
  for (const Case& c : cases) {
    INFO(c.a << " + " << c.b);
    auto a = merge::parseDecimal(c.a), b = merge::parseDecimal(c.b);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(merge::addDecimal(*a, *b) == c.sum);
  }
  for (std::string_view bad : {"", "-", ".", "1.", "1e5", "+1", "1 ", "0x1", "--1", "1.2.3"}) {
    INFO(bad);
    CHECK_FALSE(merge::parseDecimal(bad));
  }
  auto cmp = [](std::string_view a, std::string_view b) {
    return merge::compareDecimal(*merge::parseDecimal(a), *merge::parseDecimal(b));
  };
  CHECK(cmp("1.0", "1.00") == 0);
  CHECK(cmp("0", "-0.000") == 0);
  CHECK(cmp("-1", "-0.9") < 0);
  CHECK(cmp("123456789012345678901234567890", "123456789012345678901234567891") < 0);
  CHECK(cmp("Infinity", "NaN") < 0);
  CHECK(cmp("-Infinity", "-99999999999999999999") < 0);
}

}  // namespace
}  // namespace shardpool::protocol::pg::test
