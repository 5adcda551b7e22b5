// planMerge(): whether, and how, the results of one statement on several shards can be merged,
// decided from the statement's analysis alone (router/pg_statement_shape.h).
#include "pooler/merge/merge_planner.h"

#include <fmt/format.h>

#include <algorithm>

#include "pooler/merge/pg_merge_rows.h"

namespace shardpool::pooler {

using namespace protocol::pg;

namespace {

using router::AggregateKind;
using router::SelectShape;
using router::TargetColumn;

constexpr std::string_view kNotSupported = "0A000";  // feature_not_supported

MergePlan refuse(std::string_view what, std::string_view keyColumn, std::string hint = {}) {
  MergePlan plan;
  plan.kind = MergeKind::Refuse;
  plan.sqlstate = kNotSupported;
  plan.message = merge::refusalMessage(what, keyColumn);
  plan.hint = std::move(hint);
  return plan;
}

std::optional<ColumnOp> aggregateOp(const TargetColumn& t) {
  switch (t.aggregate) {
    case AggregateKind::Count:
    case AggregateKind::CountStar:
      return t.aggregateDistinct ? std::nullopt : std::optional(ColumnOp::Count);
    case AggregateKind::Sum:
      return t.aggregateDistinct ? std::nullopt : std::optional(ColumnOp::Sum);
    case AggregateKind::Min:  // DISTINCT changes nothing for these
      return ColumnOp::Min;
    case AggregateKind::Max:
      return ColumnOp::Max;
    case AggregateKind::BoolAnd:
      return ColumnOp::BoolAnd;
    case AggregateKind::BoolOr:
      return ColumnOp::BoolOr;
    case AggregateKind::None:
    case AggregateKind::Avg:
    case AggregateKind::Other:
      return std::nullopt;
  }
  return std::nullopt;
}

std::string aggregateName(const TargetColumn& t) {
  std::string fn = t.function.empty() ? std::string("an aggregate") : t.function;
  return t.aggregateDistinct ? fmt::format("{}(DISTINCT)", fn) : fmt::format("{}()", fn);
}

// ORDER BY items as sort keys; false when one cannot be resolved.
bool sortKeys(const SelectShape& shape, MergePlan& plan) {
  for (const router::OrderItem& o : shape.orderBy) {
    if (!o.resolvable()) return false;
    SortKey k;
    k.column = o.outputName.empty() ? o.position : o.inputPosition;
    k.outputName = o.outputName;
    k.starColumn = o.starColumn;
    k.descending = o.descending;
    k.nullsFirst = o.nullsFirst;
    k.collation = o.collation;
    plan.sortKeys.push_back(std::move(k));
  }
  return true;
}

MergePlan planSelect(const SelectShape& s, std::string_view key) {
  const std::string kHintList =
      "put the expression in the select list, or refer to it by position (ORDER BY 2)";
  if (s.subqueryNeedsMerge) {
    return refuse(
        "a subquery or CTE that aggregates, groups, limits or de-duplicates rows of a "
        "sharded table",
        key, "each shard would answer the subquery from its own rows only");
  }
  if (s.window) return refuse("window functions", key);
  if (s.setOperation == SelectShape::SetOperation::Other) {
    return refuse("UNION, INTERSECT or EXCEPT", key, "UNION ALL is merged");
  }
  if (s.branchNeedsMerge) {
    return refuse("a UNION ALL branch that aggregates, groups, limits or de-duplicates", key);
  }
  if (s.distinctOn) return refuse("DISTINCT ON", key);
  if (s.having) return refuse("HAVING", key, "each shard would filter its own partial groups");
  if (s.offsetNotConstant || (s.offset && *s.offset != 0)) {
    return refuse("OFFSET", key,
                  "each shard would skip its own first rows: drop OFFSET and skip rows in the "
                  "client, or page with WHERE sort_key > last_value");
  }
  if (s.limitNotConstant) {
    return refuse("a LIMIT that is not a constant", key, "write the number in the statement");
  }

  MergePlan plan;
  for (const TargetColumn& t : s.targets) {
    if (t.kind == TargetColumn::Kind::Star) break;
    plan.columnCollations.push_back(t.collation);
  }
  bool aggregates = false;
  for (const TargetColumn& t : s.targets) {
    if (t.kind == TargetColumn::Kind::Expression && t.containsAggregate) {
      return refuse("an expression over an aggregate", key,
                    "select the aggregate itself and compute the expression in the client");
    }
    if (t.kind != TargetColumn::Kind::Aggregate) continue;
    aggregates = true;
    if (!aggregateOp(t)) {
      std::string hint = t.aggregate == AggregateKind::Avg
                             ? "select sum() and count() and divide in the client"
                             : std::string();
      return refuse(aggregateName(t), key, std::move(hint));
    }
  }
  if (!sortKeys(s, plan)) {
    return refuse("an ORDER BY key that is not in the select list", key, kHintList);
  }
  plan.limit = s.limit;
  plan.withTies = s.limitWithTies;

  if (aggregates || s.hasGroupBy) {
    if (s.distinct) return refuse("DISTINCT with aggregates or GROUP BY", key);
    if (s.hasStar()) return refuse("* with aggregates or GROUP BY", key, kHintList);
    if (s.groupByUnresolved) {
      return refuse("a GROUP BY item that is not in the select list", key, kHintList);
    }
    if (s.hasGroupBy && aggregates && (s.limit || s.limitWithTies)) {
      return refuse("GROUP BY and LIMIT", key, "each shard would cut its own partial groups");
    }
    if (s.limitWithTies) return refuse("FETCH FIRST ... WITH TIES and aggregates", key);
    plan.kind = MergeKind::Aggregate;
    plan.grouped = s.hasGroupBy;
    for (const TargetColumn& t : s.targets) {
      auto op = t.kind == TargetColumn::Kind::Aggregate ? aggregateOp(t) : ColumnOp::Key;
      plan.columns.push_back(*op);
    }
    return plan;
  }
  if (s.distinct) {
    if (s.limitWithTies) return refuse("FETCH FIRST ... WITH TIES and DISTINCT", key);
    plan.kind = MergeKind::Aggregate;
    plan.grouped = true;  // every column is a key
    return plan;
  }
  if (!plan.sortKeys.empty()) {
    plan.kind = MergeKind::Sort;
    return plan;
  }
  if (s.limitWithTies) return refuse("FETCH FIRST ... WITH TIES without ORDER BY", key);
  plan.kind = s.limit ? MergeKind::Limit : MergeKind::Concat;
  return plan;
}

}  // namespace

MergePlan planMerge(const router::StatementFacts& facts, std::string_view keyColumn) {
  if (!facts.parsed && facts.kind == router::StatementKind::Select) {
    return refuse(fmt::format("a statement shardpool cannot analyze ({})", facts.parseError),
                  keyColumn);
  }
  if (facts.statementCount > 1 && facts.laterSelectNeedsMerge) {
    return refuse("several statements where a later one sorts, limits or aggregates", keyColumn,
                  "send the statements one at a time");
  }
  if (facts.kind != router::StatementKind::Select || !facts.parsed) return MergePlan{};
  if (!facts.selectShape) return refuse("an unrecognized shape", keyColumn);
  MergePlan plan = planSelect(*facts.selectShape, keyColumn);
  if (facts.statementCount > 1 && plan.kind != MergeKind::Concat &&
      plan.kind != MergeKind::Refuse) {
    // A refusal found only from the rows would come after the later statements ran.
    return refuse("several statements where the first sorts, limits or aggregates", keyColumn,
                  "send the statements one at a time");
  }
  return plan;
}

}  // namespace shardpool::pooler
