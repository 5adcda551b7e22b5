// The routing pipeline of a sharded database's client (a ClientConn with routing_): where each
// batch of the client's messages goes, from the client socket to a shard's server and back.
// Every transaction runs on one shard, the one its first statement routes to (router/route.h);
// between transactions the client holds no server. One file per kind of statement handling:
// route_begin.cpp (BEGIN, COMMIT, ROLLBACK), route_set.cpp (SET shardpool.*), route_scatter.cpp
// (several shards), route_check.cpp (the cross-shard check inside a transaction).
//
//  0. Bytes arrive (ClientConn::onData, State::Active) and wait in inbuf_: without a server,
//     routeNext() below decides where they go; with one, pumpRouted() forwards them.
//  1. Parse. routeNext() frames the first message waiting; a Terminate closes the client. A
//     simple Query's text is analysed (routeQuery; ShardRouter::analyze caches StatementFacts
//     per database). An extended batch (Parse/Bind/Describe/Execute/Close up to its Sync) is
//     walked by BatchWalk (batch_walk.h), which names the statement each Bind binds (routeBatch).
//  2. Intercept: what shardpool answers itself, with no server:
//     - BEGIN / START TRANSACTION outside a transaction, as a Query or as an extended batch that
//       is only that: answered, and held (Routing::deferredBegin) until the transaction's first
//       statement has picked the shard (route_begin.cpp);
//     - COMMIT / ROLLBACK of such a transaction that has not run anywhere yet: answered;
//     - while a BEGIN is held, a batch of named Parses only: recorded, ParseComplete answered;
//     - SET / RESET shardpool.* alone in a Query, once the router has checked its value
//       (RouteKind::Local): the hints changed, SET answered (route_set.cpp). As a Bind in an
//       extended batch, the hints change and the SET itself goes to the server.
//  3. Route: router::route() with the session's (or transaction's) hints, and a Bind's values:
//     the first statement that routes decides, against the shard map of this moment (a directory
//     map is kept for the transaction: Routing::directory). Each statement is routed once.
//  4. Act (Next::Act):
//     - Link, one shard: that shard's pool (a replica for a lone read under read_from) is asked
//       for a server (askPool). When it is linked (linkServer -> loginComplete ->
//       forwardPending), the held BEGIN goes first (injectDeferredBegin), then the messages
//       (pumpRouted);
//     - Scatter, several shards outside a transaction (route_scatter.cpp): the unit goes to a
//       server of each shard and the replies are merged (ScatterRun); then routeNext() again;
//     - Answered, refused before any server (several statements in one string that need several
//       shards, a result shardpool cannot merge, an extended batch that mixes scatter and
//       one-shard statements): the error and ReadyForQuery answered here;
//     - Wait: the rest of the batch has not arrived.
//     A statement refused inside a transaction (another shard's, one that needs several) is
//     linked to the transaction's shard as a statement that raises the error (route_check.cpp),
//     so that the transaction fails there as PostgreSQL would fail it.
//  5. Linked: pumpRouted() feeds inbuf_ to the Scanner up to the next sync point (Query, Sync,
//     FunctionCall, the end of a COPY) and waits for its ReadyForQuery. Each statement is
//     checked against the transaction's shard as it goes out (handleQuery / handleBind ->
//     checkRouted), except the one routeNext() routed (Routing::routed: the Query, or the
//     deciding Bind). Replies go back to the client as they come (ServerConn::onData).
//  6. At each ReadyForQuery (routedReady): inside the transaction, the next unit goes. At its
//     end, the settings the transaction changed are read back (captureSettings), the server is
//     released, and routeNext() routes what waits.
#include <fmt/format.h>

#include "pooler/pg/batch_walk.h"
#include "pooler/pg/client_routing.h"
#include "pooler/pg/server_conn.h"
#include "pooler/sharding/shard_router.h"

