// ClientConn after its server died (backend crash, failover, KILL of a backend): the client keeps
// its connection. Replies it was waiting for become errors; a transaction that was open is gone,
// and until the client ends it (ROLLBACK, or COMMIT, which then reports ROLLBACK as PostgreSQL
// does for a failed transaction) its statements get "current transaction is aborted" errors,
// answered here without a server. The next transaction gets a new server (after a failover, on
// the new primary).
#include <fmt/format.h>

#include <cctype>

#include "pooler/pg/client_conn.h"
#include "pooler/pg/client_routing.h"
#include "pooler/net/log.h"
#include "pooler/protocol/pg_extended.h"
#include "pooler/session/runtime.h"
#include "pooler/pg/server_conn.h"

namespace shardpool::pooler {

namespace pg = protocol::pg;

namespace {

constexpr uint32_t kMaxLoginRetries = 3;

// ROLLBACK / ABORT / COMMIT / END (with TRANSACTION or WORK, a trailing semicolon), as the end of
// a lost transaction.
bool endsTransaction(std::string_view sql) {
  std::string words;
  for (char c : sql) {
    if (c == ';' || c == '\0') break;
    words.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  auto trim = [](std::string& s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    size_t i = 0;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    s.erase(0, i);
  };
  trim(words);
  for (std::string_view verb : {"ROLLBACK", "ABORT", "COMMIT", "END"}) {
    if (words.rfind(verb, 0) != 0) continue;
    std::string rest = words.substr(verb.size());
    trim(rest);
    return rest.empty() || rest == "TRANSACTION" || rest == "WORK";
  }
  return false;
}

constexpr std::string_view kAborted =
    "current transaction is aborted: its server connection was lost; ROLLBACK to continue";

}  // namespace

void ClientConn::serverLost(std::string_view reason, pg::RequestQueue::Pending pending,
                            char txStatus) {
  server_ = nullptr;
  if (state_ == State::Closing) return;
  if (state_ == State::Login) {
    // The server died while being set up for this client: nothing of the client's was sent on
    // it yet, so it just waits for another one.
    if (++loginRetries_ <= kMaxLoginRetries) {
      log::warn(who(), "server lost before use ({}); waiting for another", reason);
      askPool();
      return;
    }
    fatal("08006", fmt::format("server connection lost: {}", reason), "server connection lost");
    return;
  }
  if (state_ != State::Active) return;
  if (routing_) {
    routing_->awaitingReady = false;
    routing_->shard.reset();
    routing_->routed = {};
    routing_->local = {};
  }
  if (!scanner_.atBoundary()) {
    // Part of a message is still on its way from the client: no way to resynchronize.
    fatal("08006", fmt::format("server connection lost: {}", reason), "server connection lost");
    return;
  }
  worker().runtime().countError("server connection lost");
  if (pending.readies == 0 && !pending.openBatch && txStatus == 'I') {
    log::info(who(), "server lost while idle ({}); the next query gets another", reason);
    return;
  }
  std::string message = fmt::format(
      "server connection lost ({}); the transaction was rolled back (if this was its COMMIT, it "
      "may have committed) and can be retried",
      reason);
  log::warn(who(), "server lost with {} repl{} pending: {}", pending.readies,
            pending.readies == 1 ? "y" : "ies", reason);
  pg::Writer w;
  for (size_t i = 0; i < pending.readies; ++i) {
    pg::putErrorResponse(w, "ERROR", "08006", message);
    pg::putReadyForQuery(w, 'I');
  }
  if (pending.openBatch) {
    if (pending.readies == 0) pg::putErrorResponse(w, "ERROR", "08006", message);
    discardUntilSync_ = true;
  } else if (pending.readies == 0) {
    lostTransaction_ = true;  // idle inside a transaction: it is gone
  }
  appendOwned(w.data());
  flushForward();
  // Sharded: what the client sent after the lost statements is routed afresh.
  if (routing_ && !inbuf_.empty()) {
    if ((discardUntilSync_ || lostTransaction_) && !answerLostTransaction()) return;
    routeNext();
  }
}

bool ClientConn::answerLostTransaction() {
  pg::Writer w;
  while (discardUntilSync_ || lostTransaction_) {
    pg::Frame f =
        pg::frameMessage(pg::Bytes(reinterpret_cast<const uint8_t*>(inbuf_.data()), inbuf_.size()));
    if (f.status == pg::FrameStatus::NeedMore) break;
    if (f.status == pg::FrameStatus::Invalid) {
      fatal("08P01", "invalid message length from client", "protocol violation");
      return false;
    }
    std::string body(reinterpret_cast<const char*>(f.body.data()), f.body.size());
    char type = f.type;
    inbuf_.erase(0, f.totalSize);
    pg::releaseIfLarge(inbuf_);
    pg::Bytes b(reinterpret_cast<const uint8_t*>(body.data()), body.size());
    if (type == 'X') {
      appendOwned(w.data());
      flushForward();
      close("client sent Terminate");
      return false;
    }
    if (discardUntilSync_) {
      if (type == 'S') {
        discardUntilSync_ = false;
        bool ended = rollbackInBatch_;
        rollbackInBatch_ = false;
        if (ended) lostTransaction_ = false;
        pg::putReadyForQuery(w, lostTransaction_ ? 'E' : 'I');
      }
      continue;
    }
    // lostTransaction_: only its end is accepted.
    if (type == 'Q') {
      if (endsTransaction(body)) {
        pg::putCommandComplete(w, "ROLLBACK");
        pg::putReadyForQuery(w, 'I');
        lostTransaction_ = false;
      } else {
        pg::putErrorResponse(w, "ERROR", "25P02", kAborted);
        pg::putReadyForQuery(w, 'E');
      }
      continue;
    }
    answerLostExtended(type, b, w);
  }
  appendOwned(w.data());
  flushForward();
  return true;
}

// The extended protocol inside a lost transaction: a ROLLBACK (or COMMIT) batch is answered as
// the server would; anything else fails and the rest of its batch is skipped until Sync.
void ClientConn::answerLostExtended(char type, pg::Bytes body, pg::Writer& w) {
  switch (type) {
    case 'P': {
      auto parse = pg::decodeParse(body);
      if (parse && endsTransaction(parse->query)) {
        rollbackInBatch_ = true;
        pg::putParseComplete(w);
        return;
      }
      break;
    }
    case 'B':
      if (rollbackInBatch_) {
        pg::putBindComplete(w);
        return;
      }
      break;
    case 'D':
      if (rollbackInBatch_) {
        pg::putNoData(w);
        return;
      }
      break;
    case 'E':
      if (rollbackInBatch_) {
        pg::putCommandComplete(w, "ROLLBACK");
        return;
      }
      break;
    case 'C':
      pg::putCloseComplete(w);
      return;
    case 'H':
      return;
    case 'S':
      pg::putReadyForQuery(w, rollbackInBatch_ ? 'I' : 'E');
      if (rollbackInBatch_) lostTransaction_ = false;
      rollbackInBatch_ = false;
      return;
    default:
      break;
  }
  pg::putErrorResponse(w, "ERROR", "25P02", kAborted);
  discardUntilSync_ = true;
  rollbackInBatch_ = false;
}

}  // namespace shardpool::pooler
