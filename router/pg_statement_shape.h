// The shape of a SELECT, as a cross-shard merger needs it (StatementFacts::selectShape): what each
// output column is, what the result is sorted by, LIMIT/OFFSET, GROUP BY and DISTINCT. Read from
// the text alone: no catalog, so anything that needs one to resolve is flagged, never guessed.
//
// Output positions are 0-based and count the columns the client sees (RowDescription). A `*` in
// the select list expands to columns the text does not name: an entry after a `*` has no known
// position, and neither does anything GROUP BY / ORDER BY resolves to it.
//
// ORDER BY items resolve as PostgreSQL resolves them (transformSortClause):
//  - a bare integer (ORDER BY 2) is that output column;
//  - a bare unqualified name (ORDER BY total) is first an output column of that name (the names
//    RowDescription carries: outputName), else an input column, which must then be a select-list
//    entry for a merge to see it (inputPosition);
//  - anything else, COLLATE'd names included, is an expression: the first select-list entry
//    written the same way (compared as parse trees, locations ignored). `x COLLATE "C"` also
//    resolves to an entry that is `x` (the collation changes the order, not the values).
// An item that resolves to nothing visible sorts by a column the client never sees: unresolved.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace shardpool::router {

enum class AggregateKind : uint8_t {
  None,       // not an aggregate
  Count,      // count(x)
  CountStar,  // count(*)
  Sum,
  Min,
  Max,
  Avg,
  BoolAnd,  // bool_and, every
  BoolOr,
  Other,  // any other aggregate, or one called WITHIN GROUP or from a schema other than pg_catalog
};

struct TargetColumn {
  enum class Kind : uint8_t {
    Column,      // a column reference (o.total): `column` is its last part
    Aggregate,   // a top-level aggregate call (count(*), sum(total) FILTER (...))
    Expression,  // anything else (lower(name), total * 2, count(*) + 1, a constant)
    Star,        // * or t.*: expands to columns the text does not name
  };
  Kind kind = Kind::Expression;
  std::string column;  // Column: the referenced column's name; Star: the qualifier of t.*
  // The output name when the text alone fixes it: the alias (AS x), or a column reference's
  // column; "" otherwise (PostgreSQL's other naming rules are not reproduced: use RowDescription).
  std::string name;
  AggregateKind aggregate = AggregateKind::None;  // Aggregate
  std::string function;                           // Aggregate: the function's name ("avg")
  bool aggregateDistinct = false;                 // Aggregate: count(DISTINCT x), sum(DISTINCT x)
  bool containsAggregate = false;                 // Expression: an aggregate inside (count(*) + 1)
  // COLLATE written at the top of the entry (name COLLATE "C"), or on an aggregate's argument
  // (min(name COLLATE "C")): the collation name's last part ("C", "POSIX", "en_US"); "" for none.
  std::string collation;
};

struct OrderItem {
  int position = -1;  // the output column this key is, as far as the text tells; -1 unknown
  // A bare unqualified name (ORDER BY total): the output column of this name when RowDescription
  // has one (the first), else inputPosition.
  std::string outputName;
  int inputPosition = -1;  // outputName: the first select-list entry that is that column
  // With a select list that is only `*`: an unqualified column (ORDER BY x, x COLLATE "C") is the
  // one output column of this name; none or several: unresolvable.
  std::string starColumn;
  bool descending = false;
  bool nullsFirst =
      false;  // as written, else PostgreSQL's default: NULLS LAST for ASC, FIRST for DESC
  std::string collation;       // COLLATE on the sort key (last part of its name); "" for none
  bool usingOperator = false;  // ORDER BY x USING <: never resolved

  bool resolvable() const {
    return !usingOperator && (position >= 0 || !outputName.empty() || !starColumn.empty());
  }
};

struct SelectShape {
  enum class SetOperation : uint8_t { None, UnionAll, Other };  // Other: UNION, INTERSECT, EXCEPT

  // The select list (of the leftmost branch for a set operation); empty for VALUES.
  std::vector<TargetColumn> targets;
  std::vector<OrderItem> orderBy;
  bool orderByUnresolved = false;  // some item is not resolvable()

  std::optional<int64_t> limit;   // a constant LIMIT / FETCH FIRST; unset: none, ALL, NULL
  bool limitNotConstant = false;  // LIMIT $1, LIMIT (SELECT ...), ...
  bool limitWithTies = false;     // FETCH FIRST n ROWS WITH TIES
  std::optional<int64_t> offset;  // a constant OFFSET; unset: none or NULL
  bool offsetNotConstant = false;

  std::vector<int> groupBy;        // output positions of the GROUP BY items that resolved
  bool hasGroupBy = false;         // a GROUP BY clause, even GROUP BY ()
  bool groupByUnresolved = false;  // an item not in the select list, GROUPING SETS/ROLLUP/CUBE, ()
  bool distinct = false;           // SELECT DISTINCT
  bool distinctOn = false;         // SELECT DISTINCT ON (...)
  bool having = false;
  bool window = false;  // a window function or WINDOW clause in this SELECT
  SetOperation setOperation = SetOperation::None;
  // UNION ALL: a branch has its own aggregate, GROUP BY, DISTINCT, HAVING, LIMIT/OFFSET, window
  // or set operation other than UNION ALL.
  bool branchNeedsMerge = false;
  // A subquery or CTE that reads a sharded table aggregates, groups, or has DISTINCT, HAVING,
  // LIMIT/OFFSET, a window or a set operation: each shard would answer it from its own rows.
  bool subqueryNeedsMerge = false;

  bool hasStar() const {
    for (const TargetColumn& t : targets) {
      if (t.kind == TargetColumn::Kind::Star) return true;
    }
    return false;
  }
  // The select list is one unqualified `*`: every column of every FROM item (USING columns
  // once), so an unqualified column name is in the output.
  bool onlyStar() const {
    return targets.size() == 1 && targets[0].kind == TargetColumn::Kind::Star &&
           targets[0].column.empty();
  }
};

}  // namespace shardpool::router
