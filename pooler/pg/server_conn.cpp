#include "pooler/pg/server_conn.h"

#include <fmt/format.h>

#include <cassert>

#include "pooler/session/conn_rows.h"
#include "pooler/session/cancel.h"
#include "pooler/pg/cancel_sender.h"
#include "pooler/pg/client_conn.h"
#include "pooler/net/log.h"
#include "pooler/session/pool.h"
#include "pooler/protocol/pg_extended.h"
#include "pooler/session/runtime.h"

namespace shardpool::pooler {

namespace pg = protocol::pg;

namespace {
// How long a closed server's backend may take to go after Terminate before its slot is freed.
constexpr auto kTerminateWait = std::chrono::seconds(30);

// The bound on shardpool's own queries on a server (session settings, the reset query):
// server_connect_timeout when set, else 15 s.
std::chrono::milliseconds ownQueryBound(const PoolSettings& s) {
  return s.serverConnectTimeout.count() > 0 ? s.serverConnectTimeout
                                            : std::chrono::milliseconds(15000);
}
}  // namespace

ServerConn::ServerConn(Worker& worker, uint64_t id, Pool& pool)
    : ServerLink(worker, id, pool) {}

ServerConn::~ServerConn() = default;

void ServerConn::onData(Chunk* chunk, size_t len) {
  if (state_ == State::Closed) return;  // waiting for the backend to go after Terminate
  if (state_ == State::TlsRequest) {
    onTlsAnswer(chunk, len);
    return;
  }
  if (sink_) {
    sink_->shardData(sinkIndex_, pg::Bytes(chunk->data(), len));
    return;
  }
  if (client_) counters().add(counters().sent, len);
  currentChunk_ = chunk;
  pg::ScanResult r = scanner_.feed(pg::Bytes(chunk->data(), len), *this);
  currentChunk_ = nullptr;
  if (client_) client_->flushForward();
  if (r.status == pg::ScanStatus::Invalid) {
    close("invalid message from server");
    return;
  }
  if (client_ && client_->writeQueueSize() > kHighWater) client_->throttle(*this);
}

pg::Disposition ServerConn::onHeader(char type, uint32_t) {
  if (state_ == State::Active && client_) {
    // Errors are rare: all are collected, to rename statements, to name query_timeout, and to
    // keep a FATAL from the server from ending the client's session with shardpool.
    if (type == 'E') return pg::Disposition::Collect;
    // Statement mode: a ReadyForQuery inside a transaction block is replaced by an error.
    if (type == 'Z' && client_->statementMode()) return pg::Disposition::Collect;
    // A setting changed by shardpool's own query for the client (a RESET back to the client's
    // startup value) is reported to the client as PostgreSQL would have reported it; the
    // values the settings query brings in (Fate::Apply) are the client's own: not reported.
    if (type == 'S')
      return requests_.replyFate(type) == pg::Fate::Apply ? pg::Disposition::Collect
                                                          : pg::Disposition::Inspect;
    switch (requests_.replyFate(type)) {
      case pg::Fate::Swallow:
      case pg::Fate::RenameError:
      case pg::Fate::Capture:
      case pg::Fate::Apply:
        return pg::Disposition::Collect;
      case pg::Fate::Forward:
      case pg::Fate::Synthesize:
        break;
    }
    if (type == 'S' || requests_.matters(type)) return pg::Disposition::Inspect;
    return pg::Disposition::Forward;
  }
  if (!isOpen()) return pg::Disposition::Swallow;
  return pg::Disposition::Collect;
}

bool ServerConn::onActiveReply(char type, pg::Bytes body) {
  if (type == 'S') return true;  // a ParameterStatus alone completes nothing
  const pg::Request* front = requests_.front();
  if (front && front->fate == pg::Fate::Apply) return onApplyReply(type, body);
  bool capture = front && front->fate == pg::Fate::Capture;
  if (capture && type != 'Z') {
    if (type == 'D' && client_) {
      if (auto row = pg::decodeDataRow(body)) client_->settingsCaptured(*row);
    } else if (type == 'E') {
      auto e = pg::decodeErrorResponse(body);
      log::warn(who_, "reading the client's session settings failed: {}",
                e ? e->message : "malformed error");
    }
    return true;
  }
  if (type == 'E') noteStatementError(body);
  if (type == 'E' && client_ && rewritesError()) {
    if (auto e = pg::decodeErrorResponse(body)) {
      std::string msg = e->message;
      if (timeoutCancel_.count() > 0 && e->sqlstate == "57014") {
        // Our query_timeout cancel: say so instead of "due to user request".
        msg =
            fmt::format("canceling statement due to query_timeout ({} ms)", timeoutCancel_.count());
      } else if (requests_.replyFate(type) == pg::Fate::RenameError) {
        // Our re-sent Parse collided with the client's own statement: use the client's name.
        const pg::Request& r = *requests_.front();
        size_t at = msg.find(r.serverName);
        if (at != std::string::npos) msg.replace(at, r.serverName.size(), r.clientName);
      }
      pg::Writer w;
      pg::putErrorResponse(w, e->severity, e->sqlstate, msg, e->detail, e->hint);
      client_->appendOwned(w.data());
    }
  } else if (type == 'E' && client_) {
    pg::Writer w;
    pg::putErrorDowngraded(w, body);
    client_->appendOwned(w.data());
  }
  if (type == 'Z' && client_ && client_->statementMode() && !capture) {
    if (txStatus_ != 'I' && requests_.size() <= 1) {
      requests_.onReply(type, *this);
      client_->refuseTransactionBlock();  // closes the client; this server is not clean
      return isOpen();
    }
    pg::Writer w;
    pg::putReadyForQuery(w, txStatus_);
    client_->appendOwned(w.data());
  }
  requests_.onReply(type, *this);
  if (type == 'Z') countReady();
  if (requests_.empty()) {
    readySince_ = worker().now();
    timeoutCancel_ = config::Duration{0};
  }
  if (log::enabled(log::Level::Debug))
    log::debug(who_, "reply {} queue {} tx {}", type, requests_.size(), txStatus_);
  if (type == 'Z' && client_) client_->serverReady(*this);
  return isOpen();
}

bool ServerConn::onApplyReply(char type, pg::Bytes body) {
  if (type == 'E') {
    applyError_ = pg::decodeErrorResponse(body);
    if (!applyError_) applyError_.emplace().message = "malformed error";
    return true;
  }
  if (type != 'Z') return true;
  requests_.onReply(type, *this);
  if (requests_.empty()) readySince_ = worker().now();
  if (applyError_) {
    // The client's messages are on their way behind the settings it should have met: it cannot
    // go on in a session that is not its own, and this server's settings are unknown.
    pg::ErrorFields e = std::move(*applyError_);
    applyError_.reset();
    log::warn(who_, "applying the client's session settings failed: {} ({})", e.message,
              e.sqlstate);
    if (ClientConn* c = client_)
      c->fatal(e.sqlstate.size() == 5 ? std::string_view(e.sqlstate) : "08006",
               fmt::format("could not restore the session settings on a server: {}", e.message),
               "server rejected the client's session settings");
    if (isOpen()) close("it failed to take a client's session settings");
    return false;
  }
  if (cancelAfterApply_) {
    cancelAfterApply_ = false;
    if (!requests_.empty()) sendCancel();
  }
  if (client_ && requests_.empty() && clean()) client_->serverReady(*this);
  return isOpen();
}

void ServerConn::noteStatementError(pg::Bytes body) {
  const pg::Request* r = requests_.front();
  if (!r || (r->type != 'B' && r->type != 'D') || r->serverName.empty()) return;
  auto e = pg::decodeErrorResponse(body);
  // After a schema change PostgreSQL refuses to run a prepared statement whose result columns
  // changed, until it is prepared again: drivers re-prepare, so the next Parse of this text
  // must reach the server instead of being answered from the cache.
  if (e && e->sqlstate == "0A000" && e->message.starts_with("cached plan must not change")) {
    log::info(who_, "statement {} must be prepared again: {}", r->serverName, e->message);
    statements_.markStale(r->serverName);
    pool_.noteStaleStatement(r->serverName, StatementCache::nextSequence());
  }
}

bool ServerConn::rewritesError() const {
  return timeoutCancel_.count() > 0 || requests_.replyFate('E') == pg::Fate::RenameError;
}

void ServerConn::cancelForTimeout(config::Duration timeout) {
  if (timeoutCancel_.count() > 0) return;
  timeoutCancel_ = timeout;
  log::warn(who_, "query_timeout ({} ms) expired: cancelling the running query", timeout.count());
  sendCancel();
}

void ServerConn::capture(std::string query) {
  pg::Writer w;
  pg::putQuery(w, query);
  send(w.take());
  pushRequest({'Q', pg::Fate::Capture});
}

void ServerConn::noteSetting(std::string_view name, const std::string* value) {
  if (findSetting(params_, name)) return;  // reported: ParameterStatus keeps it
  ++settingsVersion_;
  if (value)
    setSetting(applied_, name, *value);
  else
    eraseSetting(applied_, name);
}

void ServerConn::sendCancel() {
  if (backendPid_ == 0 || !isOpen()) return;
  if (const pg::Request* r = requests_.front(); r && r->fate == pg::Fate::Apply) {
    // Meant for the client's query, queued behind the settings query: sent when that is done.
    cancelAfterApply_ = true;
    return;
  }
  ++cancelsInFlight_;
  cancelSince_ = worker().now();
  sendCancelRequest(worker(), addr_, backendPid_, backendKey_, id());
}

void ServerConn::cancelDelivered() {
  if (cancelsInFlight_ == 0 || --cancelsInFlight_ > 0) return;
  // The client kept this server while the cancel was on its way: it may go back now.
  if (client_ && state_ == State::Active && clean()) client_->serverReady(*this);
}

void ServerConn::countReady() {
  auto now = Clock::now();
  auto us = [&](Clock::time_point since) {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(now - since).count());
  };
  PoolCounters& c = counters();
  if (queryOpen_) {
    c.add(c.queries, 1);
    c.add(c.queryUs, us(queryStart_));
    queryOpen_ = false;
  }
  if (xactOpen_ && txStatus_ == 'I') {
    c.add(c.xacts, 1);
    c.add(c.xactUs, us(xactStart_));
    xactOpen_ = false;
  }
  if (!requests_.empty()) {  // a pipeline: the next query is already under way
    queryOpen_ = true;
    queryStart_ = now;
  }
}

