// What the MySQL engine reads of a transaction-pooled session: the statement-effects scan of a
// client's COM_QUERY text (every statement goes through it), the SELECT LAST_INSERT_ID() match,
// the transaction words, what a statement on several shards may merge (shard_merge.h) and the
// MySQL analyzer's facts (router/mysql_statement.h), and the session-state entries of a server's
// OK (MysqlSessionVars), then the SET built from two such sessions. Input: SQL text, '\0',
// entries for one session, '\0', for the other.
#include <cstdint>
#include <string>

#include "fuzz/fuzz_util.h"
#include "pooler/mysql/session_vars.h"
#include "pooler/mysql/shard_merge.h"
#include "pooler/mysql/statement_effects.h"
#include "pooler/protocol/mysql_codec.h"
#include "router/mysql_statement.h"

namespace pooler = shardpool::pooler;
namespace my = shardpool::protocol::mysql;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  shardpool::fuzz::Input in(data, size);
  std::string_view sql = in.until(std::string_view("\0", 1));
  uint16_t effects = pooler::scanStatementEffects(sql);
  FUZZ_CHECK(effects < (1u << 11));
  if (auto column = pooler::lastInsertIdQuery(sql)) {
    FUZZ_CHECK(!column->empty());
    FUZZ_CHECK(column->data() >= sql.data() &&
               column->data() + column->size() <= sql.data() + sql.size());
  }
  (void)pooler::cannotCommit(sql);
  (void)pooler::transactionWord(sql);
  if (auto g = pooler::simpleGrouping(sql)) {
    FUZZ_CHECK(!g->columns.empty());
    for (size_t k : g->groupBy) FUZZ_CHECK(k < g->columns.size() && !g->columns[k]);
  }
  if (auto o = pooler::simpleOrder(sql)) {
    FUZZ_CHECK(o->limitBegin <= o->limitEnd && o->limitEnd <= sql.size());
    for (const auto& item : o->items) FUZZ_CHECK(!item.name.empty() || item.position > 0);
  }
  if (pooler::needsMerge(sql) && sql.size() < 64) {
    // Values: the SQL text's halves as two shards' values of each aggregate.
    std::string_view x = sql.substr(0, sql.size() / 2), y = sql.substr(sql.size() / 2);
    for (auto a : {pooler::Aggregate::Count, pooler::Aggregate::Sum, pooler::Aggregate::Min,
                   pooler::Aggregate::Max}) {
      std::optional<std::string> acc = std::string(x);
      (void)pooler::combineAggregate(a, acc, y);
    }
    (void)pooler::compareValues(x, y);
  }
  shardpool::router::TableRules rules;
  rules.sharded.emplace("orders", shardpool::router::ShardedTable{"id"});
  (void)shardpool::router::analyzeMysql(sql, rules);
  pooler::MysqlSessionVars a, b;
  std::string_view first = in.until(std::string_view("\0", 1));
  std::string_view second = in.remaining();
  a.note(my::asBytes(first));
  b.note(my::asBytes(second));
  // Sorted, unique names; the SET is empty exactly when the variables are the same, and
  // applying it leaves nothing to set.
  for (size_t i = 1; i < a.variables().size(); ++i)
    FUZZ_CHECK(a.variables()[i - 1].first < a.variables()[i].first);
  std::string set = pooler::applyStatement(a, b, in.empty());
  if (a.sameVariables(b)) FUZZ_CHECK(set.empty());
  if (!set.empty()) FUZZ_CHECK(set.starts_with("SET @@SESSION."));
  pooler::MysqlSessionVars applied = a;
  FUZZ_CHECK(pooler::applyStatement(a, applied, false).empty());
  return 0;
}
