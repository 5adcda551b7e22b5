// What a MySQL (or MariaDB) statement means for routing: the same StatementFacts that
// router/pg_statement.h produces for PostgreSQL (router/statement_facts.h), so that route() (router/route.h) decides for both
// protocols. Pure: text and table rules in, facts out; no I/O. Meant to sit behind a cache of
// results per statement text, like analyze() behind StatementCache: it allocates (tokens, names).
//
// There is no MySQL grammar here: a lexer that follows MySQL's lexical rules, then recognizers
// for the simple shapes that routing needs. What it does not recognize it reports as not parsed
// (route() then refuses a write it cannot place) or as touching every shard, never as a key.
//
// Decisions:
//  - Lexing. '...' and "..." are string literals (sql_mode without ANSI_QUOTES) with backslash
//    escapes and doubled quotes (sql_mode without NO_BACKSLASH_ESCAPES: under that mode a
//    string ending in a backslash is read differently, so do not route such text by key);
//    `...` is an identifier (doubled backticks inside); N'..' and _charset'..' are strings,
//    X'..', B'..', 0x.. and decimals are literals that are never keys. Comments: /* ... */ (not
//    nested), # to the end of the line, and -- followed by a space or control character.
//    Executable comments /*! ... */, /*!50001 ... */ and MariaDB's /*M!100100 ... */ are code:
//    their content is read as if the comment marks were not there. An unterminated string,
//    identifier or comment, unbalanced parentheses or nesting deeper than 200 parentheses leave
//    the text not parsed.
//  - Names. Tables are compared case-insensitively, as on a server with lower_case_table_names=1:
//    names are folded to ASCII lower case (backticked ones too), so TableRules keys must be lower
//    case. db.table matches on its last part. Column names are case-insensitive, as in MySQL.
//  - Kind: from the first word. SELECT, WITH ... SELECT, (SELECT, VALUES, TABLE -> Select;
//    INSERT, REPLACE -> Insert; UPDATE; DELETE (WITH ... UPDATE/DELETE too); CREATE, ALTER,
//    DROP, TRUNCATE, RENAME, GRANT, REVOKE -> Ddl; BEGIN, START TRANSACTION, COMMIT, ROLLBACK,
//    SAVEPOINT, RELEASE, XA -> TransactionControl; SET, SHOW -> Set; USE, CALL, DO, LOCK,
//    UNLOCK, HANDLER, LOAD, EXPLAIN, DESCRIBE, ANALYZE, OPTIMIZE, FLUSH, PREPARE, EXECUTE, ...
//    -> Utility; no statement at all (only comments, `;`) -> Empty. An unknown first word is
//    not parsed.
//  - Statements are separated by `;` outside strings and comments; statementCount counts the
//    non-empty ones. Several statements: kind is the first one's; tables, keys, isWrite and
//    hints cover all of them (a later SET hint overrides an earlier one). A CREATE PROCEDURE,
//    FUNCTION, TRIGGER or EVENT takes the rest of the text as its body (its `;` do not split).
//  - Tables: every table after FROM / JOIN / STRAIGHT_JOIN / `,` (aliases with or without AS,
//    PARTITION (...) and index hints skipped, parenthesized joins), in subqueries too; UPDATE
//    targets; DELETE's FROM (or USING) list; INSERT/REPLACE INTO; TABLE t. CTE names (WITH c
//    AS (...)) are not tables anywhere in the statement; derived tables, JSON_TABLE(...) and
//    DUAL are not tables. DDL: the table after TABLE (lists for DROP/RENAME), after ON (CREATE
//    INDEX, CREATE TRIGGER, GRANT), after LIKE, and the tables of an AS SELECT; a sharded one
//    is keyMissing (DDL goes to every shard). LOCK TABLES, HANDLER, LOAD DATA ... INTO TABLE,
//    ANALYZE/OPTIMIZE/REPAIR/CHECK/CHECKSUM TABLE, DESCRIBE t: tables named, keyMissing when
//    sharded. SHOW names no table (SHOW COLUMNS FROM t goes where a table-less statement goes).
//    A FROM list followed by anything the recognizer does not expect leaves the text not
//    parsed, so a table is never missed silently.
//  - Query levels: each SELECT of a UNION/EXCEPT/INTERSECT, each parenthesized subquery (in the
//    select list, WHERE, FROM, IN (...), a CTE) and the UPDATE/DELETE itself is a level with
//    its own table references. A level's WHERE (and the ON of an inner JOIN) constrains only
//    that level's references: a qualifier that names no reference of the level, and an
//    unqualified column that is no sharded reference's key there, constrain nothing (no look
//    outwards, no push into derived tables).
//  - Keys, from a top-level AND chain (AND or &&; parenthesized AND chains are followed; the
//    AND of BETWEEN ... AND and anything inside CASE ... END is not a separator): a conjunct
//    that is exactly `key = value`, `value = key`, `key <=> value`, `alias.key = value`,
//    `db.t.key = value` or `key IN (value, ...)`. OR, || or XOR anywhere at the level of the
//    chain makes the whole condition constrain nothing; NOT, other operators, functions and
//    anything after the value (COLLATE, + 1, ...) make that conjunct constrain nothing. `a.key
//    = b.key` between two sharded references of a level (WHERE, or ON of an inner join) passes
//    a constraint from one to the other. ON of LEFT/RIGHT/NATURAL joins and USING (...) are
//    ignored. AND keeps the smaller of two constraints on one reference.
//  - Values: integer literals (with one sign: -5), string literals (unescaped) and `?`
//    placeholders (KeyRef::ofParam with the 0-based index of that `?` among every `?` of the
//    text, in order, executable comments included). Integer key: a string converts as the
//    PostgreSQL analyzer does (router/pg_int8.h: spaces and one sign around digits; '5abc',
//    '1e1' and 5.0 constrain nothing). Text key: a string as written, an integer literal as its
//    decimal text. Caution: MySQL compares strings by the column's collation (usually
//    case- and trailing-space-insensitive) and compares a string column with an integer as
//    numbers, so 'ACME' = 'acme' and name = 42 matches '042': with text keys the application
//    must write keys in one canonical form (or use a binary collation for the key column).
//  - INSERT/REPLACE: the key comes from the VALUES (or VALUE, ROW(...)) rows through the column
//    list (multiRowInsert for more than one row; the keys in row order), or from INSERT ... SET
//    key = value. No column list, the key not listed, a row whose key is an expression, and
//    INSERT ... SELECT / TABLE leave the key unknown (keyMissing). ON DUPLICATE KEY UPDATE of
//    the key column, like UPDATE ... SET key = ..., sets updatesKey.
//  - isWrite: INSERT, REPLACE, UPDATE, DELETE, DDL, LOAD, CALL, DO, LOCK, UNLOCK, HANDLER and
//    every other utility statement not known to be read-only (USE, HELP, DEALLOCATE, CHECK,
//    CHECKSUM, DESCRIBE t and EXPLAIN of a read are); SELECT ... FOR UPDATE / FOR SHARE / LOCK
//    IN SHARE MODE / INTO (OUTFILE, DUMPFILE, @var); SET GLOBAL / PERSIST / PASSWORD / DEFAULT
//    ROLE; and any statement that calls a function bound to the server or session it runs on,
//    so that it goes to the primary: GET_LOCK, RELEASE_LOCK, RELEASE_ALL_LOCKS, IS_FREE_LOCK,
//    IS_USED_LOCK (locks live on one server), NEXTVAL, SETVAL, LASTVAL, NEXT VALUE FOR,
//    PREVIOUS VALUE FOR (sequences), LAST_INSERT_ID, FOUND_ROWS, ROW_COUNT, @@identity,
//    @@last_insert_id, SQL_CALC_FOUND_ROWS (state of the session's previous statement), and a
//    SELECT that assigns a user variable (:=). SLEEP, user-variable reads and other functions
//    are not writes; writes hidden in stored functions (SELECT my_func()) are not detected.
//    Like the PostgreSQL side, an unkeyed "writing" SELECT of a sharded table is refused.
//  - Hints. Comment hints in /* */, -- and # comments (not in strings, not in executable
//    comments): shard: 3 / shard=3 and sharding_key: 42 / sharding_key: 'acme', first of each
//    wins; an unusable one sets hintError. Session hints are user variables:
//    SET @shardpool_shard = N (or '3'), SET @shardpool_sharding_key = 'K' (or = 42), `:=` too;
//    = NULL or = DEFAULT resets (resetShard / resetShardingKey). Any other @shardpool_*
//    variable, a value that is not one constant, or a hint assigned in the same SET as other
//    variables (the pooler answers a hint SET itself, and would drop them) sets hintError.
//    There is no SET LOCAL: setIsLocal stays false. The shape flags and selectShape (for
//    merging results) are not filled.
//  - Not parsed (parsed = false, parseError says why): then kind is the first word's guess,
//    isWrite is true, no tables, keys or SET hints are reported, only comment hints.
#pragma once

#include <string_view>

#include "router/statement_facts.h"

namespace shardpool::router {

// Analyzes `sql` (one COM_QUERY's text, or one COM_STMT_PREPARE's statement, where the `?` are
// the parameters of COM_STMT_EXECUTE in order). Never fails: garbage gives parsed = false.
StatementFacts analyzeMysql(std::string_view sql, const TableRules& rules);

// True when the statement may run on a read replica: one parsed SELECT that does not write (no
// locking read, no INTO, none of the server- or session-bound functions listed above).
bool mysqlReadOnlySelect(const StatementFacts& facts);

}  // namespace shardpool::router
