// ClientConn's routing state for sharded databases (client_routing.cpp). Private to the client
// session's files.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pooler/pg/client_conn.h"
#include "pooler/pg/scatter.h"
#include "router/pg_params.h"
#include "router/route.h"

namespace shardpool::pooler {

struct ClientConn::Routing {
  std::vector<std::vector<Pool*>> pools;  // [shard][member], created on first use
  // What this client proved at login, for pools without a password of their own (a SCRAM
  // secret, or one from auth_query): each shard's pool learns it when it is first used.
  std::optional<auth::LoginCredential> credential;
  config::ReadFrom readFrom = config::ReadFrom::Primary;
  uint32_t nextRead = 0;  // rotates the first candidate among equally loaded members
  // Members that may serve reads ([shard][member]), from the health checks' read targets as of
  // readVersion (down, banned and fenced standbys are left out).
  std::vector<std::vector<bool>> readable;
  uint64_t readVersion = UINT64_MAX;
  router::SessionHints session;  // SET shardpool.*
  router::SessionHints local;    // SET LOCAL shardpool.*, or a hint on BEGIN: this transaction
  std::optional<uint32_t> shard;  // the shard of the linked server (its transaction's)
  // Directory sharding: the map the transaction's first statement was routed by. The rest of
  // the transaction is checked against it, not against a map published meanwhile (a statement
  // that waited for a server across a key move still runs where it was routed).
  std::shared_ptr<const router::DirectoryMap> directory;
  // The statement routeNext routed to one shard as it picked the transaction's shard: its check
  // as it goes out (checkRouted) would give the same answer, so it is not routed again. A
  // simple Query (the next one, whatever it meets), or the Bind that comes after `bindsBefore`
  // other Binds of the first unit.
  struct Routed {
    bool query = false;
    std::optional<uint32_t> bindsBefore;
  };
  Routed routed;
  // A BEGIN shardpool answered itself: sent, its replies dropped, ahead of the transaction's
  // first statement, once that statement has picked the shard.
  std::string deferredBegin;
  // A sync point (Query, Sync, FunctionCall, the end of a COPY) went to the server: what the
  // client sent after it waits for its ReadyForQuery, as it may belong to another shard.
  bool awaitingReady = false;
  // The unnamed statement last parsed on the linked server, for the Binds that follow.
  std::string unnamedQuery;
  std::vector<uint32_t> unnamedTypes;
  std::unique_ptr<ScatterRun> scatter;  // State::Scatter
  std::unique_ptr<ScatterRun> ended;    // the last one, destroyed when the next starts

  const router::SessionHints& hints() const {
    return local.shard || local.shardingKey ? local : session;
  }
  // A BEGIN answered by shardpool; a comment hint on it (/* shard: 1 */ BEGIN) holds for the
  // transaction.
  void deferBegin(std::string_view sql, const router::StatementFacts& f) {
    deferredBegin = std::string(sql);
    if (f.commentShard) local.shard = f.commentShard;
    if (f.commentShardingKey) local.shardingKey = f.commentShardingKey;
  }
  bool takeRoutedQuery() { return std::exchange(routed.query, false); }
  bool takeRoutedBind() {
    if (!routed.bindsBefore) return false;
    if (*routed.bindsBefore == 0) {
      routed.bindsBefore.reset();
      return true;
    }
    --*routed.bindsBefore;
    return false;
  }
  void endTransaction() {
    deferredBegin.clear();
    local = {};
  }
};

// routeNext's decision for the statement waiting first.
struct ClientConn::Next {
  enum class Act : uint8_t {
    Answered,  // shardpool answered it (or refused it) itself: on to the next
    Wait,      // the rest of its batch has not arrived
    Scatter,   // a scatter/gather run has it
    Link,      // to `shard`: its pool is asked for a server
  };
  Act act = Act::Answered;
  uint32_t shard = 0;
  bool read = false;  // a read by itself outside a transaction: read_from may pick a replica
  Routing::Routed routed;  // what was routed already, not to be routed again as it goes out
};

// Transaction control (route_begin.cpp).
// The first keyword of `sql`, upper case ("BEGIN", "START", "COMMIT", ...), after any comments
// (/* shard: 1 */ BEGIN).
std::string firstWord(std::string_view sql);
// BEGIN / START TRANSACTION alone in its string.
bool startsTransaction(const router::StatementFacts& f, std::string_view sql);
// The command tag of its answer: "BEGIN" or "START TRANSACTION".
std::string_view beginTag(std::string_view sql);
// COMMIT / END / ROLLBACK / ABORT (not ROLLBACK TO SAVEPOINT, not PREPARE TRANSACTION): the
// command tag of its answer.
std::optional<std::string_view> endsTransaction(const router::StatementFacts& f,
                                                std::string_view sql);
// Where a statement that any shard would serve goes when it picks the shard of a transaction.
inline uint32_t anyShard(const router::ShardMap& map) { return map.defaultShard.value_or(0); }
// The shard a transaction whose first statement has `route` runs on: a refused statement, or
// one for several shards inside a transaction, runs on some shard as an error the server raises
// (checkRouted), so that the transaction it belongs to fails there as PostgreSQL would fail it.
inline uint32_t transactionShard(const router::Route& route, const router::ShardMap& map) {
  return route.kind == router::RouteKind::One && !route.anyShard ? route.shard : anyShard(map);
}
// The bytes of a buffer, for the codecs.
inline protocol::pg::Bytes bytesOf(std::string_view s) {
  return protocol::pg::Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
// A simple Query's text (its body without the terminating NUL).
inline std::string_view bodyText(protocol::pg::Bytes body) {
  std::string_view s(reinterpret_cast<const char*>(body.data()), body.size());
  if (!s.empty() && s.back() == '\0') s.remove_suffix(1);
  return s;
}

// router::route() with the values of a Bind (null: none, as for a simple Query).
inline router::Route routeWith(const router::StatementFacts& f, const router::ShardMap& map,
                        const router::SessionHints& hints, const protocol::pg::BindValues* bind,
                        const std::vector<uint32_t>* types) {
  if (!bind) return router::route(f, map, hints, nullptr);
  router::BindParams params;
  params.values = bind->values;
  params.formats = bind->formats;
  if (types) params.types = *types;
  return router::routeBound(f, map, hints, &params);
}

}  // namespace shardpool::pooler
