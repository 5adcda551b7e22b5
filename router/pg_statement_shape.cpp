// The SELECT shape: the StatementFacts flags (hasOrderBy, ...) and SelectShape
// (pg_statement_shape.h) read from a SelectStmt's parse tree.
#include <algorithm>
#include <array>
#include <limits>

#include "router/pg_statement_walker.h"

namespace shardpool::router::detail {
namespace {

// Aggregate functions of PostgreSQL 15 that a plain call (no *, DISTINCT, ORDER BY, FILTER,
// WITHIN GROUP) can name. Sorted, for binary_search.
// clang-format off
constexpr std::array<std::string_view, 37> kAggregates = {
    "array_agg", "avg", "bit_and", "bit_or", "bit_xor", "bool_and", "bool_or", "corr", "count",
    "covar_pop", "covar_samp", "every", "json_agg", "json_object_agg", "jsonb_agg",
    "jsonb_object_agg", "max", "min", "range_agg", "range_intersect_agg", "regr_avgx",
    "regr_avgy", "regr_count", "regr_intercept", "regr_r2", "regr_slope", "regr_sxx", "regr_sxy",
    "regr_syy", "stddev", "stddev_pop", "stddev_samp", "string_agg", "sum", "var_pop", "var_samp",
    "variance"};
// clang-format on
static_assert(std::is_sorted(kAggregates.begin(), kAggregates.end()));

bool isTrue(const Value& v, std::string_view field) {
  const Value* f = v.get(field);
  return f != nullptr && f->isTrue();
}

bool present(const Value& s, std::string_view field) {
  const Value* v = s.get(field);
  return v != nullptr && (!v->isArray() || v->count > 0);
}

// The String items of a name list (funcname, collname, ColumnRef fields): the last one, and the
// number of items; "" when the last is not a String (A_Star).
std::string_view lastName(const Value* list) {
  if (list == nullptr || !list->isArray() || list->count == 0) return {};
  const Value& last = list->items().back();
  return last.nodeTag() == "String" ? last.nodeBody().textOf("sval") : std::string_view{};
}

bool isAggregateCall(const Value& call) {
  if (call.get("over") != nullptr) return false;  // a window function
  for (std::string_view f : {"agg_star", "agg_distinct", "agg_within_group"}) {
    if (isTrue(call, f)) return true;
  }
  if (call.get("agg_order") != nullptr || call.get("agg_filter") != nullptr) return true;
  std::string_view fn = lastName(call.get("funcname"));
  return std::binary_search(kAggregates.begin(), kAggregates.end(), fn);
}

// A call to `tag` (FuncCall: aggregate, or window function when `window`) in `v`, not looking
// inside subqueries.
bool containsCall(const Value& v, bool window) {
  if (v.isArray()) {
    return std::any_of(v.items().begin(), v.items().end(),
                       [&](const Value& item) { return containsCall(item, window); });
  }
  if (!v.isObject()) return false;
  std::string_view tag = v.nodeTag();
  if (tag == "SubLink" || tag == "SelectStmt" || tag == "ColumnRef" || tag == "A_Const" ||
      tag == "ParamRef" || tag == "TypeName") {
    return false;
  }
  if (tag == "FuncCall") {
    const Value& call = v.nodeBody();
    if (window ? call.get("over") != nullptr : isAggregateCall(call)) return true;
  }
  const Value& body = tag.empty() ? v : v.nodeBody();
  return std::any_of(body.items().begin(), body.items().end(),
                     [&](const Value& member) { return containsCall(member, window); });
}

bool containsAggregate(const Value& v) {
  return containsCall(v, false);
}
bool containsWindow(const Value& v) {
  return containsCall(v, true);
}

AggregateKind aggregateKind(const Value& call) {
  const Value* names = call.get("funcname");
  if (isTrue(call, "agg_within_group") || names == nullptr || names->count > 2) {
    return AggregateKind::Other;
  }
  if (names->count == 2) {
    const Value& schema = names->items()[0];
    if (schema.nodeTag() != "String" || schema.nodeBody().textOf("sval") != "pg_catalog") {
      return AggregateKind::Other;  // someone's own aggregate
    }
  }
  std::string_view fn = lastName(names);
  if (fn == "count")
    return isTrue(call, "agg_star") ? AggregateKind::CountStar : AggregateKind::Count;
  if (fn == "sum") return AggregateKind::Sum;
  if (fn == "min") return AggregateKind::Min;
  if (fn == "max") return AggregateKind::Max;
  if (fn == "avg") return AggregateKind::Avg;
  if (fn == "bool_and" || fn == "every") return AggregateKind::BoolAnd;
  if (fn == "bool_or") return AggregateKind::BoolOr;
  return AggregateKind::Other;
}

// A CollateClause body's collation: the last part of its name ("C" for pg_catalog."C"); a name
// in another schema keeps it ("s.c"), so that it never reads as a built-in one.
std::string collationOf(const Value& collate) {
  const Value* names = collate.get("collname");
  if (names == nullptr || names->count == 0) return {};
  std::string last(lastName(names));
  if (names->count == 1) return last;
  const Value& schema = names->items()[names->count - 2];
  std::string_view s = schema.nodeTag() == "String" ? schema.nodeBody().textOf("sval") : "";
  return s == "pg_catalog" ? last : std::string(s) + "." + last;
}

// A ColumnRef node of one unqualified name: the name; "" otherwise.
std::string_view bareName(const Value& node) {
  if (node.nodeTag() != "ColumnRef") return {};
  const Value* fields = node.nodeBody().get("fields");
  return fields != nullptr && fields->count == 1 ? lastName(fields) : std::string_view{};
}

TargetColumn targetColumn(const Value& val, std::string_view alias) {
  TargetColumn t;
  t.name = alias;
  std::string_view tag = val.nodeTag();
  const Value& body = tag.empty() ? val : val.nodeBody();
  if (tag == "ColumnRef") {
    const Value* fields = body.get("fields");
    std::string_view last = lastName(fields);
    if (last.empty()) {  // * or t.*
      t.kind = TargetColumn::Kind::Star;
      if (fields != nullptr && fields->count >= 2) {
        const Value& q = fields->items()[fields->count - 2];
        if (q.nodeTag() == "String") t.column = q.nodeBody().textOf("sval");
      }
      t.name.clear();
      return t;
    }
    t.kind = TargetColumn::Kind::Column;
    t.column = last;
    if (alias.empty()) t.name = last;
    return t;
  }
  if (tag == "FuncCall" && isAggregateCall(body)) {
    t.kind = TargetColumn::Kind::Aggregate;
    t.aggregate = aggregateKind(body);
    t.function = lastName(body.get("funcname"));
    t.aggregateDistinct = isTrue(body, "agg_distinct");
    const Value* args = body.get("args");
    if (args != nullptr && args->count == 1 && args->items()[0].nodeTag() == "CollateClause") {
      t.collation = collationOf(args->items()[0].nodeBody());
    }
    return t;
  }
  t.kind = TargetColumn::Kind::Expression;
  t.containsAggregate = containsAggregate(val);
  if (tag == "CollateClause") {
    t.collation = collationOf(body);
    // PostgreSQL names `x COLLATE "C"` after x.
    if (const Value* arg = body.get("arg"); arg != nullptr && alias.empty()) {
      std::string_view name = arg->nodeTag() == "ColumnRef"
                                  ? lastName(arg->nodeBody().get("fields"))
                                  : std::string_view{};
      t.name = name;
    }
  }
  return t;
}

// The output position of select-list entry `index`: unknown after a `*`.
int outputPosition(const SelectShape& shape, size_t index) {
  for (size_t i = 0; i < index && i < shape.targets.size(); ++i) {
    if (shape.targets[i].kind == TargetColumn::Kind::Star) return -1;
  }
  return index < shape.targets.size() ? static_cast<int>(index) : -1;
}

// The leftmost plain SELECT of a set-operation tree.
const Value& leftmost(const Value& s) {
  const Value* cur = &s;
  while (const Value* l = cur->get("larg")) cur = l;
  return *cur;
}

}  // namespace

// ---- flags ------------------------------------------------------------------------------------

void Analyzer::selectFlags(const Value& s) {
  if (present(s, "sortClause")) facts_.hasOrderBy = true;
  if (present(s, "limitCount") || present(s, "limitOffset")) facts_.hasLimit = true;
  if (present(s, "groupClause")) facts_.hasGroupBy = true;
  if (present(s, "distinctClause")) facts_.hasDistinct = true;
  if (present(s, "havingClause")) facts_.hasAggregate = true;
  if (const Value* targets = s.get("targetList");
      targets != nullptr && containsAggregate(*targets)) {
    facts_.hasAggregate = true;
  }
  const Value* larg = s.get("larg");
  const Value* rarg = s.get("rarg");
  if (larg != nullptr || rarg != nullptr) {
    if (!isTrue(s, "all")) facts_.hasDistinct = true;  // UNION removes duplicates
    if (larg != nullptr) selectFlags(*larg);
    if (rarg != nullptr) selectFlags(*rarg);
  }
}

// ---- expressions ------------------------------------------------------------------------------

bool Analyzer::sameExpression(const Value& a, const Value& b) const {
  if (a.type != b.type) return false;
  switch (a.type) {
    case pgjson::Type::Null:
    case pgjson::Type::False:
    case pgjson::Type::True:
      return true;
    case pgjson::Type::Number:
    case pgjson::Type::String:
      return a.text == b.text;
    case pgjson::Type::Array:
      if (a.count != b.count) return false;
      for (size_t i = 0; i < a.count; ++i) {
        if (!sameExpression(a.items()[i], b.items()[i])) return false;
      }
      return true;
    case pgjson::Type::Object:
      break;
  }
  if (a.nodeTag() == "A_Const" && b.nodeTag() == "A_Const" && a.nodeBody().get("ival") != nullptr &&
      b.nodeBody().get("ival") != nullptr) {
    auto x = constInteger(a.nodeBody());
    auto y = constInteger(b.nodeBody());
    return x.has_value() && x == y;
  }
  auto ia = a.items().begin(), ea = a.items().end();
  auto ib = b.items().begin(), eb = b.items().end();
  for (;;) {
    while (ia != ea && ia->key == "location") ++ia;
    while (ib != eb && ib->key == "location") ++ib;
    if (ia == ea || ib == eb) return ia == ea && ib == eb;
    if (ia->key != ib->key || !sameExpression(*ia, *ib)) return false;
    ++ia;
    ++ib;
  }
}

// ---- the shape --------------------------------------------------------------------------------

SelectShape Analyzer::shapeOf(const Value& s) const {
  SelectShape shape;
  if (s.get("larg") != nullptr || s.get("rarg") != nullptr) {
    // Every set operation in the tree must be UNION ALL; each branch merges on its own terms.
    shape.setOperation = SelectShape::SetOperation::UnionAll;
    std::vector<const Value*> stack{&s};
    while (!stack.empty()) {
      const Value* cur = stack.back();
      stack.pop_back();
      const Value* l = cur->get("larg");
      const Value* r = cur->get("rarg");
      if (l == nullptr && r == nullptr) {
        if (levelNeedsMerge(*cur)) shape.branchNeedsMerge = true;
        continue;
      }
      if (cur->textOf("op") != "SETOP_UNION" || !isTrue(*cur, "all")) {
        shape.setOperation = SelectShape::SetOperation::Other;
      }
      if (cur != &s && (present(*cur, "limitCount") || present(*cur, "limitOffset"))) {
        shape.branchNeedsMerge = true;
      }
      if (l != nullptr) stack.push_back(l);
      if (r != nullptr) stack.push_back(r);
    }
    if (const Value* targets = leftmost(s).get("targetList")) {
      for (const Value& t : targets->items()) {
        if (t.nodeTag() != "ResTarget") continue;
        const Value& res = t.nodeBody();
        const Value* val = res.get("val");
        if (val != nullptr) shape.targets.push_back(targetColumn(*val, res.textOf("name")));
      }
    }
    // ORDER BY of a set operation names result columns only: by name or number.
    shapeLevel(s, shape);
  } else {
    shapeLevel(s, shape);
    shape.distinct = present(s, "distinctClause");
    if (shape.distinct) {
      const Value& first = s.get("distinctClause")->items()[0];
      if (first.isObject() && first.count != 0) {  // DISTINCT is [{}], DISTINCT ON a list
        shape.distinct = false;
        shape.distinctOn = true;
      }
    }
    shape.having = present(s, "havingClause");
    shape.window = present(s, "windowClause");
    if (const Value* targets = s.get("targetList");
        targets != nullptr && containsWindow(*targets)) {
      shape.window = true;
    }
    if (const Value* sort = s.get("sortClause"); sort != nullptr && containsWindow(*sort)) {
      shape.window = true;
    }
  }
  return shape;
}

void Analyzer::shapeLevel(const Value& s, SelectShape& shape) const {
  std::vector<const Value*> values;  // the select-list expressions, for matching
  bool setOperation = shape.setOperation != SelectShape::SetOperation::None;
  if (!setOperation) {
    if (const Value* targets = s.get("targetList")) {
      shape.targets.reserve(targets->count);
      values.reserve(targets->count);
      for (const Value& t : targets->items()) {
        if (t.nodeTag() != "ResTarget") continue;
        const Value& res = t.nodeBody();
        const Value* val = res.get("val");
        if (val == nullptr) continue;
        shape.targets.push_back(targetColumn(*val, res.textOf("name")));
        values.push_back(val);
      }
    }
  }
  if (const Value* sort = s.get("sortClause")) {
    shape.orderBy.reserve(sort->count);
    for (const Value& item : sort->items()) {
      if (item.nodeTag() != "SortBy") continue;
      OrderItem& o = shape.orderBy.emplace_back();
      resolveOrderItem(item.nodeBody(), values, shape, o);
      if (!o.resolvable()) shape.orderByUnresolved = true;
    }
  }
  readLimit(s.get("limitCount"), shape.limit, shape.limitNotConstant);
  readLimit(s.get("limitOffset"), shape.offset, shape.offsetNotConstant);
  shape.limitWithTies = s.textOf("limitOption") == "LIMIT_OPTION_WITH_TIES";
  if (setOperation) return;
  if (const Value* group = s.get("groupClause")) {
    shape.hasGroupBy = true;
    for (const Value& item : group->items()) {
      int position = resolveGroupItem(item, values, shape);
      if (position < 0) {
        shape.groupByUnresolved = true;
      } else {
        shape.groupBy.push_back(position);
      }
    }
  }
}

void Analyzer::resolveOrderItem(const Value& sortBy, const std::vector<const Value*>& targets,
                                const SelectShape& shape, OrderItem& item) const {
  std::string_view dir = sortBy.textOf("sortby_dir");
  item.descending = dir == "SORTBY_DESC";
  item.usingOperator = dir == "SORTBY_USING";
  std::string_view nulls = sortBy.textOf("sortby_nulls");
  item.nullsFirst =
      nulls == "SORTBY_NULLS_FIRST" || (nulls != "SORTBY_NULLS_LAST" && item.descending);
  const Value* node = sortBy.get("node");
  if (node == nullptr) return;
  const Value* key = node;
  bool collated = node->nodeTag() == "CollateClause";
  if (collated) {
    item.collation = collationOf(node->nodeBody());
    key = node->nodeBody().get("arg");
    if (key == nullptr) return;
  }
  auto firstEqual = [&](const Value& expr) {
    for (size_t i = 0; i < targets.size(); ++i) {
      if (sameExpression(expr, *targets[i])) return outputPosition(shape, i);
    }
    return -1;
  };
  if (!collated && key->nodeTag() == "A_Const") {
    if (key->nodeBody().get("ival") == nullptr) return;  // a non-integer constant: an error
    auto n = constInteger(key->nodeBody());
    if (n && *n >= 1 && *n <= std::numeric_limits<int>::max()) item.position = int(*n - 1);
    return;
  }
  std::string_view name = bareName(*key);
  if (!collated && !name.empty()) {
    // Output names first: an alias, or a plain column's own name (the names the text fixes).
    item.outputName = name;
    for (size_t i = 0; i < shape.targets.size(); ++i) {
      if (shape.targets[i].name == name) {
        item.position = outputPosition(shape, i);
        break;
      }
    }
    item.inputPosition = firstEqual(*key);
    bool allNamed = std::all_of(shape.targets.begin(), shape.targets.end(),
                                [](const TargetColumn& t) { return !t.name.empty(); });
    if (item.position < 0 && allNamed) item.position = item.inputPosition;
    return;
  }
  item.position = firstEqual(*node);
  if (item.position < 0 && collated) item.position = firstEqual(*key);
  if (item.position < 0 && !name.empty() && shape.onlyStar()) item.starColumn = name;
}

int Analyzer::resolveGroupItem(const Value& item, const std::vector<const Value*>& targets,
                               const SelectShape& shape) const {
  std::string_view tag = item.nodeTag();
  if (tag == "GroupingSet") return -1;
  if (tag == "A_Const") {
    if (item.nodeBody().get("ival") == nullptr) return -1;
    auto n = constInteger(item.nodeBody());
    return n && *n >= 1 && *n <= std::numeric_limits<int>::max() ? int(*n - 1) : -1;
  }
  // A bare name is an input column before it is an output name (the reverse of ORDER BY): only
  // a select-list entry that is that very column is certain.
  for (size_t i = 0; i < targets.size(); ++i) {
    if (sameExpression(item, *targets[i])) return outputPosition(shape, i);
  }
  return -1;
}

void Analyzer::readLimit(const Value* node, std::optional<int64_t>& value,
                         bool& notConstant) const {
  if (node == nullptr) return;
  while (node->nodeTag() == "TypeCast") {
    node = node->nodeBody().get("arg");
    if (node == nullptr) {
      notConstant = true;
      return;
    }
  }
  if (node->nodeTag() != "A_Const") {
    notConstant = true;
    return;
  }
  const Value& c = node->nodeBody();
  if (isTrue(c, "isnull")) return;  // LIMIT ALL, LIMIT NULL, OFFSET NULL
  value = constInteger(c);
  if (!value) notConstant = true;
}

// ---- subqueries -------------------------------------------------------------------------------

bool Analyzer::levelNeedsMerge(const Value& s) const {
  for (std::string_view f : {"limitCount", "limitOffset", "groupClause", "distinctClause",
                             "havingClause", "windowClause"}) {
    if (present(s, f)) return true;
  }
  if (const Value* targets = s.get("targetList")) {
    if (containsAggregate(*targets) || containsWindow(*targets)) return true;
  }
  if (s.get("larg") != nullptr || s.get("rarg") != nullptr) {
    return s.textOf("op") != "SETOP_UNION" || !isTrue(s, "all") ||
           (s.get("larg") != nullptr && levelNeedsMerge(*s.get("larg"))) ||
           (s.get("rarg") != nullptr && levelNeedsMerge(*s.get("rarg")));
  }
  return false;
}

bool Analyzer::walkSelect(const Value& node) {
  collectNested_ = true;
  nestedMerges_.clear();
  statement(node, nullptr);
  collectNested_ = false;
  if (nestedMerges_.empty()) return false;
  CteNames ctes;
  shardedCtes(node, ctes);
  return std::any_of(nestedMerges_.begin(), nestedMerges_.end(),
                     [&](const Value* s) { return readsSharded(*s, ctes); });
}

// The CTEs anywhere in `v` whose query reads a sharded table (directly or through an earlier
// CTE), in the order they are written.
void Analyzer::shardedCtes(const Value& v, CteNames& out) const {
  if (v.isArray()) {
    for (const Value& item : v.items()) shardedCtes(item, out);
    return;
  }
  if (!v.isObject()) return;
  std::string_view tag = v.nodeTag();
  const Value& body = tag.empty() ? v : v.nodeBody();
  if (tag == "CommonTableExpr") {
    const Value* query = body.get("ctequery");
    if (query != nullptr && readsSharded(*query, out)) out.push_back(body.textOf("ctename"));
  }
  for (const Value& member : body.items()) shardedCtes(member, out);
}

bool Analyzer::readsSharded(const Value& v, const CteNames& ctes) const {
  if (v.isArray()) {
    return std::any_of(v.items().begin(), v.items().end(),
                       [&](const Value& item) { return readsSharded(item, ctes); });
  }
  if (!v.isObject()) return false;
  std::string_view tag = v.nodeTag();
  const Value* rangeVar = tag == "RangeVar" ? &v.nodeBody() : nullptr;
  if (tag.empty() && v.get("relname") != nullptr && v.get("relpersistence") != nullptr) {
    rangeVar = &v;
  }
  if (rangeVar != nullptr) {
    std::string_view name = rangeVar->textOf("relname");
    if (rules_.sharded.find(name) != rules_.sharded.end()) return true;
    return rangeVar->get("schemaname") == nullptr &&
           std::find(ctes.begin(), ctes.end(), name) != ctes.end();
  }
  const Value& body = tag.empty() ? v : v.nodeBody();
  return std::any_of(body.items().begin(), body.items().end(),
                     [&](const Value& member) { return readsSharded(member, ctes); });
}

bool shapeNeedsMerge(const SelectShape& s) {
  bool aggregates = std::any_of(s.targets.begin(), s.targets.end(), [](const TargetColumn& t) {
    return t.kind == TargetColumn::Kind::Aggregate || t.containsAggregate;
  });
  return aggregates || !s.orderBy.empty() || s.limit || s.limitNotConstant || s.offset ||
         s.offsetNotConstant || s.hasGroupBy || s.distinct || s.distinctOn || s.having ||
         s.window || s.setOperation == SelectShape::SetOperation::Other || s.branchNeedsMerge ||
         s.subqueryNeedsMerge;
}

}  // namespace shardpool::router::detail
