// What the MySQL engine can merge of a statement's rows from several shards, read from its text:
// needsMerge, simpleGrouping, simpleOrder, and how values combine and compare.
#include "pooler/mysql/shard_merge.h"

#include <catch2/catch.hpp>

using namespace shardpool::pooler;

TEST_CASE("needsMerge: what concatenated rows of several shards would get wrong",
          "[mysql][merge]") {
  CHECK_FALSE(needsMerge("SELECT id, v FROM orders WHERE v = 'a'"));
  CHECK_FALSE(needsMerge("SELECT * FROM orders WHERE v = 'ORDER BY'"));
  CHECK_FALSE(needsMerge("SELECT `count` FROM t /* LIMIT 1 */"));
  CHECK_FALSE(needsMerge("SELECT count FROM t"));
  CHECK(needsMerge("SELECT * FROM orders ORDER BY id"));
  CHECK(needsMerge("SELECT * FROM orders LIMIT 5"));
  CHECK(needsMerge("select count(*) from orders"));
  CHECK(needsMerge("SELECT SUM (v) FROM t"));
  CHECK(needsMerge("SELECT DISTINCT v FROM t"));
  CHECK(needsMerge("SELECT v FROM t GROUP BY v"));
  CHECK(needsMerge("SELECT v FROM t UNION SELECT v FROM u"));
  CHECK(needsMerge("SELECT ROW_NUMBER() OVER () FROM t"));
}

TEST_CASE("simpleGrouping: aggregates alone, or by group columns", "[mysql][merge]") {
  using A = Aggregate;
  auto g = simpleGrouping("SELECT COUNT(*) FROM t");
  REQUIRE(g);
  CHECK(g->columns == std::vector<std::optional<A>>{A::Count});
  CHECK(g->groupBy.empty());
  g = simpleGrouping("select count(*) as n, sum(x) total, MIN(y), max(f(z)) from t where a = 1");
  REQUIRE(g);
  CHECK(g->columns == std::vector<std::optional<A>>{A::Count, A::Sum, A::Min, A::Max});
  CHECK(simpleGrouping("SELECT COUNT(*) FROM t WHERE v = 'ORDER BY'"));
  g = simpleGrouping("SELECT t.k, COUNT(*) AS n, SUM(v) FROM t WHERE v > 0 GROUP BY t.k");
  REQUIRE(g);
  CHECK(g->columns == std::vector<std::optional<A>>{std::nullopt, A::Count, A::Sum});
  CHECK(g->groupBy == std::vector<size_t>{0});
  g = simpleGrouping("SELECT a, b AS bee, MAX(c) FROM t GROUP BY bee, 1;");
  REQUIRE(g);
  CHECK(g->groupBy == std::vector<size_t>{1, 0});
  CHECK_FALSE(simpleGrouping("SELECT COUNT(DISTINCT x) FROM t"));
  CHECK_FALSE(simpleGrouping("SELECT AVG(x) FROM t"));
  CHECK_FALSE(simpleGrouping("SELECT x, COUNT(*) FROM t"));           // x not grouped
  CHECK_FALSE(simpleGrouping("SELECT x, y, COUNT(*) FROM t GROUP BY x"));
  CHECK_FALSE(simpleGrouping("SELECT x, COUNT(*) FROM t GROUP BY x HAVING COUNT(*) > 1"));
  CHECK_FALSE(simpleGrouping("SELECT x, COUNT(*) FROM t GROUP BY x ORDER BY x"));
  CHECK_FALSE(simpleGrouping("SELECT x, COUNT(*) FROM t GROUP BY x WITH ROLLUP"));
  CHECK_FALSE(simpleGrouping("SELECT x, COUNT(*) FROM t GROUP BY LOWER(x)"));
  CHECK_FALSE(simpleGrouping("SELECT COUNT(*) + 1 FROM t"));
  CHECK_FALSE(simpleGrouping("SELECT COUNT(*) FROM t LIMIT 1"));
  CHECK_FALSE(simpleGrouping("SELECT COUNT(*)"));
  CHECK_FALSE(simpleGrouping("SELECT DISTINCT x FROM t GROUP BY x"));
  g = simpleGrouping("SELECT DISTINCT cat, t.made AS m FROM t WHERE a = 1");
  REQUIRE(g);
  CHECK(g->columns == std::vector<std::optional<A>>{std::nullopt, std::nullopt});
  CHECK(g->groupBy == std::vector<size_t>{0, 1});
  CHECK_FALSE(simpleGrouping("SELECT DISTINCT cat, COUNT(*) FROM t"));
  CHECK_FALSE(simpleGrouping("SELECT DISTINCT cat FROM t ORDER BY cat"));
  CHECK_FALSE(simpleGrouping("SELECT COUNT(*) FROM t UNION SELECT COUNT(*) FROM u"));
  CHECK_FALSE(simpleGrouping("SELECT id, v FROM t"));  // nothing to combine
}