PoolCounters& ServerConn::counters() {
  return pool_.counters(worker().index());
}

void ServerConn::pushRequest(pg::Request&& r) {
  if (requests_.empty()) busySince_ = worker().now();
  if (!queryOpen_) {
    queryOpen_ = true;
    queryStart_ = Clock::now();
    if (!xactOpen_) {
      xactOpen_ = true;
      xactStart_ = queryStart_;
    }
  }
  if (log::enabled(log::Level::Debug))
    log::debug(who_, "request {} fate {} queue {}", r.type, int(r.fate), requests_.size());
  if (r.type == 'Q' && r.fate != pg::Fate::Synthesize) setUnnamed(0, 0);
  requests_.push(std::move(r));
  requests_.drainSynthetic(*this);
}

void ServerConn::completed(const pg::Request& r) {
  if (r.type == 'P' && !r.serverName.empty() && r.fate != pg::Fate::RenameError)
    pool_.noteValidStatement(r.serverName);
}

void ServerConn::dropped(const pg::Request& r) {
  // A Parse the server failed or skipped prepared nothing.
  if (r.type == 'P' && !r.serverName.empty() && r.fate != pg::Fate::RenameError)
    statements_.remove(r.serverName);
  if (r.type == 'P' && !r.clientName.empty() && r.fate == pg::Fate::Forward && client_)
    client_->forgetStatement(r.clientName);
}

