// MysqlClient on a sharded MySQL database (transaction pooling): each command that starts a
// transaction's use of a server is routed on its own (router::route() on the MySQL analyzer's
// facts: keys, hints, table rules), to its shard's primary pool; the commands that follow on
// that server must belong to its shard.
//
//   - BEGIN / START TRANSACTION with no server: answered here (IN_TRANS in the OK) and sent
//     ahead of the transaction's first statement once that statement has picked the shard
//     (MysqlServer::continueLink); COMMIT or ROLLBACK of such an empty transaction is answered.
//   - SET @shardpool_shard = N / @shardpool_sharding_key = 'K' (alone): the session's hints,
//     answered here; NULL or DEFAULT clears. Comment hints (/* shard: N */) hold for their
//     statement.
//   - A statement for several shards (a read without a key of a sharded table, DDL, a write of
//     a replicated table, an allowed unkeyed write) runs on each in turn outside a transaction
//     (client_fanout.cpp), when its rows can be merged; otherwise, and inside a transaction, it
//     is refused (ER_NOT_SUPPORTED_YET). Other refusals as router/mysql_refusal.h names them.
//   - Inside a transaction, a statement of another shard is refused; outside one (a pipelined
//     command, say), the server goes back and the command is routed anew.
//   - Prepared statements: a prepare runs on any shard's server (the schema is the same on
//     every shard), each execute is routed with its parameter values.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

#include "pooler/mysql/mysql_client.h"
#include "pooler/mysql/mysql_server.h"
#include "pooler/mysql/shard_merge.h"
#include "pooler/mysql/statement_effects.h"
#include "pooler/net/log.h"
#include "pooler/protocol/mysql_commands.h"
#include "pooler/session/pool.h"
#include "pooler/session/runtime.h"
#include "router/mysql_refusal.h"

namespace shardpool::pooler {

namespace my = protocol::mysql;

namespace {

// A DOUBLE or FLOAT parameter that holds a whole number (node's mysql2 binds every JS number
// as a DOUBLE): that integer.
std::optional<int64_t> wholeNumber(const my::ParamValue& v) {
  double d = 0;
  if (v.type == my::FieldType::Double && v.raw.size() == 8) {
    std::memcpy(&d, v.raw.data(), 8);
  } else if (v.type == my::FieldType::Float && v.raw.size() == 4) {
    float f = 0;
    std::memcpy(&f, v.raw.data(), 4);
    d = f;
  } else {
    return std::nullopt;
  }
  // Within ±2^63, and integral (NaN fails both tests).
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || std::trunc(d) != d)
    return std::nullopt;
  return static_cast<int64_t>(d);
}

// A COM_STMT_EXECUTE's values in the router's terms (keys written as `?`).
router::StatementParams paramsOf(const my::StmtExecute& e, std::string_view previousTypes) {
  router::StatementParams params;
  std::vector<my::ParamValue> values(e.numParams);
  if (my::decodeParamValues(e, values, my::asBytes(previousTypes)) != my::ParamStatus::Ok)
    return params;  // no values: a key written as `?` counts as unknown
  params.values.resize(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const my::ParamValue& v = values[i];
    router::ParamValue& out = params.values[i];
    if (v.isNull) {
      out.form = router::ParamValue::Form::Null;
    } else if (auto s = v.asString()) {
      out.form = router::ParamValue::Form::Text;
      out.bytes = *s;
    } else if (auto n = v.asInt64()) {
      out.form = router::ParamValue::Form::Integer;
      out.integer = *n;
    } else if (auto w = wholeNumber(v)) {
      out.form = router::ParamValue::Form::Integer;
      out.integer = *w;
    } else {
      out.form = router::ParamValue::Form::Opaque;
    }
  }
  return params;
}


}  // namespace

std::string MysqlClient::shardName(const router::ShardMap& map, uint32_t shard) {
  if (shard < map.shardNames.size()) return fmt::format("\"{}\"", map.shardNames[shard]);
  return std::to_string(shard);
}

ShardRouter::Database* MysqlClient::routedDatabase() {
  return ShardRouter::of(worker(), config::Protocol::MySql).find(database_);
}

Pool* MysqlClient::shardPool(uint32_t shard) {
  if (shard == 0 || !primaryPool_) return primaryPool_;
  if (shardPools_.size() <= shard) shardPools_.resize(shard + 1, nullptr);
  if (!shardPools_[shard]) {
    auto cfg = worker().runtime().config();
    const config::Database* db = cfg->findDatabase(database_);
    if (!db) return primaryPool_;
    shardPools_[shard] = &worker().runtime().pools().get(*cfg, *db, database_, user_, shard);
  }
  return shardPools_[shard];
}

