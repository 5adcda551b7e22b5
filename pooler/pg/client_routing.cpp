// Sharded databases: every transaction runs on one shard, the one its first statement routes to
// (router/route.h). Between transactions the client has no server; the messages it sends wait in
// inbuf_ until routeNext() has decided where they go. While linked, statements are forwarded
// one sync point at a time, each checked against the transaction's shard: one that belongs
// elsewhere gets an error from the server itself (a DO block that raises it), so the
// transaction fails exactly as PostgreSQL would fail it.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "pooler/pg/client_routing.h"
#include "pooler/session/health_view.h"
#include "pooler/net/log.h"
#include "pooler/merge/merge_planner.h"
#include "pooler/session/runtime.h"
#include "pooler/pg/server_conn.h"
#include "pooler/pg/session_guard.h"
#include "pooler/pg/shard_router.h"
#include "router/pg_refusal.h"

namespace shardpool::pooler {

namespace pg = protocol::pg;

namespace {

// The first keyword of `sql`, upper case ("BEGIN", "START", "COMMIT", ...), after any
// comments (/* shard: 1 */ BEGIN).
std::string firstWord(std::string_view sql) {
  size_t i = 0;
  for (;;) {
    while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
    if (sql.substr(i, 2) == "--") {
      i = sql.find('\n', i);
      if (i == std::string_view::npos) return {};
    } else if (sql.substr(i, 2) == "/*") {
      size_t end = sql.find("*/", i + 2);
      if (end == std::string_view::npos) return {};
      i = end + 2;
    } else {
      break;
    }
  }
  std::string w;
  while (i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i])))
    w.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i++]))));
  return w;
}

bool startsTransaction(const router::StatementFacts& f, std::string_view sql) {
  if (f.kind != router::StatementKind::TransactionControl || f.statementCount != 1) return false;
  std::string w = firstWord(sql);
  return w == "BEGIN" || w == "START";
}

// COMMIT / END / ROLLBACK / ABORT (not ROLLBACK TO SAVEPOINT, not PREPARE TRANSACTION).
std::optional<std::string_view> endsTransaction(const router::StatementFacts& f,
                                                std::string_view sql) {
  if (f.kind != router::StatementKind::TransactionControl || f.statementCount != 1)
    return std::nullopt;
  std::string w = firstWord(sql);
  if (w == "COMMIT" || w == "END") return "COMMIT";
  if ((w == "ROLLBACK" || w == "ABORT") && sql.find_first_of("Tt", w.size()) == std::string::npos)
    return "ROLLBACK";
  return std::nullopt;
}

std::string_view bodyText(pg::Bytes body) {
  std::string_view s(reinterpret_cast<const char*>(body.data()), body.size());
  if (!s.empty() && s.back() == '\0') s.remove_suffix(1);
  return s;
}

// SET / RESET of shardpool.* applied to the session's (or the transaction's) hints.
void applyHints(router::SessionHints& session, router::SessionHints& local,
                const router::StatementFacts& f) {
  router::SessionHints& h = f.setIsLocal ? local : session;
  if (f.setShard) {
    h.shard = f.setShard;
    h.shardingKey.reset();
  }
  if (f.setShardingKey) {
    h.shardingKey = f.setShardingKey;
    h.shard.reset();
  }
  if (f.resetShard) h.shard.reset();
  if (f.resetShardingKey) h.shardingKey.reset();
}

uint32_t anyShard(const router::ShardMap& map) { return map.defaultShard.value_or(0); }


}  // namespace

bool ClientConn::startRouting(const config::Database& db) {
  auto cfg = worker().runtime().config();
  if (!routedDatabase(*cfg, db)) return false;
  routing_ = std::make_unique<Routing>();
  for (const config::Shard& s : cfg->shardsOf(db))
    routing_->pools.emplace_back(s.replicas.size() + 1, nullptr);
  routing_->readFrom = db.readFrom;
  routing_->nextRead = static_cast<uint32_t>(id());
  return true;
}