void ServerConn::synthesize(const pg::Request& r) {
  if (!client_) return;
  pg::Writer w;
  if (r.type == 'P') {
    pg::putParseComplete(w);
  } else if (r.type == 'C') {
    pg::putCloseComplete(w);
    if (!r.clientName.empty()) client_->forgetStatement(r.clientName);
  } else if (r.type == 'Q') {
    // SQL DEALLOCATE of one of the client's protocol-level statements: what PostgreSQL answers
    // on a dedicated connection, in the transaction state the statement would meet.
    if (txStatus_ == 'E') {
      pg::putErrorResponse(w, "ERROR", "25P02",
                           "current transaction is aborted, commands ignored until end of "
                           "transaction block");
    } else {
      client_->forgetStatement(r.clientName);
      pg::putCommandComplete(w, "DEALLOCATE");
    }
    pg::putReadyForQuery(w, txStatus_);
  }
  client_->appendOwned(w.data());
}

void ServerConn::onForward(pg::Bytes bytes, bool inInput) {
  if (!client_) return;
  if (inInput)
    client_->forwardSlice(currentChunk_, bytes.data(), bytes.size());
  else
    client_->forwardCopy(bytes.data(), bytes.size());
}

bool ServerConn::onMessage(char type, pg::Bytes body) {
  if (!isOpen()) return false;
  switch (type) {
    case 'S':
      if (auto ps = pg::decodeParameterStatus(body)) {
        setParam(ps->name, ps->value);
        if (state_ == State::Active && client_) client_->noteParameter(ps->name, ps->value);
      }
      return true;
    case 'Z': {
      auto st = pg::decodeReadyForQuery(body);
      if (!st) {
        close("malformed ReadyForQuery");
        return false;
      }
      txStatus_ = *st;
      break;
    }
    default:
      break;
  }
  switch (state_) {
    case State::Authenticating:
      if (setupReplies_ > 0) {
        if (onSetupReply(type, body)) loginDone();
        return isOpen();
      }
      if (type == 'R') return handleAuth(body);
      if (type == 'K') {
        if (auto k = pg::decodeBackendKeyData(body)) {
          backendPid_ = k->pid;
          backendKey_ = k->key;
        }
      } else if (type == 'E') {
        auto e = pg::decodeErrorResponse(body);
        if (e)
          fail(fmt::format("{} ({})", e->message, e->sqlstate),
               e->sqlstate.size() == 5 ? std::string_view(e->sqlstate) : "08006");
        else
          fail("login rejected by server");
        return false;
      } else if (type == 'Z') {
        if (!startConnectQuery()) loginDone();
      }
      return true;
    case State::Login:
      if (type == 'E') loginError_ = pg::decodeErrorResponse(body);
      if (type == 'Z') {
        requests_.clear();
        setState(State::Active);
        if (!loginError_) noteApplied(pendingApply_);
        pendingApply_.clear();
        ClientConn* c = client_;
        std::optional<pg::ErrorFields> err = std::move(loginError_);
        loginError_.reset();
        if (c) c->loginComplete(err ? &*err : nullptr);
      }
      return isOpen();
    case State::Active:
      return onActiveReply(type, body);
    case State::Resetting:
      if (setupReplies_ > 0) {
        if (onSetupReply(type, body)) backToPool();
        return isOpen();
      }
      if (type == 'E') {
        auto e = pg::decodeErrorResponse(body);
        close(fmt::format("reset query failed: {}", e ? e->message : "error"));
        return false;
      }
      if (type == 'Z') {
        requests_.clear();
        applied_.clear();  // the reset query (DISCARD ALL / RESET ALL) undid them
        ++settingsVersion_;
        statements_.clear();
        // ... and connect_query's settings with them: it runs again before the server is reused.
        if (!startConnectQuery()) backToPool();
      }
      return true;
    case State::Idle:
      if (type == 'E') {
        auto e = pg::decodeErrorResponse(body);
        close(fmt::format("server error while idle: {}", e ? e->message : "?"));
        return false;
      }
      return true;
    case State::Resolving:
    case State::Connecting:
    case State::TlsRequest:
    case State::TlsHandshake:
    case State::Closed:
      return false;
  }
  return true;
}

