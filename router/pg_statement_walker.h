// Internal to router/pg_statement*: walks libpg_query's raw parse tree (as JSON, pg_json.h) and
// fills StatementFacts. pg_statement_walker.cpp: statements, query levels, FROM lists and the
// generic scan; pg_statement_keys.cpp: key constraints from conditions and constants.
//
// Field and node names are libpg_query's JSON names (pg_query.proto's json_name).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "router/pg_json.h"
#include "router/pg_statement.h"

namespace shardpool::router::detail {

using pgjson::Value;

// One table reference of a query level (FROM item, UPDATE/DELETE target). References that are not
// sharded tables (other tables, subqueries, functions, CTEs) are kept too, with sharded unset, so
// that a qualifier resolves to the innermost level that defines it.
struct Relation {
  std::string_view refName;  // the alias, else the table name
  const ShardedTable* sharded = nullptr;
  bool known = false;  // the key is constrained to `keys`
  std::vector<KeyRef> keys;
};

// One SELECT/INSERT/UPDATE/DELETE; subqueries and CTEs are levels nested in their parent.
struct Level {
  const Level* parent = nullptr;
  size_t first = 0;  // this level's references: relations_[first, end)
  size_t end = 0;
  const Value* ctes = nullptr;  // its WITH list: the names are not tables here and below
};

// `relation`'s key is one of `values`.
struct KeyFact {
  size_t relation = 0;
  std::vector<KeyRef> values;
};

// from.key = to.key: a constraint on `from` holds for `to` (and the reverse when bothWays).
struct KeyEdge {
  size_t from = 0;
  size_t to = 0;
  bool bothWays = true;
};

struct Conditions {
  std::vector<KeyFact> facts;
  std::vector<KeyEdge> edges;
};

class Analyzer {
 public:
  Analyzer(std::string_view sql, const TableRules& rules, StatementFacts& facts)
      : sql_(sql), rules_(rules), facts_(facts) {}

  // One top-level statement (a RawStmt's "stmt" node); `first` for the first in the string.
  void topStatement(const Value& node, bool first);

  // ---- constants (pg_statement_keys.cpp) ----
  // An A_Const body as an integer / as text; nullopt for NULL, booleans, bit strings, and
  // text that is not an integer (constInteger).
  std::optional<int64_t> constInteger(const Value& aConst) const;
  std::optional<std::string> constText(const Value& aConst) const;
  // Two expressions written the same way: equal parse trees, locations ignored (constants by
  // value: libpg_query's JSON drops zero and negative integers, read back from the text).
  bool sameExpression(const Value& a, const Value& b) const;

 private:
  struct Join {
    const Value* body = nullptr;  // the JoinExpr
    size_t leftBegin = 0, leftEnd = 0, rightEnd = 0;
  };
  struct FromList {
    std::vector<Join> joins;
    std::vector<const Value*> deferred;  // scanned after the level's keys are known
  };

  // ---- statements and levels (pg_statement_walker.cpp) ----
  void statement(const Value& node, const Level* parent);
  // `branch`: an operand of a set operation, judged with the set operation itself.
  void select(const Value& s, const Level* parent, bool branch = false);
  void insert(const Value& s, const Level* parent);
  void updateOrDelete(const Value& s, const Level* parent, bool isUpdate);
  void withClause(const Value* with, Level& level);
  void fromItem(const Value& item, Level& level, FromList& from);
  void addReference(std::string_view refName, const ShardedTable* sharded);
  // Reads the level's WHERE/JOIN conditions, records its keys, then scans its subqueries.
  void finishLevel(Level& level, const Value* where, FromList& from);
  void scan(const Value& v, const Level* level);
  void touchTable(const Value& rangeVar, const Level* level);
  const ShardedTable* addTable(std::string_view name);
  bool isCteName(std::string_view name, const Level* level) const;
  void addKeySet(std::vector<KeyRef> keys);
  void setHint(const Value& s);
  // ---- SELECT shape (pg_statement_shape.cpp) ----
  void selectFlags(const Value& s);  // facts_.hasOrderBy, ... for the first statement
  SelectShape shapeOf(const Value& s) const;
  void shapeLevel(const Value& s, SelectShape& shape) const;  // list, ORDER BY, LIMIT, GROUP BY
  void resolveOrderItem(const Value& sortBy, const std::vector<const Value*>& targets,
                        const SelectShape& shape, OrderItem& item) const;
  int resolveGroupItem(const Value& item, const std::vector<const Value*>& targets,
                       const SelectShape& shape) const;
  void readLimit(const Value* node, std::optional<int64_t>& value, bool& notConstant) const;
  bool levelNeedsMerge(const Value& s) const;  // this SELECT alone, not its subqueries
  // Runs the walk of a SELECT statement (statement()) and reports whether one of its subqueries
  // or CTEs needs merging: one that levelNeedsMerge() and reads a sharded table.
  bool walkSelect(const Value& node);
  using CteNames = std::vector<std::string_view>;
  void shardedCtes(const Value& v, CteNames& out) const;
  bool readsSharded(const Value& v, const CteNames& ctes) const;
  void dropStatement(const Value& s);

  // ---- key constraints (pg_statement_keys.cpp) ----
  Conditions condition(const Value& node, const Level& level) const;
  Conditions equality(const Value& left, const Value& right, const Level& level) const;
  Conditions inList(const Value& column, const Value& list, const Level& level) const;
  Conditions anyArray(const Value& column, const Value& array, const Level& level) const;
  Conditions joinConditions(const Join& join, const Level& level) const;
  // The sharded reference whose key column `column` (a ColumnRef node) names, searching the
  // level and then its parents; nullopt when it names something else.
  std::optional<size_t> resolveKey(const Value& column, const Level& level) const;
  std::optional<KeyRef> keyValue(const Value& node, KeyKind type) const;
  std::optional<int64_t> integerAt(int location) const;

  std::string_view sql_;
  const TableRules& rules_;
  StatementFacts& facts_;
  std::vector<Relation> relations_;
  // While walkSelect() runs: the nested SELECTs that aggregate, limit, ... (set-operation
  // branches of the walked statement's own levels excepted).
  bool collectNested_ = false;
  std::vector<const Value*> nestedMerges_;
};

// Conditions helpers (pg_statement_keys.cpp).
Conditions andConditions(Conditions a, Conditions b);
Conditions orConditions(Conditions a, Conditions b);
void propagate(Conditions& c);

// A SELECT (shapeOf) whose result needs more than concatenation across shards: ORDER BY,
// LIMIT/OFFSET, an aggregate, GROUP BY, DISTINCT, HAVING, a window, a set operation other than
// UNION ALL, or such a subquery.
bool shapeNeedsMerge(const SelectShape& shape);

// Integer text as PostgreSQL's int8 input accepts it: surrounding spaces, an optional sign.
std::optional<int64_t> parseInt64(std::string_view text);
bool equalsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace shardpool::router::detail