TEST_CASE("combineAggregate: sums exactly, compares numbers and dates", "[mysql][merge]") {
  std::optional<std::string> acc;
  CHECK(combineAggregate(Aggregate::Count, acc, "3"));
  CHECK(combineAggregate(Aggregate::Count, acc, "4"));
  CHECK(acc == "7");
  acc.reset();
  CHECK(combineAggregate(Aggregate::Sum, acc, std::nullopt));  // a shard without rows
  CHECK_FALSE(acc);
  CHECK(combineAggregate(Aggregate::Sum, acc, "12.50"));
  CHECK(combineAggregate(Aggregate::Sum, acc, "-20.25"));
  CHECK(acc == "-7.75");
  CHECK(combineAggregate(Aggregate::Sum, acc, "99999999999999999999999"));
  CHECK(acc == "99999999999999999999991.25");
  acc = "10";
  CHECK(combineAggregate(Aggregate::Min, acc, "9.5"));
  CHECK(acc == "9.5");
  CHECK(combineAggregate(Aggregate::Max, acc, "-3"));
  CHECK(acc == "9.5");
  acc = "2026-12-07 10:00:00";
  CHECK(combineAggregate(Aggregate::Max, acc, "2027-01-01 00:00:00"));
  CHECK(acc == "2027-01-01 00:00:00");
  acc = "apple";
  CHECK_FALSE(combineAggregate(Aggregate::Min, acc, "Banana"));  // collation order: unknown
  CHECK(acc == "apple");
  acc = "1e3";
  CHECK_FALSE(combineAggregate(Aggregate::Sum, acc, "1"));
}

TEST_CASE("simpleOrder: a trailing ORDER BY of result columns and a LIMIT", "[mysql][merge]") {
  auto o = simpleOrder("SELECT id, v FROM t WHERE v <> 'x' ORDER BY id");
  REQUIRE(o);
  REQUIRE(o->items.size() == 1);
  CHECK(o->items[0].name == "id");
  CHECK_FALSE(o->items[0].descending);
  CHECK_FALSE(o->limit);
  o = simpleOrder("select a.id as n, v from t a order by n desc, `v` asc, 2 limit 10;");
  REQUIRE(o);
  REQUIRE(o->items.size() == 3);
  CHECK(o->items[0].name == "n");
  CHECK(o->items[0].descending);
  CHECK(o->items[1].name == "v");
  CHECK(o->items[2].position == 2);
  CHECK(o->limit == 10u);
  o = simpleOrder("SELECT * FROM t ORDER BY t.id");
  REQUIRE(o);
  CHECK(o->items[0].name == "id");
  o = simpleOrder("SELECT id FROM t LIMIT 5");
  REQUIRE(o);
  CHECK(o->items.empty());
  CHECK(o->limit == 5u);
  CHECK_FALSE(simpleOrder("SELECT id FROM t"));
  o = simpleOrder("SELECT id FROM t ORDER BY id LIMIT 5 OFFSET 10");
  REQUIRE(o);
  CHECK(o->limit == 5u);
  CHECK(o->offset == 10u);
  std::string_view sql = "SELECT id FROM t ORDER BY id LIMIT 10, 5 ;";
  o = simpleOrder(sql);
  REQUIRE(o);
  CHECK(o->limit == 5u);
  CHECK(o->offset == 10u);
  CHECK(sql.substr(o->limitBegin, o->limitEnd - o->limitBegin) == "LIMIT 10, 5");
  CHECK_FALSE(simpleOrder("SELECT id FROM t ORDER BY id LIMIT 5 OFFSET x"));
  CHECK_FALSE(simpleOrder("SELECT id FROM t ORDER BY id LIMIT 5, 5, 5"));
  CHECK_FALSE(simpleOrder("SELECT id FROM t ORDER BY id + 1"));
  CHECK_FALSE(simpleOrder("SELECT id FROM t ORDER BY LOWER(v)"));
  CHECK_FALSE(simpleOrder("SELECT DISTINCT id FROM t ORDER BY id"));
  CHECK_FALSE(simpleOrder("SELECT v, COUNT(*) FROM t GROUP BY v ORDER BY v"));
  CHECK_FALSE(simpleOrder("SELECT id FROM t ORDER BY id FOR UPDATE"));
  CHECK_FALSE(simpleOrder("SELECT id FROM (SELECT id FROM t LIMIT 3) x ORDER BY id"));
}

TEST_CASE("compareValues: numbers, dates and NULL, never collated text", "[mysql][merge]") {
  CHECK(compareValues("2", "10") == -1);
  CHECK(compareValues("-1.5", "-1.25") == -1);
  CHECK(compareValues("3.0", "3") == 0);
  CHECK(compareValues(std::nullopt, "1") == -1);  // NULL first
  CHECK(compareValues("2026-12-07", "2026-01-31") == 1);
  CHECK_FALSE(compareValues("apple", "Banana"));
  CHECK_FALSE(compareValues("2026-12-07", "2026-12-07 10:00:00"));
}
