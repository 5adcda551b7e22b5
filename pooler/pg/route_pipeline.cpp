// The routing pipeline of a sharded database's client (a ClientConn with routing_): where each
// batch of the client's messages goes, from the client socket to a shard's server and back.
// Every transaction runs on one shard, the one its first statement routes to (router/route.h);
// between transactions the client holds no server.
//
//  0. Bytes arrive (ClientConn::onData, State::Active) and wait in inbuf_: without a server,
//     routeNext() below decides where they go; with one, pumpRouted() forwards them.
//  1. Parse. routeNext() frames the first message waiting. A Terminate closes the client. A
//     simple Query's text is analysed (ShardRouter::analyze: StatementFacts, cached per
//     database). An extended batch (Parse/Bind/Describe/Execute/Close up to its Sync) is walked
//     for its Binds and the statements they bind.
//  2. Intercept: what shardpool answers itself, with no server:
//     - BEGIN / START TRANSACTION outside a transaction, as a Query or as an extended batch that
//       is only that: answered, and held (Routing::deferredBegin) until the transaction's first
//       statement has picked the shard;
//     - COMMIT / ROLLBACK of such a transaction that has not run anywhere yet: answered;
//     - while a BEGIN is held, a batch of named Parses only: recorded, ParseComplete answered;
//     - SET / RESET shardpool.* (a Query alone in its string): the hints changed, SET answered.
//       As a Bind in an extended batch, the hints change and the SET itself goes to the server.
//  3. Route: router::route() with the session's (or transaction's) hints, and a Bind's values:
//     the first statement that routes decides, against the shard map of this moment (a directory
//     map is kept for the transaction: Routing::directory).
//  4. Act:
//     - one shard: that shard's pool (a replica for a lone read under read_from) is asked for a
//       server (askPool). When it is linked (linkServer -> loginComplete -> forwardPending), the
//       held BEGIN goes first (injectDeferredBegin), then the messages (pumpRouted);
//     - several shards outside a transaction: scatter/gather (client_scatter.cpp): the unit goes
//       to a server of each shard and the replies are merged (ScatterRun); then routeNext()
//       again;
//     - refused before any server (several statements in one string that need several shards, a
//       result shardpool cannot merge, an extended batch that mixes scatter and one-shard
//       statements): the error and ReadyForQuery answered here;
//     - refused inside a transaction (another shard's statement, a scatter): sent to the shard
//       as a statement that raises the error (checkRouted), so that the transaction fails there
//       as PostgreSQL would fail it.
//  5. Linked: pumpRouted() feeds inbuf_ to the Scanner up to the next sync point (Query, Sync,
//     FunctionCall, the end of a COPY) and waits for its ReadyForQuery. Each statement is
//     checked against the transaction's shard as it goes out (handleQuery / handleBind ->
//     checkRouted), except the statement routeNext() routed already (Routing::routed).
//     Replies go back to the client as they come (ServerConn::onData).
//  6. At each ReadyForQuery (routedReady): inside the transaction, the next unit goes. At its
//     end, the settings the transaction changed are read back (captureSettings), the server is
//     released, and routeNext() routes what waits.
#include <fmt/format.h>

#include "pooler/merge/merge_planner.h"
#include "pooler/pg/batch_walk.h"
#include "pooler/pg/client_routing.h"
#include "pooler/pg/server_conn.h"
#include "pooler/pg/shard_router.h"

