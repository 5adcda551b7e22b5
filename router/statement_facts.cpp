#include <algorithm>

#include "router/pg_statement.h"

namespace shardpool::router {

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
