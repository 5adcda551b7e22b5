#include "config/decode_sharding.h"

#include <fmt/format.h>

#include <map>

#include "config/fields.h"
#include "config/suggest.h"
#include "config/text.h"
#include "config/tree_lookup.h"

namespace shardpool::config {

namespace {

// PostgreSQL's NAMEDATALEN - 1: identifiers are at most this many bytes.
constexpr size_t kMaxIdentifier = 63;
// Shard names listed in an "unknown shard" message; more are elided.
constexpr size_t kMaxListedShards = 8;

const Field<Backend> kBackendFields[] = {
    {"host",
     [](Backend& b, const ValueReader& v) {
       if (auto s = v.string(false)) b.host = *s;
     }},
    {"port",
     [](Backend& b, const ValueReader& v) {
       if (auto p = v.integer(1, kMaxPort)) b.port = static_cast<uint16_t>(*p);
     }},
    {"dbname",
     [](Backend& b, const ValueReader& v) {
       if (auto s = v.string(false)) b.dbname = *s;
     }},
    {"sslmode",
     [](Backend& b, const ValueReader& v) {
       if (auto m = v.tlsMode()) b.sslmode = *m;
     }},
    {"sslrootcert",
     [](Backend& b, const ValueReader& v) {
       if (auto s = v.string(false)) b.sslrootcert = *s;
     }},
};

// A shard's own keys; the others are kBackendFields, read into its primary.
const Field<Shard> kShardFields[] = {
    {"name",
     [](Shard& s, const ValueReader& v) {
       if (auto n = v.string(false)) s.name = *n;
     }},
    {"replicas",
     [](Shard& s, const ValueReader& v) {
       if (auto r = readReplicas(v)) s.replicas = std::move(*r);
     }},
};

std::vector<std::string_view> shardKeys() {
  std::vector<std::string_view> keys = keysOf<Shard>(kShardFields);
  for (const auto& f : kBackendFields) keys.push_back(f.key);
  return keys;
}

void decodeShard(const toml::table& table, const std::string& path, Shard& shard,
                 Diagnostics& diag) {
  for (auto&& [key, node] : table) {
    std::string keyPath = joinKeyPath(path, key.str());
    std::string_view name = key.str();  // lambdas capture no structured binding in clang 14
    auto matches = [&](const auto& f) { return f.key == name; };
    if (auto* f = std::find_if(std::begin(kShardFields), std::end(kShardFields), matches);
        f != std::end(kShardFields)) {
      f->read(shard, ValueReader(node, std::move(keyPath), diag));
    } else if (auto* b =
                   std::find_if(std::begin(kBackendFields), std::end(kBackendFields), matches);
               b != std::end(kBackendFields)) {
      b->read(shard.primary, ValueReader(node, std::move(keyPath), diag));
    } else {
      diag.at(key.source(), std::move(keyPath), unknownNameMessage("key", key.str(), shardKeys()));
    }
  }
}

// Why `name` cannot be a table (or column) name in a rule; nullopt when it can.
std::optional<std::string> identifierProblem(std::string_view name, std::string_view what) {
  if (name.empty()) return fmt::format("the {} name must not be empty", what);
  if (name.size() > kMaxIdentifier)
    return fmt::format("a {} name has at most {} bytes in PostgreSQL", what, kMaxIdentifier);
  return std::nullopt;
}

constexpr std::string_view kRuleKeys[] = {"key", "type", "replicated", "shard"};
constexpr std::string_view kRuleShapes =
    "{ key = \"column\" } (sharded), { replicated = true } or { shard = 0 } (pinned)";

std::optional<TableRule> readTableRule(const toml::table& rule, const std::string& path,
                                       const std::vector<Shard>& shards, Diagnostics& diag) {
  TableRule out;
  bool ok = true;
  bool unknownKey = false;  // a misspelt key explains a missing one: reported alone
  for (auto&& [key, node] : rule) {
    ValueReader v(node, joinKeyPath(path, key.str()), diag);
    if (key.str() == "key") {
      if (auto column = v.string(false)) {
        if (auto problem = identifierProblem(*column, "column")) {
          v.error(*problem);
          ok = false;
        }
        out.keyColumn = *column;
      } else {
        ok = false;
      }
    } else if (key.str() == "type") {
      if (auto type = v.keyType())
        out.keyType = *type;
      else
        ok = false;
    } else if (key.str() == "replicated") {
      auto replicated = v.boolean();
      if (replicated && !*replicated) {
        v.error(
            "replicated = false is not a rule: remove it, and shard the table by a key or "
            "pin it to a shard");
      }
      if (!replicated || !*replicated) ok = false;
    } else if (key.str() == "shard") {
      if (auto shard = readShardRef(v, shards))
        out.shard = *shard;
      else
        ok = false;
    } else {
      diag.at(key.source(), v.keyPath(), unknownNameMessage("key", key.str(), kRuleKeys));
      unknownKey = true;
    }
  }
  if (unknownKey) return std::nullopt;
  std::vector<std::string_view> kinds;
  for (std::string_view key : {"key", "replicated", "shard"})
    if (rule.contains(key)) kinds.push_back(key);
  if (kinds.size() != 1) {
    std::string message =
        kinds.empty()
            ? fmt::format("a table rule needs one of key, replicated or shard: {}", kRuleShapes)
            : fmt::format("a table rule takes only one of key, replicated and shard, got {}",
                          kinds.size() == 2 ? fmt::format("{} and {}", kinds[0], kinds[1])
                                            : std::string("all three"));
    diag.at(rule.source(), path, std::move(message));
    return std::nullopt;
  }
  if (kinds.front() != "key" && rule.contains("type")) {
    diag.at(valueRegion(&rule, "type"), joinKeyPath(path, "type"),
            fmt::format("type is the type of a sharding key: remove it, or shard the table by a "
                        "key instead of {}",
                        kinds.front() == "shard" ? "pinning it" : "replicating it"));
    return std::nullopt;
  }
  if (!ok) return std::nullopt;
  out.kind = kinds.front() == "key"          ? TableRule::Kind::Sharded
             : kinds.front() == "replicated" ? TableRule::Kind::Replicated
                                             : TableRule::Kind::Pinned;
  return out;
}

void decodeTables(const toml::node& node, const std::string& path, const std::vector<Shard>& shards,
                  TableRules& out, Diagnostics& diag) {
  const toml::table* tables = expectTable(node, path, diag);
  if (tables == nullptr) return;
  for (auto&& [name, ruleNode] : *tables) {
    std::string rulePath = joinKeyPath(path, name.str());
    if (auto problem = identifierProblem(name.str(), "table")) {
      diag.at(name.source(), std::move(rulePath), *problem);
      continue;
    }
    if (name.str().find('.') != std::string_view::npos) {
      diag.at(name.source(), std::move(rulePath),
              "write the table name without a schema: a rule applies to the tables of that name "
              "in every schema");
      continue;
    }
    const toml::table* rule = ruleNode.as_table();
    if (rule == nullptr) {
      diag.at(
          ruleNode.source(), std::move(rulePath),
          fmt::format("expected a table rule such as {}, got {}", kRuleShapes, describe(ruleNode)));
      continue;
    }
    if (auto r = readTableRule(*rule, rulePath, shards, diag)) out.emplace(name.str(), *r);
  }
}

// Where a shard's name comes from, to point at when it is taken twice.
toml::source_region nameRegion(const toml::node& shard) {
  const toml::table* table = shard.as_table();
  if (table != nullptr && table->contains("name")) return valueRegion(table, "name");
  return shard.source();
}

}  // namespace

std::optional<std::vector<Backend>> readReplicas(const ValueReader& value) {
  Diagnostics& diag = value.diagnostics();
  const toml::array* array = value.node().as_array();
  if (array == nullptr) {
    value.error(
        fmt::format("expected an array of tables such as [ {{ host = \"10.0.0.2\" }} ], "
                    "got {}",
                    describe(value.node())));
    return std::nullopt;
  }
  std::vector<Backend> replicas;
  for (size_t i = 0; i < array->size(); ++i) {
    std::string path = elementPath(value.keyPath(), i);
    const toml::table* table = expectTable(*array->get(i), path, diag);
    if (table == nullptr) continue;
    Backend replica;
    decodeFields<Backend>(*table, path, kBackendFields, replica, diag);
    if (!table->contains("host")) {
      diag.at(table->source(), joinKeyPath(path, "host"),
              "a replica needs a host (its port, dbname and TLS settings default to its "
              "primary's)");
      continue;
    }
    replicas.push_back(std::move(replica));
  }
  return replicas;
}

std::optional<std::vector<Shard>> readShards(const ValueReader& value) {
  Diagnostics& diag = value.diagnostics();
  const toml::array* array = value.node().as_array();
  if (array == nullptr || array->empty()) {
    value.error(
        fmt::format("expected a non-empty array of tables, one [[{}]] for each shard, got "
                    "{}",
                    value.keyPath(), array == nullptr ? describe(value.node()) : "an empty array"));
    return std::nullopt;
  }
  std::vector<Shard> shards(array->size());
  std::map<std::string, size_t, std::less<>> byName;
  for (size_t i = 0; i < array->size(); ++i) {
    std::string path = elementPath(value.keyPath(), i);
    if (const toml::table* table = expectTable(*array->get(i), path, diag))
      decodeShard(*table, path, shards[i], diag);
    if (shards[i].name.empty()) shards[i].name = fmt::format("shard{}", i);
    auto [first, added] = byName.emplace(shards[i].name, i);
    if (added) continue;
    diag.at(nameRegion(*array->get(i)), joinKeyPath(path, "name"),
            fmt::format("the shard name {} is taken by {} at {}; shard names must be unique",
                        quote(shards[i].name), elementPath(value.keyPath(), first->second),
                        diag.where(nameRegion(*array->get(first->second)))));
  }
  return shards;
}

std::optional<uint32_t> readShardRef(const ValueReader& value, const std::vector<Shard>& shards) {
  const toml::node& node = value.node();
  if (const auto* index = node.as_integer()) {
    if (index->get() >= 0 && static_cast<uint64_t>(index->get()) < shards.size())
      return static_cast<uint32_t>(index->get());
    value.error(
        fmt::format("shard index {} is out of range: this database has {} shard{} (0 to "
                    "{})",
                    index->get(), shards.size(), shards.size() == 1 ? "" : "s", shards.size() - 1));
    return std::nullopt;
  }
  if (const auto* name = node.as_string()) {
    std::vector<std::string_view> names;
    for (size_t i = 0; i < shards.size(); ++i) {
      if (shards[i].name == name->get()) return static_cast<uint32_t>(i);
      names.push_back(shards[i].name);
    }
    std::string listed;
    for (size_t i = 0; i < names.size() && i < kMaxListedShards; ++i)
      listed += (i == 0 ? "" : ", ") + quote(names[i]);
    if (names.size() > kMaxListedShards) listed += ", ...";
    value.error(
        fmt::format("{} (shards: {})", unknownNameMessage("shard", name->get(), names), listed));
    return std::nullopt;
  }
  value.error(fmt::format("expected a shard index (an integer) or name (a string), got {}",
                          describe(node)));
  return std::nullopt;
}

void decodeShardReferences(const toml::table& table, const std::string& path, Database& db,
                           Diagnostics& diag) {
  if (db.shards.empty()) return;
  if (const toml::node* node = table.get("default_shard")) {
    db.defaultShard =
        readShardRef(ValueReader(*node, joinKeyPath(path, "default_shard"), diag), db.shards);
  }
  if (const toml::node* node = table.get("tables"))
    decodeTables(*node, joinKeyPath(path, "tables"), db.shards, db.tables, diag);
  if (const toml::node* node = table.get("directory")) {
    db.directory.emplace();
    decodeDirectory(*node, joinKeyPath(path, "directory"), db.shards, *db.directory, diag);
  }
}

}  // namespace shardpool::config
