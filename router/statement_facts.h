// What a statement means for routing, whatever its SQL dialect: its kind, the tables it
// touches, the sharding-key values it constrains, the shardpool hints it carries, and the shape
// of a SELECT for merging results across shards. Each dialect's analyzer fills StatementFacts
// (PostgreSQL: analyze(), pg_statement.h; MySQL: analyzeMysql(), mysql_statement.h); route()
// (route.h) reads only these facts. StatementCache keeps an analyzer's results per text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "router/pg_statement_shape.h"
#include "router/shard_hash.h"

namespace shardpool::router {

using KeyKind = KeyValue::Kind;  // Integer or Text

struct ShardedTable {
  std::string keyColumn;  // lower case (as PostgreSQL folds an unquoted identifier)
  KeyKind keyType = KeyKind::Integer;
};

// The sharded, replicated and pinned tables of one database, keyed by table name as PostgreSQL
// resolves it (lower case unless the table was created with a quoted mixed-case name). A
// schema-qualified reference matches on its last part. A table should be in one map only.
struct TableRules {
  std::map<std::string, ShardedTable, std::less<>> sharded;
  std::set<std::string, std::less<>> replicated;        // a full copy on every shard
  std::map<std::string, uint32_t, std::less<>> pinned;  // only on that shard
};

enum class StatementKind : uint8_t {
  Select,  // also SELECT INTO, VALUES, TABLE t
  Insert,
  Update,
  Delete,
  Ddl,                 // CREATE/ALTER/DROP ..., TRUNCATE, GRANT, COMMENT, CREATE INDEX, ...
  TransactionControl,  // BEGIN, START, COMMIT, ROLLBACK, SAVEPOINT, RELEASE, PREPARE TRANSACTION
  Set,                 // SET, RESET, SHOW (also SET TRANSACTION ...)
  Utility,             // everything else: COPY, EXPLAIN, VACUUM, LOCK, CALL, DO, MERGE, ...
  Empty,               // no statement: "", ";", only comments
};

std::string_view statementKindName(StatementKind kind);  // "select", "insert", ...

// One possible value of a sharding key: a literal from the text, or a statement parameter
// (PostgreSQL's $n, MySQL's n-th ?) whose value arrives with the execution (Bind,
// COM_STMT_EXECUTE).
struct KeyRef {
  enum class Source : uint8_t { Literal, Param };

  static KeyRef ofInteger(int64_t value) { return {Source::Literal, value, {}, false, -1}; }
  static KeyRef ofText(std::string value) {
    return {Source::Literal, 0, std::move(value), true, -1};
  }
  // `index` is 0-based ($1 is 0); `isText` is the key column's type.
  static KeyRef ofParam(int index, bool isText) { return {Source::Param, 0, {}, isText, index}; }

  // The literal as a KeyValue for shardFor(); views `text`, so this KeyRef must outlive it.
  KeyValue value() const { return isText ? KeyValue::ofText(text) : KeyValue::ofInteger(integer); }

  friend bool operator==(const KeyRef&, const KeyRef&) = default;

  Source source = Source::Literal;
  int64_t integer = 0;  // Literal, integer key: the value
  std::string text;     // Literal, text key: the value
  bool isText = false;  // the key column's type (for a literal: which of integer/text is set)
  int paramIndex = -1;  // Param: 0-based parameter number
};

struct StatementFacts {
  StatementKind kind = StatementKind::Empty;
  size_t statementCount = 0;
  // false when the analyzer could not read the text (PostgreSQL: libpg_query rejected it, or it
  // nests deeper than the analyzer follows): then kind is a guess from the first keyword,
  // isWrite is true, no tables or keys are known, and only comment hints are read. Route by
  // hints or the default.
  bool parsed = true;
  std::string parseError;  // "syntax error at or near \"FROM\" (position 12)"

  // Every table read or written, each once, in parse-tree order (mostly text order; CREATE
  // TABLE ... AS lists the query's tables first). Each dialect's analyzer says how names are
  // spelled (pg_statement.h, mysql_statement.h). CTE names are not tables.
  std::vector<std::string> tables;
  bool touchesSharded = false;
  bool touchesReplicated = false;
  std::optional<uint32_t> pinnedShard;  // pinned tables are involved and all on this shard
  bool conflictingPins = false;         // pinned tables on different shards (pinnedShard unset)