void ServerConn::setParam(std::string_view name, std::string_view value) {
  ++settingsVersion_;
  setSetting(params_, name, value);
}

std::string_view ServerConn::param(std::string_view name) const {
  const std::string* v = findSetting(params_, name);
  return v ? std::string_view(*v) : std::string_view();
}

const std::string* ServerConn::setting(std::string_view name) const {
  const std::string* v = findSetting(params_, name);
  if (!v) v = findSetting(applied_, name);
  return v ? v : findSetting(baseline_, name);
}

void ServerConn::link(ClientConn* client, std::string setQuery, Params toApply) {
  client_ = client;
  requests_.clear();
  applyError_.reset();
  cancelAfterApply_ = false;
  if (setQuery.empty()) {
    setState(State::Active);
    client->loginComplete(nullptr);
    return;
  }
  pg::Writer w;
  pg::putQuery(w, setQuery);
  send(w.take());
  setUnnamed(0, 0);  // a simple Query drops the unnamed statement
  busySince_ = worker().now();
  if (pipelineSettings(*client, toApply)) {
    // The client's messages follow in the same write: one round trip, not two.
    requests_.push({'Q', pg::Fate::Apply});
    noteApplied(toApply);
    setState(State::Active);
    client->loginComplete(nullptr);
    return;
  }
  setState(State::Login);
  pendingApply_ = std::move(toApply);
  requests_.push({'Q'});
}

