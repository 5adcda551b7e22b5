// Sharded databases: a client's routing state (the pools of each shard and member, read_from's
// choice of member), the statements the routing pipeline (route_pipeline.cpp) treats itself,
// and the check of each statement of a linked transaction against its shard.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "pooler/pg/batch_walk.h"
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
  // The batch through its Sync, of Parse, Bind, Describe and Execute only: its Parses (all named
  // ones?) and its Bind, of a statement parsed in the batch or known by name.
  size_t parses = 0, binds = 0;
  bool namedParsesOnly = true, malformed = false, synced = false;
  std::optional<pg::ParseMsg> parse;
  std::string query;
  BatchWalk walk(buf, statements_);
  for (BatchWalk::Message m; !synced && walk.next(m);) {
    if (m.type != 'P' && m.type != 'B' && m.type != 'D' && m.type != 'E' && m.type != 'S')
      return false;
    synced = m.type == 'S';
    if (!synced) namedParsesOnly = namedParsesOnly && m.parse && !m.parse->name.empty();
    if (m.type == 'P') {
      if (++parses == 1 && m.parse) parse = *m.parse;
      malformed = malformed || !m.parse;
    } else if (m.type == 'B') {
      ++binds;
      malformed = malformed || !m.bind || !m.statement;
      if (m.statement) query = std::string(m.statement->query);
    }
  }
  if (!synced) return false;
  size_t end = walk.offset();
  // Named statements only prepared (Parse, Sync: pgbench -M prepared, many drivers) while a
  // BEGIN waits for its shard: they are recorded and prepared on demand on whichever server
  // the client gets (as client_prepared.cpp does), so they pin nothing.
  if (!r.deferredBegin.empty() && namedParsesOnly) {
    pg::Writer w;
    BatchWalk again(buf.first(end), statements_);
    for (BatchWalk::Message m; again.next(m);) {
      if (m.type != 'P') continue;
      const pg::ParseMsg& p = *m.parse;
      statements_[std::string(p.name)] = ClientStatement{
          pg::serverStatementName(p.query, p.paramTypes), std::string(p.query), p.paramTypes};
      pg::putParseComplete(w);
    }
    inbuf_.erase(0, end);
    replyLocally(w, 'T');
    return true;
  }
  // Exactly one Bind, and at most one Parse.
  if (malformed || parses > 1 || binds != 1) return false;
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
  BatchWalk again(buf.first(end), statements_);
  for (BatchWalk::Message m; again.next(m);) {
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
  inbuf_.erase(0, end);
  replyLocally(w, begins ? 'T' : 'I');
  return true;
}

}  // namespace shardpool::pooler
