// mergeReplies / ReplyMerger: the shards' replies walked in lock step into one reply. Replies are
// built with the codec's Writer as a PostgreSQL 15 server sends them; plans come from real SQL.
#include <catch2/catch.hpp>

#include <random>

#include "tests/pooler/merge/pg_merge_helpers.h"

namespace shardpool::protocol::pg::test {
namespace {

const std::vector<Col> kIdName = {{"id", 23}, {"name", 25}};

TEST_CASE("merge: concatenation keeps one RowDescription and sums the count", "[protocol][merge]") {
  std::string s0 = Reply().T(kIdName).rows({{"1", "a"}, {"2", "b"}}).C("SELECT 2").Z().bytes();
  std::string s1 = Reply().T(kIdName).C("SELECT 0").Z().bytes();
  std::string s2 = Reply().T(kIdName).rows({{"3", std::nullopt}}).C("SELECT 1").Z().bytes();
  MergeResult r = mergeSql("SELECT id, name FROM orders", {s0, s1, s2});
  CHECK(r.status == MergeStatus::Ok);
  auto msgs = messages(r.bytes);
  CHECK(types(msgs) == "TDDDCZ");
  CHECK(dataRows(msgs) == std::vector<Values>{{"1", "a"}, {"2", "b"}, {"3", std::nullopt}});
  CHECK(first(msgs, 'C').tag() == "SELECT 3");
  CHECK(readyStatus(msgs) == 'I');
  CHECK(r.rows == 3);
  // The first shard's RowDescription, byte for byte.
  CHECK(first(msgs, 'T').body == messages(s0)[0].body);
}

TEST_CASE("merge: LIMIT without ORDER BY cuts the concatenation", "[protocol][merge]") {
  std::string s0 = Reply().T(kIdName).rows({{"1", "a"}, {"2", "b"}}).C("SELECT 2").Z().bytes();
  std::string s1 = Reply().T(kIdName).rows({{"3", "c"}, {"4", "d"}}).C("SELECT 2").Z().bytes();
  auto msgs = messages(mergeSql("SELECT id, name FROM orders LIMIT 3", {s0, s1}).bytes);
  CHECK(dataRows(msgs) == std::vector<Values>{{"1", "a"}, {"2", "b"}, {"3", "c"}});
  CHECK(first(msgs, 'C').tag() == "SELECT 3");
  msgs = messages(mergeSql("SELECT id, name FROM orders LIMIT 0",
                           {Reply().T(kIdName).C("SELECT 0").Z().bytes(),
                            Reply().T(kIdName).C("SELECT 0").Z().bytes()})
                      .bytes);
  CHECK(types(msgs) == "TCZ");
  CHECK(first(msgs, 'C').tag() == "SELECT 0");
}

TEST_CASE("merge: CommandComplete tags", "[protocol][merge]") {
  struct Case {
    std::vector<std::string> tags;
    std::string expect;  // "" for a mismatch
  };
  const Case cases[] = {
      {{"UPDATE 3", "UPDATE 4", "UPDATE 0"}, "UPDATE 7"},
      {{"INSERT 0 2", "INSERT 0 3"}, "INSERT 0 5"},
      {{"DELETE 0", "DELETE 3"}, "DELETE 3"},
      {{"MERGE 1", "MERGE 1"}, "MERGE 2"},
      {{"SELECT 5", "SELECT 6"}, "SELECT 11"},  // SELECT INTO / CREATE TABLE AS: no rows
      {{"COPY 10", "COPY 20"}, "COPY 30"},
      {{"CREATE TABLE", "CREATE TABLE"}, "CREATE TABLE"},
      {{"BEGIN", "BEGIN", "BEGIN"}, "BEGIN"},
      {{"SET", "SET"}, "SET"},
      {{"UPDATE 1", "DELETE 1"}, ""},
      {{"CREATE TABLE", "CREATE INDEX"}, ""},
      {{"INSERT 0 1", "UPDATE 1"}, ""},
  };
  for (const Case& c : cases) {
    INFO(c.tags[0] << " + " << c.tags[1] << " -> " << c.expect);
    std::vector<std::string> replies;
    for (const std::string& tag : c.tags) replies.push_back(Reply().C(tag).Z().bytes());
    MergeResult r = mergeWith({{planFor("UPDATE orders SET a = 1")}}, replies);
    auto msgs = messages(r.bytes);
    if (c.expect.empty()) {
      CHECK(r.status == MergeStatus::Mismatch);
      CHECK(types(msgs) == "EZ");
      CHECK(first(msgs, 'E').error().sqlstate == "XX000");
    } else {
      CHECK(r.status == MergeStatus::Ok);
      CHECK(types(msgs) == "CZ");
      CHECK(first(msgs, 'C').tag() == c.expect);
    }
  }
}

TEST_CASE("merge: SELECT INTO under a sort plan counts what the shards stored",
          "[protocol][merge]") {
  MergePlan plan = planFor("SELECT a INTO TEMP t2 FROM orders ORDER BY a");
  REQUIRE(plan.kind == MergeKind::Sort);
  auto msgs = messages(
      mergeWith({{plan}}, {Reply().C("SELECT 5").Z().bytes(), Reply().C("SELECT 2").Z().bytes()})
          .bytes);
  CHECK(types(msgs) == "CZ");
  CHECK(first(msgs, 'C').tag() == "SELECT 7");
}

TEST_CASE("merge: RETURNING rows of a broadcast write are concatenated", "[protocol][merge]") {
  std::vector<Col> cols = {{"id", 20}};
  std::string s0 = Reply().T(cols).rows({{"1"}, {"2"}}).C("UPDATE 2").Z().bytes();
  std::string s1 = Reply().T(cols).rows({{"7"}}).C("UPDATE 1").Z().bytes();
  auto msgs = messages(mergeSql("UPDATE orders SET a = 1 RETURNING id", {s0, s1}).bytes);
  CHECK(types(msgs) == "TDDDCZ");
  CHECK(first(msgs, 'C').tag() == "UPDATE 3");
}

TEST_CASE("merge: a shard's error reaches the client once, named, with its fields",
          "[protocol][merge]") {
  // Shard s1 fails after sending one row; s2 fails before any; s0 succeeds.
  std::string ok = Reply().T(kIdName).rows({{"1", "a"}}).C("SELECT 1").Z().bytes();
  Writer raw;
  raw.start('E');
  for (std::string_view f : {"SFATAL", "VFATAL", "C22012", "Mdivision by zero", "Ddetail here",
                             "Hhint here", "P17", "Wwhere here", "Fint.c", "L123"}) {
    raw.cstring(f);
  }
  raw.u8(0);
  raw.finish();
  std::string s1 = Reply().T(kIdName).D({"2", "b"}).raw(raw.data()).bytes() + Reply().Z().bytes();
  std::string s2 = Reply().E("42P01", "relation \"x\" does not exist").Z().bytes();

  MergeResult r = mergeSql("SELECT id, name FROM orders", {ok, s1});
  CHECK(r.status == MergeStatus::ShardError);
  CHECK(r.badShard == 1);
  auto msgs = messages(r.bytes);
  CHECK(types(msgs) == "TEZ");  // what all agree on (RowDescription), then one error
  CHECK(readyStatus(msgs) == 'I');
  CHECK(msgs[1].fields() == std::vector<std::string>{"SERROR", "VERROR", "C22012",
                                                     "Mshard \"s1\": division by zero",
                                                     "Ddetail here", "Hhint here", "P17",
                                                     "Wwhere here", "Fint.c", "L123"});
  CHECK(r.error == "shard \"s1\": division by zero");

  // s2 fails at once, so nothing agrees; the error sent is still s1's, the first in shard order.
  r = mergeSql("SELECT id, name FROM orders", {ok, s1, s2});
  CHECK(r.badShard == 1);
  msgs = messages(r.bytes);
  CHECK(types(msgs) == "EZ");
  CHECK(msgs[0].error().message == "shard \"s1\": division by zero");

  r = mergeSql("SELECT id, name FROM orders", {s2, ok});
  msgs = messages(r.bytes);
  CHECK(types(msgs) == "EZ");
  CHECK(msgs[0].error().message == "shard \"s0\": relation \"x\" does not exist");
  CHECK(msgs[0].error().sqlstate == "42P01");
}

TEST_CASE("merge: ReadyForQuery is 'E' when any shard's transaction failed", "[protocol][merge]") {
  std::string failed = Reply().E("23505", "duplicate key").Z('E').bytes();
  std::string fine = Reply().C("INSERT 0 1").Z('T').bytes();
  MergeResult r = mergeWith({{planFor("INSERT INTO orders VALUES (1)")}}, {fine, failed});
  auto msgs = messages(r.bytes);
  CHECK(types(msgs) == "EZ");
  CHECK(readyStatus(msgs) == 'E');
  CHECK(r.rollbackShards);  // s0 still holds an open transaction

  r = mergeWith({{planFor("INSERT INTO orders VALUES (1)")}}, {fine, fine});
  msgs = messages(r.bytes);
  CHECK(types(msgs) == "CZ");
  CHECK(readyStatus(msgs) == 'T');
  CHECK_FALSE(r.rollbackShards);

  // In a failed transaction every shard answers 25P02 and 'E': one error, 'E'.
  std::string aborted = Reply().E("25P02", "current transaction is aborted").Z('E').bytes();
  r = mergeWith({{planFor("SELECT 1")}}, {aborted, aborted});
  msgs = messages(r.bytes);
  CHECK(types(msgs) == "EZ");
  CHECK(readyStatus(msgs) == 'E');
}

TEST_CASE("merge: shards that answer differently are an XX000 error naming them",
          "[protocol][merge]") {
  std::string base = Reply().T(kIdName).rows({{"1", "a"}}).C("SELECT 1").Z().bytes();
  struct Case {
    std::string name;
    std::string other;
    std::string fragment;
  };
  const Case cases[] = {
      {"a column of another type", Reply().T({{"id", 20}, {"name", 25}}).C("SELECT 0").Z().bytes(),
       "column 1 (\"id\") is integer in format 0 on shard \"s0\" but bigint in format 0 on "
       "shard \"s1\""},
      {"another column count", Reply().T({{"id", 23}}).C("SELECT 0").Z().bytes(),
       "shard \"s0\" returned 2 columns, shard \"s1\" 1"},
      {"another message", Reply().C("SELECT 0").Z().bytes(),
       "shard \"s1\" sent CommandComplete where shard \"s0\" sent RowDescription"},
      {"another binary format", Reply().T({{"id", 23, 1}, {"name", 25}}).C("SELECT 0").Z().bytes(),
       "in format 1 on shard \"s1\""},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    MergeResult r = mergeSql("SELECT id, name FROM orders", {base, c.other});
    CHECK(r.status == MergeStatus::Mismatch);
    auto msgs = messages(r.bytes);
    CHECK(types(msgs) == "EZ");
    ErrorFields e = first(msgs, 'E').error();
    CHECK(e.sqlstate == "XX000");
    CHECK_THAT(e.message, Catch::StartsWith("shards returned different results: "));
    CHECK_THAT(e.message, Catch::Contains(c.fragment));
  }
}

TEST_CASE("merge: notices from every shard pass, ParameterStatus once", "[protocol][merge]") {
  std::string s0 =
      Reply().N("from s0").T(kIdName).D({"1", "a"}).C("SELECT 1").S("TimeZone", "UTC").Z().bytes();
  std::string s1 =
      Reply().T(kIdName).N("from s1").D({"2", "b"}).C("SELECT 1").S("TimeZone", "UTC").Z().bytes();
  auto msgs = messages(mergeSql("SELECT id, name FROM orders", {s0, s1}).bytes);
  std::vector<std::string> notices;
  for (const Out& m : msgs) {
    if (m.type == 'N') notices.push_back(m.error().message);
  }
  CHECK(notices == std::vector<std::string>{"from s0", "from s1"});
  CHECK(std::count_if(msgs.begin(), msgs.end(), [](const Out& m) { return m.type == 'S'; }) == 1);
  CHECK(dataRows(msgs).size() == 2);
  CHECK(first(msgs, 'C').tag() == "SELECT 2");
}

TEST_CASE("merge: an empty query", "[protocol][merge]") {
  std::string s = Reply().I().Z().bytes();
  auto msgs = messages(mergeWith({{planFor("")}}, {s, s}).bytes);
  CHECK(types(msgs) == "IZ");
}

TEST_CASE("merge: several statements in one Query", "[protocol][merge]") {
  // The first result follows its plan (a sort); the rest are concatenated.
  std::vector<Col> cols = {{"a", 23}};
  std::string s0 = Reply().T(cols).rows({{"1"}, {"5"}}).C("SELECT 2").C("UPDATE 1").Z().bytes();
  std::string s1 = Reply().T(cols).rows({{"2"}}).C("SELECT 1").C("UPDATE 2").Z().bytes();
  MergePlan sort = planFor("SELECT a FROM orders ORDER BY a");
  auto msgs = messages(mergeWith({{sort}}, {s0, s1}).bytes);
  CHECK(types(msgs) == "TDDDCCZ");
  CHECK(dataRows(msgs) == std::vector<Values>{{"1"}, {"2"}, {"5"}});
  CHECK(msgs[4].tag() == "SELECT 3");
  CHECK(msgs[5].tag() == "UPDATE 3");
}

TEST_CASE("merge: extended-protocol batches", "[protocol][merge]") {
  std::vector<Col> cols = {{"a", 23}};
  MergePlan sort = planFor("SELECT a FROM orders ORDER BY a DESC");
  REQUIRE(sort.kind == MergeKind::Sort);

  SECTION("Parse, Bind, Describe portal, Execute, Close, Sync") {
    std::string s0 =
        Reply().msg('1').msg('2').T(cols).rows({{"9"}, {"3"}}).C("SELECT 2").msg('3').Z().bytes();
    std::string s1 =
        Reply().msg('1').msg('2').T(cols).rows({{"5"}}).C("SELECT 1").msg('3').Z().bytes();
    MergeResult r = mergeWith({{sort}}, {s0, s1});
    CHECK(r.status == MergeStatus::Ok);
    auto msgs = messages(r.bytes);
    CHECK(types(msgs) == "12TDDDC3Z");
    CHECK(dataRows(msgs) == std::vector<Values>{{"9"}, {"5"}, {"3"}});
    CHECK(first(msgs, 'C').tag() == "SELECT 3");
  }
  SECTION("binary-format results") {
    std::vector<Col> bin = {{"a", 23, 1}};
    std::string s0 = Reply()
                         .msg('2')
                         .T(bin)
                         .rows({{int4Binary(300)}, {int4Binary(-2)}})
                         .C("SELECT 2")
                         .Z()
                         .bytes();
    std::string s1 = Reply().msg('2').T(bin).rows({{int4Binary(7)}}).C("SELECT 1").Z().bytes();
    auto msgs = messages(mergeWith({{sort}}, {s0, s1}).bytes);
    CHECK(dataRows(msgs) ==
          std::vector<Values>{{int4Binary(300)}, {int4Binary(7)}, {int4Binary(-2)}});
  }
  SECTION("a statement Describe does not tell the portal's formats") {
    std::string s0 =
        Reply().msg('1').t({23}).T(cols).msg('2').rows({{"9"}}).C("SELECT 1").Z().bytes();
    std::string s1 =
        Reply().msg('1').t({23}).T(cols).msg('2').rows({{"5"}}).C("SELECT 1").Z().bytes();
    MergeResult r = mergeWith({{sort}}, {s0, s1});
    CHECK(r.status == MergeStatus::Refused);
    auto msgs = messages(r.bytes);
    CHECK(types(msgs) == "1tT2EZ");
    CHECK(first(msgs, 'E').error().sqlstate == "0A000");
    CHECK_THAT(first(msgs, 'E').error().hint, Catch::Contains("Describe the portal"));
    // Concatenation needs no types.
    r = mergeWith({{MergePlan{}}}, {s0, s1});
    CHECK(types(messages(r.bytes)) == "1tT2DDCZ");
  }
  SECTION("statement Describe with different parameter types") {
    std::string s0 = Reply().msg('1').t({23}).T(cols).Z().bytes();
    std::string s1 = Reply().msg('1').t({20}).T(cols).Z().bytes();
    MergeResult r = mergeWith({{}}, {s0, s1});
    CHECK(r.status == MergeStatus::Mismatch);
    CHECK(types(messages(r.bytes)) == "1EZ");
  }
  SECTION("DDL: NoData, then a tag once") {
    std::string s = Reply().msg('1').msg('2').msg('n').C("CREATE TABLE").Z().bytes();
    auto msgs = messages(mergeWith({{MergePlan{}}}, {s, s, s}).bytes);
    CHECK(types(msgs) == "12nCZ");
    CHECK(first(msgs, 'C').tag() == "CREATE TABLE");
  }
  SECTION("PortalSuspended: concatenated, suspended while any shard is") {
    std::string s0 = Reply().msg('2').rows({{"1"}, {"2"}}).msg('s').Z('T').bytes();
    std::string s1 = Reply().msg('2').rows({{"3"}}).C("SELECT 1").Z('T').bytes();
    auto msgs = messages(mergeWith({{MergePlan{}}}, {s0, s1}).bytes);
    CHECK(types(msgs) == "2DDDsZ");
    // Under a sort it cannot be merged.
    MergeResult r = mergeWith({{sort}}, {s0, s1});
    CHECK(r.status == MergeStatus::Refused);
    msgs = messages(r.bytes);
    CHECK(types(msgs) == "2EZ");
    CHECK(readyStatus(msgs) == 'E');  // told it failed; the shards' transactions are open
    CHECK(r.rollbackShards);
  }
  SECTION("two Syncs: an error skips its segment only, the next uses its own plans") {
    std::string s0 = Reply()
                         .msg('1')
                         .msg('2')
                         .T(cols)
                         .rows({{"1"}})
                         .C("SELECT 1")
                         .Z()
                         .msg('1')
                         .msg('2')
                         .T(cols)
                         .rows({{"4"}, {"2"}})
                         .C("SELECT 2")
                         .Z()
                         .bytes();
    std::string s1 = Reply()
                         .msg('1')
                         .msg('2')
                         .T(cols)
                         .E("22012", "division by zero")
                         .Z()
                         .msg('1')
                         .msg('2')
                         .T(cols)
                         .rows({{"3"}})
                         .C("SELECT 1")
                         .Z()
                         .bytes();
    MergeResult r = mergeWith({{MergePlan{}}, {sort}}, {s0, s1});
    CHECK(r.status == MergeStatus::ShardError);
    auto msgs = messages(r.bytes);
    CHECK(types(msgs) == "12TEZ12TDDDCZ");
    CHECK(dataRows(msgs) == std::vector<Values>{{"4"}, {"3"}, {"2"}});
  }
}

TEST_CASE("merge: truncated replies and garbage are errors, never crashes", "[protocol][merge]") {
  MergePlan sort = planFor("SELECT id, name FROM orders ORDER BY id");
  std::string good =
      Reply().N("hi").T(kIdName).rows({{"1", "a"}, {"2", std::nullopt}}).C("SELECT 2").Z().bytes();
  SECTION("cut at every offset") {
    for (size_t cut = 0; cut < good.size(); ++cut) {
      INFO("cut at " << cut);
      MergeResult r = mergeWith({{sort}}, {good, good.substr(0, cut)});
      CHECK(r.status == MergeStatus::Malformed);
      CHECK(r.badShard == 1);
      auto msgs = messages(r.bytes);
      CHECK(types(msgs) == "EZ");
      CHECK(first(msgs, 'E').error().sqlstate == "08P01");
    }
  }
  SECTION("a bad length") {
    std::string bad = good;
    bad[1] = '\x7f';
    MergeResult r = mergeWith({{sort}}, {bad, good});
    CHECK(r.status == MergeStatus::Malformed);
    CHECK(r.badShard == 0);
  }
  SECTION("a DataRow with the wrong number of values") {
    std::string odd = Reply().T(kIdName).D({"1"}).C("SELECT 1").Z().bytes();
    MergeResult r = mergeWith({{sort}}, {good, odd});
    CHECK(r.status == MergeStatus::Malformed);
    CHECK(types(messages(r.bytes)) == "NTEZ");
  }
  SECTION("an unexpected message type") {
    std::string odd = Reply().raw(std::string("K\0\0\0\x0c\0\0\0\1\0\0\0\2", 13)).Z().bytes();
    MergeResult r = mergeWith({{sort}}, {odd, odd});
    CHECK(r.status == MergeStatus::Malformed);
    CHECK(types(messages(r.bytes)) == "EZ");
  }
  SECTION("random mutations") {
    std::mt19937 rng(12345);
    for (int i = 0; i < 3000; ++i) {
      std::string a = good, b = good;
      std::string& victim = (i % 2) ? a : b;
      int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) victim[rng() % victim.size()] = static_cast<char>(rng());
      if (i % 7 == 0) victim.resize(rng() % (victim.size() + 1));
      MergeResult r = mergeWith({{sort}}, {a, b});
      if (r.status != MergeStatus::Ok) CHECK_FALSE(r.error.empty());
      messages(r.bytes);  // whole messages, ending with ReadyForQuery
    }
  }
  SECTION("random bytes") {
    std::mt19937 rng(99);
    for (int i = 0; i < 500; ++i) {
      std::string junk(rng() % 64, '\0');
      for (char& c : junk) c = static_cast<char>(rng());
      MergeResult r = mergeWith({{sort}}, {good, junk});
      CHECK(r.status != MergeStatus::Ok);
      messages(r.bytes);
    }
  }
  SECTION("no shards") {
    MergeResult r = mergeWith({}, {});
    CHECK(r.status == MergeStatus::Malformed);
    CHECK(types(messages(r.bytes)) == "EZ");
  }
}

TEST_CASE("ReplyMerger: fed in pieces, it counts ReadyForQuery and bytes", "[protocol][merge]") {
  std::string s0 = Reply().T(kIdName).rows({{"2", "b"}, {"4", "d"}}).C("SELECT 2").Z().bytes();
  std::string s1 = Reply().T(kIdName).rows({{"1", "a"}, {"3", "c"}}).C("SELECT 2").Z().bytes();
  MergePlan sort = planFor("SELECT id, name FROM orders ORDER BY id");
  MergeResult whole = mergeWith({{sort}}, {s0, s1});
  for (size_t split : {size_t{1}, size_t{3}, size_t{7}, s0.size()}) {
    INFO("pieces of " << split);
    ReplyMerger m({"s0", "s1"}, {{sort}}, isoUtf8());
    for (size_t at = 0; at < s0.size() || at < s1.size(); at += split) {
      if (at < s0.size()) {
        std::string_view piece = std::string_view(s0).substr(at, split);
        m.feed(0, Bytes(reinterpret_cast<const uint8_t*>(piece.data()), piece.size()));
      }
      CHECK(m.readyCount(0) == (at + split >= s0.size() ? 1u : 0u));
      if (at < s1.size()) {
        std::string_view piece = std::string_view(s1).substr(at, split);
        m.feed(1, Bytes(reinterpret_cast<const uint8_t*>(piece.data()), piece.size()));
      }
    }
    CHECK(m.readyCount(1) == 1);
    CHECK(m.bufferedBytes() == s0.size() + s1.size());
    CHECK_FALSE(m.malformed(0));
    MergeResult r = m.finish();
    CHECK(r.status == MergeStatus::Ok);
    CHECK(r.bytes == whole.bytes);
    CHECK(dataRows(messages(r.bytes)) ==
          std::vector<Values>{{"1", "a"}, {"2", "b"}, {"3", "c"}, {"4", "d"}});
  }
  ReplyMerger m({"s0"}, {}, isoUtf8());
  std::string bad("Z\xff\xff\xff\xff", 5);
  m.feed(0, Bytes(reinterpret_cast<const uint8_t*>(bad.data()), bad.size()));
  CHECK(m.malformed(0));
  m.feed(7, Bytes());  // no such shard: ignored
  CHECK(m.finish().status == MergeStatus::Malformed);
}

}  // namespace
}  // namespace shardpool::protocol::pg::test
