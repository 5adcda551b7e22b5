// Shard maps for the router's fuzz targets, built from config structs as the pooler builds
// them: one per sharding function, with sharded (integer and text keys, a quoted name),
// replicated and pinned tables, so that every route() branch is reachable.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "router/route.h"

namespace shardpool::fuzz {

// A directory stand-in: integer keys by parity, text keys by length, key 7 unknown.
struct FakeDirectory : router::KeyLookup {
  std::optional<uint32_t> shardOf(const router::KeyValue& key) const override {
    if (key.kind == router::KeyValue::Kind::Integer)
      return key.integer == 7 ? std::nullopt : std::optional<uint32_t>(uint32_t(key.integer) & 1);
    return uint32_t(key.text.size() % 2);
  }
};

inline const std::array<router::ShardMap, 4>& shardMaps() {
  static const FakeDirectory directory;
  static const std::array<router::ShardMap, 4> maps = [] {
    auto rule = [](config::TableRule::Kind kind, std::string key = {},
                   config::KeyType type = config::KeyType::Integer, uint32_t shard = 0) {
      config::TableRule r;
      r.kind = kind;
      r.keyColumn = std::move(key);
      r.keyType = type;
      r.shard = shard;
      return r;
    };
    using K = config::TableRule::Kind;
    auto database = [&](config::ShardingFunction function, size_t shards) {
      config::Database db;
      db.name = "app";
      for (size_t i = 0; i < shards; ++i) {
        config::Shard s;
        s.name = "s" + std::to_string(i);
        db.shards.push_back(s);
      }
      db.shardingFunction = function;
      db.tables = {{"orders", rule(K::Sharded, "customer_id")},
                   {"items", rule(K::Sharded, "customer_id")},
                   {"users", rule(K::Sharded, "id")},
                   {"Invoices", rule(K::Sharded, "num")},
                   {"countries", rule(K::Replicated)},
                   {"audit", rule(K::Pinned, {}, config::KeyType::Integer, 1)},
                   {"settings", rule(K::Pinned, {}, config::KeyType::Integer, 0)}};
      return db;
    };
    config::Database modulo = database(config::ShardingFunction::Modulo, 2);
    config::Database hash = database(config::ShardingFunction::Hash, 4);
    hash.tables.emplace("tenants", rule(K::Sharded, "slug", config::KeyType::Text));
    hash.defaultShard = 3;
    config::Database unkeyed = database(config::ShardingFunction::Hash, 3);
    unkeyed.tables = {{"tenants", rule(K::Sharded, "slug", config::KeyType::Text)}};
    unkeyed.allowUnkeyedWrites = true;
    config::Database dir = database(config::ShardingFunction::Directory, 2);
    std::array<router::ShardMap, 4> out{router::buildShardMap(modulo), router::buildShardMap(hash),
                                        router::buildShardMap(unkeyed), router::buildShardMap(dir)};
    out[3].directory = &directory;
    return out;
  }();
  return maps;
}

}  // namespace shardpool::fuzz
