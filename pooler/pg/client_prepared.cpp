// Transaction/statement pooling with protocol-level prepared statements: the client's statement
// names are mapped to server-side names derived from (query, parameter types), prepared on
// demand on whichever server the client is given, and answered in order (see pg_requests.h).
#include <fmt/format.h>

#include "pooler/pg/batch_walk.h"
#include "pooler/pg/client_conn.h"
#include "pooler/pg/client_routing.h"
#include "pooler/protocol/pg_extended.h"
#include "pooler/net/log.h"
#include "pooler/pg/server_conn.h"
#include "pooler/pg/session_guard.h"

namespace shardpool::pooler {

namespace pg = protocol::pg;

namespace {
// The server-side statement an extended-protocol DEALLOCATE of a client's statement removes.
constexpr std::string_view kDeallocateStandIn = "sp_deallocate_stand_in";
// A forgotten unnamed statement keeps its buffers for the next one up to this size.
constexpr size_t kKeptUnnamedBytes = 4096;
}  // namespace

void ClientConn::forwardRaw(char type, pg::Bytes body) {
  // The message as it came (header rebuilt on the stack): no copy beyond the server's buffer.
  uint32_t len = static_cast<uint32_t>(body.size() + 4);
  const char header[5] = {type, static_cast<char>(len >> 24), static_cast<char>(len >> 16),
                          static_cast<char>(len >> 8), static_cast<char>(len)};
  server_->appendOwned(std::string_view(header, sizeof header));
  server_->appendOwned(std::string_view(reinterpret_cast<const char*>(body.data()), body.size()));
}

void ClientConn::evictIfFull() {
  if (auto victim = server_->statements().evictIfFull(maxPrepared_)) {
    pg::Writer w;
    pg::putClose(w, 'S', *victim);
    server_->appendOwned(w.data());
    server_->pushRequest({'C', pg::Fate::Swallow});
  }
}

void ClientConn::ensurePrepared(const ClientStatement& st) {
  StatementCache& cache = server_->statements();
  if (cache.contains(st.serverName)) {
    cache.touch(st.serverName);
    return;
  }
  // A statement the server refused after a schema change: it keeps refusing it to the clients
  // that prepared it before (they prepare it again, under a new name, as on PostgreSQL).
  if (cache.isStale(st.serverName)) return;
  prepareOnServer(st, {'P', pg::Fate::Swallow, false, {}, st.serverName});
}

std::string ClientConn::freshServerName(const std::string& base) {
  // A new Parse must not meet a copy broken by a schema change: one another server found
  // broken after this server prepared it, or any prepared before a client's ALTER / DROP.
  StatementCache& cache = server_->statements();
  uint64_t schemaChange = pool_->schemaChangedAt();
  for (;;) {
    std::string name = cache.current(base);
    uint64_t at = cache.preparedAt(name);
    if (at == 0 || (at > schemaChange && !pool_->staleSince(name, at))) return name;
    cache.markStale(name);
  }
}

void ClientConn::prepareOnServer(const ClientStatement& st, pg::Request parse) {
  StatementCache& cache = server_->statements();
  pg::Writer w;
  evictIfFull();
  pg::putParse(w, st.serverName, st.query, st.paramTypes);
  server_->appendOwned(w.data());
  cache.add(st.serverName);
  server_->pushRequest(std::move(parse));
}

void ClientConn::ensureUnnamed() {
  if (server_->holdsUnnamed(id(), unnamedGeneration_)) return;
  // The server's unnamed statement is not this client's (it was given another server, or
  // another client used this one): prepare the client's own again, or drop the stranger's
  // so that the server answers as it would on a dedicated connection.
  pg::Writer w;
  if (hasUnnamed_) {
    pg::putParse(w, "", unnamed_->query, unnamed_->paramTypes);
    server_->appendOwned(w.data());
    server_->pushRequest({'P', pg::Fate::Swallow});
  } else {
    pg::putClose(w, 'S', "");
    server_->appendOwned(w.data());
    server_->pushRequest({'C', pg::Fate::Swallow});
  }
  server_->setUnnamed(id(), unnamedGeneration_);
}

void ClientConn::forgetUnnamed() {
  hasUnnamed_ = false;
  if (unnamed_ && unnamed_->query.capacity() > kKeptUnnamedBytes) unnamed_.reset();
  ++unnamedGeneration_;
}

void ClientConn::clearStatements() {
  statements_.clear();
  if (server_) server_->statements().clear();
}

void ClientConn::forgetStatement(const std::string& clientName) { statements_.erase(clientName); }

void ClientConn::handleQuery(pg::Bytes body) {
  std::string_view sql(reinterpret_cast<const char*>(body.data()), body.size());
  if (!sql.empty() && sql.back() == '\0') sql.remove_suffix(1);
  forgetUnnamed();  // a simple Query drops the unnamed statement
  // Routed already (routeNext), when it is the transaction's first statement.
  bool routed = routing_ && routing_->takeRoutedQuery();
  std::string refusal;
  const StatementWords words = scanWords(sql);
  if (auto why = sessionOnlyFeature(sql, words)) {
    log::info(who(), "refusing a session-only feature: {}", *why);
    refusal = raiseFeatureNotSupported(*why);
  } else if (routing_ && !routed) {
    if (auto no = checkRouted(sql, nullptr, nullptr)) {
      log::info(who(), "refusing a statement: {}", no->message);
      refusal = raiseError(no->sqlstate, no->message, no->hint);
    }
  }
  if (!refusal.empty()) {
    pg::Writer w;
    pg::putQuery(w, refusal);
    server_->appendOwned(w.data());
    server_->pushRequest({'Q'});
    return;
  }
  if (trackStatements_ && words.any(StatementWords::Deallocate)) {
    if (auto name = pg::deallocateTarget(sql); name && statements_.count(*name)) {
      // A protocol-level statement of this client: the server knows it under another name (or
      // not at all), and its server-side statement stays cached for others.
      server_->pushRequest({'Q', pg::Fate::Synthesize, false, *name});
      answeredLocally_ = true;
      return;
    }
  }
  if (words.any(StatementWords::Deallocate | StatementWords::Discard) &&
      pg::isDeallocateAllOrDiscardAll(sql))
    clearStatements();
  noteSettingChanges(sql, words, touched_);
  if (trackStatements_ && mayChangeResultTypes(sql, words)) pool_->noteSchemaChange();
  forwardRaw('Q', body);
  server_->pushRequest({'Q'});
}

void ClientConn::handleParse(pg::Bytes body) {
  auto p = pg::decodeParse(body);
  if (!p) {
    fatal("08P01", "malformed Parse message", "protocol violation");
    return;
  }
  std::string_view query = p->query;
  std::vector<uint32_t>& types = p->paramTypes;
  std::string rewritten;  // the text the server gets instead of the client's
  StatementWords words;
  if (p->name.empty() && unnamed_ && unnamed_->wordBits != ClientStatement::kWordsUnknown &&
      unnamed_->query == query)
    words.bits = unnamed_->wordBits;  // the same text as the last unnamed Parse
  else
    words = scanWords(query);
  if (auto why = sessionOnlyFeature(query, words)) {
    // Prepare, under the client's name, a statement that raises the error when executed.
    log::info(who(), "refusing a session-only feature: {}", *why);
    rewritten = raiseFeatureNotSupported(*why);
  } else if (auto target = words.any(StatementWords::Deallocate) ? pg::deallocateTarget(query)
                                                                 : std::nullopt;
             target && statements_.count(*target)) {
    // Extended-protocol DEALLOCATE of one of the client's statements (pgjdbc, psycopg 3 in
    // pipeline mode): the client forgets it, and the server deallocates a stand-in of ours,
    // so that the statement runs, succeeds or fails as it would on a dedicated connection.
    statements_.erase(*target);
    pg::Writer w;
    pg::putClose(w, 'S', kDeallocateStandIn);
    pg::putParse(w, kDeallocateStandIn, "SELECT 1", {});
    server_->appendOwned(w.data());
    server_->pushRequest({'C', pg::Fate::Swallow});
    server_->pushRequest({'P', pg::Fate::Swallow});
    rewritten = fmt::format("DEALLOCATE {}", kDeallocateStandIn);
  } else if (words.any(StatementWords::Deallocate | StatementWords::Discard) &&
             pg::isDeallocateAllOrDiscardAll(query)) {
    clearStatements();
  }
  if (!rewritten.empty()) {
    query = rewritten;
    types.clear();
  } else {
    noteSettingChanges(query, words, touched_);
    if (mayChangeResultTypes(query, words)) pool_->noteSchemaChange();
  }
  if (p->name.empty()) {
    if (routing_) {
      routing_->unnamedQuery = std::string(query);
      routing_->unnamedTypes = types;
    }
    if (rewritten.empty()) {
      forwardRaw('P', body);
    } else {
      pg::Writer w;
      pg::putParse(w, "", query, types);
      server_->appendOwned(w.data());
    }
    // The client's unnamed statement is part of its session until replaced (ensureUnnamed);
    // assigned in place, so that a client re-using it allocates nothing.
    if (!unnamed_) unnamed_ = std::make_unique<ClientStatement>();
    hasUnnamed_ = true;
    unnamed_->serverName.clear();
    unnamed_->wordBits = rewritten.empty() ? words.bits : ClientStatement::kWordsUnknown;
    unnamed_->query.assign(query);
    unnamed_->paramTypes.assign(types.begin(), types.end());
    ++unnamedGeneration_;
    server_->setUnnamed(id(), unnamedGeneration_);
    server_->pushRequest({'P'});
    return;
  }
  std::string name(p->name);
  auto it = statements_.find(name);
  if (it != statements_.end()) {
    // PostgreSQL refuses a second Parse of the same name: let the server say so, about a
    // statement it certainly has, and rename it in the error.
    ensurePrepared(it->second);
    pg::Writer w;
    pg::putParse(w, it->second.serverName, query, types);
    server_->appendOwned(w.data());
    server_->pushRequest({'P', pg::Fate::RenameError, false, name, it->second.serverName});
    return;
  }
  StatementCache& cache = server_->statements();
  ClientStatement st{freshServerName(pg::serverStatementName(query, types)), std::string(query),
                     types};
  const ClientStatement& ref = statements_.emplace(name, std::move(st)).first->second;
  if (cache.contains(ref.serverName)) {
    cache.touch(ref.serverName);
    server_->pushRequest({'P', pg::Fate::Synthesize});
    return;
  }
  prepareOnServer(ref, {'P', pg::Fate::Forward, false, name, ref.serverName});
}

void ClientConn::handleBind(pg::Bytes body) {
  auto b = pg::decodeBind(body);
  if (!b) {
    fatal("08P01", "malformed Bind message", "protocol violation");
    return;
  }
  auto it = b->statement.empty() ? statements_.end() : statements_.find(std::string(b->statement));
  // Routed already (routeNext), when it is the Bind that picked the transaction's shard.
  if (routing_ && !routing_->takeRoutedBind()) {
    const ClientStatement* named = it == statements_.end() ? nullptr : &it->second;
    if (named || b->statement.empty()) {
      auto values = pg::decodeBindValues(b->rest);
      auto no = checkRouted(named ? named->query : routing_->unnamedQuery,
                            values ? &*values : nullptr,
                            named ? &named->paramTypes : &routing_->unnamedTypes);
      if (no) {
        // The client's portal gets a statement that raises the error when it is executed.
        log::info(who(), "refusing a statement: {}", no->message);
        pg::Writer w;
        pg::putParse(w, "", raiseError(no->sqlstate, no->message, no->hint), {});
        pg::putBindEmpty(w, b->portal, "");
        server_->appendOwned(w.data());
        server_->setUnnamed(0, 0);
        server_->pushRequest({'P', pg::Fate::Swallow});
        server_->pushRequest({'B'});
        return;
      }
    }
  }
  if (it == statements_.end()) {
    if (b->statement.empty()) ensureUnnamed();
    forwardRaw('B', body);  // unnamed, or unknown: the server gives the right error
    server_->pushRequest({'B'});
  } else {
    ensurePrepared(it->second);
    pg::Writer w;
    pg::putBindRenamed(w, *b, it->second.serverName);
    server_->appendOwned(w.data());
    server_->pushRequest({'B', pg::Fate::Forward, false, {}, it->second.serverName});
  }
}

void ClientConn::handleDescribe(pg::Bytes body) {
  auto d = pg::decodeDescribe(body);
  if (!d) {
    fatal("08P01", "malformed Describe message", "protocol violation");
    return;
  }
  auto it = (d->kind != 'S' || d->name.empty()) ? statements_.end()
                                                 : statements_.find(std::string(d->name));
  if (it == statements_.end()) {
    if (d->kind == 'S' && d->name.empty()) ensureUnnamed();
    forwardRaw('D', body);
    server_->pushRequest({'D', pg::Fate::Forward, d->kind == 'S'});
  } else {
    ensurePrepared(it->second);
    pg::Writer w;
    pg::putDescribe(w, 'S', it->second.serverName);
    server_->appendOwned(w.data());
    server_->pushRequest({'D', pg::Fate::Forward, true, {}, it->second.serverName});
  }
}

void ClientConn::handleClose(pg::Bytes body) {
  auto c = pg::decodeClose(body);
  if (!c) {
    fatal("08P01", "malformed Close message", "protocol violation");
    return;
  }
  if (c->kind == 'S' && !c->name.empty()) {
    auto it = statements_.find(std::string(c->name));
    if (it != statements_.end()) {
      // The server-side statement stays cached for other clients; answer the Close ourselves.
      statements_.erase(it);
      server_->pushRequest({'C', pg::Fate::Synthesize});
      return;
    }
  }
  if (c->kind == 'S' && c->name.empty()) {
    forgetUnnamed();
    server_->setUnnamed(id(), unnamedGeneration_);  // closed: the server holds none of its own
  }
  forwardRaw('C', body);
  server_->pushRequest({'C'});
}

bool ClientConn::answerPrepareLocally() {
  if (!trackStatements_ || routing_ || inbuf_[0] != 'P') return false;
  std::vector<std::pair<std::string, ClientStatement>> parsed;
  BatchWalk walk(bytesOf(inbuf_), statements_);
  for (BatchWalk::Message m;;) {
    if (!walk.next(m)) return false;
    if (m.type == 'S') {
      if (!walk.atEnd() || parsed.empty()) return false;
      break;
    }
    if (m.type != 'P') return false;
    const pg::ParseMsg* p = m.parse;
    // A name the client already has must get the server's 42P05; the unnamed statement and
    // a text the pool has not seen prepared go to a server too.
    if (!p || p->name.empty() || statements_.count(std::string(p->name))) return false;
    if (sessionOnlyFeature(p->query) || pg::deallocateTarget(p->query) ||
        pg::isDeallocateAllOrDiscardAll(p->query))
      return false;
    ClientStatement st{pg::serverStatementName(p->query, p->paramTypes), std::string(p->query),
                       p->paramTypes};
    if (!pool_->validStatement(st.serverName)) return false;
    for (auto& [n, s] : parsed)
      if (n == p->name) return false;
    parsed.emplace_back(std::string(p->name), std::move(st));
  }
  pg::Writer w;
  for (auto& [name, st] : parsed) {
    noteSettingChanges(st.query, touched_);
    statements_.emplace(name, std::move(st));
    pg::putParseComplete(w);
  }
  pg::putReadyForQuery(w, 'I');
  send(w.take());
  inbuf_.clear();
  log::debug(who(), "answered {} Parse(s) without a server", parsed.size());
  return true;
}

}  // namespace shardpool::pooler
