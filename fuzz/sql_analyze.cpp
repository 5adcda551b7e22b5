// The SQL analyzer (router/pg_statement.h) on arbitrary text, as a client's Query or Parse
// carries it: libpg_query's parse, our reading of its JSON tree, comment hints, and the route
// decision without Bind values on each shard map of shard_maps.h. The statement cache must
// answer exactly what a fresh analysis does.
// Input: the SQL text.
#include <cstdint>
#include <string>

#include "fuzz/fuzz_util.h"
#include "fuzz/route_check.h"
#include "fuzz/shard_maps.h"
#include "router/pg_statement.h"

namespace router = shardpool::router;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view sql(reinterpret_cast<const char*>(data), size);
  const auto& maps = shardpool::fuzz::shardMaps();
  const router::ShardMap& hashMap = maps[1];
  router::StatementFacts facts = router::analyze(sql, hashMap.tables);
  if (!facts.parsed) FUZZ_CHECK(facts.tables.empty() && facts.keySets.empty());
  for (const auto& keys : facts.keySets) FUZZ_CHECK(!keys.empty());

  static router::StatementCache cache(8, &router::analyze);
  const router::StatementFacts& cached = cache.get(sql, hashMap.tables, 1);
  FUZZ_CHECK(cached.kind == facts.kind && cached.tables == facts.tables &&
             cached.keySets == facts.keySets && cached.isWrite == facts.isWrite &&
             cached.parseError == facts.parseError);

  for (const router::ShardMap& map : maps) {
    const router::StatementFacts& f =
        &map == &hashMap ? facts : cache.get(sql, map.tables, 2 + uint64_t(&map - maps.data()));
    shardpool::fuzz::checkRoute(router::route(f, map, {}, nullptr), map);
    router::SessionHints hints;
    hints.shard = 1;
    shardpool::fuzz::checkRoute(router::route(f, map, hints, nullptr), map);
  }
  return 0;
}
