#include "pooler/session/server_link.h"

#include <fmt/format.h>

#include <cassert>

#include "pooler/net/log.h"
#include "pooler/session/pool.h"

namespace shardpool::pooler {

ServerLink::ServerLink(Worker& worker, uint64_t id, Pool& pool)
    : Connection(worker, id),
      pool_(pool),
      who_(fmt::format("S-{} {}", id, pool.name())),
      generation_(pool.serverOpened()),
      createdAt_(worker.now()),
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

void ServerLink::offer(uint64_t forClient) {
  setState(State::Idle);
  worker().queueGive(this, forClient);
}

}  // namespace shardpool::pooler
