#include "pooler/session/client_session.h"

#include <fmt/format.h>

#include <cassert>

#include "pooler/net/log.h"
#include "pooler/session/conn_rows.h"
#include "pooler/session/health_view.h"
#include "pooler/session/pool.h"
#include "pooler/session/runtime.h"
#include "pooler/session/server_link.h"

namespace shardpool::pooler {

ClientSession::ClientSession(Worker& worker, uint64_t id)
    : Connection(worker, id) {}

ClientSession::~ClientSession() = default;

void ClientSession::setState(State next) {
  if (!allowed(state_, next)) {
    // A broken invariant of shardpool's own, never the peer's doing: logged for the tests
    // (integration/harness.cpp fails a test whose proxy logged "BUG:"), then carried out.
    log::error(who(), "BUG: impossible client state change {} -> {}", name(state_), name(next));
    assert(false && "impossible client state change");
  }
  state_ = next;
}

void ClientSession::start() {
  startedAt_ = worker().now();
  startReading();
  onStarted();
}

void ClientSession::describe(ConnRow& row) const {
  row.kind = ConnRow::Kind::Client;
  row.id = id();
  row.worker = worker().index();
  row.user = user_;
  row.database = database_;
  switch (state_) {
    case State::Startup:
    case State::Auth:
    case State::Closing:
      row.state = ConnRow::State::Login;
      break;
    case State::WaitServer:
      row.state = ConnRow::State::Waiting;
      row.wait = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - waitStart_);
      break;
    case State::Login:
    case State::Active:
    case State::Scatter:
      row.state = ConnRow::State::Active;
      break;
    case State::Console:
      row.state = ConnRow::State::Admin;
      break;
  }
  describeSocket(*this, row);
  row.requestTime =
      toWallClock(lastActivity_ == Clock::time_point{} ? Clock::now() : lastActivity_);
  row.remotePid = cancelPid_;
  row.pool = pool_;
  describeMore(row);
}

void ClientSession::askPool(bool again) {
  Clock::time_point since = waitStart_;
  setState(State::WaitServer);
  waitStart_ = again ? since : Clock::now();
  if (pool_->settings().protocol != protocol_) {
    // A database of the other protocol (named by a client of this one): its servers could not
    // speak to this client.
    serverFailed(fmt::format("database \"{}\" is a {} database", database_,
                             config::toString(pool_->settings().protocol)),
                 "3D000");
    return;
  }
  Pool::Acquired a = pool_->acquire(worker(), id(), flavor(), lastServer_);
  switch (a.grant) {
    case Pool::Grant::Idle:
      assignServer(a.server);
      break;
    case Pool::Grant::Connect:
      worker().connectFor(*pool_, id());
      break;
    case Pool::Grant::Queued:
      log::debug(who(), "waiting for a server connection");
      break;
  }
}

void ClientSession::assignServer(ServerLink* server) {
  if (state_ == State::WaitServer) {
    PoolCounters& counters = pool_->counters(worker().index());
    counters.add(counters.assignments, 1);
    lastServer_ = server->id();
    counters.add(counters.waitUs, static_cast<uint64_t>(
                                      std::chrono::duration_cast<std::chrono::microseconds>(
                                          Clock::now() - waitStart_)
                                          .count()));
  }
  linkServer(server);
}

bool ClientSession::holdForFailover(std::string_view reason, std::string_view sqlstate) {
  Runtime& runtime = worker().runtime();
  HealthView* failover = runtime.health();
  if (sqlstate.substr(0, 2) != "08" || !failover || !failover->covers(database_)) return false;
  log::warn(who(), "connect failed ({}); holding for a failover decision", reason);
  runtime.pools().holdDatabase(database_, true, nullptr, pool_->shard());
  failover->suspect(database_);
  askPool(true);  // failover_wait_timeout counts from the first attempt
  return true;
}

bool ClientSession::countClient() {
  if (!worker().runtime().tryAddClient()) return false;
  counted_ = true;
  return true;
}

void ClientSession::takeCancelKey() {
  auto keys = worker().runtime().cancels().add(worker().index(), id());
  cancelPid_ = keys.first;
  cancelKey_ = keys.second;
}

void ClientSession::checkTimers(Clock::time_point now, const config::General& g) {
  if (state_ == State::WaitServer && pool_) {
    auto seconds = [](config::Duration d) { return d.count() / 1000.0; };
    if (pool_->held() && g.failoverWaitTimeout.count() > 0 &&
        now - waitStart_ >= g.failoverWaitTimeout) {
      if (!pool_->cancelWait(worker().index(), id())) return;  // a server is on its way
      terminate("08006",
                fmt::format("no primary for database \"{}\": failover_wait_timeout ({:.1f} s) "
                            "expired",
                            database_, seconds(g.failoverWaitTimeout)),
                "failover_wait_timeout");
      return;
    }
    auto timeout = g.queryWaitTimeout;
    if (timeout.count() <= 0 || now - waitStart_ < timeout) return;
    if (!pool_->cancelWait(worker().index(), id())) return;  // a server is on its way
    terminate("53300",
              fmt::format("query_wait_timeout: no server connection became free within {:.1f} s "
                          "(pool_size {})",
                          seconds(timeout), pool_->settings().size),
              "query_wait_timeout");
    return;
  }
  onTick(now, g);
}

void ClientSession::close(std::string_view reason) {
  if (state_ == State::Closing) return;
  State was = state_;
  setState(State::Closing);
  log::info(who(), "closing client connection: {}", reason);
  if (was == State::WaitServer && pool_) pool_->cancelWait(worker().index(), id());
  onClosing();
  if (cancelPid_) worker().runtime().cancels().remove(cancelPid_);
  if (counted_) {
    worker().runtime().removeClient();
    counted_ = false;
  }
  closeAfterFlush();
  worker().retire(this);
}

}  // namespace shardpool::pooler
