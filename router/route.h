// The routing decision for one statement of a sharded database: which shard (or shards) it goes
// to, or why it is refused. Pure: the statement's facts (statement_facts.h, from either
// dialect's analyzer), the database's shard map, the session's hints and the parameter values
// in; a Route out. No I/O, no locks, no clock.
//
// Precedence (issue 6): a session hint (SET shardpool.shard / shardpool.sharding_key), then a
// comment hint (/* shard: N */, /* sharding_key: K */), then the keys found in the statement.
// At one level a shard hint wins over a sharding_key hint (a SET of one should clear the other).
// Transactions are the pooler's business: it pins a transaction to the shard of its first routed
// statement and refuses statements whose Route names another one.
//
// Decisions (each one has a test in tests/router/route_test.cpp):
//  - SET/RESET of shardpool.* alone in its string is Local: the pooler answers it and applies
//    facts.setShard / setShardingKey / resetShard / resetShardingKey to its SessionHints. The
//    value is checked first: an unusable one (unknown setting, a shard out of range, a key that
//    does not convert or map) is Refused. RESET ALL is not Local: it also resets the server's
//    settings, so it is routed like any statement without a table (and the pooler clears the
//    hints too). In a string of several statements a shardpool SET/RESET is not answered
//    locally: the string goes to a server (PostgreSQL accepts `shardpool.*` as placeholder
//    settings) and is routed with the hints as the string leaves them.
//  - A hint that cannot be used (facts.hintError, a shard out of range) refuses the statement
//    (22023), rather than silently routing it somewhere else.
//  - A statement that touches no table at all (SELECT 1, BEGIN, SET, SHOW) goes to
//    default_shard, else to any shard (anyShard). A statement on tables without a rule goes to
//    default_shard; without one, a database with several shards refuses it (docs/config.md,
//    default_shard: "Without it, such statements are refused"): shardpool cannot know where
//    such a table lives. DDL on tables without a rule (CREATE TABLE, CREATE EXTENSION, ...)
//    goes to every shard, so that the schema stays the same everywhere.
//  - A multi-row INSERT whose rows belong to different shards is refused (0A000), not split.
//  - An UPDATE/DELETE (or a SELECT that writes: FOR UPDATE, a data-modifying WITH) without a
//    usable key is refused unless allow_unkeyed_writes; then it goes to every shard. MERGE,
//    COPY FROM and other writing utility statements on a sharded table without a key are
//    always refused (broadcasting them would insert rows on every shard).
//  - A key written as $n whose Bind value is NULL or missing (bind == nullptr) counts as no key:
//    a read goes to every shard, an INSERT is refused. Route extended-protocol statements at
//    Bind, with the values.
//  - All always names two shards or more: a set of one shard is returned as One.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "router/statement_facts.h"

