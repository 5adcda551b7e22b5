// The cross-shard check of a sharded database's transaction (the act step of
// route_pipeline.cpp, for a linked client): each statement is routed as it goes out
// (handleQuery, handleBind) against the transaction's shard and shard map. One that belongs
// elsewhere, or needs several shards, gets an error from the server itself (a statement that
// raises it), so that the transaction fails exactly as PostgreSQL would fail it. The statement
// that picked the shard is not checked again (Routing::routed).
#include <fmt/format.h>

#include "pooler/pg/client_routing.h"
#include "pooler/pg/server_conn.h"
#include "pooler/sharding/shard_router.h"
#include "router/pg_refusal.h"

namespace shardpool::pooler {

namespace pg = protocol::pg;

std::optional<ClientConn::Refusal> ClientConn::checkRouted(std::string_view sql,
                                                           const pg::BindValues* bind,
                                                           const std::vector<uint32_t>* types) {
  Routing& r = *routing_;
  ShardRouter::Database* d = ShardRouter::of(worker(), config::Protocol::Postgres).find(database_);
  if (!d || !r.shard || !server_) return std::nullopt;
  const router::StatementFacts& f = ShardRouter::of(worker(), config::Protocol::Postgres).analyze(*d, sql);
  const router::KeyLookup* latest = d->map.directory;
  if (r.directory) d->map.directory = r.directory.get();  // the transaction's map (Routing)
  router::Route route = routeWith(f, d->map, r.hints(), bind, types);
  d->map.directory = latest;
  const auto& names = d->map.shardNames;
  auto nameOf = [&](uint32_t s) { return s < names.size() ? names[s] : std::to_string(s); };
  switch (route.kind) {
    case router::RouteKind::Local:
      if (!f.setIsLocal || server_->transactionStatus() != 'I') router::applyHints(r.session, r.local, f);
      return std::nullopt;
    case router::RouteKind::Refuse:
      return Refusal{std::string(router::pgSqlstate(route.reason)), route.message, route.hint};
    case router::RouteKind::All:
      return Refusal{"0A000",
                     fmt::format("this statement needs {} shards, but a transaction runs on one "
                                 "shard (\"{}\"): run it outside the transaction",
                                 route.shards.size(), nameOf(*r.shard)),
                     {}};
    case router::RouteKind::One:
      // A statement that names no table at all (COMMIT, SELECT now(), SET) runs wherever the
      // transaction is, even where default_shard would send it on its own.
      if (route.anyShard || route.shard == *r.shard ||
          (route.source == router::RouteSource::Default && f.tables.empty()))
        return std::nullopt;
      return Refusal{
          "0A000",
          fmt::format(
              "this statement belongs to shard \"{}\", but the transaction runs on shard \"{}\": "
              "cross-shard transactions are not supported",
              nameOf(route.shard), nameOf(*r.shard)),
          "start the transaction with a statement of the shard it works on, or SET LOCAL "
          "shardpool.shard = N after BEGIN"};
  }
  return std::nullopt;
}

}  // namespace shardpool::pooler