namespace shardpool::pooler {

namespace pg = protocol::pg;

void ClientConn::replyLocally(pg::Writer& w, char status) {
  pg::putReadyForQuery(w, status);
  appendOwned(w.data());
  w.clear();
}

void ClientConn::routeNext() {
  Routing& r = *routing_;
  pg::Writer w;
  while (state_ == State::Active && !server_ && !inbuf_.empty()) {
    ShardRouter::Database* d = ShardRouter::of(worker()).find(database_);
    if (!d) {
      fatal("08006",
            fmt::format("database \"{}\" is no longer sharded in the configuration: reconnect",
                        database_),
            "shard map changed");
      return;
    }
    pg::Bytes buf(reinterpret_cast<const uint8_t*>(inbuf_.data()), inbuf_.size());
    pg::Frame first = pg::frameMessage(buf);
    if (first.status == pg::FrameStatus::NeedMore) break;
    if (first.status == pg::FrameStatus::Invalid) {
      fatal("08P01", "invalid message length from client", "protocol violation");
      return;
    }
    char status = r.deferredBegin.empty() ? 'I' : 'T';
    std::optional<uint32_t> target;
    bool read = false;  // a lone read outside a transaction: read_from may send it to a replica
    if (first.type == 'X') {
      close("client sent Terminate");
      return;
    }
    if (first.type == 'Q') {
      std::string_view sql = bodyText(first.body);
      const router::StatementFacts& f = ShardRouter::of(worker()).analyze(*d, sql);
      if (r.deferredBegin.empty() && startsTransaction(f, sql)) {
        // Answered here: the shard is not known before the transaction's first statement.
        r.deferBegin(sql, f);
        inbuf_.erase(0, first.totalSize);
        pg::putCommandComplete(w, firstWord(sql) == "START" ? "START TRANSACTION" : "BEGIN");
        replyLocally(w, 'T');
        continue;
      }
      if (!r.deferredBegin.empty()) {
        if (auto verb = endsTransaction(f, sql)) {
          r.endTransaction();  // an empty transaction: nothing ran anywhere
          inbuf_.erase(0, first.totalSize);
          pg::putCommandComplete(w, *verb);
          replyLocally(w, 'I');
          continue;
        }
      }
      router::Route route = router::route(f, d->map, r.hints(), nullptr);
      if (route.kind == router::RouteKind::Local) {
        if (!f.setIsLocal || !r.deferredBegin.empty()) applyHints(r.session, r.local, f);
        inbuf_.erase(0, first.totalSize);
        pg::putCommandComplete(w, f.resetHint ? "RESET" : "SET");
        replyLocally(w, status);
        continue;
      }
      if (route.kind == router::RouteKind::All && r.deferredBegin.empty()) {
        // Outside a transaction: on every shard it needs, the replies merged.
        pg::MergePlan plan = planMerge(f);
        if (f.statementCount > 1) {
          plan.kind = pg::MergeKind::Refuse;
          plan.sqlstate = "0A000";
          plan.message =
              "a query string with several statements must stay on one shard, and this one "
              "needs several";
          plan.hint = "send the statements one by one, or add a sharding key";
        }
        if (plan.kind == pg::MergeKind::Refuse) {
          inbuf_.erase(0, first.totalSize);
          pg::putMergeRefusal(w, plan);
          replyLocally(w, status);
          continue;
        }
        std::vector<pg::SegmentPlans> plans{{plan}};
        flushForward();
        startScatter(route.shards, first.totalSize, std::move(plans));
        return;
      }
      // A refused statement runs on some shard as an error the server raises (checkRouted), so
      // that a transaction it belongs to fails there as PostgreSQL would fail it.
      target = route.kind == router::RouteKind::One && !route.anyShard ? route.shard
                                                                         : anyShard(d->map);
      read = route.kind == router::RouteKind::One && !route.write && f.statementCount == 1 &&
             r.deferredBegin.empty();
      // This Query's route is decided: it is not analysed and routed again as it goes out.
      r.routed = {route.kind == router::RouteKind::One, std::nullopt};
    } else if (answerTransactionBatch(*d)) {
      continue;
    } else {
      // Extended protocol (or a COPY, a function call): the first Bind that routes decides,
      // looking as far as the batch's Sync. Statements named in this batch or earlier.
      BatchWalk walk(buf, statements_);
      BatchWalk::Message m;
      std::vector<uint32_t> scatterShards;
      bool complete = false;
      r.routed = {};
      uint32_t binds = 0;      // so far, the one that decides included
      bool unitEnded = false;  // a sync point before it: it goes out in a later unit
      while (!target && walk.next(m)) {
        if (m.type == 'Q' || m.type == 'c' || m.type == 'f') unitEnded = true;
        if (m.type == 'B') {
          ++binds;
          if (!m.bind) break;
          if (!m.statement) continue;
          const router::StatementFacts& facts =
              ShardRouter::of(worker()).analyze(*d, m.statement->query);
          if (facts.kind == router::StatementKind::TransactionControl) continue;
          auto values = pg::decodeBindValues(m.bind->rest);
          router::Route route = routeWith(facts, d->map, r.hints(), values ? &*values : nullptr,
                                          m.statement->types);
          if (route.kind == router::RouteKind::Local) {
            applyHints(r.session, r.local, facts);  // the SET itself runs on the server (a harmless placeholder)
            continue;
          }
          if (route.kind == router::RouteKind::All && r.deferredBegin.empty()) {
            scatterShards = route.shards;
            break;
          }
          target = route.kind == router::RouteKind::One && !route.anyShard ? route.shard
                                                                             : anyShard(d->map);
          // This Bind's route is decided: it is not routed again as it goes out.
          if (route.kind == router::RouteKind::One && !unitEnded)
            r.routed = {false, binds - 1};
          read = route.kind == router::RouteKind::One && !route.write && r.deferredBegin.empty();
          // ... when it is the batch's only statement: its Sync comes before any other Bind.
          if (read) {
            read = false;
            while (!read && walk.next(m) && m.type != 'B') read = m.type == 'S';
          }
        } else if (m.type == 'S' || m.type == 'H' || m.type == 'F' || m.type == 'd') {
          complete = true;
          break;
        }
      }
      if (!scatterShards.empty()) {
        if (!scatterUnit(*d, scatterShards, binds - 1)) break;  // the rest of the batch has not arrived
        return;
      }
      if (!target) {
        // Not enough of the batch yet: wait for more, unless it is already large.
        if (!complete && inbuf_.size() < (1u << 20)) break;
        target = anyShard(d->map);
      }
    }
    r.shard = *target;
    r.directory = d->directory;
    pool_ = &shardPool(*target, read ? readMember(*target) : 0);
    askPool();
    return;
  }
  flushForward();
}

void ClientConn::injectDeferredBegin() {
  Routing& r = *routing_;
  if (r.deferredBegin.empty() || !server_) return;
  // Parse/Bind/Execute of the client's BEGIN, all replies dropped: it opens the transaction
  // block, and the client's own statement follows in the same round trip.
  pg::Writer w;
  pg::putParse(w, "", r.deferredBegin, {});
  pg::putBindEmpty(w, "", "");
  pg::putExecute(w, "");
  server_->appendOwned(w.data());
  server_->pushRequest({'P', pg::Fate::Swallow});
  server_->pushRequest({'B', pg::Fate::Swallow});
  server_->pushRequest({'E', pg::Fate::Swallow});
  r.deferredBegin.clear();
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