Pool& ClientConn::shardPool(uint32_t shard, uint32_t member) {
  Routing& r = *routing_;
  if (shard >= r.pools.size()) shard = 0;
  if (member >= r.pools[shard].size()) member = 0;
  Pool*& slot = r.pools[shard][member];
  if (!slot) {
    auto cfg = worker().runtime().config();
    const config::Database* db = cfg->findDatabase(database_);
    slot = &worker().runtime().pools().get(*cfg, *db, database_, user_, shard, member);
    if (r.credential && !db->user && !slot->settings().password)
      slot->learnCredential(*r.credential);
  }
  return *slot;
}

uint32_t ClientConn::readMember(uint32_t shard) {
  Routing& r = *routing_;
  if (r.readFrom == config::ReadFrom::Primary || shard >= r.pools.size()) return 0;
  uint32_t members = static_cast<uint32_t>(r.pools[shard].size());
  if (members < 2) return 0;
  HealthView* fm = worker().runtime().health();
  if (fm && fm->readTargetsVersion() != r.readVersion) {
    r.readVersion = fm->readTargetsVersion();
    auto cfg = worker().runtime().config();
    const config::Database* db = cfg->findDatabase(database_);
    std::vector<config::Shard> shards = db ? cfg->shardsOf(*db) : std::vector<config::Shard>{};
    r.readable.assign(r.pools.size(), {});
    for (size_t i = 0; i < r.pools.size() && i < shards.size(); ++i) {
      std::vector<ReadTarget> targets = fm->readTargets(database_, i);
      r.readable[i].assign(r.pools[i].size(), targets.empty());
      for (size_t m = 0; m < r.pools[i].size() && m <= shards[i].replicas.size(); ++m) {
        const config::Backend& b = m == 0 ? shards[i].primary : shards[i].replicas[m - 1];
        for (const auto& t : targets)
          if (t.host == b.host && t.port == b.port) r.readable[i][m] = true;
      }
    }
  }
  auto readable = [&](uint32_t m) {
    return shard >= r.readable.size() || m >= r.readable[shard].size() || r.readable[shard][m];
  };
  // Candidates: the replicas, and the primary too with read_from = any. Least outstanding
  // (servers in use plus clients waiting) wins; ties go round the candidates.
  uint32_t first = r.readFrom == config::ReadFrom::Any ? 0 : 1;
  uint32_t count = members - first;
  uint32_t best = 0;
  uint64_t bestLoad = UINT64_MAX;
  ++r.nextRead;
  for (uint32_t k = 0; k < count; ++k) {
    uint32_t m = first + (r.nextRead + k) % count;
    if (m != 0 && !readable(m)) continue;
    Pool::Counts c = shardPool(shard, m).counts();
    uint64_t load = uint64_t(c.total - c.idle) + c.waiting;
    if (load < bestLoad) {
      bestLoad = load;
      best = m;
    }
  }
  return best;
}

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
      r.routedQuery = route.kind == router::RouteKind::One;
    } else if (answerTransactionBatch(*d)) {
      continue;
    } else {
      // Extended protocol (or a COPY, a function call): the first Bind that routes decides,
      // looking as far as the batch's Sync. Statements named in this batch or earlier.
      std::vector<std::pair<std::string, std::pair<std::string, std::vector<uint32_t>>>> parsed;
      std::vector<uint32_t> scatterShards;
      size_t off = 0;
      bool complete = false;
      while (!target && off < buf.size()) {
        pg::Frame f = pg::frameMessage(buf.subspan(off));
        if (f.status != pg::FrameStatus::Ok) break;
        off += f.totalSize;
        if (f.type == 'P') {
          if (auto p = pg::decodeParse(f.body))
            parsed.push_back({std::string(p->name), {std::string(p->query), p->paramTypes}});
        } else if (f.type == 'B') {
          auto b = pg::decodeBind(f.body);
          if (!b) break;
          const std::string* query = nullptr;
          const std::vector<uint32_t>* types = nullptr;
          for (auto it = parsed.rbegin(); it != parsed.rend() && !query; ++it)
            if (it->first == b->statement) {
              query = &it->second.first;
              types = &it->second.second;
            }
          if (!query && !b->statement.empty()) {
            auto st = statements_.find(std::string(b->statement));
            if (st != statements_.end()) {
              query = &st->second.query;
              types = &st->second.paramTypes;
            }
          }
          if (!query) continue;
          const router::StatementFacts& facts = ShardRouter::of(worker()).analyze(*d, *query);
          if (facts.kind == router::StatementKind::TransactionControl) continue;
          auto values = pg::decodeBindValues(b->rest);
          router::Route route =
              routeWith(facts, d->map, r.hints(), values ? &*values : nullptr, types);
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
          read = route.kind == router::RouteKind::One && !route.write && r.deferredBegin.empty();
          // ... when it is the batch's only statement.
          for (size_t at = off; read;) {
            pg::Frame g = pg::frameMessage(buf.subspan(at));
            if (g.status != pg::FrameStatus::Ok || g.type == 'B') read = false;
            if (!read || g.type == 'S') break;
            at += g.totalSize;
          }
        } else if (f.type == 'S' || f.type == 'H' || f.type == 'F' || f.type == 'd') {
          complete = true;
          break;
        }
      }
      if (!scatterShards.empty()) {
        if (!scatterUnit(*d, scatterShards)) break;  // the rest of the batch has not arrived
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
    r.routedQuery = false;
    r.local = {};
    routeNext();
    return;
  }
  pumpRouted();
}

