// Statements, query levels, FROM lists and the generic scan of the parse tree.
#include <algorithm>

#include "router/pg_statement_walker.h"

namespace shardpool::router::detail {
namespace {

bool nonEmpty(const Value* v) {
  return v != nullptr && (v->type != pgjson::Type::Array || v->count > 0);
}

// RangeVar body: the name to look rules up by (the last part of a qualified name).
std::string_view relationName(const Value& rangeVar) {
  return rangeVar.textOf("relname");
}

std::string_view aliasOf(const Value& v) {
  const Value* alias = v.get("alias");
  return alias != nullptr ? alias->textOf("aliasname") : std::string_view{};
}

// Nodes that cannot contain a table or a subquery: not worth descending into.
bool isLeafTag(std::string_view tag) {
  return tag == "ColumnRef" || tag == "A_Const" || tag == "ParamRef" || tag == "String" ||
         tag == "Integer" || tag == "Float" || tag == "Boolean" || tag == "A_Star" ||
         tag == "TypeName" || tag == "SetToDefault";
}

}  // namespace

// ---- tables and keys ---------------------------------------------------------------------------

const ShardedTable* Analyzer::addTable(std::string_view name) {
  return noteTable(facts_, rules_, name);
}

void Analyzer::addKeySet(std::vector<KeyRef> keys) {
  if (std::find(facts_.keySets.begin(), facts_.keySets.end(), keys) != facts_.keySets.end()) return;
  facts_.keySets.push_back(std::move(keys));
}

bool Analyzer::isCteName(std::string_view name, const Level* level) const {
  for (const Level* l = level; l != nullptr; l = l->parent) {
    if (l->ctes == nullptr) continue;
    for (const Value& cte : l->ctes->items()) {
      if (cte.nodeTag() == "CommonTableExpr" && cte.nodeBody().textOf("ctename") == name) {
        return true;
      }
    }
  }
  return false;
}

// A relation named outside a FROM list we follow (utility statements, odd corners): touched,
// with no key.
void Analyzer::touchTable(const Value& rangeVar, const Level* level) {
  std::string_view name = relationName(rangeVar);
  if (name.empty()) return;
  if (rangeVar.get("schemaname") == nullptr && isCteName(name, level)) return;
  if (addTable(name) != nullptr) facts_.keyMissing = true;
}

void Analyzer::addReference(std::string_view refName, const ShardedTable* sharded) {
  relations_.push_back(Relation{refName, sharded, false, {}});
}

// ---- the generic scan
// ----------------------------------------------------------------------------

void Analyzer::scan(const Value& v, const Level* level) {
  if (v.isArray()) {
    for (const Value& item : v.items()) scan(item, level);
    return;
  }
  if (!v.isObject()) return;
  std::string_view tag = v.nodeTag();
  if (tag.empty()) {
    // A typed field holds its message without the Node wrapper; a RangeVar shows by its fields.
    if (v.get("relname") != nullptr && v.get("relpersistence") != nullptr) {
      touchTable(v, level);
      return;
    }
    for (const Value& member : v.items()) scan(member, level);
    return;
  }
  if (tag == "SelectStmt" || tag == "InsertStmt" || tag == "UpdateStmt" || tag == "DeleteStmt") {
    statement(v, level);
  } else if (tag == "RangeVar") {
    touchTable(v.nodeBody(), level);
  } else if (!isLeafTag(tag)) {
    for (const Value& member : v.nodeBody().items()) scan(member, level);
  }
}

// ---- statements --------------------------------------------------------------------------------

void Analyzer::statement(const Value& node, const Level* parent) {
  std::string_view tag = node.nodeTag();
  const Value& body = node.nodeBody();
  if (tag == "SelectStmt") {
    select(body, parent);
  } else if (tag == "InsertStmt") {
    insert(body, parent);
  } else if (tag == "UpdateStmt") {
    updateOrDelete(body, parent, true);
  } else if (tag == "DeleteStmt") {
    updateOrDelete(body, parent, false);
  } else {
    scan(node, parent);
  }
}

void Analyzer::withClause(const Value* with, Level& level) {
  if (with == nullptr) return;
  level.ctes = with->get("ctes");
  if (level.ctes == nullptr) return;
  level.first = level.end = relations_.size();
  for (const Value& cte : level.ctes->items()) {
    if (cte.nodeTag() != "CommonTableExpr") continue;
    if (const Value* query = cte.nodeBody().get("ctequery")) statement(*query, &level);
  }
}

void Analyzer::select(const Value& s, const Level* parent, bool branch) {
  if (collectNested_ && parent != nullptr && !branch && levelNeedsMerge(s)) {
    nestedMerges_.push_back(&s);
  }
  Level level{parent};
  withClause(s.get("withClause"), level);
  if (nonEmpty(s.get("lockingClause")) || s.get("intoClause") != nullptr) facts_.isWrite = true;
  if (const Value* into = s.get("intoClause")) scan(*into, &level);

  const Value* larg = s.get("larg");
  const Value* rarg = s.get("rarg");
  if (larg != nullptr || rarg != nullptr) {  // UNION / INTERSECT / EXCEPT
    if (larg != nullptr) select(*larg, &level, true);
    if (rarg != nullptr) select(*rarg, &level, true);
    for (std::string_view f : {"sortClause", "limitOffset", "limitCount"}) {
      if (const Value* v = s.get(f)) scan(*v, &level);
    }
    return;
  }

  level.first = relations_.size();
  FromList from;
  if (const Value* items = s.get("fromClause")) {
    for (const Value& item : items->items()) fromItem(item, level, from);
  }
  level.end = relations_.size();
  finishLevel(level, s.get("whereClause"), from);
  for (std::string_view f :
       {"targetList", "whereClause", "groupClause", "havingClause", "windowClause", "valuesLists",
        "sortClause", "limitOffset", "limitCount", "distinctClause"}) {
    if (const Value* v = s.get(f)) scan(*v, &level);
  }
}

void Analyzer::insert(const Value& s, const Level* parent) {
  facts_.isWrite = true;
  Level level{parent};
  withClause(s.get("withClause"), level);
  level.first = level.end = relations_.size();

  const Value* relation = s.get("relation");
  const ShardedTable* sharded = nullptr;
  if (relation != nullptr) sharded = addTable(relationName(*relation));

  // Position of the key in the column list.
  std::optional<size_t> keyIndex;
  const Value* cols = s.get("cols");
  if (sharded != nullptr && cols != nullptr) {
    for (size_t i = 0; i < cols->count; ++i) {
      const Value& col = cols->items()[i];
      if (col.nodeTag() == "ResTarget" && col.nodeBody().textOf("name") == sharded->keyColumn) {
        keyIndex = i;
        break;
      }
    }
  }

  const Value* source = s.get("selectStmt");
  const Value* rows = nullptr;
  if (source != nullptr && source->nodeTag() == "SelectStmt") {
    const Value& sel = source->nodeBody();
    if (nonEmpty(sel.get("valuesLists")) && sel.get("fromClause") == nullptr) {
      rows = sel.get("valuesLists");
    }
  }
  if (rows != nullptr) {
    if (rows->count > 1) facts_.multiRowInsert = true;
    if (sharded != nullptr) {
      std::vector<KeyRef> keys;
      for (const Value& row : rows->items()) {
        const Value* items = row.nodeTag() == "List" ? row.nodeBody().get("items") : nullptr;
        std::optional<KeyRef> key;
        if (keyIndex && items != nullptr && *keyIndex < items->count) {
          key = keyValue(items->items()[*keyIndex], sharded->keyType);
        }
        if (!key) {
          keys.clear();
          break;
        }
        keys.push_back(std::move(*key));
      }
      if (keys.empty()) {
        facts_.keyMissing = true;
      } else {
        addKeySet(std::move(keys));
      }
    }
    scan(*rows, &level);  // subqueries inside VALUES
  } else {
    if (sharded != nullptr) facts_.keyMissing = true;  // INSERT ... SELECT, DEFAULT VALUES
    if (source != nullptr) statement(*source, &level);
  }

  if (const Value* conflict = s.get("onConflictClause")) {
    if (const Value* targets = conflict->get("targetList")) {
      for (const Value& t : targets->items()) {
        if (sharded != nullptr && t.nodeTag() == "ResTarget" &&
            t.nodeBody().textOf("name") == sharded->keyColumn) {
          facts_.updatesKey = true;
        }
      }
      scan(*targets, &level);
    }
    if (const Value* where = conflict->get("whereClause")) scan(*where, &level);
  }
  if (const Value* returning = s.get("returningList")) scan(*returning, &level);
}

void Analyzer::updateOrDelete(const Value& s, const Level* parent, bool isUpdate) {
  facts_.isWrite = true;
  Level level{parent};
  withClause(s.get("withClause"), level);
  level.first = relations_.size();

  const ShardedTable* sharded = nullptr;
  if (const Value* relation = s.get("relation")) {
    std::string_view name = relationName(*relation);
    sharded = addTable(name);
    std::string_view alias = aliasOf(*relation);
    addReference(alias.empty() ? name : alias, sharded);
  }
  FromList from;
  if (const Value* items = s.get(isUpdate ? "fromClause" : "usingClause")) {
    for (const Value& item : items->items()) fromItem(item, level, from);
  }
  level.end = relations_.size();

  const Value* targets = isUpdate ? s.get("targetList") : nullptr;
  if (targets != nullptr && sharded != nullptr) {
    for (const Value& t : targets->items()) {
      if (t.nodeTag() == "ResTarget" && t.nodeBody().textOf("name") == sharded->keyColumn) {
        facts_.updatesKey = true;
      }
    }
  }
  finishLevel(level, s.get("whereClause"), from);
  if (targets != nullptr) scan(*targets, &level);
  if (const Value* where = s.get("whereClause")) scan(*where, &level);
  if (const Value* returning = s.get("returningList")) scan(*returning, &level);
}

// ---- FROM lists --------------------------------------------------------------------------------

void Analyzer::fromItem(const Value& item, Level& level, FromList& from) {
  std::string_view tag = item.nodeTag();
  if (tag.empty()) return;
  const Value& body = item.nodeBody();
  if (tag == "RangeVar") {
    std::string_view name = relationName(body);
    std::string_view alias = aliasOf(body);
    std::string_view refName = alias.empty() ? name : alias;
    if (body.get("schemaname") == nullptr && isCteName(name, &level)) {
      addReference(refName, nullptr);
    } else {
      addReference(refName, addTable(name));
    }
  } else if (tag == "JoinExpr") {
    Join join{&body, relations_.size()};
    if (const Value* l = body.get("larg")) fromItem(*l, level, from);
    join.leftEnd = relations_.size();
    if (const Value* r = body.get("rarg")) fromItem(*r, level, from);
    join.rightEnd = relations_.size();
    from.joins.push_back(join);
    if (std::string_view alias = aliasOf(body); !alias.empty()) addReference(alias, nullptr);
  } else if (tag == "RangeTableSample") {
    if (const Value* r = body.get("relation")) fromItem(*r, level, from);
    if (const Value* args = body.get("args")) from.deferred.push_back(args);
  } else {
    // RangeSubselect, RangeFunction, RangeTableFunc: a level or expressions of their own,
    // scanned once this level's keys are known (LATERAL may refer to them).
    addReference(aliasOf(body), nullptr);
    from.deferred.push_back(&item);
  }
}

void Analyzer::finishLevel(Level& level, const Value* where, FromList& from) {
  Conditions all;
  if (where != nullptr) all = condition(*where, level);
  for (const Join& join : from.joins)
    all = andConditions(std::move(all), joinConditions(join, level));
  propagate(all);
  for (KeyFact& f : all.facts) {
    Relation& rel = relations_[f.relation];
    rel.known = true;
    rel.keys = std::move(f.values);
  }
  for (size_t i = level.first; i < level.end; ++i) {
    Relation& rel = relations_[i];
    if (rel.sharded == nullptr) continue;
    if (rel.known) {
      addKeySet(rel.keys);
    } else {
      facts_.keyMissing = true;
    }
  }
  for (const Join& join : from.joins) {
    if (const Value* quals = join.body->get("quals")) scan(*quals, &level);
  }
  for (const Value* d : from.deferred) scan(*d, &level);
}

}  // namespace shardpool::router::detail
