// Scatter/gather in a sharded database (the act step of route_pipeline.cpp for a statement that
// needs several shards, outside transactions): one unit of a client's messages, a Query or an
// extended batch through its Sync, run on those shards at once and their replies merged into
// one (ScatterRun, scatter.h, runs it); or refused here when the replies cannot be merged.
#include <fmt/format.h>

#include "pooler/pg/batch_walk.h"
#include "pooler/pg/client_routing.h"
#include "pooler/net/log.h"
#include "pooler/merge/merge_planner.h"
#include "pooler/session/runtime.h"
#include "pooler/sharding/shard_router.h"

namespace shardpool::pooler {

namespace pg = protocol::pg;

ClientConn::Next ClientConn::scatterQuery(const router::StatementFacts& f,
                                          const router::Route& route, size_t size) {
  pg::MergePlan plan = planMerge(f);
  if (f.statementCount > 1) {
    plan.kind = pg::MergeKind::Refuse;
    plan.sqlstate = "0A000";
    plan.message =
        "a query string with several statements must stay on one shard, and this one needs "
        "several";
    plan.hint = "send the statements one by one, or add a sharding key";
  }
  if (plan.kind == pg::MergeKind::Refuse) {
    pg::Writer w;
    pg::putMergeRefusal(w, plan);
    replyLocally(size, w, 'I');
    return {Next::Act::Answered};
  }
  std::vector<pg::SegmentPlans> plans{{plan}};
  flushForward();
  startScatter(route.shards, size, std::move(plans));
  return {Next::Act::Scatter};
}

ClientConn::Next ClientConn::scatterBatch(ShardRouter::Database& d,
                                          const std::vector<uint32_t>& shards,
                                          uint32_t bindsBefore) {
  // The batch through its Sync: every statement executed in it must need the same shards (an
  // INSERT by key beside an unkeyed SELECT would otherwise run everywhere).
  BatchWalk walk(bytesOf(inbuf_), statements_);
  BatchWalk::Message m;
  std::string_view portalQuery;  // of the last Bind
  pg::SegmentPlans plans;
  std::optional<pg::MergePlan> refusal;
  bool synced = false;
  uint32_t binds = 0;
  while (!synced) {
    if (!walk.next(m)) return {Next::Act::Wait};
    switch (m.type) {
      case 'B': {
        if (!m.bind) break;
        portalQuery = m.statement ? m.statement->query : std::string_view();
        if (binds++ == bindsBefore) break;  // routed by routeNext: it needs `shards`
        const router::StatementFacts& facts = ShardRouter::of(worker(), config::Protocol::Postgres).analyze(d, portalQuery);
        auto values = pg::decodeBindValues(m.bind->rest);
        router::Route route = routeWith(facts, d.map, routing_->hints(),
                                        values ? &*values : nullptr,
                                        m.statement ? m.statement->types : nullptr);
        if (!refusal && (route.kind != router::RouteKind::All || route.shards != shards)) {
          refusal = pg::MergePlan{};
          refusal->kind = pg::MergeKind::Refuse;
          refusal->sqlstate = "0A000";
          refusal->message =
              "an extended-protocol batch mixes a statement for every shard with statements "
              "for one shard";
          refusal->hint = "send the statement that needs every shard in a batch of its own";
        }
        break;
      }
      case 'E': {
        const router::StatementFacts& facts = ShardRouter::of(worker(), config::Protocol::Postgres).analyze(d, portalQuery);
        pg::MergePlan plan = planMerge(facts);
        if (!refusal && plan.kind == pg::MergeKind::Refuse) refusal = plan;
        plans.push_back(std::move(plan));
        break;
      }
      case 'S':
        synced = true;
        break;
      default:
        break;
    }
  }
  size_t off = walk.offset();
  if (refusal) {
    pg::Writer w;
    pg::putMergeRefusal(w, *refusal);
    replyLocally(off, w, 'I');
    flushForward();
    return {Next::Act::Answered};
  }
  startScatter(shards, off, {std::move(plans)});
  return {Next::Act::Scatter};
}

void ClientConn::startScatter(const std::vector<uint32_t>& shards, size_t end,
                              std::vector<pg::SegmentPlans> plans) {
  Routing& r = *routing_;
  ShardRouter::Database* d = ShardRouter::of(worker(), config::Protocol::Postgres).find(database_);
  // The unit, with the client's statement names mapped to the servers' (as client_prepared.cpp
  // does for one server).
  std::string unit;
  std::vector<ScatterStatement> statements;
  auto need = [&](const ClientStatement& st, bool parsedInUnit) {
    for (auto& s : statements)
      if (s.serverName == st.serverName) return;
    statements.push_back({st.serverName, st.query, st.paramTypes, parsedInUnit});
  };
  BatchWalk walk(bytesOf(std::string_view(inbuf_).substr(0, end)), statements_);
  for (BatchWalk::Message m; walk.next(m);) {
    pg::Writer w;
    if (m.type == 'P' && m.parse) {
      const pg::ParseMsg& p = *m.parse;
      if (!p.name.empty()) {
        ClientStatement st{pg::serverStatementName(p.query, p.paramTypes), std::string(p.query),
                           p.paramTypes};
        need(st, true);
        pg::putParse(w, st.serverName, st.query, st.paramTypes);
        statements_[std::string(p.name)] = std::move(st);
        unit += w.data();
        continue;
      }
      r.unnamedQuery = std::string(p.query);
      r.unnamedTypes = p.paramTypes;
    } else if (m.type == 'B' && m.bind) {
      auto it = m.bind->statement.empty() ? statements_.end()
                                          : statements_.find(std::string(m.bind->statement));
      if (it != statements_.end()) {
        need(it->second, false);
        pg::putBindRenamed(w, *m.bind, it->second.serverName);
        unit += w.data();
        continue;
      }
    } else if (m.type == 'D') {
      auto t = pg::decodeDescribe(m.body);
      auto it = t && t->kind == 'S' && !t->name.empty() ? statements_.find(std::string(t->name))
                                                         : statements_.end();
      if (it != statements_.end()) {
        need(it->second, false);
        pg::putDescribe(w, 'S', it->second.serverName);
        unit += w.data();
        continue;
      }
    }
    unit.append(reinterpret_cast<const char*>(m.whole.data()), m.whole.size());
  }
  inbuf_.erase(0, end);
  pg::releaseIfLarge(inbuf_);
  std::vector<ScatterRun::Leg> legs;
  std::vector<std::string> names;
  for (uint32_t s : shards) {
    ScatterRun::Leg leg;
    leg.shard = s;
    leg.pool = &shardPool(s);
    legs.push_back(std::move(leg));
    names.push_back(d && s < d->map.shardNames.size() ? d->map.shardNames[s]
                                                       : std::to_string(s));
  }
  pg::MergeOptions options;
  for (auto& [k, v] : *params_) options.noteParameter(k, v);
  setState(State::Scatter);
  waitStart_ = Clock::now();
  r.ended.reset();
  r.scatter = std::make_unique<ScatterRun>(*this, std::move(legs), std::move(names),
                                           std::move(unit), std::move(statements),
                                           std::move(plans), std::move(options), kMaxScatterBytes);
  log::debug(who(), "statement sent to {} shards", shards.size());
  r.scatter->start();
}

void ClientConn::scatterFinished(std::string reply) {
  Routing& r = *routing_;
  r.ended = std::move(r.scatter);  // destroyed at the next run: we are inside its callback
  if (state_ != State::Scatter) return;
  setState(State::Active);
  appendOwned(reply);
  flushForward();
  if (!reading()) startReading();
  routeNext();
}

}  // namespace shardpool::pooler