std::optional<ClientConn::Refusal> ClientConn::checkRouted(std::string_view sql,
                                                           const pg::BindValues* bind,
                                                           const std::vector<uint32_t>* types) {
  Routing& r = *routing_;
  ShardRouter::Database* d = ShardRouter::of(worker()).find(database_);
  if (!d || !r.shard || !server_) return std::nullopt;
  const router::StatementFacts& f = ShardRouter::of(worker()).analyze(*d, sql);
  const router::KeyLookup* latest = d->map.directory;
  if (r.directory) d->map.directory = r.directory.get();  // the transaction's map (Routing)
  router::Route route = routeWith(f, d->map, r.hints(), bind, types);
  d->map.directory = latest;
  const auto& names = d->map.shardNames;
  auto nameOf = [&](uint32_t s) { return s < names.size() ? names[s] : std::to_string(s); };
  switch (route.kind) {
    case router::RouteKind::Local:
      if (!f.setIsLocal || server_->transactionStatus() != 'I') applyHints(r.session, r.local, f);
      return std::nullopt;
    case router::RouteKind::Refuse:
      return Refusal{std::string(router::pgSqlstate(route.reason)), route.message, route.hint};
    case router::RouteKind::All:
      return Refusal{"0A000", fmt::format(
          "this statement needs {} shards, but a transaction runs on one shard (\"{}\"): run it "
          "outside the transaction",
          route.shards.size(), nameOf(*r.shard)), {}};
    case router::RouteKind::One:
      // A statement that names no table at all (COMMIT, SELECT now(), SET) runs wherever the
      // transaction is, even where default_shard would send it on its own.
      if (route.anyShard || route.shard == *r.shard ||
          (route.source == router::RouteSource::Default && f.tables.empty()))
        return std::nullopt;
      return Refusal{"0A000", fmt::format(
          "this statement belongs to shard \"{}\", but the transaction runs on shard \"{}\": "
          "cross-shard transactions are not supported",
          nameOf(route.shard), nameOf(*r.shard)),
          "start the transaction with a statement of the shard it works on, or SET LOCAL "
          "shardpool.shard = N after BEGIN"};
  }
  return std::nullopt;
}

}  // namespace shardpool::pooler

