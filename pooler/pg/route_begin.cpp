// Transaction control in a sharded database (the intercept step of route_pipeline.cpp). A
// transaction runs on the shard its first statement routes to, which BEGIN does not name: so
// shardpool answers BEGIN itself, holds it (Routing::deferredBegin) and sends it ahead of that
// statement once it has picked the shard (injectDeferredBegin); a COMMIT or ROLLBACK of a
// transaction that has not run anywhere yet is answered too. Both as a simple Query and as an
// extended batch that is only that (pgbench -M extended/prepared, many drivers).
#include <cctype>

#include "pooler/pg/batch_walk.h"
#include "pooler/pg/client_routing.h"
#include "pooler/pg/server_conn.h"
#include "pooler/sharding/shard_router.h"

namespace shardpool::pooler {

namespace pg = protocol::pg;

std::string firstWord(std::string_view sql) {
  size_t i = 0;
  for (;;) {
    while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
    if (sql.substr(i, 2) == "--") {
      i = sql.find('\n', i);
      if (i == std::string_view::npos) return {};
    } else if (sql.substr(i, 2) == "/*") {
      size_t end = sql.find("*/", i + 2);
      if (end == std::string_view::npos) return {};
      i = end + 2;
    } else {
      break;
    }
  }
  std::string w;
  while (i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i])))
    w.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i++]))));
  return w;
}

bool startsTransaction(const router::StatementFacts& f, std::string_view sql) {
  if (f.kind != router::StatementKind::TransactionControl || f.statementCount != 1) return false;
  std::string w = firstWord(sql);
  return w == "BEGIN" || w == "START";
}

std::string_view beginTag(std::string_view sql) {
  return firstWord(sql) == "START" ? "START TRANSACTION" : "BEGIN";
}

std::optional<std::string_view> endsTransaction(const router::StatementFacts& f,
                                                std::string_view sql) {
  if (f.kind != router::StatementKind::TransactionControl || f.statementCount != 1)
    return std::nullopt;
  std::string w = firstWord(sql);
  if (w == "COMMIT" || w == "END") return "COMMIT";
  if ((w == "ROLLBACK" || w == "ABORT") && sql.find_first_of("Tt", w.size()) == std::string::npos)
    return "ROLLBACK";
  return std::nullopt;
}

bool ClientConn::answerTransactionQuery(const router::StatementFacts& f, std::string_view sql,
                                        size_t size) {
  Routing& r = *routing_;
  pg::Writer w;
  if (r.deferredBegin.empty() && startsTransaction(f, sql)) {
    // Answered here: the shard is not known before the transaction's first statement.
    pg::putCommandComplete(w, beginTag(sql));
    r.deferBegin(sql, f);
    replyLocally(size, w, 'T');
    return true;
  }
  if (r.deferredBegin.empty()) return false;
  std::optional<std::string_view> verb = endsTransaction(f, sql);
  if (!verb) return false;
  r.endTransaction();  // an empty transaction: nothing ran anywhere
  pg::putCommandComplete(w, *verb);
  replyLocally(size, w, 'I');
  return true;
}

bool ClientConn::answerTransactionBatch(ShardRouter::Database& d) {
  // An extended batch that only begins a transaction (or ends one that never ran anywhere), as
  // pgbench -M extended/prepared and many drivers send them: answered here, like a simple BEGIN.
  Routing& r = *routing_;
  pg::Bytes buf = bytesOf(inbuf_);
  // The batch through its Sync, of Parse, Bind, Describe and Execute only: its Parses (all named
  // ones?) and its Bind, of a statement parsed in the batch or known by name.
  size_t parses = 0, binds = 0;
  bool namedParsesOnly = true, malformed = false, synced = false;
  std::optional<pg::ParseMsg> parse;
  std::string query;
  BatchWalk walk(buf, statements_);
  for (BatchWalk::Message m; !synced && walk.next(m);) {
    if (m.type != 'P' && m.type != 'B' && m.type != 'D' && m.type != 'E' && m.type != 'S')
      return false;
    synced = m.type == 'S';
    if (!synced) namedParsesOnly = namedParsesOnly && m.parse && !m.parse->name.empty();
    if (m.type == 'P') {
      if (++parses == 1 && m.parse) parse = *m.parse;
      malformed = malformed || !m.parse;
    } else if (m.type == 'B') {
      ++binds;
      malformed = malformed || !m.bind || !m.statement;
      if (m.statement) query = std::string(m.statement->query);
    }
  }
  if (!synced) return false;
  size_t end = walk.offset();
  // Named statements only prepared (Parse, Sync: pgbench -M prepared, many drivers) while a
  // BEGIN waits for its shard: they are recorded and prepared on demand on whichever server
  // the client gets (as client_prepared.cpp does), so they pin nothing.
  if (!r.deferredBegin.empty() && namedParsesOnly) {
    pg::Writer w;
    BatchWalk again(buf.first(end), statements_);
    for (BatchWalk::Message m; again.next(m);) {
      if (m.type != 'P') continue;
      const pg::ParseMsg& p = *m.parse;
      statements_[std::string(p.name)] = ClientStatement{
          pg::serverStatementName(p.query, p.paramTypes), std::string(p.query), p.paramTypes};
      pg::putParseComplete(w);
    }
    replyLocally(end, w, 'T');
    return true;
  }
  // Exactly one Bind, and at most one Parse.
  if (malformed || parses > 1 || binds != 1) return false;
  const router::StatementFacts& f = ShardRouter::of(worker(), config::Protocol::Postgres).analyze(d, query);
  std::optional<std::string_view> tag;
  bool begins = r.deferredBegin.empty() && startsTransaction(f, query);
  std::optional<std::string_view> ends =
      r.deferredBegin.empty() ? std::nullopt : endsTransaction(f, query);
  if (begins)
    tag = beginTag(query);
  else if (ends)
    tag = *ends;
  else
    return false;
  pg::Writer w;
  BatchWalk again(buf.first(end), statements_);
  for (BatchWalk::Message m; again.next(m);) {
    switch (m.type) {
      case 'P':
        if (!parse->name.empty())
          statements_[std::string(parse->name)] =
              ClientStatement{pg::serverStatementName(parse->query, parse->paramTypes),
                              std::string(parse->query), parse->paramTypes};
        pg::putParseComplete(w);
        break;
      case 'B':
        pg::putBindComplete(w);
        break;
      case 'D': {
        auto t = pg::decodeDescribe(m.body);
        if (t && t->kind == 'S') {
          w.start('t');  // ParameterDescription: no parameters
          w.i16(0);
          w.finish();
        }
        pg::putNoData(w);
        break;
      }
      case 'E':
        pg::putCommandComplete(w, *tag);
        break;
      default:
        break;
    }
  }
  if (begins)
    r.deferBegin(query, f);
  else
    r.endTransaction();
  replyLocally(end, w, begins ? 'T' : 'I');
  return true;
}

void ClientConn::injectDeferredBegin() {
  Routing& r = *routing_;
  if (r.deferredBegin.empty() || !server_) return;
  // Parse/Bind/Execute of the client's BEGIN, all replies dropped: it opens the transaction
  // block, and the client's own statement follows in the same round trip.
  pg::Writer w;
  pg::putParse(w, "", r.deferredBegin, {});
  pg::putBindEmpty(w, "", "");
  pg::putExecute(w, "");
  server_->appendOwned(w.data());
  server_->pushRequest({'P', pg::Fate::Swallow});
  server_->pushRequest({'B', pg::Fate::Swallow});
  server_->pushRequest({'E', pg::Fate::Swallow});
  r.deferredBegin.clear();
}

}  // namespace shardpool::pooler