std::optional<router::Route> MysqlClient::routeOf(my::Bytes payload, ShardRouter::Database& d,
                                                  const router::StatementFacts** facts) {
  ShardRouter& router = ShardRouter::of(worker(), config::Protocol::MySql);
  auto command = static_cast<my::Command>(payload[0]);
  if (command == my::Command::Query) {
    const router::StatementFacts& f = router.analyze(d, my::asText(payload.subspan(1)));
    *facts = &f;
    return router::route(f, d.map, hints_, nullptr);
  }
  if (command != my::Command::StmtExecute) return std::nullopt;
  std::optional<uint32_t> id = my::statementIdOf(payload);
  if (!id || *id == 0xFFFFFFFFu) return std::nullopt;  // runs where its prepare ran
  auto it = statements_.find(*id);
  if (it == statements_.end()) return std::nullopt;  // unknown: the engine's own error
  const Statement& st = it->second;
  const router::StatementFacts& f = router.analyze(d, st.sql);
  *facts = &f;
  std::optional<my::StmtExecute> e = my::decodeStmtExecute(payload, st.numParams);
  if (!e) return router::route(f, d.map, hints_, nullptr);
  router::StatementParams params = paramsOf(*e, st.types);
  return router::route(f, d.map, hints_, &params);
}

bool MysqlClient::answerRoute(const router::Route& r, const router::StatementFacts& f,
                              uint8_t seq) {
  switch (r.kind) {
    case router::RouteKind::Local: {
      router::SessionHints none;
      router::applyHints(hints_, none, f);
      uint16_t status = my::kServerStatusAutocommit;
      if (!deferredBegin_.empty() ||
          (server_ && (server_->statusFlags() & my::kServerStatusInTrans)))
        status |= my::kServerStatusInTrans;
      sendOk(seq + 1, status);
      return true;
    }
    case router::RouteKind::Refuse: {
      router::MysqlError e = router::mysqlError(r.reason);
      sendErr(seq + 1, e.code, e.sqlState,
              r.hint.empty() ? r.message : fmt::format("{} ({})", r.message, r.hint));
      return true;
    }
    case router::RouteKind::All:
      // A server is linked: a transaction (or a pinned session) is on one shard.
      refuseShards(r, seq, "shardpool runs a MySQL transaction on one shard");
      return true;
    case router::RouteKind::One:
      return false;
  }
  return false;
}

MysqlClient::Routing MysqlClient::routeCommand(my::Bytes message, my::Bytes payload,
                                              uint8_t seq) {
  if (fanout_) {
    // The next shard of a statement running on several.
    pool_ = shardPool(fanout_->shards[fanout_->at]);
    return Routing::Link;
  }
  if (!sharded_ && readFrom_ == config::ReadFrom::Primary) {
    pool_ = primaryPool_ ? primaryPool_ : pool_;  // one pool: nothing to route
    return Routing::Link;
  }
  ShardRouter::Database* d = transactionPooling_ ? routedDatabase() : nullptr;
  if (!d || d->map.shardCount <= 1) {
    choosePool(payload, 0);
    return Routing::Link;
  }
  if (static_cast<my::Command>(payload[0]) == my::Command::Query) {
    switch (transactionWord(my::asText(payload.subspan(1)))) {
      case TransactionWord::Begin:
        // Its shard is the first statement's. A second BEGIN ends the first (empty) one.
        deferredBegin_.assign(my::asText(payload.subspan(1)));
        sendOk(seq + 1, my::kServerStatusAutocommit | my::kServerStatusInTrans);
        return Routing::Answered;
      case TransactionWord::Commit:
      case TransactionWord::Rollback:
        if (deferredBegin_.empty()) break;
        deferredBegin_.clear();
        sendOk(seq + 1);
        return Routing::Answered;
      case TransactionWord::None:
        break;
    }
  }
  const router::StatementFacts* facts = nullptr;
  std::optional<router::Route> r = routeOf(payload, *d, &facts);
  uint32_t shard = d->map.defaultShard.value_or(0);
  if (r) {
    if (r->kind == router::RouteKind::All) {
      if (!startFanout(*r, *facts, message, payload, seq)) return Routing::Answered;
      if (fanout_->command != my::asText(message)) return Routing::Replaced;
      pool_ = shardPool(fanout_->shards[0]);
      return Routing::Link;
    }
    if (answerRoute(*r, *facts, seq)) return Routing::Answered;
    if (!r->anyShard) shard = r->shard;
  }
  choosePool(payload, shard);
  return Routing::Link;
}

MysqlClient::Routing MysqlClient::checkLinked(my::Bytes payload, uint8_t seq) {
  if (fanout_) return Routing::Link;  // on the shard whose turn it is
  ShardRouter::Database* d = routedDatabase();
  if (!d || d->map.shardCount <= 1) return Routing::Link;
  const router::StatementFacts* facts = nullptr;
  std::optional<router::Route> r = routeOf(payload, *d, &facts);
  if (!r) return Routing::Link;
  if (answerRoute(*r, *facts, seq)) return Routing::Answered;
  uint32_t linked = server_->pool().shard();
  if (r->anyShard || r->shard == linked) return Routing::Link;
  if (clean()) {
    // Nothing holds the session to this server: the command goes to its own shard.
    MysqlServer* s = server_;
    server_ = nullptr;
    s->release();
    return Routing::Reroute;
  }
  sendErr(seq + 1, 1235, "42000",
          fmt::format("this statement belongs to shard {}, but the transaction runs on shard {} "
                      "of database '{}': shardpool does not run a MySQL transaction on several "
                      "shards",
                      shardName(d->map, r->shard), shardName(d->map, linked), database_));
  return Routing::Answered;
}

std::string_view MysqlClient::schemaOn(const Pool& pool) const {
  if (primaryPool_ && session_.schema() == primaryPool_->settings().dbname)
    return pool.settings().dbname;
  return session_.schema();
}

}  // namespace shardpool::pooler
