// Sharded databases: one unit of a client's messages run on several shards at once, outside
// transactions (scatter/gather), and the merged reply (pooler/scatter.h runs it).
#include <fmt/format.h>

#include "pooler/pg/client_routing.h"
#include "pooler/net/log.h"
#include "pooler/merge/merge_planner.h"
#include "pooler/session/runtime.h"
#include "pooler/pg/shard_router.h"

namespace shardpool::pooler {

namespace pg = protocol::pg;

bool ClientConn::scatterUnit(ShardRouter::Database& d, const std::vector<uint32_t>& shards) {
  // The batch through its Sync: every statement executed in it must need the same shards (an
  // INSERT by key beside an unkeyed SELECT would otherwise run everywhere).
  pg::Bytes buf(reinterpret_cast<const uint8_t*>(inbuf_.data()), inbuf_.size());
  std::vector<std::pair<std::string, std::string>> parsed;  // name, query
  std::string portalQuery;
  pg::SegmentPlans plans;
  std::optional<pg::MergePlan> refusal;
  size_t off = 0;
  bool synced = false;
  while (off < buf.size() && !synced) {
    pg::Frame f = pg::frameMessage(buf.subspan(off));
    if (f.status != pg::FrameStatus::Ok) return false;
    off += f.totalSize;
    switch (f.type) {
      case 'P':
        if (auto p = pg::decodeParse(f.body))
          parsed.emplace_back(std::string(p->name), std::string(p->query));
        break;
      case 'B': {
        auto b = pg::decodeBind(f.body);
        if (!b) break;
        portalQuery.clear();
        for (auto it = parsed.rbegin(); it != parsed.rend(); ++it)
          if (it->first == b->statement) {
            portalQuery = it->second;
            break;
          }
        if (portalQuery.empty() && !b->statement.empty())
          if (auto st = statements_.find(std::string(b->statement)); st != statements_.end())
            portalQuery = st->second.query;
        const router::StatementFacts& facts = ShardRouter::of(worker()).analyze(d, portalQuery);
        auto values = pg::decodeBindValues(b->rest);
        router::Route route =
            routeWith(facts, d.map, routing_->hints(), values ? &*values : nullptr, nullptr);
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
        const router::StatementFacts& facts = ShardRouter::of(worker()).analyze(d, portalQuery);
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
  if (!synced) return false;
  if (refusal) {
    inbuf_.erase(0, off);
    pg::Writer w;
    pg::putMergeRefusal(w, *refusal);
    replyLocally(w, 'I');
    flushForward();
    routeNext();
    return true;
  }
  startScatter(shards, off, {std::move(plans)});
  return true;
}

void ClientConn::startScatter(const std::vector<uint32_t>& shards, size_t end,
                              std::vector<pg::SegmentPlans> plans) {
  Routing& r = *routing_;
  ShardRouter::Database* d = ShardRouter::of(worker()).find(database_);
  // The unit, with the client's statement names mapped to the servers' (as client_prepared.cpp
  // does for one server).
  std::string unit;
  std::vector<ScatterStatement> statements;
  auto need = [&](const ClientStatement& st, bool parsedInUnit) {
    for (auto& s : statements)
      if (s.serverName == st.serverName) return;
    statements.push_back({st.serverName, st.query, st.paramTypes, parsedInUnit});
  };
  pg::Bytes buf(reinterpret_cast<const uint8_t*>(inbuf_.data()), end);
  for (size_t off = 0; off < buf.size();) {
    pg::Frame f = pg::frameMessage(buf.subspan(off));
    if (f.status != pg::FrameStatus::Ok) break;
    pg::Bytes whole = buf.subspan(off, f.totalSize);
    off += f.totalSize;
    pg::Writer w;
    if (f.type == 'P') {
      auto p = pg::decodeParse(f.body);
      if (p && !p->name.empty()) {
        ClientStatement st{pg::serverStatementName(p->query, p->paramTypes),
                           std::string(p->query), p->paramTypes};
        need(st, true);
        pg::putParse(w, st.serverName, st.query, st.paramTypes);
        statements_[std::string(p->name)] = std::move(st);
        unit += w.data();
        continue;
      }
      if (p) {
        r.unnamedQuery = std::string(p->query);
        r.unnamedTypes = p->paramTypes;
      }
    } else if (f.type == 'B') {
      auto b = pg::decodeBind(f.body);
      auto it = b && !b->statement.empty() ? statements_.find(std::string(b->statement))
                                           : statements_.end();
      if (it != statements_.end()) {
        need(it->second, false);
        pg::putBindRenamed(w, *b, it->second.serverName);
        unit += w.data();
        continue;
      }
    } else if (f.type == 'D') {
      auto t = pg::decodeDescribe(f.body);
      auto it = t && t->kind == 'S' && !t->name.empty() ? statements_.find(std::string(t->name))
                                                         : statements_.end();
      if (it != statements_.end()) {
        need(it->second, false);
        pg::putDescribe(w, 'S', it->second.serverName);
        unit += w.data();
        continue;
      }
    }
    unit.append(reinterpret_cast<const char*>(whole.data()), whole.size());
  }
  inbuf_.erase(0, end);
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
  log::debug(who_, "statement sent to {} shards", shards.size());
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
