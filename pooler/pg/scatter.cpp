#include "pooler/pg/scatter.h"

#include <fmt/format.h>

#include "pooler/pg/client_conn.h"
#include "pooler/net/log.h"
#include "pooler/session/pool.h"
#include "pooler/protocol/pg_extended.h"

namespace shardpool::pooler {

namespace pg = protocol::pg;

ScatterRun::ScatterRun(ClientConn& client, std::vector<Leg> legs,
                       std::vector<std::string> shardNames, std::string unit,
                       std::vector<ScatterStatement> statements,
                       std::vector<pg::SegmentPlans> plans, pg::MergeOptions options,
                       size_t maxBytes)
    : client_(client),
      legs_(std::move(legs)),
      names_(shardNames),
      unit_(std::move(unit)),
      statements_(std::move(statements)),
      merger_(std::move(shardNames), std::move(plans), std::move(options)),
      maxBytes_(maxBytes),
      since_(Clock::now()) {}

ScatterRun::~ScatterRun() {
  finished_ = true;  // a server closed now reports to no one
  releaseServers();
}

void ScatterRun::releaseServers() {
  Worker& w = client_.worker();
  for (Leg& leg : legs_) {
    if (!leg.server) {
      if (leg.pool && !leg.done) leg.pool->cancelWait(w.index(), client_.id());
      leg.done = true;
      continue;
    }
    ServerConn* s = leg.server;
    leg.server = nullptr;
    if (leg.done) {
      s->setTransactionStatus(leg.lastByte);
      s->unlinkSink();
    } else {
      s->close("a statement sent to every shard ended before this shard answered");
    }
  }
}

void ScatterRun::start() {
  for (size_t i = 0; i < legs_.size() && !finished_; ++i) acquire(i);
}

void ScatterRun::acquire(size_t i) {
  Pool::Acquired a = legs_[i].pool->acquire(client_.worker(), client_.id());
  switch (a.grant) {
    case Pool::Grant::Idle:
      serverArrived(ServerConn::of(a.server));
      break;
    case Pool::Grant::Connect:
      client_.worker().connectFor(*legs_[i].pool, client_.id());
      break;
    case Pool::Grant::Queued:
      break;
  }
}

bool ScatterRun::waiting() const {
  for (const Leg& leg : legs_)
    if (!leg.server) return true;
  return false;
}

void ScatterRun::cancel() {
  for (Leg& leg : legs_)
    if (leg.server && !leg.done) leg.server->sendCancel();
}

void ScatterRun::serverArrived(ServerConn* server) {
  for (size_t i = 0; i < legs_.size(); ++i) {
    Leg& leg = legs_[i];
    if (leg.server || leg.pool != &server->pool()) continue;
    leg.server = server;
    server->linkSink(this, i);
    send(i);
    return;
  }
  server->releaseToPool();  // not ours after all (cannot happen: one acquire per pool)
}

void ScatterRun::send(size_t i) {
  Leg& leg = legs_[i];
  ServerConn& s = *leg.server;
  // Preamble: the client's session settings, and the statements this server lacks; then the
  // unit itself, all in one write.
  ServerConn::Params toApply;
  std::string setQuery = client_.buildSetQuery(s, toApply);
  pg::Writer w;
  if (!setQuery.empty()) {
    pg::putQuery(w, setQuery);
    ++leg.preExpected;
  }
  bool parses = false;
  StatementCache& cache = s.statements();
  for (const ScatterStatement& st : statements_) {
    if (st.parsedInUnit) {
      if (cache.contains(st.serverName)) {
        pg::putClose(w, 'S', st.serverName);
        cache.remove(st.serverName);
        parses = true;
      }
      cache.add(st.serverName);
      continue;
    }
    if (cache.contains(st.serverName)) {
      cache.touch(st.serverName);
      continue;
    }
    pg::putParse(w, st.serverName, st.query, st.paramTypes);
    cache.add(st.serverName);
    parses = true;
  }
  if (parses) {
    pg::putSync(w);
    ++leg.preExpected;
  }
  if (leg.preExpected == 0) s.noteApplied(toApply);
  leg.toApply = std::move(toApply);
  std::string out = w.take();
  out += unit_;
  s.send(std::move(out));
}

void ScatterRun::shardData(size_t i, pg::Bytes bytes) {
  Leg& leg = legs_[i];
  if (finished_ || leg.done) return;
  if (!bytes.empty()) leg.lastByte = static_cast<char>(bytes.back());
  if (leg.preSeen < leg.preExpected) {
    leg.pre.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    size_t off = 0;
    while (leg.preSeen < leg.preExpected) {
      pg::Frame f = pg::frameMessage(pg::Bytes(
          reinterpret_cast<const uint8_t*>(leg.pre.data()) + off, leg.pre.size() - off));
      if (f.status == pg::FrameStatus::NeedMore) break;
      if (f.status == pg::FrameStatus::Invalid) {
        leg.server->close("invalid message from server");
        return;
      }
      off += f.totalSize;
      if (f.type == 'S') {
        if (auto ps = pg::decodeParameterStatus(f.body))
          leg.server->noteServerParam(ps->name, ps->value);
      } else if (f.type == 'E' && leg.preError.empty()) {
        auto e = pg::decodeErrorResponse(f.body);
        leg.preError = e ? e->message : "error";
      } else if (f.type == 'Z' && ++leg.preSeen == leg.preExpected && leg.preError.empty()) {
        leg.server->noteApplied(leg.toApply);
      }
    }
    std::string rest = leg.pre.substr(off);
    leg.pre.erase(0, off);
    if (leg.preSeen < leg.preExpected) return;
    leg.pre.clear();
    if (rest.empty()) return;
    merger_.feed(i, pg::Bytes(reinterpret_cast<const uint8_t*>(rest.data()), rest.size()));
  } else {
    merger_.feed(i, bytes);
  }
  if (merger_.bufferedBytes() > maxBytes_) {
    fail("54000", fmt::format("the result of a statement sent to every shard exceeds {} MiB: add "
                              "a sharding key or a LIMIT",
                              maxBytes_ >> 20));
    return;
  }
  if (merger_.malformed(i)) {
    leg.server->close("invalid message from server");
    return;
  }
  if (merger_.readyCount(i) >= 1) {
    leg.done = true;
    checkDone();
  }
}

void ScatterRun::shardLost(size_t i, std::string_view reason) {
  Leg& leg = legs_[i];
  leg.server = nullptr;
  if (finished_) return;
  fail("08006", fmt::format("shard \"{}\": server connection lost ({}); the statement may have "
                            "run on some shards",
                            names_[i], reason));
}

void ScatterRun::serverFailed(std::string_view reason) {
  if (finished_) return;
  fail("08006", fmt::format("could not connect to every shard: {}", reason));
}

void ScatterRun::serverWithdrawn() {
  // Which leg lost its server is not known: every leg still without one asks again (a second
  // server that then arrives for a leg already served goes back to its pool).
  for (size_t i = 0; i < legs_.size() && !finished_; ++i) {
    if (legs_[i].server) continue;
    legs_[i].pool->cancelWait(client_.worker().index(), client_.id());
    acquire(i);
  }
}

void ScatterRun::checkDone() {
  for (const Leg& leg : legs_)
    if (!leg.done) return;
  finished_ = true;
  std::string preError;
  for (size_t i = 0; i < legs_.size() && preError.empty(); ++i)
    if (!legs_[i].preError.empty())
      preError = fmt::format("shard \"{}\": {}", names_[i], legs_[i].preError);
  pg::MergeResult r = merger_.finish();
  if (r.status == pg::MergeStatus::Malformed && r.badShard >= 0 &&
      size_t(r.badShard) < legs_.size())
    legs_[size_t(r.badShard)].done = false;  // closed, not reused
  releaseServers();
  if (!preError.empty()) {
    pg::Writer w;
    pg::putErrorResponse(w, "ERROR", "08006", preError);
    pg::putReadyForQuery(w, 'I');
    client_.scatterFinished(w.take());
    return;
  }
  client_.scatterFinished(std::move(r.bytes));
}

void ScatterRun::fail(std::string_view sqlstate, std::string message) {
  if (finished_) return;
  finished_ = true;
  log::warn(client_.who(), "statement sent to every shard failed: {}", message);
  releaseServers();  // servers still answering are closed
  pg::Writer w;
  pg::putErrorResponse(w, "ERROR", sqlstate, message);
  pg::putReadyForQuery(w, 'I');
  client_.scatterFinished(w.take());
}

}  // namespace shardpool::pooler
