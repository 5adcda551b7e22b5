#include <algorithm>

#include "router/statement_facts.h"

namespace shardpool::router {

std::string_view statementKindName(StatementKind kind) {
  switch (kind) {
    case StatementKind::Select:
      return "select";
    case StatementKind::Insert:
      return "insert";
    case StatementKind::Update:
      return "update";
    case StatementKind::Delete:
      return "delete";
    case StatementKind::Ddl:
      return "ddl";
    case StatementKind::TransactionControl:
      return "transaction control";
    case StatementKind::Set:
      return "set";
    case StatementKind::Utility:
      return "utility";
    case StatementKind::Empty:
      return "empty";
  }
  return "?";
}

const ShardedTable* noteTable(StatementFacts& facts, const TableRules& rules,
                              std::string_view name) {
  const ShardedTable* sharded = nullptr;
  if (auto it = rules.sharded.find(name); it != rules.sharded.end()) sharded = &it->second;
  if (std::find(facts.tables.begin(), facts.tables.end(), name) != facts.tables.end())
    return sharded;
  facts.tables.emplace_back(name);
  if (sharded != nullptr) facts.touchesSharded = true;
  if (rules.replicated.find(name) != rules.replicated.end()) facts.touchesReplicated = true;
  if (auto it = rules.pinned.find(name); it != rules.pinned.end() && !facts.conflictingPins) {
    if (!facts.pinnedShard) {
      facts.pinnedShard = it->second;
    } else if (*facts.pinnedShard != it->second) {
      facts.pinnedShard.reset();
      facts.conflictingPins = true;
    }
  }
  return sharded;
}

}  // namespace shardpool::router
