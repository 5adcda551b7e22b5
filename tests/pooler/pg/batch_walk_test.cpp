#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "pooler/pg/batch_walk.h"

using shardpool::pooler::BatchWalk;
using shardpool::pooler::ClientStatements;
namespace pg = shardpool::protocol::pg;

namespace {

pg::Bytes bytesOf(const std::string& s) {
  return pg::Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// A Bind of `statement` with one text value.
void putBindOne(pg::Writer& w, std::string_view statement, std::string_view value) {
  w.start('B');
  w.cstring("");
  w.cstring(statement);
  w.i16(0);  // formats: all text
  w.i16(1);
  w.i32(static_cast<int32_t>(value.size()));
  w.bytes(value);
  w.i16(0);  // result formats
  w.finish();
}

}  // namespace

TEST_CASE("batch walk: each Bind names the statement the server would bind", "[pooler][walk]") {
  ClientStatements known;
  known["old"] = {"sp_1", "SELECT 1 FROM t WHERE id = $1", {20}};
  known["again"] = {"sp_2", "SELECT 'before'", {}};
  pg::Writer w;
  pg::putParse(w, "s1", "SELECT * FROM t WHERE id = $1", {23});
  putBindOne(w, "s1", "7");
  putBindOne(w, "old", "8");
  pg::putParse(w, "again", "SELECT 'in the batch'", {});
  pg::putParse(w, "again", "SELECT 'latest'", {25});
  putBindOne(w, "again", "x");
  putBindOne(w, "", "9");  // no unnamed Parse in the batch: unknown
  pg::putParse(w, "", "SELECT $1", {});
  putBindOne(w, "", "9");
  putBindOne(w, "nobody", "1");
  pg::putExecute(w, "");
  pg::putSync(w);
  std::string batch = w.take();

  BatchWalk walk(bytesOf(batch), known);
  std::vector<std::string> seen;  // type, then the bound statement's text for a Bind
  for (BatchWalk::Message m; walk.next(m);) {
    std::string what(1, m.type);
    if (m.type == 'P') {
      REQUIRE(m.parse);
      what += ":" + std::string(m.parse->name);
    }
    if (m.type == 'B') {
      REQUIRE(m.bind);
      what += m.statement ? ":" + std::string(m.statement->query) : ":?";
      if (m.statement && m.statement->query == "SELECT * FROM t WHERE id = $1")
        CHECK(*m.statement->types == std::vector<uint32_t>{23});
      if (m.statement && m.statement->query == "SELECT 'latest'")
        CHECK(*m.statement->types == std::vector<uint32_t>{25});
    }
    CHECK(m.whole.size() == m.body.size() + 5);
    seen.push_back(what);
  }
  CHECK(walk.atEnd());
  CHECK(walk.offset() == batch.size());
  CHECK(seen == std::vector<std::string>{"P:s1", "B:SELECT * FROM t WHERE id = $1",
                                         "B:SELECT 1 FROM t WHERE id = $1", "P:again", "P:again",
                                         "B:SELECT 'latest'", "B:?", "P:", "B:SELECT $1", "B:?",
                                         "E", "S"});
}

TEST_CASE("batch walk: stops before a message that is not whole, or malformed lengths",
          "[pooler][walk]") {
  ClientStatements known;
  pg::Writer w;
  pg::putParse(w, "s", "SELECT 1", {});
  pg::putSync(w);
  std::string batch = w.take();
  size_t first = batch.size() - 5;
  for (size_t cut = 0; cut < batch.size(); ++cut) {
    INFO(cut);
    std::string part = batch.substr(0, cut);
    BatchWalk walk(bytesOf(part), known);
    BatchWalk::Message m;
    size_t whole = 0;
    while (walk.next(m)) ++whole;
    CHECK(whole == (cut >= first ? 1u : 0u));
    CHECK(walk.offset() == (cut >= first ? first : 0u));
    CHECK(!walk.atEnd() == (cut != 0 && cut != first));
  }
  std::string bad = "S\x00\x00\x00\x02";  // a length below 4
  bad.resize(5);
  BatchWalk walk(bytesOf(bad), known);
  BatchWalk::Message m;
  CHECK_FALSE(walk.next(m));

  // A Bind that does not decode is reported as such, and the walk goes on.
  pg::Writer v;
  v.start('B');
  v.cstring("");
  v.finish();
  pg::putSync(v);
  std::string malformed = v.take();
  BatchWalk walk2(bytesOf(malformed), known);
  REQUIRE(walk2.next(m));
  CHECK(m.type == 'B');
  CHECK_FALSE(m.bind);
  CHECK_FALSE(m.statement);
  REQUIRE(walk2.next(m));
  CHECK(m.type == 'S');
}