namespace shardpool::router {

class DirectoryMap;  // router/directory.h: implements KeyLookup

// How a directory-sharded database finds a key's shard. router/directory.h's DirectoryMap
// implements it; tests use a fake. shardOf() returns the directory's own default_shard for a
// key not in the map, else nullopt (route() then uses the database's default_shard, else
// refuses). Called once per key value; must be safe to call from every worker at once.
struct KeyLookup {
  virtual ~KeyLookup() = default;
  virtual std::optional<uint32_t> shardOf(const KeyValue& key) const = 0;
};

// One database's shard map in the form the router reads. Built once per configuration (and
// directory) version and shared read-only by every worker.
struct ShardMap {
  std::string database;  // the database's name, for messages ("databases.app.tables")
  uint32_t shardCount = 1;
  std::vector<std::string> shardNames;  // for messages: "shard 1 (\"eu\")"
  config::ShardingFunction function = config::ShardingFunction::None;
  // How a shardpool.sharding_key hint is read: the key type of the database's sharded tables
  // (Integer when they have none, or when they disagree).
  KeyKind hintKeyType = KeyKind::Integer;
  std::optional<uint32_t> defaultShard;
  bool allowUnkeyedWrites = false;
  TableRules tables;  // the router's form of config::TableRules (lower-case names)
  // ShardingFunction::Directory: the map (not owned; outlives the ShardMap that points to it).
  // Null: directory keys are refused (55000) until the caller sets it.
  const KeyLookup* directory = nullptr;
  // The database's protocol: refusals name the hints and parameters as its clients write them
  // (PostgreSQL: SET shardpool.shard, $1; MySQL: SET @shardpool_shard, ?).
  config::Protocol protocol = config::Protocol::Postgres;
};

// The ShardMap of a database (its directory pointer left null: the caller sets it). An unsharded
// database gives a one-shard map named after the database.
ShardMap buildShardMap(const config::Database& db);

// Hints set for the session (or the transaction, SET LOCAL) with SET shardpool.*.
struct SessionHints {
  std::optional<uint32_t> shard;
  std::optional<std::string> shardingKey;
};

// One statement parameter ($n) as the protocol decoded it, for keys written as $n. Views into
// the protocol's message: valid for the call only. Each protocol fills these from its own wire
// forms (PostgreSQL: router/pg_params.h).
struct ParamValue {
  enum class Form : uint8_t {
    Null,        // SQL NULL: matches no row, names no shard
    Text,        // the value's text: `bytes` (text format, or a binary string type)
    Integer,     // a binary integer of a declared integer type: `integer`
    Untyped,     // a binary value of no declared type: `bytes` as a string; `integer` too when
                 // `integerOk` (the bytes are a valid binary integer)
    BadInteger,  // a binary value of a declared integer type, malformed: `bytes`
    Opaque,      // a binary value of another type: says nothing about a key
  };
  Form form = Form::Null;
  // The statement declared an integer type, or none: a Text that is not a number is then
  // refused, instead of being left for the server to interpret.
  bool declaredInteger = true;
  bool integerOk = false;
  std::string_view bytes;
  int64_t integer = 0;
};

struct StatementParams {
  std::vector<ParamValue> values;  // $1, $2, ...
};

// Why a statement is refused, in dialect-neutral terms; each protocol names it with its own error
// codes (PostgreSQL's SQLSTATEs: router/pg_refusal.h).
enum class RefusalReason : uint8_t {
  InvalidKey,       // a hint or key value names no shard (out of range, not in the directory, ...)
  NotAnInteger,     // the key of an integer column is not a number
  OutOfRange,       // ... or does not fit in 64 bits
  MalformedBinary,  // a binary key value has the wrong size for its type
  NotSupported,     // the statement needs what shardpool does not do (several shards at once, ...)
  NotReady,         // the routing state cannot answer yet (directory not loaded, or inconsistent)
};

enum class RouteKind : uint8_t {
  One,     // to `shard`
  All,     // to every shard in `shards`: reads are merged (scatter/gather), writes broadcast
  Local,   // answered by shardpool itself (SET/RESET shardpool.*): see `facts` for the values
  Refuse,  // an error for the client: reason, message, hint
};

enum class RouteSource : uint8_t {
  SessionHint,  // SET shardpool.shard / sharding_key
  CommentHint,  // /* shard: N */ or /* sharding_key: K */
  Key,          // the key values found in the statement (literals or Bind values)
  Pinned,       // tables pinned to one shard
  Replicated,   // only replicated tables: any shard for a read, all shards for a write
  Broadcast,    // DDL or an allowed unkeyed write on a sharded table
  Scatter,      // a read of a sharded table without a usable key
  Default,      // no table with a rule: default_shard
  Any,          // no table with a rule and no default_shard: any shard
};

struct Route {
  RouteKind kind = RouteKind::One;
  RouteSource source = RouteSource::Any;
  // One: the shard. Local: the shard a SET shardpool.* names (directly or through its key);
  // 0 for a RESET.
  uint32_t shard = 0;
  // One: true when any shard would serve (source Any or Replicated): the pooler may pick
  // another (the transaction's shard, a balanced choice) instead of `shard`.
  bool anyShard = false;
  std::vector<uint32_t> shards;         // All: sorted, distinct, at least two
  bool write = false;                   // needs a primary (facts.isWrite, or DDL)
  RefusalReason reason = RefusalReason::NotSupported;  // Refuse
  std::string message, hint;                           // Refuse
};

// A Local route's SET / RESET of the hints, applied to the session's hints (or the transaction's,
// for SET LOCAL): a shard hint clears a sharding_key hint and the other way round.
void applyHints(SessionHints& session, SessionHints& local, const StatementFacts& f);

// The decision for one statement. `params` is null for a simple Query (or a Parse not yet
// bound): then a key written as $n is unknown. A One route allocates nothing.
Route route(const StatementFacts& facts, const ShardMap& map, const SessionHints& session,
            const StatementParams* params);

std::string_view routeSourceName(RouteSource source);  // "session hint", "comment hint", ...
std::string_view routeKindName(RouteKind kind);        // "one", "all", "local", "refuse"

}  // namespace shardpool::router
