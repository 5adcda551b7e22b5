#include "pooler/pg/client_conn.h"

#include <fmt/format.h>

#include <cassert>

#include "pooler/session/console_session.h"
#include "pooler/pg/client_routing.h"
#include "pooler/session/cancel.h"
#include "pooler/net/log.h"
#include "pooler/session/pool.h"
#include "pooler/protocol/pg_extended.h"
#include "pooler/session/runtime.h"
#include "pooler/pg/server_conn.h"
#include "pooler/session/settings_list.h"

namespace shardpool::pooler {

namespace pg = protocol::pg;

namespace {
constexpr size_t kMaxPendingBytes = 1 << 20;
}  // namespace

ClientConn::ClientConn(Worker& worker, uint64_t id) : ClientSession(worker, id) {}

ClientConn::~ClientConn() = default;

void ClientConn::onData(Chunk* chunk, size_t len) {
  lastActivity_ = worker().now();
  switch (state_) {
    case State::Startup:
    case State::Auth:
      inbuf_.append(reinterpret_cast<const char*>(chunk->data()), len);
      handleStartupBytes();
      return;
    case State::WaitServer:
    case State::Login:
    case State::Scatter:
      inbuf_.append(reinterpret_cast<const char*>(chunk->data()), len);
      // Hold at most about kMaxPendingBytes while no server is ours: stop reading until one is.
      if (inbuf_.size() > kMaxPendingBytes) stopReading();
      return;
    case State::Console:
      inbuf_.append(reinterpret_cast<const char*>(chunk->data()), len);
      consoleInput();
      return;
    case State::Active: {
      PoolCounters& counters = pool_->counters(worker().index());
      counters.add(counters.received, len);
      if (routing_) {
        inbuf_.append(reinterpret_cast<const char*>(chunk->data()), len);
        if (!server_ && (discardUntilSync_ || lostTransaction_) && !answerLostTransaction())
          return;
        if (!server_)
          routeNext();
        else
          pumpRouted();
        if (inbuf_.size() > kMaxPendingBytes) stopReading();
        return;
      }
      if (!server_) {
        // Transaction pooling between transactions: hold the bytes and get a server.
        if (inbuf_.capacity() < len && inbuf_.empty()) inbuf_ = worker().takeBuffer();
        inbuf_.append(reinterpret_cast<const char*>(chunk->data()), len);
        if ((discardUntilSync_ || lostTransaction_) && !answerLostTransaction()) return;
        wantServer();
        return;
      }
      currentChunk_ = chunk;
      pg::ScanResult r = scanner_.feed(pg::Bytes(chunk->data(), len), *this);
      currentChunk_ = nullptr;
      if (server_) server_->flushForward();
      flushForward();  // replies shardpool synthesized (ParseComplete, CloseComplete, ...)
      if (r.status == pg::ScanStatus::Invalid) {
        fatal("08P01", "invalid message length from client", "protocol violation");
        return;
      }
      if (server_ && server_->writeQueueSize() > kHighWater) server_->throttle(*this);
      // Everything was answered by shardpool itself (a DEALLOCATE of a mapped statement): the
      // server may go back at once, as after a ReadyForQuery from it.
      if (answeredLocally_) {
        answeredLocally_ = false;
        if (server_ && server_->clean()) serverReady(*server_);
      }
      return;
    }
    case State::Closing:
      return;
  }
}

void ClientConn::shareSettings() {
  params_.share(pool_->internSettings(*params_));
  startup_.share(pool_->internSettings(*startup_));
}

void ClientConn::wantServer() {
  if (inbuf_.empty()) return;
  // Between transactions the bytes start at a message: a Terminate needs no server.
  if (inbuf_[0] == 'X') {
    close("client sent Terminate");
    return;
  }
  if (answerPrepareLocally()) return;
  if (inbuf_.size() > kMaxPendingBytes) stopReading();
  askPool();
}

bool ClientConn::waitingForServer() const {
  return state_ == State::WaitServer ||
         (state_ == State::Scatter && routing_->scatter && routing_->scatter->waiting());
}

void ClientConn::linkServer(ServerLink* link) {
  ServerConn* server = ServerConn::of(link);
  if (state_ == State::Scatter) {
    routing_->scatter->serverArrived(server);
    return;
  }
  server_ = server;
  setState(State::Login);
  log::debug(who(), "linked to {}", server->who());
  // Most links go to a server a client with the same settings list left as it found it.
  if (server->settingsMatch(params_.shared())) {
    server->link(this, std::string(), {});
    return;
  }
  std::vector<std::pair<std::string, std::string>> toApply;
  std::string query = buildSetQuery(*server, toApply);
  if (query.empty()) server->noteSettingsMatch(params_.shared());
  server->link(this, std::move(query), std::move(toApply));
}

void ClientConn::loginComplete(const pg::ErrorFields* error) {
  if (error) {
    fatal(error->sqlstate, error->message, "server rejected the client's session parameters");
    return;
  }
  setState(State::Active);
  loginRetries_ = 0;
  if (!loggedIn_) {
    loggedIn_ = true;
    // The server accepted the client's startup parameters: remember how it spells them, so
    // that the next login with the same ones needs no server (completeLoginLocally).
    SettingsList startup;
    for (auto& [k, raw] : *startup_) {
      std::string accepted = server_->reports(k) ? std::string(server_->param(k)) : raw;
      pool_->learnStartupValue(k, raw, accepted);
      startup.emplace_back(k, std::move(accepted));
    }
    startup_.assign(std::move(startup));
    pg::Writer w;
    for (auto& [k, v] : server_->params()) {
      pg::putParameterStatus(w, k, v);
      noteParameter(k, v);
    }
    pg::putBackendKeyData(w, cancelPid_, cancelKey_);
    pg::putReadyForQuery(w, server_->transactionStatus());
    send(w.take());
    shareSettings();
    log::info(who(), "login complete on {}", server_->who());
  }
  forwardPending();
  if (server_ && server_->clean()) serverReady(*server_);
}

void ClientConn::forwardPending() {
  if (!reading()) startReading();  // paused while too much was pending
  if (routing_) {
    // The server of the client's login: released at once (loginComplete), and what the client
    // sent meanwhile is routed then.
    if (!routing_->shard) return;
    injectDeferredBegin();
    pumpRouted();
    return;
  }
  if (inbuf_.empty()) return;
  std::string pending = std::move(inbuf_);
  inbuf_.clear();
  pg::ScanResult r =
      scanner_.feed(pg::Bytes(reinterpret_cast<const uint8_t*>(pending.data()), pending.size()),
                    *this);
  worker().recycleBuffer(std::move(pending));
  if (server_) server_->flushForward();
  flushForward();  // replies shardpool synthesized for the client
  if (r.status == pg::ScanStatus::Invalid) fatal("08P01", "invalid message length from client");
}

pg::Disposition ClientConn::onHeader(char type, uint32_t) {
  if (state_ != State::Active || !server_) return pg::Disposition::Swallow;
  if (routing_) {
    // Sharded: stop after each sync point (onMessage), until its ReadyForQuery.
    switch (type) {
      case 'S':
      case 'F':
        server_->pushRequest({type});
        return pg::Disposition::Inspect;
      case 'c':
      case 'f':
        return pg::Disposition::Inspect;
      default:
        break;
    }
  }
  switch (type) {
    case 'X':
      return pg::Disposition::Collect;
    case 'P':
    case 'B':
    case 'D':
    case 'C':
      if (trackStatements_) return pg::Disposition::Collect;  // renamed in onMessage
      server_->pushRequest({type});
      return pg::Disposition::Forward;
    case 'Q':
      if (txnPooling_) return pg::Disposition::Collect;  // handleQuery
      server_->pushRequest({type});
      return pg::Disposition::Forward;
    case 'E':
    case 'S':
    case 'F':
      server_->pushRequest({type});
      return pg::Disposition::Forward;
    case 'H':  // Flush
    case 'd':  // CopyData, CopyDone, CopyFail
    case 'c':
    case 'f':
      return pg::Disposition::Forward;
    default:
      // PostgreSQL would end the session; do it here, before the server (possibly shared in
      // transaction pooling) sees the message.
      fatal("08P01", fmt::format("invalid frontend message type {}", static_cast<int>(type)),
            "protocol violation");
      return pg::Disposition::Swallow;
  }
}

void ClientConn::onForward(pg::Bytes bytes, bool inInput) {
  if (!server_) return;
  if (inInput && currentChunk_)
    server_->forwardSlice(currentChunk_, bytes.data(), bytes.size());
  else
    server_->forwardCopy(bytes.data(), bytes.size());
}

bool ClientConn::onMessage(char type, pg::Bytes body) {
  switch (type) {
    case 'X':
      close("client sent Terminate");
      return false;
    case 'P':
      handleParse(body);
      break;
    case 'B':
      handleBind(body);
      break;
    case 'D':
      handleDescribe(body);
      break;
    case 'C':
      handleClose(body);
      break;
    case 'Q':
      handleQuery(body);
      break;
    default:
      break;
  }
  if (routing_ && state_ != State::Closing) {
    if (type == 'Q' || type == 'S' || type == 'F') routing_->awaitingReady = true;
    // After a sync point (or the end of a COPY) the rest waits for pumpRouted.
    if (type == 'Q' || type == 'S' || type == 'F' || type == 'c' || type == 'f') return false;
  }
  return state_ != State::Closing;
}

void ClientConn::serverReady(ServerConn& server) {
  if (state_ != State::Active) return;
  if (worker().shuttingDown() && server.clean() && inbuf_.empty()) {
    flushForward();
    terminateForShutdown();
    return;
  }
  if (routing_) {
    routedReady();
    return;
  }
  // Session mode keeps the server; the other modes give it back between transactions (a
  // transaction block in statement mode was refused in ServerConn::onActiveReply).
  // A cancel of this client's query still on its way keeps the server (cancelDelivered).
  if (pool_->settings().mode != config::PoolMode::Session && server.clean() &&
      scanner_.atBoundary() && inbuf_.empty() && !server.cancelInFlight() &&
      (touched_.empty() || !captureSettings(server)))
    releaseServer();
}

void ClientConn::cancelRequested() {
  if (state_ == State::Active && server_ && server_->awaitingReady()) {
    server_->sendCancel();
  } else if (state_ == State::Scatter && routing_->scatter) {
    routing_->scatter->cancel();
  } else {
    log::info(who(), "cancel request ignored: no query of this client is running");
  }
}

// Transaction/statement pooling: give the server back between transactions.
void ClientConn::releaseServer() {
  ServerConn* s = server_;
  server_ = nullptr;
  flushForward();  // the ReadyForQuery that ended the transaction
  s->releaseToPool();
}

void ClientConn::refuseTransactionBlock() {
  fatal("25001", "transaction blocks are not allowed in statement pooling mode",
        "statement mode");
}

void ClientConn::serverWithdrawn() {
  if (state_ == State::Scatter) {
    routing_->scatter->serverWithdrawn();
    return;
  }
  if (state_ != State::WaitServer) return;
  log::info(who(), "the server meant for this client closed first; asking the pool again");
  askPool(true);
}

void ClientConn::serverFailed(std::string_view reason, std::string_view sqlstate) {
  if (state_ == State::Scatter) {
    routing_->scatter->serverFailed(reason);
    return;
  }
  if (state_ != State::WaitServer) return;
  if (routing_ && pool_->member() != 0) {
    // A replica could not serve this read: its shard's primary will.
    log::warn(who(), "connect to a replica failed ({}); reading from the primary", reason);
    pool_ = &shardPool(pool_->shard(), 0);
    askPool(true);
    return;
  }
  if (holdForFailover(reason, sqlstate)) return;
  fatal(sqlstate, fmt::format("could not connect to server for database \"{}\": {}", database_,
                              reason),
        "server connect failed");
}

void ClientConn::onTick(Clock::time_point now, const config::General& g) {
  auto seconds = [](config::Duration d) { return d.count() / 1000.0; };
  switch (state_) {
    case State::Active:
      if (server_ && server_->awaitingReady()) {
        if (g.queryTimeout.count() > 0 && now - server_->busySince() >= g.queryTimeout)
          server_->cancelForTimeout(g.queryTimeout);
        return;
      }
      if (server_ && server_->transactionStatus() != 'I') {
        if (g.idleTransactionTimeout.count() > 0 &&
            now - server_->readySince() >= g.idleTransactionTimeout)
          fatal("25P03",
                fmt::format("idle_transaction_timeout: idle in transaction for more than {:.1f} s",
                            seconds(g.idleTransactionTimeout)),
                "idle_transaction_timeout");
        return;
      }
      if (g.clientIdleTimeout.count() > 0 && now - lastActivity_ >= g.clientIdleTimeout)
        fatal("57P05",
              fmt::format("client_idle_timeout: idle for more than {:.1f} s",
                          seconds(g.clientIdleTimeout)),
              "client_idle_timeout");
      return;
    case State::Console:
      console_->onTick();
      return;
    case State::Scatter:
      // Waiting for the shards' servers: query_wait_timeout as for one server.
      if (routing_->scatter && routing_->scatter->waiting() && g.queryWaitTimeout.count() > 0 &&
          now - waitStart_ >= g.queryWaitTimeout)
        routing_->scatter->serverFailed(fmt::format(
            "query_wait_timeout: no server connection of every shard became free within {:.1f} s",
            seconds(g.queryWaitTimeout)));
      return;
    case State::Startup:
    case State::Auth:
      if (login_ && login_->heldUntil && now >= *login_->heldUntil) {
        resumeLogin();
        return;
      }
      if (g.clientLoginTimeout.count() > 0 && now - startedAt_ >= g.clientLoginTimeout)
        fatal("08P01",
              fmt::format("client_login_timeout: login not completed within {:.1f} s",
                          seconds(g.clientLoginTimeout)),
              "client_login_timeout");
      return;
    case State::WaitServer:  // ClientSession::checkTimers
    case State::Login:
    case State::Closing:
      return;
  }
}

void ClientConn::terminateForShutdown() {
  fatal("57P01", "terminating connection because shardpool is shutting down", "shutdown");
}

void ClientConn::closeIfIdle() {
  switch (state_) {
    case State::Startup:
    case State::Auth:
    case State::WaitServer:
      terminateForShutdown();
      return;
    case State::Active:
      if (!server_ || server_->clean())
        terminateForShutdown();
      return;
    case State::Console:
      if (!console_->busy()) terminateForShutdown();
      return;
    case State::Login:
    case State::Scatter:
    case State::Closing:
      return;
  }
}

void ClientConn::fatal(std::string_view sqlstate, std::string_view message,
                       std::string_view reason) {
  if (state_ == State::Closing) return;
  pg::Writer w;
  pg::putErrorResponse(w, "FATAL", sqlstate, message);
  send(w.take());
  std::string why = reason.empty() ? std::string(message) : fmt::format("{}: {}", reason, message);
  // Counted by the reason's category: the text before any ':' detail.
  std::string_view category = reason.empty() ? message : reason;
  worker().runtime().countError(category.substr(0, category.find(':')));
  close(why);
}

void ClientConn::onClosing() {
  if (routing_) routing_->scatter.reset();  // its servers: back to the pool, or closed
  if (ServerConn* s = server_) {
    server_ = nullptr;
    // Settings this client changed and shardpool has not read: the server cannot be handed on
    // as it is (the reset query, if any, undoes them).
    s->unlink(!scanner_.atBoundary(), !touched_.empty() || !capturing_.empty());
  }
}

void ClientConn::onReadEnd(int status) {
  close(status == UV_EOF ? "client disconnected"
                         : fmt::format("client read error: {}", uv_strerror(status)));
}

void ClientConn::onTlsFailed(const std::string& error) {
  close(fmt::format("TLS error: {}", error));
}

void ClientConn::onWriteError(int status) {
  close(fmt::format("client write error: {}", uv_strerror(status)));
}

}  // namespace shardpool::pooler