  // Key values found for sharded table references: one entry per constrained reference (equal
  // entries once), each the set of alternatives (IN list, OR branches, multi-row INSERT rows in
  // row order). The statement needs every shard any alternative of any entry maps to.
  std::vector<std::vector<KeyRef>> keySets;
  // A sharded table is read or written with no usable key constraint (SELECT * FROM orders,
  // UPDATE orders ... WHERE other = 1, INSERT ... SELECT, DDL, TRUNCATE): it needs every shard.
  bool keyMissing = false;
  bool multiRowInsert = false;  // INSERT ... VALUES with more than one row
  bool updatesKey = false;      // UPDATE (or ON CONFLICT DO UPDATE) assigns a sharded key column

  // Shape of the first statement when it is a SELECT (for merging cross-shard results). Set
  // operations (UNION ...) report their own ORDER BY/LIMIT, aggregates and GROUP BY of any
  // branch, and hasDistinct for DISTINCT in any branch or a set operation without ALL.
  // hasAggregate: a known aggregate function (count, sum, ...), or any call with *, DISTINCT,
  // ORDER BY, FILTER or WITHIN GROUP, outside a window (OVER), or a HAVING clause.
  bool hasOrderBy = false, hasLimit = false, hasAggregate = false, hasGroupBy = false,
       hasDistinct = false;
  // The first statement's select list, ORDER BY, LIMIT, GROUP BY, ... when it is a SELECT
  // (pg_statement_shape.h); unset for any other statement and when the text did not parse.
  std::optional<SelectShape> selectShape;
  // A SELECT after the first statement has an ORDER BY, LIMIT/OFFSET, aggregate, GROUP BY,
  // DISTINCT, window or set operation: its result, too, would need merging across shards.
  bool laterSelectNeedsMerge = false;
  // INSERT/UPDATE/DELETE/DDL, SELECT ... FOR UPDATE/SHARE, SELECT INTO, a data-modifying CTE,
  // COPY FROM, and utility statements not known to be read-only (CALL, DO, EXECUTE, LOCK, ...).
  bool isWrite = false;

  // Hints, highest precedence first. SET [SESSION|LOCAL] shardpool.shard = N /
  // shardpool.sharding_key = 'K' (TO works too); RESET, SET ... TO DEFAULT and RESET ALL clear.
  std::optional<uint32_t> setShard;
  std::optional<std::string> setShardingKey;
  bool setIsLocal = false;  // the SET was SET LOCAL
  bool resetHint = false;   // resetShard || resetShardingKey
  bool resetShard = false, resetShardingKey = false;
  // Comment hints anywhere in the text (block or -- comments, not inside string literals):
  // shard: 3 / shard=3 and sharding_key: 42 / sharding_key: 'acme' (first of each wins).
  std::optional<uint32_t> commentShard;
  std::optional<std::string> commentShardingKey;
  // A shardpool hint that could not be used: a non-numeric shard, an unknown shardpool.* setting.
  std::string hintError;
};

// Records that the statement touches table `name` (a TableRules key: each table once, in order)
// with what its rule says (touchesSharded, touchesReplicated, the pinned shard or a conflict);
// its sharding rule, or nullptr. For every dialect's analyzer.
const ShardedTable* noteTable(StatementFacts& facts, const TableRules& rules,
                              std::string_view name);

// Least-recently-used cache of a dialect's analyzer results keyed by the exact SQL text, so the
// hot path parses each distinct statement once. Not thread-safe and takes no locks: keep one per worker
// thread. Entries hold the facts for one rulesVersion; a get() with another version empties the
// cache first. Texts longer than maxSqlBytes are analyzed but not kept.
class StatementCache {
 public:
  static constexpr size_t kDefaultMaxSqlBytes = 16 * 1024;

  // Analyzes a text the cache does not hold: analyze() (PostgreSQL, pg_statement.h), or another
  // dialect's with the same contract (analyzeMysql, mysql_statement.h).
  using Analyzer = StatementFacts (*)(std::string_view sql, const TableRules& rules);

  StatementCache(size_t capacity, Analyzer analyzer, size_t maxSqlBytes = kDefaultMaxSqlBytes);
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  // The facts for `sql`; the reference is valid until the next get() or clear(). A hit does not
  // allocate.
  const StatementFacts& get(std::string_view sql, const TableRules& rules, uint64_t rulesVersion);
  void clear();

  size_t size() const { return lru_.size(); }
  size_t capacity() const { return capacity_; }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  struct Entry {
    std::string sql;
    StatementFacts facts;
  };
  using List = std::list<Entry>;  // most recently used first

  size_t capacity_;
  size_t maxSqlBytes_;
  Analyzer analyzer_;
  uint64_t rulesVersion_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
  List lru_;
  std::unordered_map<std::string_view, List::iterator> index_;  // views Entry::sql
  StatementFacts uncached_;                                     // the last result too long to keep
};

}  // namespace shardpool::router
