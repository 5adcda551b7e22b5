#include "pooler/session/server_link.h"

#include <fmt/format.h>

#include <cassert>

#include "pooler/net/log.h"
#include "pooler/session/conn_rows.h"
#include "pooler/session/pool.h"

namespace shardpool::pooler {

ServerLink::ServerLink(Worker& worker, uint64_t id, Pool& pool)
    : Connection(worker, id),
      pool_(pool),
      who_(fmt::format("S-{} {}", id, pool.name())),
      generation_(pool.serverOpened()),
      createdAt_(worker.now()),
      attemptStart_(worker.now()),
      idleSince_(worker.now()) {}

ServerLink::~ServerLink() = default;

void ServerLink::setState(State next) {
  if (!allowed(state_, next)) {
    log::error(who_, "BUG: impossible server state change {} -> {}", name(state_), name(next));
    assert(false && "impossible server state change");
  }
  if (parked_ && next != State::Idle) pool_.unpark(worker(), this);
  if (next == State::Idle) idleSince_ = worker().now();
  state_ = next;
}

void ServerLink::describe(ConnRow& row) const {
  row.kind = ConnRow::Kind::Server;
  row.id = id();
  row.worker = worker().index();
  row.user = pool_.user();
  row.database = pool_.database();
  switch (state_) {
    case State::Resolving:
    case State::Connecting:
    case State::TlsRequest:
    case State::TlsHandshake:
    case State::Authenticating:
    case State::Closed:
      row.state = ConnRow::State::Login;
      break;
    case State::Idle:
      row.state = ConnRow::State::Idle;
      break;
    case State::Login:
    case State::Active:
      row.state = ConnRow::State::Active;
      break;
    case State::Resetting:
      row.state = ConnRow::State::Used;
      break;
  }
  describeSocket(*this, row);
  row.requestTime = toWallClock(idleSince_);
  row.closeNeeded = generation_ != pool_.generation();
  row.pool = &pool_;
  describeMore(row);
}

void ServerLink::checkTimers(Clock::time_point now) {
  const PoolSettings& s = pool_.settings();
  switch (state_) {
    case State::Resolving:
    case State::Connecting:
    case State::TlsRequest:
    case State::TlsHandshake:
    case State::Authenticating:
      if (s.serverConnectTimeout.count() > 0 && now - attemptStart_ >= s.serverConnectTimeout) {
        fail(fmt::format("server_connect_timeout ({} ms) expired", s.serverConnectTimeout.count()));
        return;
      }
      break;
    case State::Idle: {
      const char* reason = nullptr;
      if (worker().shuttingDown())
        reason = "shutting down";
      else if (s.serverIdleTimeout.count() > 0 && now - idleSince_ >= s.serverIdleTimeout &&
               pool_.aboveMinimum())
        reason = "server_idle_timeout reached";
      else if (s.serverLifetime.count() > 0 && now - createdAt_ >= s.serverLifetime)
        reason = "server_lifetime reached";
      else
        reason = replacedBecause();
      // Only a parked server is closed here; one being handed over is left alone.
      if (reason && parked()) {
        close(reason);
        return;
      }
      break;
    }
    case State::Login:
    case State::Active:
    case State::Resetting:
    case State::Closed:
      break;
  }
  onTick(now);
}

const char* ServerLink::replacedBecause() const {
  if (generation_ != pool_.generation())
    return pool_.retired() ? "database removed from the configuration"
                           : "RECONNECT or a configuration change";
  if (pool_.adminPaused()) return "pool paused";
  if (pool_.overSize()) return "pool_size lowered";
  return nullptr;
}

bool ServerLink::closedInsteadOfReuse() {
  if (worker().shuttingDown()) {
    close("shutting down");
    return true;
  }
  const auto lifetime = pool_.settings().serverLifetime;
  if (lifetime.count() > 0 && worker().now() - createdAt_ >= lifetime) {
    close("server_lifetime reached");
    return true;
  }
  if (const char* why = replacedBecause()) {
    close(why);
    return true;
  }
  return false;
}

void ServerLink::offer(uint64_t forClient) {
  setState(State::Idle);
  worker().queueGive(this, forClient);
}

}  // namespace shardpool::pooler
