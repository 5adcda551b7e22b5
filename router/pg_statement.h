// What a PostgreSQL statement means for routing: its kind, the tables it touches, the sharding-key
// values it constrains, and the shardpool hints it carries. Pure: text and table rules in, facts
// out; no I/O. Parsing is libpg_query's (the PostgreSQL 15 grammar), read through its JSON output
// (pg_query_parse): the protobuf path measured 10-25 times slower here (pg_json.h).
//
// Decisions (see docs in each field too):
//  - Names. Tables and columns are compared as PostgreSQL resolves them: unquoted identifiers are
//    folded to lower case by the parser, quoted ones keep their case ("Orders" is not orders). The
//    TableRules keys are therefore lower-case names. A schema-qualified name (s.orders) matches
//    on its last part only; `tables` lists that last part.
//  - Key constraints are read per table reference (FROM item, UPDATE/DELETE target, INSERT
//    target). WHERE and INNER JOIN ... ON conditions count; AND keeps the smaller of two
//    constraints on one table; OR keeps a table's constraint only when every branch constrains
//    it (the alternatives are concatenated); NOT and anything else constrain nothing.
//    `a.key = b.key` between two sharded references passes a constraint from one to the other
//    (both ways for WHERE / INNER JOIN / JOIN ... USING (key); from the preserved side to the
//    nullable side for LEFT/RIGHT JOIN; not at all for FULL JOIN or NATURAL JOIN).
//  - Values: integer literals, string literals ('5' for an integer key converts as PostgreSQL's
//    int8 input does: spaces and a sign allowed), casts of either ('7'::bigint, $1::bigint),
//    bind parameters ($n), IN (...) lists and = ANY(ARRAY[...]) / = ANY('{...}'). A value that
//    does not convert (1.5 or 'abc' for an integer key, NULL, an expression, = ANY($1))
//    constrains nothing. An integer literal for a text key is its decimal text.
//  - A column is resolved through its qualifier (alias, else table name; `s.t.col` uses `t`);
//    an unqualified column names the key of the first sharded reference of its own query level
//    whose key column has that name.
//  - Subqueries (WHERE/SELECT-list sublinks, FROM subqueries, CTEs) are query levels of their
//    own: their tables get their own key sets. A subquery may take a key from an enclosing level
//    (EXISTS (SELECT ... FROM items i WHERE i.cid = o.cid) with o.cid = 5 outside gives items
//    {5}). Conditions written outside a FROM subquery are not pushed into it, and `key IN
//    (SELECT ...)` constrains nothing.
//  - INSERT: the key comes from the VALUES rows through the column list. No column list, the
//    key column not listed, a row whose key is an expression (DEFAULT, now(), ...), DEFAULT
//    VALUES, and INSERT ... SELECT all leave the key unknown (keyMissing).
//  - Relations named by utility and DDL statements (LOCK, VACUUM, COPY, CREATE INDEX, ...)
//    count as touched without a key (keyMissing when sharded), so they go to every shard.
//    TRUNCATE is Ddl (it is not MVCC-safe and takes an ACCESS EXCLUSIVE lock, like DDL): a
//    write to every shard that holds the table. MERGE is Utility, a write, keyMissing when its
//    target is sharded.
//  - Several statements in one string: kind and SELECT-shape flags are the first statement's;
//    tables, keys, isWrite and hints cover all of them (a later SET hint overrides an earlier
//    one, as it would when the string runs).
//  - Not detected: writes hidden in functions (SELECT my_func()), sequences (nextval): route
//    those with a hint or inside an explicit transaction.
#pragma once

#include <string_view>

#include "router/statement_facts.h"

namespace shardpool::router {

// Analyzes `sql` (one Query message's text, or one Parse message's statement). Thread-safe:
// libpg_query keeps its state per thread.
StatementFacts analyze(std::string_view sql, const TableRules& rules);

}  // namespace shardpool::router
