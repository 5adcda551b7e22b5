#include "pooler/session/client_session.h"

#include <fmt/format.h>

#include <cassert>

#include "pooler/net/log.h"

namespace shardpool::pooler {

ClientSession::ClientSession(Worker& worker, uint64_t id)
    : Connection(worker, id), who_(fmt::format("C-{}", id)) {}

ClientSession::~ClientSession() = default;

void ClientSession::setState(State next) {
  if (!allowed(state_, next)) {
    // A broken invariant of shardpool's own, never the peer's doing: logged for the tests
    // (integration/harness.cpp fails a test whose proxy logged "BUG:"), then carried out.
    log::error(who_, "BUG: impossible client state change {} -> {}", name(state_), name(next));
    assert(false && "impossible client state change");
  }
  state_ = next;
}

}  // namespace shardpool::pooler
