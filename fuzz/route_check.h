// What every Route must satisfy, whatever the statement (router/route.h).
#pragma once

#include <algorithm>

#include "fuzz/fuzz_util.h"
#include "router/pg_refusal.h"
#include "router/route.h"

namespace shardpool::fuzz {

inline void checkRoute(const router::Route& r, const router::ShardMap& map) {
  switch (r.kind) {
    case router::RouteKind::One:
      FUZZ_CHECK(r.shard < map.shardCount);
      break;
    case router::RouteKind::All:
      FUZZ_CHECK(r.shards.size() >= 2);
      FUZZ_CHECK(std::is_sorted(r.shards.begin(), r.shards.end()));
      FUZZ_CHECK(std::adjacent_find(r.shards.begin(), r.shards.end()) == r.shards.end());
      FUZZ_CHECK(r.shards.back() < map.shardCount);
      break;
    case router::RouteKind::Local:
      break;
    case router::RouteKind::Refuse:
      FUZZ_CHECK(router::pgSqlstate(r.reason).size() == 5 && !r.message.empty());
      break;
  }
}

}  // namespace shardpool::fuzz
