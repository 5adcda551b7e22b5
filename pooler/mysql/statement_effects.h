// What a COM_QUERY's SQL does to its session that transaction pooling must respect, found by a
// scan of the text (no parser, no allocation): user variables, temporary tables, LOCK TABLES,
// GET_LOCK (until RELEASE_ALL_LOCKS), SQL_CALC_FOUND_ROWS, text PREPARE, a one-shot SET TRANSACTION, HANDLER and XA.
// Strings, quoted identifiers and comments are skipped; MySQL's executable comments (/*! ... */)
// are read as SQL. It errs on the side of finding an effect: a false one only keeps a client on
// its server longer. Session system variables and the schema are not its business: the
// server reports them (session_vars.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>
#include <string_view>

namespace shardpool::pooler {

enum StatementEffect : uint16_t {
  kUsesUserVariable = 1 << 0,  // @name anywhere (set or read: a read may follow a set)
  kCreatesTemporaryTable = 1 << 1,
  kLocksTables = 1 << 2,
  kUnlocksTables = 1 << 3,
  kTakesNamedLock = 1 << 4,      // GET_LOCK()
  kCalcFoundRows = 1 << 5,       // FOUND_ROWS() must run on the same server next
  kPreparesText = 1 << 6,        // PREPARE name FROM ...
  kSetsNextTransaction = 1 << 7, // SET TRANSACTION ... (the next transaction only)
  kOpensHandler = 1 << 8,        // HANDLER t OPEN
  kXaTransaction = 1 << 9,       // XA START ... (its own transaction, not reported as one)
  kReleasesAllLocks = 1 << 10,   // RELEASE_ALL_LOCKS(): no named lock is held after it
};

uint16_t scanStatementEffects(std::string_view sql);

// When `sql` is exactly SELECT LAST_INSERT_ID() (any case and spacing, an optional `;`), the
// column name MySQL would give it (the expression as written); nullopt otherwise.
std::optional<std::string_view> lastInsertIdQuery(std::string_view sql);

// One DML statement (SELECT, INSERT, UPDATE, DELETE, REPLACE, WITH, VALUES, TABLE) and nothing
// after it: running it inside a transaction cannot commit that transaction (COMMIT, DDL, BEGIN
// and SET autocommit = 1 can). A server lost while it ran took the transaction with it.
bool cannotCommit(std::string_view sql);
// ROLLBACK [WORK] [AND [NO] CHAIN] [[NO] RELEASE] alone (not ROLLBACK TO SAVEPOINT).
bool isRollback(std::string_view sql);

// A statement alone that opens or ends a transaction: BEGIN [WORK] / START TRANSACTION ...,
// COMMIT ..., ROLLBACK ... (not ROLLBACK TO SAVEPOINT, not MariaDB's BEGIN NOT ATOMIC).
enum class TransactionWord : uint8_t { None, Begin, Commit, Rollback };
TransactionWord transactionWord(std::string_view sql);

// Whether rows from several shards, put one after the other, could differ from what one server
// would answer: ORDER BY, GROUP BY, LIMIT/OFFSET, DISTINCT, HAVING, set operations, window
// functions, or an aggregate function call (COUNT(...), SUM(...), ...) anywhere outside strings
// and comments. It errs towards true.
bool needsMerge(std::string_view sql);

// An aggregate function whose values from several shards combine (combineAggregate).
enum class Aggregate : uint8_t { Count, Sum, Min, Max };

// Combines one aggregate's values of two shards' rows (text protocol; nullopt is NULL): COUNT
// and SUM add (integers and fixed-point decimals exactly), MIN and MAX compare numbers, or
// date/time texts. False when the values cannot be combined exactly (then `acc` is unchanged).
bool combineAggregate(Aggregate a, std::optional<std::string>& acc,
                      const std::optional<std::string_view>& value);

// A SELECT that needs no merging but for a trailing ORDER BY and/or LIMIT n: rows from several
// shards are then sorted and cut by shardpool. ORDER BY items are result columns, named (a
// column name or alias, matched without regard to case; a qualified name by its last part) or
// numbered (1-based), each ASC or DESC; LIMIT n [OFFSET m] or LIMIT m, n. Nothing before
// ORDER BY may need merging (GROUP BY, DISTINCT, aggregates, ...). nullopt for anything else.
struct OrderItem {
  std::string name;     // empty: `position`
  size_t position = 0;  // 1-based, with an empty name
  bool descending = false;
};
struct OrderSpec {
  std::vector<OrderItem> items;
  std::optional<uint64_t> limit;
  uint64_t offset = 0;  // LIMIT n OFFSET m, or LIMIT m, n
  // Where the LIMIT clause is in the text (begin, end), for running it on each shard as
  // LIMIT offset + n: a shard cannot know which of its rows the others' push past the offset.
  size_t limitBegin = 0, limitEnd = 0;
};
std::optional<OrderSpec> simpleOrder(std::string_view sql);

// MySQL's order of two result values (text protocol; nullopt is NULL, which sorts first):
// numbers numerically, date/time texts as text; nullopt when they cannot be compared exactly
// (strings, whose order is the column's collation's).
std::optional<int> compareValues(const std::optional<std::string_view>& a,
                                 const std::optional<std::string_view>& b);

// A SELECT whose rows from several shards can be combined by group: its select list is group
// columns (a column name, qualified or not, with an optional alias) and COUNT/SUM/MIN/MAX calls
// (not DISTINCT inside), with GROUP BY naming exactly the group columns (by name, alias or
// position) when there are any, and nothing else that would need merging (HAVING, ORDER BY,
// LIMIT, ...); or SELECT DISTINCT of columns only, grouped by all of them. Per select-list
// column: its aggregate, or nullopt for a group column;
// `groupBy` lists the group columns (0-based) in GROUP BY order. nullopt for anything else.
struct Grouping {
  std::vector<std::optional<Aggregate>> columns;
  std::vector<size_t> groupBy;
};
std::optional<Grouping> simpleGrouping(std::string_view sql);

// A group column's value whose equality across shards is its text's: a number or a date/time
// (text compares by the column's collation: 'a' and 'A' may be one group).
bool groupableValue(std::string_view value);

}  // namespace shardpool::pooler