namespace shardpool::pooler {

namespace pg = protocol::pg;

void ClientConn::routeNext() {
  Routing& r = *routing_;
  while (state_ == State::Active && !server_ && !inbuf_.empty()) {
    ShardRouter::Database* d = ShardRouter::of(worker(), config::Protocol::Postgres).find(database_);
    if (!d) {
      fatal("08006",
            fmt::format("database \"{}\" is no longer sharded in the configuration: reconnect",
                        database_),
            "shard map changed");
      return;
    }
    // 1. Parse: the first message waiting.
    pg::Frame first = pg::frameMessage(bytesOf(inbuf_));
    if (first.status == pg::FrameStatus::NeedMore) break;
    if (first.status == pg::FrameStatus::Invalid) {
      fatal("08P01", "invalid message length from client", "protocol violation");
      return;
    }
    if (first.type == 'X') {
      close("client sent Terminate");
      return;
    }
    // 2, 3. Intercept, then route: a simple Query, or an extended batch (a COPY, a function
    // call are routed as one).
    Next next =
        first.type == 'Q' ? routeQuery(*d, bodyText(first.body), first.totalSize) : routeBatch(*d);
    // 4. Act.
    switch (next.act) {
      case Next::Act::Answered:
        continue;
      case Next::Act::Wait:
        flushForward();
        return;
      case Next::Act::Scatter:
        return;
      case Next::Act::Link:
        r.shard = next.shard;
        r.directory = d->directory;
        r.routed = next.routed;
        pool_ = &shardPool(next.shard, next.read ? readMember(next.shard) : 0);
        askPool();
        return;
    }
  }
  flushForward();
}

void ClientConn::replyLocally(size_t consumed, pg::Writer& w, char status) {
  inbuf_.erase(0, consumed);
  pg::releaseIfLarge(inbuf_);
  pg::putReadyForQuery(w, status);
  appendOwned(w.data());
  w.clear();
}

ClientConn::Next ClientConn::routeQuery(ShardRouter::Database& d, std::string_view sql,
                                        size_t size) {
  Routing& r = *routing_;
  const router::StatementFacts& f = ShardRouter::of(worker(), config::Protocol::Postgres).analyze(d, sql);
  if (answerTransactionQuery(f, sql, size)) return {Next::Act::Answered};  // route_begin.cpp
  router::Route route = router::route(f, d.map, r.hints(), nullptr);
  if (route.kind == router::RouteKind::Local) {
    answerHintQuery(f, size);  // route_set.cpp
    return {Next::Act::Answered};
  }
  if (route.kind == router::RouteKind::All && r.deferredBegin.empty())
    return scatterQuery(f, route, size);  // route_scatter.cpp
  Next next{Next::Act::Link, transactionShard(route, d.map)};
  next.read = route.kind == router::RouteKind::One && !route.write && f.statementCount == 1 &&
              r.deferredBegin.empty();
  // This Query's route is decided: it is not analysed and routed again as it goes out.
  next.routed.query = route.kind == router::RouteKind::One;
  return next;
}

ClientConn::Next ClientConn::routeBatch(ShardRouter::Database& d) {
  Routing& r = *routing_;
  if (answerTransactionBatch(d)) return {Next::Act::Answered};  // route_begin.cpp
  // The first Bind that routes decides, looking as far as the batch's Sync. Statements named in
  // this batch or earlier.
  BatchWalk walk(bytesOf(inbuf_), statements_);
  BatchWalk::Message m;
  bool complete = false;
  uint32_t binds = 0;      // so far, the one that decides included
  bool unitEnded = false;  // a sync point before it: it goes out in a later unit
  while (walk.next(m)) {
    if (m.type == 'Q' || m.type == 'c' || m.type == 'f') unitEnded = true;
    if (m.type == 'S' || m.type == 'H' || m.type == 'F' || m.type == 'd') {
      complete = true;
      break;
    }
    if (m.type != 'B') continue;
    ++binds;
    if (!m.bind) break;
    if (!m.statement) continue;
    const router::StatementFacts& facts = ShardRouter::of(worker(), config::Protocol::Postgres).analyze(d, m.statement->query);
    if (facts.kind == router::StatementKind::TransactionControl) continue;
    auto values = pg::decodeBindValues(m.bind->rest);
    router::Route route =
        routeWith(facts, d.map, r.hints(), values ? &*values : nullptr, m.statement->types);
    if (route.kind == router::RouteKind::Local) {
      // The SET itself runs on the server (a harmless placeholder setting).
      router::applyHints(r.session, r.local, facts);
      continue;
    }
    if (route.kind == router::RouteKind::All && r.deferredBegin.empty())
      return scatterBatch(d, route.shards, binds - 1);  // route_scatter.cpp
    Next next{Next::Act::Link, transactionShard(route, d.map)};
    // This Bind's route is decided: it is not routed again as it goes out.
    if (route.kind == router::RouteKind::One && !unitEnded) next.routed.bindsBefore = binds - 1;
    // A read by itself (its Sync comes before any other Bind) may go to a replica.
    if (route.kind == router::RouteKind::One && !route.write && r.deferredBegin.empty())
      while (!next.read && walk.next(m) && m.type != 'B') next.read = m.type == 'S';
    return next;
  }
  // Not enough of the batch yet: wait for more, unless it is already large.
  if (!complete && inbuf_.size() < (1u << 20)) return {Next::Act::Wait};
  return {Next::Act::Link, anyShard(d.map)};
}

void ClientConn::pumpRouted() {
  Routing& r = *routing_;
  if (!server_ || state_ != State::Active || inbuf_.empty()) return;
  if (r.awaitingReady && scanner_.atBoundary()) {
    char t = inbuf_[0];
    if (t != 'd' && t != 'c' && t != 'f') return;  // COPY data flows; statements wait
  }
  std::string pending = std::move(inbuf_);
  inbuf_.clear();
  pg::ScanResult res = scanner_.feed(
      pg::Bytes(reinterpret_cast<const uint8_t*>(pending.data()), pending.size()), *this);
  if (res.status == pg::ScanStatus::Invalid) {
    fatal("08P01", "invalid message length from client", "protocol violation");
    return;
  }
  if (state_ == State::Closing) return;
  pending.erase(0, res.consumed);
  pending.append(inbuf_);
  inbuf_ = std::move(pending);
  pg::releaseIfLarge(inbuf_);  // a burst's buffer is not kept while the client idles
  if (server_) server_->flushForward();
  flushForward();
  if (inbuf_.size() > (1u << 20))
    stopReading();
  else if (!reading())
    startReading();
}

void ClientConn::routedReady() {
  Routing& r = *routing_;
  r.awaitingReady = false;
  ServerConn* s = server_;
  if (s && s->clean() && scanner_.atBoundary()) {
    // Settings changed on this shard's server are read back first, so that the client meets
    // them on every shard; its next statement waits until the capture's ReadyForQuery comes
    // back here, and is routed afresh after the release.
    if (!touched_.empty() && !s->cancelInFlight() && captureSettings(*s)) {
      r.awaitingReady = true;
      return;
    }
    releaseServer();
    r.shard.reset();
    r.directory.reset();
    r.routed = {};
    r.local = {};
    routeNext();
    return;
  }
  pumpRouted();
}

}  // namespace shardpool::pooler