bool ServerConn::pipelineSettings(const ClientConn& client, const Params& toApply) {
  // A first login waits: the client is told the values the server settled on. So does a role:
  // were the SET to fail, the client's statement must not run with the login role's rights.
  if (!client.loggedIn()) return false;
  for (auto& [k, v] : toApply)
    if (!v.empty() && sameSettingName(k, "role")) return false;
  return true;
}

void ServerConn::describeMore(ConnRow& row) const {
  if (client_) row.requestTime = toWallClock(busySince_);
  row.link = client_ ? client_->id() : 0;
  row.remotePid = backendPid_;
  if (tls()) row.tls = tls()->description();
  row.applicationName = std::string(param("application_name"));
  row.preparedStatements = static_cast<uint32_t>(statements_.size());
}

bool ServerConn::clean() const {
  return isOpen() && requests_.empty() && !requests_.skippingToSync() && txStatus_ == 'I' &&
         scanner_.atBoundary();
}

void ServerConn::unlink(bool clientMidMessage, bool settingsUnknown) {
  ClientConn* c = client_;
  client_ = nullptr;
  if (c) clearThrottle();
  if (state_ == State::Closed) return;
  if (cancelsInFlight_ > 0) {
    // A cancel on its way would hit whatever runs here next.
    close("client disconnected while a cancel request was on its way");
    return;
  }
  if (clientMidMessage) {
    // Part of a message went through (Flush or CopyData are passed on as they arrive): anything
    // sent now, Terminate included, would be read as the rest of it. The socket is closed at
    // once (the backend ends on its EOF), and the server never reused.
    close("client disconnected in the middle of a message", true);
    return;
  }
  if (!clean() || (state_ != State::Active && state_ != State::Login)) {
    // A query still running would keep its locks until it ends: cancel it before saying
    // goodbye (the slot is held until the backend has gone).
    if (!requests_.empty() && backendPid_ != 0)
      sendCancelRequest(worker(), addr_, backendPid_, backendKey_);
    close(txStatus_ != 'I' ? "client disconnected inside a transaction"
                           : "client disconnected while the server was busy");
    return;
  }
  if (closedInsteadOfReuse()) return;
  if (pool_.settings().resetQuery.empty() || state_ == State::Login) {
    if (settingsUnknown && state_ != State::Login) {
      close("the client left session settings shardpool could not read back");
      return;
    }
    backToPool();
    return;
  }
  setState(State::Resetting);
  pg::Writer w;
  pg::putQuery(w, pool_.settings().resetQuery);
  send(w.take());
  requests_.push({'Q'});
  setUnnamed(0, 0);
  busySince_ = worker().now();
}

void ServerConn::noteApplied(const Params& applied) {
  ++settingsVersion_;
  for (auto& [k, v] : applied) {
    if (!param(k).empty()) continue;  // reported: ParameterStatus updated it
    if (v.empty())
      eraseSetting(applied_, k);
    else
      setSetting(applied_, k, v);
  }
}

void ServerConn::linkSink(ScatterSink* sink, size_t index) {
  sink_ = sink;
  sinkIndex_ = index;
  requests_.clear();
  setUnnamed(0, 0);  // the scatter run's messages may use the unnamed statement
  setState(State::Active);
  busySince_ = worker().now();
}

void ServerConn::unlinkSink() {
  sink_ = nullptr;
  if (state_ == State::Closed) return;
  if (cancelsInFlight_ > 0) {
    close("a cancel request was on its way");
    return;
  }
  if (txStatus_ != 'I' || !isOpen()) {
    close("a statement sent to every shard left its transaction open");
    return;
  }
  if (!closedInsteadOfReuse()) backToPool();
}

