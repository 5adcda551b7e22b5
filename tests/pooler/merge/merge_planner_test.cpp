// planMerge (pooler/merge_planner.h): what can be merged across shards, decided from the
// statement's analysis.
#include <fmt/format.h>
#include <catch2/catch.hpp>

#include "tests/pooler/merge/pg_merge_helpers.h"

namespace shardpool::protocol::pg::test {
namespace {

TEST_CASE("planMerge: kinds", "[protocol][merge]") {
  struct Case {
    std::string_view sql;
    MergeKind kind;
    std::optional<int64_t> limit;
    size_t sortKeys;
  };
  const Case cases[] = {
      {"SELECT * FROM orders", MergeKind::Concat, std::nullopt, 0},
      {"SELECT a FROM orders WHERE b > 1 FOR UPDATE", MergeKind::Concat, std::nullopt, 0},
      {"SELECT a FROM orders UNION ALL SELECT a FROM items", MergeKind::Concat, std::nullopt, 0},
      {"UPDATE orders SET a = 1 RETURNING *", MergeKind::Concat, std::nullopt, 0},
      {"CREATE TABLE t (a int)", MergeKind::Concat, std::nullopt, 0},
      {"TRUNCATE orders", MergeKind::Concat, std::nullopt, 0},
      {"SELECT * FROM orders LIMIT 10", MergeKind::Limit, 10, 0},
      {"SELECT * FROM orders LIMIT 10 OFFSET 0", MergeKind::Limit, 10, 0},
      {"SELECT * FROM orders LIMIT ALL", MergeKind::Concat, std::nullopt, 0},
      {"SELECT * FROM orders ORDER BY created_at DESC LIMIT 20", MergeKind::Sort, 20, 1},
      {"SELECT a, b FROM orders ORDER BY 2, a", MergeKind::Sort, std::nullopt, 2},
      {"SELECT a FROM orders UNION ALL SELECT a FROM items ORDER BY 1", MergeKind::Sort,
       std::nullopt, 1},
      {"SELECT count(*) FROM orders", MergeKind::Aggregate, std::nullopt, 0},
      {"SELECT count(*) FROM orders LIMIT 1", MergeKind::Aggregate, 1, 0},
      {"SELECT a, sum(b) FROM orders GROUP BY a ORDER BY 2 DESC", MergeKind::Aggregate,
       std::nullopt, 1},
      {"SELECT a FROM orders GROUP BY a LIMIT 5", MergeKind::Aggregate, 5, 0},
      {"SELECT DISTINCT a, b FROM orders ORDER BY a LIMIT 3", MergeKind::Aggregate, 3, 1},
      {"SELECT min(a), max(a), bool_and(c), every(c), bool_or(c), min(DISTINCT a) FROM orders",
       MergeKind::Aggregate, std::nullopt, 0},
  };
  for (const Case& c : cases) {
    INFO(c.sql);
    MergePlan p = planFor(c.sql);
    INFO(p.message);
    CHECK(p.kind == c.kind);
    CHECK(p.limit == c.limit);
    CHECK(p.sortKeys.size() == c.sortKeys);
  }

  MergePlan agg = planFor(
      "SELECT region, count(*), sum(total), min(name COLLATE \"C\") "
      "FROM orders GROUP BY 1");
  CHECK(agg.grouped);
  CHECK(agg.columns ==
        std::vector<ColumnOp>{ColumnOp::Key, ColumnOp::Count, ColumnOp::Sum, ColumnOp::Min});
  CHECK(agg.columnCollations == std::vector<std::string>{"", "", "", "C"});
  CHECK_FALSE(planFor("SELECT count(*) FROM orders").grouped);
  MergePlan distinct = planFor("SELECT DISTINCT * FROM orders");
  CHECK(distinct.kind == MergeKind::Aggregate);
  CHECK(distinct.columns.empty());  // every column a key
  CHECK(distinct.grouped);

  MergePlan sort = planFor(
      "SELECT a, name FROM orders ORDER BY name COLLATE \"C\" DESC, a NULLS "
      "FIRST");
  REQUIRE(sort.sortKeys.size() == 2);
  CHECK(sort.sortKeys[0].column == 1);
  CHECK(sort.sortKeys[0].collation == "C");
  CHECK(sort.sortKeys[0].descending);
  CHECK(sort.sortKeys[0].nullsFirst);
  CHECK(sort.sortKeys[1].outputName == "a");
  CHECK(sort.sortKeys[1].nullsFirst);
  CHECK_FALSE(sort.sortKeys[1].descending);

  MergePlan ties = planFor("SELECT a FROM orders ORDER BY a FETCH FIRST 2 ROWS WITH TIES");
  CHECK(ties.kind == MergeKind::Sort);
  CHECK(ties.withTies);
  CHECK(ties.limit == 2);
}

TEST_CASE("planMerge: refusals say what and how to avoid it", "[protocol][merge]") {
  struct Case {
    std::string_view sql;
    std::string_view what;  // between "SELECT with " and " across shards"
    std::string_view hint;  // a part of the hint ("" for none)
  };
  const Case cases[] = {
      {"SELECT avg(total) FROM orders", "avg()", "sum() and count()"},
      {"SELECT count(DISTINCT customer_id) FROM orders", "count(DISTINCT)", ""},
      {"SELECT sum(DISTINCT total) FROM orders", "sum(DISTINCT)", ""},
      {"SELECT string_agg(name, ',') FROM orders", "string_agg()", ""},
      {"SELECT public.sum(total) FROM orders", "sum()", ""},
      {"SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY total) FROM orders", "percentile_cont()",
       ""},
      {"SELECT count(*) + 1 FROM orders", "an expression over an aggregate", "client"},
      {"SELECT a, count(*) FROM orders GROUP BY a HAVING count(*) > 1", "HAVING", "partial"},
      {"SELECT DISTINCT ON (a) a, b FROM orders", "DISTINCT ON", ""},
      {"SELECT * FROM orders ORDER BY id LIMIT 10 OFFSET 20", "OFFSET", "skip rows"},
      {"SELECT * FROM orders OFFSET $1", "OFFSET", ""},
      {"SELECT * FROM orders LIMIT $1", "a LIMIT that is not a constant", "number"},
      {"SELECT rank() OVER (ORDER BY total) FROM orders", "window functions", ""},
      {"SELECT a FROM orders UNION SELECT a FROM items", "UNION, INTERSECT or EXCEPT", "UNION ALL"},
      {"SELECT a FROM orders EXCEPT ALL SELECT a FROM items", "UNION, INTERSECT or EXCEPT", ""},
      {"SELECT count(*) FROM orders UNION ALL SELECT count(*) FROM items",
       "a UNION ALL branch that aggregates, groups, limits or de-duplicates", ""},
      {"SELECT a FROM orders ORDER BY lower(b)", "an ORDER BY key that is not in the select list",
       "ORDER BY 2"},
      {"SELECT a FROM orders ORDER BY a USING >", "an ORDER BY key that is not in the select list",
       ""},
      {"SELECT count(*) FROM orders GROUP BY region",
       "a GROUP BY item that is not in the select "
       "list",
       ""},
      {"SELECT a, count(*) FROM orders GROUP BY a LIMIT 10", "GROUP BY and LIMIT", "partial"},
      {"SELECT *, count(*) OVER () FROM orders", "window functions", ""},
      {"SELECT DISTINCT a, count(*) FROM orders GROUP BY a", "DISTINCT with aggregates or GROUP BY",
       ""},
      {"SELECT * FROM orders GROUP BY id", "* with aggregates or GROUP BY", ""},
      {"SELECT * FROM (SELECT a, count(*) FROM orders GROUP BY a) s",
       "a subquery or CTE that aggregates, groups, limits or de-duplicates rows of a sharded table",
       "its own rows"},
      {"SELECT a FROM orders; SELECT a FROM items ORDER BY a",
       "several statements where a later one sorts, limits or aggregates", "one at a time"},
      {"SELECT a FROM orders ORDER BY a; DELETE FROM items",
       "several statements where the first sorts, limits or aggregates", "one at a time"},
      {"SELECT FROM orders WHERE", "a statement shardpool cannot analyze (syntax error", ""},
  };
  for (const Case& c : cases) {
    INFO(c.sql);
    MergePlan p = planFor(c.sql);
    CHECK(p.kind == MergeKind::Refuse);
    CHECK(p.sqlstate == "0A000");
    CHECK_THAT(p.message, Catch::StartsWith(fmt::format("SELECT with {}", c.what)));
    CHECK_THAT(p.message, Catch::EndsWith(" across shards is not supported: add a sharding key "
                                          "(WHERE <sharding key> = ...) or /* shard: N */"));
    if (!c.hint.empty()) CHECK_THAT(p.hint, Catch::Contains(std::string(c.hint)));
  }
  MergePlan named =
      pooler::planMerge(router::analyze("SELECT avg(total) FROM orders", rules()), "customer_id");
  CHECK(named.message ==
        "SELECT with avg() across shards is not supported: add a sharding key (WHERE "
        "customer_id = ...) or /* shard: N */");

  Writer w;
  putMergeRefusal(w, named);
  Frame f = frameMessage(Bytes(reinterpret_cast<const uint8_t*>(w.data().data()), w.data().size()));
  REQUIRE(f.status == FrameStatus::Ok);
  CHECK(f.type == 'E');
  auto e = decodeErrorResponse(f.body);
  REQUIRE(e);
  CHECK(e->sqlstate == "0A000");
  CHECK(e->message == named.message);
  CHECK(e->hint == named.hint);
}

}  // namespace
}  // namespace shardpool::protocol::pg::test
