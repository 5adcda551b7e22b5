// SET / RESET shardpool.shard and shardpool.sharding_key in a sharded database (the intercept
// step of route_pipeline.cpp): hints for the session, or for the transaction with SET LOCAL
// (or a comment hint on BEGIN), that route the statements after them. Alone in a Query, the
// router has checked the value (RouteKind::Local) and shardpool answers it; in an extended
// batch or inside a transaction the SET also goes to the server, where shardpool.* is a
// harmless placeholder setting.
#include "pooler/pg/client_routing.h"

namespace shardpool::pooler {

namespace pg = protocol::pg;

void ClientConn::answerHintQuery(const router::StatementFacts& f, size_t size) {
  Routing& r = *routing_;
  char status = r.deferredBegin.empty() ? 'I' : 'T';
  if (!f.setIsLocal || !r.deferredBegin.empty()) router::applyHints(r.session, r.local, f);
  pg::Writer w;
  pg::putCommandComplete(w, f.resetHint ? "RESET" : "SET");
  replyLocally(size, w, status);
}

}  // namespace shardpool::pooler
