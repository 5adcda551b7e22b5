// analyze(): SelectShape, what a cross-shard merger reads about a SELECT. Expected values are
// written from PostgreSQL's rules (transformSortClause, transformGroupClause), not from this
// code's output.
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "router/pg_statement.h"

namespace shardpool::router {
namespace {

const TableRules& rules() {
  static const TableRules r = [] {
    TableRules t;
    t.sharded["orders"] = {"customer_id", KeyKind::Integer};
    t.sharded["items"] = {"customer_id", KeyKind::Integer};
    t.replicated = {"countries"};
    return t;
  }();
  return r;
}

SelectShape shapeOf(std::string_view sql) {
  StatementFacts f = analyze(sql, rules());
  INFO(sql << " -> " << f.parseError);
  REQUIRE(f.parsed);
  REQUIRE(f.selectShape.has_value());
  return *f.selectShape;
}

using Kind = TargetColumn::Kind;

TEST_CASE("SelectShape: the select list", "[router][pg_statement][shape]") {
  SelectShape s = shapeOf(
      "SELECT o.id, total AS t, count(*), count(x), sum(DISTINCT total), min(name COLLATE \"C\"), "
      "max(total) FILTER (WHERE total > 0), avg(total), bool_and(ok), every(ok), bool_or(ok), "
      "string_agg(name, ','), pg_catalog.sum(total), public.sum(total), count(*) + 1, "
      "lower(name), name COLLATE \"C\", percentile_cont(0.5) WITHIN GROUP (ORDER BY total) "
      "FROM orders o GROUP BY 1, 2");
  struct Expect {
    Kind kind;
    std::string_view column, name;
    AggregateKind aggregate;
    bool distinct, containsAggregate;
    std::string_view collation;
  };
  const Expect expect[] = {
      {Kind::Column, "id", "id", AggregateKind::None, false, false, ""},
      {Kind::Column, "total", "t", AggregateKind::None, false, false, ""},
      {Kind::Aggregate, "", "", AggregateKind::CountStar, false, false, ""},
      {Kind::Aggregate, "", "", AggregateKind::Count, false, false, ""},
      {Kind::Aggregate, "", "", AggregateKind::Sum, true, false, ""},
      {Kind::Aggregate, "", "", AggregateKind::Min, false, false, "C"},
      {Kind::Aggregate, "", "", AggregateKind::Max, false, false, ""},
      {Kind::Aggregate, "", "", AggregateKind::Avg, false, false, ""},
      {Kind::Aggregate, "", "", AggregateKind::BoolAnd, false, false, ""},
      {Kind::Aggregate, "", "", AggregateKind::BoolAnd, false, false, ""},
      {Kind::Aggregate, "", "", AggregateKind::BoolOr, false, false, ""},
      {Kind::Aggregate, "", "", AggregateKind::Other, false, false, ""},
      {Kind::Aggregate, "", "", AggregateKind::Sum, false, false, ""},
      {Kind::Aggregate, "", "", AggregateKind::Other, false, false, ""},
      {Kind::Expression, "", "", AggregateKind::None, false, true, ""},
      {Kind::Expression, "", "", AggregateKind::None, false, false, ""},
      {Kind::Expression, "", "name", AggregateKind::None, false, false, "C"},
      {Kind::Aggregate, "", "", AggregateKind::Other, false, false, ""},
  };
  REQUIRE(s.targets.size() == std::size(expect));
  for (size_t i = 0; i < s.targets.size(); ++i) {
    INFO("target " << i);
    const TargetColumn& t = s.targets[i];
    CHECK(t.kind == expect[i].kind);
    CHECK(t.column == expect[i].column);
    CHECK(t.name == expect[i].name);
    CHECK(t.aggregate == expect[i].aggregate);
    CHECK(t.aggregateDistinct == expect[i].distinct);
    CHECK(t.containsAggregate == expect[i].containsAggregate);
    CHECK(t.collation == expect[i].collation);
  }
  CHECK(s.groupBy == std::vector<int>{0, 1});
  CHECK_FALSE(s.groupByUnresolved);

  SelectShape star = shapeOf("SELECT *, o.* FROM orders o");
  REQUIRE(star.targets.size() == 2);
  CHECK(star.targets[0].kind == Kind::Star);
  CHECK(star.targets[0].column.empty());
  CHECK(star.targets[1].kind == Kind::Star);
  CHECK(star.targets[1].column == "o");
  CHECK(star.hasStar());
  CHECK_FALSE(star.onlyStar());
  CHECK(shapeOf("SELECT * FROM orders").onlyStar());
  CHECK_FALSE(shapeOf("SELECT o.* FROM orders o").onlyStar());
}

TEST_CASE("SelectShape: ORDER BY resolves to output positions", "[router][pg_statement][shape]") {
  struct Case {
    std::string_view sql;
    int position;
    std::string_view outputName;
    int inputPosition;
    std::string_view starColumn;
    bool descending, nullsFirst;
    std::string_view collation;
  };
  const Case cases[] = {
      // By number, by output name (alias or column), by an expression written as in the list.
      {"SELECT a, b FROM orders ORDER BY 2", 1, "", -1, "", false, false, ""},
      {"SELECT a, b AS x FROM orders ORDER BY x DESC", 1, "x", -1, "", true, true, ""},
      {"SELECT o.a, b FROM orders o ORDER BY a", 0, "a", -1, "", false, false, ""},
      {"SELECT a AS b, b AS a FROM orders ORDER BY a", 1, "a", 0, "", false, false, ""},
      {"SELECT lower(n), a FROM orders ORDER BY lower(n) DESC NULLS LAST", 0, "", -1, "", true,
       false, ""},
      {"SELECT a, b + 1 FROM orders ORDER BY b+1 ASC NULLS FIRST", 1, "", -1, "", false, true, ""},
      {"SELECT a - 1, a + -2 FROM orders ORDER BY a + -2", 1, "", -1, "", false, false, ""},
      {"SELECT a + -1 FROM orders ORDER BY a + -2", -1, "", -1, "", false, false, ""},
      // An input column equal to an entry (the output names are all known).
      {"SELECT a AS x, b FROM orders ORDER BY a", 0, "a", 0, "", false, false, ""},
      // COLLATE: the key's values are the entry's.
      {"SELECT name, id FROM orders ORDER BY name COLLATE \"C\" DESC", 0, "", -1, "", true, true,
       "C"},
      {"SELECT name COLLATE \"C\" FROM orders ORDER BY name COLLATE \"C\"", 0, "", -1, "", false,
       false, "C"},
      {"SELECT name FROM orders ORDER BY name COLLATE pg_catalog.\"POSIX\"", 0, "", -1, "", false,
       false, "POSIX"},
      // Under a lone *, an unqualified column is the output column of that name.
      {"SELECT * FROM orders ORDER BY created_at DESC", -1, "created_at", -1, "", true, true, ""},
      {"SELECT * FROM orders ORDER BY name COLLATE \"C\"", -1, "", -1, "name", false, false, "C"},
      {"SELECT * FROM orders ORDER BY 3", 2, "", -1, "", false, false, ""},
      // Not in the output: a hidden sort column.
      {"SELECT a FROM orders ORDER BY b", -1, "b", -1, "", false, false, ""},
      {"SELECT a FROM orders ORDER BY lower(b)", -1, "", -1, "", false, false, ""},
      {"SELECT o.* FROM orders o ORDER BY o.created_at", -1, "", -1, "", false, false, ""},
      {"SELECT *, lower(n) FROM orders ORDER BY lower(n)", -1, "", -1, "", false, false, ""},
      // An entry after a * has no known position; an output name is found in RowDescription.
      {"SELECT *, a AS x FROM orders ORDER BY x", -1, "x", -1, "", false, false, ""},
      // Set operations: by result column name or number.
      {"SELECT a FROM orders UNION ALL SELECT b FROM items ORDER BY a", 0, "a", -1, "", false,
       false, ""},
  };
  for (const Case& c : cases) {
    INFO(c.sql);
    SelectShape s = shapeOf(c.sql);
    REQUIRE(s.orderBy.size() == 1);
    const OrderItem& o = s.orderBy[0];
    CHECK(o.position == c.position);
    CHECK(o.outputName == c.outputName);
    CHECK(o.inputPosition == c.inputPosition);
    CHECK(o.starColumn == c.starColumn);
    CHECK(o.descending == c.descending);
    CHECK(o.nullsFirst == c.nullsFirst);
    CHECK(o.collation == c.collation);
    bool resolvable = c.position >= 0 || !c.outputName.empty() || !c.starColumn.empty();
    CHECK(o.resolvable() == resolvable);
    CHECK(s.orderByUnresolved == !resolvable);
  }
  SelectShape multi = shapeOf("SELECT a, b, c FROM orders ORDER BY 3 DESC, a, b USING <");
  REQUIRE(multi.orderBy.size() == 3);
  CHECK(multi.orderBy[0].position == 2);
  CHECK(multi.orderBy[1].position == 0);
  CHECK(multi.orderBy[2].usingOperator);
  CHECK_FALSE(multi.orderBy[2].resolvable());
  CHECK(multi.orderByUnresolved);
}

TEST_CASE("SelectShape: LIMIT and OFFSET", "[router][pg_statement][shape]") {
  struct Case {
    std::string_view sql;
    std::optional<int64_t> limit;
    bool limitNotConstant, withTies;
    std::optional<int64_t> offset;
    bool offsetNotConstant;
  };
  const Case cases[] = {
      {"SELECT a FROM orders", std::nullopt, false, false, std::nullopt, false},
      {"SELECT a FROM orders LIMIT 10", 10, false, false, std::nullopt, false},
      {"SELECT a FROM orders LIMIT 0", 0, false, false, std::nullopt, false},
      {"SELECT a FROM orders LIMIT '7'", 7, false, false, std::nullopt, false},
      {"SELECT a FROM orders LIMIT 7::bigint OFFSET 3", 7, false, false, 3, false},
      {"SELECT a FROM orders LIMIT ALL", std::nullopt, false, false, std::nullopt, false},
      {"SELECT a FROM orders LIMIT NULL OFFSET 0", std::nullopt, false, false, 0, false},
      {"SELECT a FROM orders LIMIT $1 OFFSET $2", std::nullopt, true, false, std::nullopt, true},
      {"SELECT a FROM orders LIMIT (SELECT 1)", std::nullopt, true, false, std::nullopt, false},
      {"SELECT a FROM orders FETCH FIRST ROW ONLY", 1, false, false, std::nullopt, false},
      {"SELECT a FROM orders ORDER BY a FETCH FIRST 5 ROWS WITH TIES", 5, false, true, std::nullopt,
       false},
      {"SELECT a FROM orders OFFSET 20 ROWS", std::nullopt, false, false, 20, false},
  };
  for (const Case& c : cases) {
    INFO(c.sql);
    SelectShape s = shapeOf(c.sql);
    CHECK(s.limit == c.limit);
    CHECK(s.limitNotConstant == c.limitNotConstant);
    CHECK(s.limitWithTies == c.withTies);
    CHECK(s.offset == c.offset);
    CHECK(s.offsetNotConstant == c.offsetNotConstant);
  }
}

TEST_CASE("SelectShape: GROUP BY, DISTINCT, HAVING, windows", "[router][pg_statement][shape]") {
  struct Case {
    std::string_view sql;
    std::vector<int> groupBy;
    bool hasGroupBy, unresolved;
  };
  const Case cases[] = {
      {"SELECT a, count(*) FROM orders GROUP BY a", {0}, true, false},
      {"SELECT a, b, count(*) FROM orders GROUP BY 2, a", {1, 0}, true, false},
      {"SELECT lower(n), count(*) FROM orders GROUP BY lower(n)", {0}, true, false},
      {"SELECT o.a, count(*) FROM orders o GROUP BY o.a", {0}, true, false},
      // A bare name is an input column first: an alias alone is not certain.
      {"SELECT lower(n) AS k, count(*) FROM orders GROUP BY k", {}, true, true},
      {"SELECT count(*) FROM orders GROUP BY a", {}, true, true},
      {"SELECT a, count(*) FROM orders GROUP BY ROLLUP (a)", {}, true, true},
      {"SELECT count(*) FROM orders GROUP BY ()", {}, true, true},
      {"SELECT count(*) FROM orders", {}, false, false},
  };
  for (const Case& c : cases) {
    INFO(c.sql);
    SelectShape s = shapeOf(c.sql);
    CHECK(s.groupBy == c.groupBy);
    CHECK(s.hasGroupBy == c.hasGroupBy);
    CHECK(s.groupByUnresolved == c.unresolved);
  }
  SelectShape d = shapeOf("SELECT DISTINCT a FROM orders");
  CHECK(d.distinct);
  CHECK_FALSE(d.distinctOn);
  SelectShape on = shapeOf("SELECT DISTINCT ON (a) a, b FROM orders");
  CHECK_FALSE(on.distinct);
  CHECK(on.distinctOn);
  CHECK(shapeOf("SELECT a FROM orders GROUP BY a HAVING count(*) > 1").having);
  CHECK(shapeOf("SELECT rank() OVER (ORDER BY a) FROM orders").window);
  CHECK(shapeOf("SELECT a FROM orders ORDER BY row_number() OVER ()").window);
  CHECK(shapeOf("SELECT count(a) OVER w FROM orders WINDOW w AS ()").window);
  CHECK_FALSE(shapeOf("SELECT (SELECT rank() OVER () FROM countries) FROM orders").window);
}

TEST_CASE("SelectShape: set operations and subqueries", "[router][pg_statement][shape]") {
  using Op = SelectShape::SetOperation;
  struct Case {
    std::string_view sql;
    Op op;
    bool branchNeedsMerge, subqueryNeedsMerge;
  };
  const Case cases[] = {
      {"SELECT a FROM orders", Op::None, false, false},
      {"SELECT a FROM orders UNION ALL SELECT a FROM items", Op::UnionAll, false, false},
      {"SELECT a FROM orders UNION SELECT a FROM items", Op::Other, false, false},
      {"SELECT a FROM orders INTERSECT ALL SELECT a FROM items", Op::Other, false, false},
      {"SELECT a FROM orders UNION ALL (SELECT a FROM items UNION SELECT 1)", Op::Other, false,
       false},
      {"SELECT count(*) FROM orders UNION ALL SELECT 1", Op::UnionAll, true, false},
      {"(SELECT a FROM orders LIMIT 5) UNION ALL SELECT a FROM items", Op::UnionAll, true, false},
      {"SELECT * FROM (SELECT a, count(*) FROM orders GROUP BY a) s", Op::None, false, true},
      {"WITH c AS (SELECT * FROM orders ORDER BY id LIMIT 10) SELECT * FROM c", Op::None, false,
       true},
      {"SELECT * FROM orders WHERE total > (SELECT avg(total) FROM orders)", Op::None, false, true},
      {"SELECT a FROM orders UNION ALL SELECT a FROM (SELECT DISTINCT a FROM items) s",
       Op::UnionAll, false, true},
      // Through a CTE that reads a sharded table.
      {"WITH c AS (SELECT * FROM orders) SELECT * FROM (SELECT count(*) FROM c) s", Op::None, false,
       true},
      {"WITH c AS (SELECT * FROM countries) SELECT * FROM orders WHERE x IN (SELECT max(a) "
       "FROM c)",
       Op::None, false, false},
      // Subqueries that only read unsharded tables answer the same on every shard.
      {"SELECT * FROM orders WHERE country IN (SELECT code FROM countries LIMIT 5)", Op::None,
       false, false},
      {"SELECT * FROM orders WHERE EXISTS (SELECT 1 FROM items i WHERE i.id = orders.id)", Op::None,
       false, false},
  };
  for (const Case& c : cases) {
    INFO(c.sql);
    SelectShape s = shapeOf(c.sql);
    CHECK(s.setOperation == c.op);
    CHECK(s.branchNeedsMerge == c.branchNeedsMerge);
    CHECK(s.subqueryNeedsMerge == c.subqueryNeedsMerge);
  }
  SelectShape u = shapeOf("SELECT a, b AS x FROM orders UNION ALL SELECT c, d FROM items");
  REQUIRE(u.targets.size() == 2);
  CHECK(u.targets[1].name == "x");
}

TEST_CASE("SelectShape: only for a SELECT first statement", "[router][pg_statement][shape]") {
  CHECK_FALSE(analyze("INSERT INTO orders SELECT * FROM items ORDER BY 1", rules()).selectShape);
  CHECK_FALSE(analyze("UPDATE orders SET a = 1", rules()).selectShape);
  CHECK_FALSE(analyze("SELECT FROM WHERE", rules()).selectShape);
  CHECK(analyze("VALUES (1), (2) ORDER BY 1", rules()).selectShape->orderBy[0].position == 0);

  StatementFacts two = analyze("SELECT a FROM orders; SELECT count(*) FROM orders", rules());
  CHECK(two.selectShape->targets.size() == 1);
  CHECK(two.laterSelectNeedsMerge);
  CHECK_FALSE(analyze("SELECT a FROM orders; SELECT b FROM items", rules()).laterSelectNeedsMerge);
  CHECK_FALSE(
      analyze("UPDATE orders SET a = 1; UPDATE items SET b = 2", rules()).laterSelectNeedsMerge);
  CHECK(analyze("SET x = 1; SELECT a FROM orders ORDER BY a", rules()).laterSelectNeedsMerge);
}

}  // namespace
}  // namespace shardpool::router
