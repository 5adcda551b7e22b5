// What the MySQL engine can merge of one statement's rows from several shards (the fanout of
// client_fanout.cpp), found by a scan of its text without a parser, and how values combine and
// compare. Pure: text in, shapes out; no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shardpool::pooler {

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