void ServerConn::releaseToPool() {
  client_ = nullptr;
  clearThrottle();
  if (!closedInsteadOfReuse()) backToPool();
}

void ServerConn::backToPool() { offer(0); }

void ServerConn::onTick(Clock::time_point now) {
  const PoolSettings& s = pool_.settings();
  if (cancelsInFlight_ > 0 && now - cancelSince_ >= kCancelHold) {
    log::warn(who_, "a cancel request was not confirmed within {} s", kCancelHold.count());
    cancelsInFlight_ = 1;
    cancelDelivered();
  }
  switch (state_) {
    case State::Closed:
      // Terminate was sent: the backend normally goes at once. One that does not (stuck in a
      // query its cancel did not reach) is given up on after kTerminateWait.
      if (awaitingEof_ && now - closingSince_ >= kTerminateWait) finishClose();
      break;
    case State::Login:
    case State::Resetting:
      // shardpool's own queries (the client's settings, the reset query) are short: a backend
      // that does not answer them within the bound is closed, never left holding its slot.
      if (now - busySince_ >= ownQueryBound(s)) {
        close(fmt::format("the backend did not answer {} within {} ms",
                          state_ == State::Login ? "the session settings" : "the reset query",
                          ownQueryBound(s).count()));
      }
      break;
    case State::Resolving:  // ServerLink::checkTimers
    case State::Connecting:
    case State::TlsRequest:
    case State::TlsHandshake:
    case State::Authenticating:
    case State::Idle:
    case State::Active:
      break;
  }
}

void ServerConn::fail(std::string_view reason, std::string_view sqlstate, bool socketDead) {
  if (tryNextHost(reason)) return;
  uint64_t target = forClient_;
  forClient_ = 0;
  log::warn(who_, "server connection failed: {}", reason);
  counters().add(counters().serverConnectFailures, 1);
  if (target) {
    if (ClientSession* c = worker().findClient(target)) c->serverFailed(reason, sqlstate);
  }
  close(reason, socketDead);
}

void ServerConn::close(std::string_view reason, bool socketDead) {
  if (state_ == State::Closed) return;
  // Still logging in for a waiting client (the backend hung up, a read or TLS error): that
  // client must hear of it, or it waits for a server that never comes.
  if (forClient_ != 0) {
    fail(reason, "08006", socketDead);  // a dead socket still frees its slot at once
    return;
  }
  bool loggedIn = state_ != State::Resolving && state_ != State::Connecting &&
                  state_ != State::TlsRequest && state_ != State::TlsHandshake;
  setState(State::Closed);
  log::info(who_, "closing server connection: {}", reason);
  if (ScatterSink* sink = sink_) {
    sink_ = nullptr;
    sink->shardLost(sinkIndex_, reason);
  }
  if (ClientConn* c = client_) {
    client_ = nullptr;
    c->serverLost(reason, requests_.pending(), txStatus_);
  }
  if (loggedIn && isOpen() && !socketDead) {
    // Say goodbye and keep the slot until the backend has gone (its EOF), so that pool_size
    // and max_db_connections bound real backend processes, not just our sockets.
    pg::Writer w;
    pg::putTerminate(w);
    send(w.take());
    flushForward();
    awaitingEof_ = true;
    closingSince_ = worker().now();
    startReading();
    return;
  }
  finishClose();
}

void ServerConn::finishClose() {
  awaitingEof_ = false;
  closeHandle();
  if (!goneReported_) {
    goneReported_ = true;
    pool_.serverGone(worker(), generation_);
  }
  worker().retire(this);
}

void ServerConn::onReadEnd(int status) {
  if (awaitingEof_) {
    finishClose();
    return;
  }
  // The backend is gone already: its slot is free at once.
  std::string reason = status == UV_EOF ? "server closed the connection"
                                        : fmt::format("read error: {}", uv_strerror(status));
  if (!tryNextHost(reason)) close(reason, true);
}

void ServerConn::onWriteError(int status) {
  if (awaitingEof_) {
    finishClose();
    return;
  }
  std::string reason = fmt::format("write error: {}", uv_strerror(status));
  if (!tryNextHost(reason)) close(reason, true);
}

}  // namespace shardpool::pooler
