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
  kRunsKill = 1 << 11,           // a statement that starts with KILL (its ids are shardpool's)
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

// KILL [HARD | SOFT] [CONNECTION | QUERY] <id> alone (an optional `;`): the client connection
// ids are shardpool's (the greeting's), so shardpool answers it (CancelRegistry::kill).
// `supported` is false for the forms it cannot map to one of its clients: KILL QUERY ID <query
// id>, KILL ... USER <name>, an id that is not a plain number.
struct KillStatement {
  bool query = false;  // QUERY: the running statement only; else the whole connection
  bool supported = true;
  uint64_t id = 0;
};
std::optional<KillStatement> killStatement(std::string_view sql);

// auth_query for a MySQL database: `query` with its first `?` (outside quotes) replaced by the
// user name as a hex literal (X'...': nothing in the name can escape it). PostgreSQL's default
// query (or an empty one) stands for MySQL's: kMysqlAuthQuery.
inline constexpr std::string_view kMysqlAuthQuery =
    "SELECT User, authentication_string FROM mysql.user WHERE User = ? AND plugin IN "
    "('mysql_native_password', '') ORDER BY Host = '%' DESC LIMIT 1";
std::string authLookupStatement(std::string_view query, std::string_view user);

// USE <name> alone (the name bare or in backquotes, an optional `;`): the name.
std::optional<std::string> useStatementTarget(std::string_view sql);

}  // namespace shardpool::pooler