namespace shardpool::pooler {

bool ClientConn::answerTransactionBatch(ShardRouter::Database& d) {
  // An extended batch that only begins a transaction (or ends one that never ran anywhere), as
  // pgbench -M extended/prepared and many drivers send them: answered here, like a simple BEGIN.
  Routing& r = *routing_;
  pg::Bytes buf(reinterpret_cast<const uint8_t*>(inbuf_.data()), inbuf_.size());
  struct Msg {
    char type;
    pg::Bytes body;
  };
  std::vector<Msg> msgs;
  size_t off = 0;
  bool synced = false;
  while (off < buf.size() && !synced) {
    pg::Frame f = pg::frameMessage(buf.subspan(off));
    if (f.status != pg::FrameStatus::Ok) return false;
    off += f.totalSize;
    if (f.type != 'P' && f.type != 'B' && f.type != 'D' && f.type != 'E' && f.type != 'S')
      return false;
    msgs.push_back({f.type, f.body});
    synced = f.type == 'S';
  }
  if (!synced) return false;
  // Named statements only prepared (Parse, Sync: pgbench -M prepared, many drivers) while a
  // BEGIN waits for its shard: they are recorded and prepared on demand on whichever server
  // the client gets (as client_prepared.cpp does), so they pin nothing.
  if (!r.deferredBegin.empty() &&
      std::all_of(msgs.begin(), msgs.end(), [](const Msg& m) {
        if (m.type == 'S') return true;
        auto p = m.type == 'P' ? pg::decodeParse(m.body) : std::nullopt;
        return p && !p->name.empty();
      })) {
    pg::Writer w;
    for (const Msg& m : msgs) {
      if (m.type != 'P') continue;
      auto p = pg::decodeParse(m.body);
      statements_[std::string(p->name)] = ClientStatement{
          pg::serverStatementName(p->query, p->paramTypes), std::string(p->query), p->paramTypes};
      pg::putParseComplete(w);
    }
    inbuf_.erase(0, off);
    replyLocally(w, 'T');
    return true;
  }
  // Exactly one Bind, of a statement parsed in the batch or known by name.
  std::optional<pg::ParseMsg> parse;
  std::string query;
  std::vector<uint32_t> types;
  size_t binds = 0;
  for (const Msg& m : msgs) {
    if (m.type == 'P') {
      if (parse) return false;
      parse = pg::decodeParse(m.body);
      if (!parse) return false;
    } else if (m.type == 'B') {
      auto b = pg::decodeBind(m.body);
      if (!b || ++binds > 1) return false;
      if (parse && parse->name == b->statement) {
        query = std::string(parse->query);
        types = parse->paramTypes;
      } else if (auto it = statements_.find(std::string(b->statement));
                 !b->statement.empty() && it != statements_.end()) {
        query = it->second.query;
        types = it->second.paramTypes;
      } else {
        return false;
      }
    }
  }
  if (binds != 1) return false;
  const router::StatementFacts& f = ShardRouter::of(worker()).analyze(d, query);
  std::optional<std::string_view> tag;
  bool begins = r.deferredBegin.empty() && startsTransaction(f, query);
  std::optional<std::string_view> ends =
      r.deferredBegin.empty() ? std::nullopt : endsTransaction(f, query);
  if (begins)
    tag = firstWord(query) == "START" ? "START TRANSACTION" : "BEGIN";
  else if (ends)
    tag = *ends;
  else
    return false;
  pg::Writer w;
  for (const Msg& m : msgs) {
    switch (m.type) {
      case 'P':
        if (!parse->name.empty())
          statements_[std::string(parse->name)] = ClientStatement{
              pg::serverStatementName(parse->query, parse->paramTypes),
              std::string(parse->query), parse->paramTypes};
        pg::putParseComplete(w);
        break;
      case 'B':
        pg::putBindComplete(w);
        break;
      case 'D': {
        auto t = pg::decodeDescribe(m.body);
        if (t && t->kind == 'S') {
          w.start('t');  // ParameterDescription: no parameters
          w.i16(0);
          w.finish();
        }
        pg::putNoData(w);
        break;
      }
      case 'E':
        pg::putCommandComplete(w, *tag);
        break;
      default:
        break;
    }
  }
  if (begins)
    r.deferBegin(query, f);
  else
    r.endTransaction();
  inbuf_.erase(0, off);
  replyLocally(w, begins ? 'T' : 'I');
  return true;
}

}  // namespace shardpool::pooler
