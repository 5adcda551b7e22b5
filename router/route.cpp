// route(): hints first, then the statement's tables and keys. See route.h for the decisions.
#include "router/route.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "router/pg_int8.h"

namespace shardpool::router {
namespace {

// SQLSTATEs of the refusals.


Route refuse(RefusalReason reason, std::string message, std::string hint) {
  Route r;
  r.kind = RouteKind::Refuse;
  r.reason = reason;
  r.message = std::move(message);
  r.hint = std::move(hint);
  return r;
}

Route one(uint32_t shard, RouteSource source, bool write, bool anyShard = false) {
  Route r;
  r.kind = RouteKind::One;
  r.source = source;
  r.shard = shard;
  r.write = write;
  r.anyShard = anyShard;
  return r;
}

// All of `shards` (sorted, distinct); a single shard is a One route.
Route all(std::vector<uint32_t> shards, RouteSource source, bool write) {
  if (shards.size() == 1) return one(shards.front(), source, write);
  Route r;
  r.kind = RouteKind::All;
  r.source = source;
  r.write = write;
  r.shards = std::move(shards);
  return r;
}

Route everyShard(const ShardMap& map, RouteSource source, bool write) {
  std::vector<uint32_t> shards(map.shardCount);
  for (uint32_t i = 0; i < map.shardCount; ++i) shards[i] = i;
  return all(std::move(shards), source, write);
}

// ---- words for messages --------------------------------------------------------------------

std::string shardLabel(const ShardMap& map, uint32_t shard) {
  if (shard < map.shardNames.size())
    return fmt::format("shard {} (\"{}\")", shard, map.shardNames[shard]);
  return fmt::format("shard {}", shard);
}

// "shard 0 (\"s0\") and shard 1 (\"s1\")"
std::string shardLabels(const ShardMap& map, const std::vector<uint32_t>& shards) {
  std::string out;
  for (size_t i = 0; i < shards.size(); ++i) {
    if (i > 0) out += i + 1 == shards.size() ? " and " : ", ";
    out += shardLabel(map, shards[i]);
  }
  return out;
}

// "database \"app\" has 2 shards: 0 \"s0\", 1 \"s1\""
std::string shardsOfDatabase(const ShardMap& map) {
  std::string out = fmt::format("database \"{}\" has {} shard{}", map.database, map.shardCount,
                                map.shardCount == 1 ? "" : "s");
  for (uint32_t i = 0; i < map.shardCount && i < map.shardNames.size(); ++i) {
    out += fmt::format("{} {} \"{}\"", i == 0 ? ":" : ",", i, map.shardNames[i]);
  }
  return out;
}

std::string quoted(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

std::string keyText(const KeyValue& key) {
  return key.kind == KeyKind::Text ? quoted(key.text) : std::to_string(key.integer);
}

// The sharded tables among the statement's: "table \"orders\" (sharding key customer_id)".
std::string shardedTables(const StatementFacts& facts, const ShardMap& map) {
  std::vector<std::string> parts;
  for (const std::string& t : facts.tables) {
    auto it = map.tables.sharded.find(t);
    if (it != map.tables.sharded.end()) {
      parts.push_back(fmt::format("\"{}\" (sharding key {})", t, it->second.keyColumn));
    }
  }
  if (parts.empty()) return "a sharded table";
  std::string out = parts.size() == 1 ? "table " : "tables ";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += i + 1 == parts.size() ? " and " : ", ";
    out += parts[i];
  }
  return out;
}

// The pinned tables among the statement's: "\"audit\" on shard 2 (\"s2\")".
std::string pinnedTables(const StatementFacts& facts, const ShardMap& map) {
  std::string out;
  for (const std::string& t : facts.tables) {
    auto it = map.tables.pinned.find(t);
    if (it == map.tables.pinned.end()) continue;
    if (!out.empty()) out += ", ";
    out += fmt::format("\"{}\" on {}", t, shardLabel(map, it->second));
  }
  return out;
}

// How the database's clients write the session hints and statement parameters.
struct Wording {
  std::string_view shardHint;  // the session's shard hint, as SET names it
  std::string_view keyHint;    // the session's sharding key hint
  std::string_view clearShard;  // the statement that clears the shard hint
  std::string_view param;       // a statement parameter, in the client's SQL
  std::string_view dialect;     // "PostgreSQL" / "MySQL", for "if it is valid ..."
};

const Wording& wording(const ShardMap& map) {
  static constexpr Wording kPostgres{"shardpool.shard", "shardpool.sharding_key",
                                     "RESET shardpool.shard", "$n", "PostgreSQL"};
  static constexpr Wording kMysql{"@shardpool_shard", "@shardpool_sharding_key",
                                  "SET @shardpool_shard = NULL", "?", "MySQL"};
  return map.protocol == config::Protocol::MySql ? kMysql : kPostgres;
}

std::string hintUsage(const ShardMap& map) {
  const Wording& w = wording(map);
  return fmt::format(
      "{} (or /* shard: N */) takes a shard number from 0 to {}: {}; "
      "{} (or /* sharding_key: K */) takes a value of the sharding key",
      w.shardHint, map.shardCount - 1, shardsOfDatabase(map), w.keyHint);
}

// "shardpool.shard =" / "comment hint shard:", to be followed by the value.
std::string hintName(RouteSource source, bool key, const ShardMap& map) {
  if (source == RouteSource::SessionHint) {
    const Wording& w = wording(map);
    return fmt::format("{} =", key ? w.keyHint : w.shardHint);
  }
  return key ? "comment hint sharding_key:" : "comment hint shard:";
}

// The key column of the statement's first sharded table, for hints.
std::string_view keyColumn(const StatementFacts& facts, const ShardMap& map) {
  for (const std::string& t : facts.tables) {
    auto it = map.tables.sharded.find(t);
    if (it != map.tables.sharded.end()) return it->second.keyColumn;
  }
  return "the key column";
}

// ---- key values ----------------------------------------------------------------------------

Route int8Refusal(Int8Status status, std::string_view text, std::string_view what,
                  std::string hint) {
  if (status == Int8Status::Range) {
    return refuse(RefusalReason::OutOfRange,
                  fmt::format("{}: value \"{}\" is out of range for type bigint", what, text),
                  std::move(hint));
  }
  return refuse(RefusalReason::NotAnInteger,
                fmt::format("{}: invalid input syntax for type bigint: \"{}\"", what, text),
                std::move(hint));
}

enum class KeyStatus { Ok, Unknown, Refused };

// The shard of one key value; on Refused, `refusal` says why. `what` names the key for messages.
KeyStatus shardOfKey(const KeyValue& key, const ShardMap& map, uint32_t& shard, Route& refusal,
                     const auto& what) {
  switch (map.function) {
    case config::ShardingFunction::None:
      shard = 0;  // one shard
      return KeyStatus::Ok;
    case config::ShardingFunction::Modulo:
    case config::ShardingFunction::Hash: {
      ShardFunction f = map.function == config::ShardingFunction::Modulo ? ShardFunction::Modulo
                                                                         : ShardFunction::Hash;
      ShardResult r = shardFor(f, key, map.shardCount);
      if (r.status == ShardStatus::Ok) {
        shard = r.shard;
        return KeyStatus::Ok;
      }
      refusal = refuse(RefusalReason::InvalidKey,
                       fmt::format("{}: the text key {} cannot pick a shard: database \"{}\" "
                                   "shards by modulo, which takes integer keys only",
                                   what(), keyText(key), map.database),
                       "use an integer key value, or sharding_function = \"hash\"");
      return KeyStatus::Refused;
    }
    case config::ShardingFunction::Directory: {
      if (map.directory == nullptr) {
        refusal = refuse(RefusalReason::NotReady,
                         fmt::format("{}: the shard directory of database \"{}\" is not loaded "
                                     "yet",
                                     what(), map.database),
                         "try again once shardpool has read the directory");
        return KeyStatus::Refused;
      }
      std::optional<uint32_t> found = map.directory->shardOf(key);
      if (!found) found = map.defaultShard;
      if (!found) {
        refusal = refuse(
            RefusalReason::InvalidKey,
            fmt::format("{}: the key {} is not in the shard directory of database \"{}\", "
                        "and neither the directory nor the database has a default_shard",
                        what(), keyText(key), map.database),
            fmt::format("add the key to databases.{}.directory (its entries or its table), or "
                        "set directory.default_shard",
                        map.database));
        return KeyStatus::Refused;
      }
      if (*found >= map.shardCount) {
        refusal = refuse(RefusalReason::NotReady,
                         fmt::format("{}: the shard directory maps the key {} to shard {}, but {}",
                                     what(), keyText(key), *found, shardsOfDatabase(map)),
                         "fix the directory");
        return KeyStatus::Refused;
      }
      shard = *found;
      return KeyStatus::Ok;
    }
  }
  return KeyStatus::Unknown;  // not reached
}

// The value of a key written as $n, from the statement's parameters: Ok with `key` set (it may
// view the message), Unknown (no parameters, NULL, a form that says nothing about the key), or
// Refused.
KeyStatus paramKey(const KeyRef& ref, const StatementParams* params, const ShardMap& map,
                   KeyValue& key, Route& refusal, const auto& what) {
  auto index = static_cast<size_t>(ref.paramIndex);
  if (params == nullptr || ref.paramIndex < 0 || index >= params->values.size()) {
    return KeyStatus::Unknown;
  }
  const ParamValue& p = params->values[index];
  // PostgreSQL's parameters are numbered ($2); MySQL's are the n-th `?`.
  auto describe = [&] {
    return map.protocol == config::Protocol::MySql
               ? fmt::format("parameter {} (?) for {}", index + 1, what())
               : fmt::format("bind parameter ${} for {}", index + 1, what());
  };
  using Form = ParamValue::Form;
  if (ref.isText) {
    if (p.form == Form::Text || p.form == Form::Untyped) {
      key = KeyValue::ofText(p.bytes);
      return KeyStatus::Ok;
    }
    return KeyStatus::Unknown;
  }
  switch (p.form) {
    case Form::Null:
    case Form::Opaque:
      return KeyStatus::Unknown;  // NULL matches no row; another type is the server's to judge
    case Form::Integer:
      key = KeyValue::ofInteger(p.integer);
      return KeyStatus::Ok;
    case Form::Untyped:
    case Form::BadInteger:
      if (p.form == Form::Untyped && p.integerOk) {
        key = KeyValue::ofInteger(p.integer);
        return KeyStatus::Ok;
      }
      refusal = refuse(RefusalReason::MalformedBinary,
                       fmt::format("{}: incorrect binary data format ({} bytes for an integer)",
                                   describe(), p.bytes.size()),
                       "send int2, int4 or int8 values in binary, or the value as text");
      return KeyStatus::Refused;
    case Form::Text:
      break;
  }
  int64_t v = 0;
  Int8Status status = parseInt8(p.bytes, v);
  if (status != Int8Status::Ok) {
    if (!p.declaredInteger) return KeyStatus::Unknown;  // the server decides what it means
    refusal = int8Refusal(status, p.bytes, describe(),
                          "the sharding key is an integer column: send an integer");
    return KeyStatus::Refused;
  }
  key = KeyValue::ofInteger(v);
  return KeyStatus::Ok;
}

// ---- the shards a statement's keys name ------------------------------------------------------

// Distinct shards, allocating only once a second one appears.
class ShardSet {
 public:
  void add(uint32_t shard) {
    if (!first_) {
      first_ = shard;
    } else if (*first_ != shard) {
      if (more_.empty()) more_.push_back(*first_);
      if (std::find(more_.begin(), more_.end(), shard) == more_.end()) more_.push_back(shard);
    }
  }
  size_t size() const { return !more_.empty() ? more_.size() : first_ ? 1 : 0; }
  uint32_t first() const { return *first_; }
  std::vector<uint32_t> sorted() && {
    if (more_.empty() && first_) more_.push_back(*first_);
    std::sort(more_.begin(), more_.end());
    return std::move(more_);
  }

 private:
  std::optional<uint32_t> first_;
  std::vector<uint32_t> more_;
};

// ---- hints ---------------------------------------------------------------------------------

// The shard a shardpool.sharding_key hint names, read as map.hintKeyType.
KeyStatus hintKeyShard(const std::string& text, RouteSource source, const ShardMap& map,
                       uint32_t& shard, Route& refusal) {
  auto what = [&] { return fmt::format("{} {}", hintName(source, true, map), quoted(text)); };
  KeyValue key = KeyValue::ofText(text);
  if (map.hintKeyType == KeyKind::Integer) {
    int64_t v = 0;
    Int8Status status = parseInt8(text, v);
    if (status != Int8Status::Ok) {
      refusal = int8Refusal(
          status, text, what(),
          fmt::format("the sharded tables of database \"{}\" have integer keys: give an integer, "
                      "e.g. SET {} = 42",
                      map.database, wording(map).keyHint));
      return KeyStatus::Refused;
    }
    key = KeyValue::ofInteger(v);
  }
  return shardOfKey(key, map, shard, refusal, what);
}

Route shardHintRoute(uint32_t shard, RouteSource source, const ShardMap& map, bool write) {
  if (shard >= map.shardCount) {
    return refuse(RefusalReason::InvalidKey,
                  fmt::format("{} {} is out of range: {}", hintName(source, false, map), shard,
                              shardsOfDatabase(map)),
                  source == RouteSource::SessionHint
                      ? fmt::format("SET {} to a number from 0 to {}, or {}",
                                    wording(map).shardHint, map.shardCount - 1,
                                    wording(map).clearShard)
                      : fmt::format("use a shard number from 0 to {}", map.shardCount - 1));
  }
  return one(shard, source, write);
}

Route keyHintRoute(const std::string& text, RouteSource source, const ShardMap& map, bool write) {
  uint32_t shard = 0;
  Route refusal;
  if (hintKeyShard(text, source, map, shard, refusal) != KeyStatus::Ok) return refusal;
  return one(shard, source, write);
}

// A lone SET/RESET shardpool.* (not RESET ALL, which the server must see too).
bool isHintStatement(const StatementFacts& facts) {
  return facts.parsed && facts.kind == StatementKind::Set && facts.statementCount == 1 &&
         (facts.setShard || facts.setShardingKey ||
          (facts.resetHint && !(facts.resetShard && facts.resetShardingKey)));
}

Route localRoute(const StatementFacts& facts, const ShardMap& map) {
  Route r;
  if (facts.setShard) {
    r = shardHintRoute(*facts.setShard, RouteSource::SessionHint, map, false);
  } else if (facts.setShardingKey) {
    r = keyHintRoute(*facts.setShardingKey, RouteSource::SessionHint, map, false);
  } else {
    r = one(0, RouteSource::SessionHint, false);
  }
  if (r.kind != RouteKind::Refuse) r.kind = RouteKind::Local;
  return r;
}

// ---- the statement's own tables and keys ----------------------------------------------------

Route unkeyedWrite(const StatementFacts& facts, const ShardMap& map, bool write) {
  std::string tables = shardedTables(facts, map);
  switch (facts.kind) {
    case StatementKind::Insert:
      return refuse(RefusalReason::NotSupported,
                    fmt::format("INSERT into sharded {} without a usable value for the sharding "
                                "key: shardpool cannot tell which shard the row belongs to",
                                tables),
                    fmt::format("list {} in the column list with a literal or a {} parameter "
                                "that is not NULL (not DEFAULT, an expression or INSERT ... "
                                "SELECT), or route the statement with /* shard: N */ or SET "
                                "{}",
                                keyColumn(facts, map), wording(map).param,
                                wording(map).keyHint));
    case StatementKind::Update:
    case StatementKind::Delete:
    case StatementKind::Select:
      if (map.allowUnkeyedWrites && !facts.pinnedShard) {
        return everyShard(map, RouteSource::Broadcast, write);
      }
      return refuse(RefusalReason::NotSupported,
                    fmt::format("{} on sharded {} does not constrain the sharding key to known "
                                "values, so it would have to run on every shard",
                                facts.kind == StatementKind::Select
                                    ? "SELECT ... FOR UPDATE/SHARE (or with a writing WITH)"
                                : facts.kind == StatementKind::Update ? "UPDATE"
                                                                      : "DELETE",
                                tables),
                    facts.pinnedShard
                        ? std::string("it also names a table pinned to one shard: split the "
                                      "statement")
                        : fmt::format("add `{0} = value` (or `{0} IN (...)`) to the WHERE "
                                      "clause, route it with /* shard: N */, or set "
                                      "allow_unkeyed_writes = true in [databases.{1}] to send "
                                      "it to every shard",
                                      keyColumn(facts, map), map.database));
    case StatementKind::Ddl:
    case StatementKind::TransactionControl:
    case StatementKind::Set:
    case StatementKind::Utility:
    case StatementKind::Empty:
      break;
  }
  return refuse(RefusalReason::NotSupported,
                fmt::format("this statement writes to sharded {} without its sharding key: COPY "
                            "FROM, MERGE and other writing utility statements are not split "
                            "into rows per shard",
                            tables),
                fmt::format("send it to each shard in turn with SET {} = N (COPY: only the "
                            "rows of that shard), or use INSERT/UPDATE with the key",
                            wording(map).shardHint));
}

Route shardedRoute(const StatementFacts& facts, const ShardMap& map, const StatementParams* params,
                   bool write) {
  if (facts.kind == StatementKind::Ddl) {
    if (facts.pinnedShard) {
      return refuse(RefusalReason::NotSupported,
                    fmt::format("this statement changes sharded {}, which runs on every shard, "
                                "together with {}, which exists only there",
                                shardedTables(facts, map), pinnedTables(facts, map)),
                    "split it into one statement for the sharded tables and one for the "
                    "pinned ones");
    }
    return everyShard(map, RouteSource::Broadcast, write);
  }
  if (facts.updatesKey) {
    return refuse(RefusalReason::NotSupported,
                  fmt::format("this statement assigns the sharding key of {}: moving a row to "
                              "another shard is not supported",
                              shardedTables(facts, map)),
                  "DELETE the row and INSERT it again with the new key");
  }

  ShardSet shards;
  bool unknown = false;
  Route refusal;
  auto what = [&] { return fmt::format("the sharding key of {}", shardedTables(facts, map)); };
  for (const std::vector<KeyRef>& alternatives : facts.keySets) {
    for (const KeyRef& ref : alternatives) {
      KeyValue key = ref.value();
      KeyStatus status = KeyStatus::Ok;
      if (ref.source == KeyRef::Source::Param) status = paramKey(ref, params, map, key, refusal, what);
      uint32_t shard = 0;
      if (status == KeyStatus::Ok) status = shardOfKey(key, map, shard, refusal, what);
      if (status == KeyStatus::Refused) return refusal;
      if (status == KeyStatus::Unknown) {
        unknown = true;
      } else {
        shards.add(shard);
      }
    }
  }

  if (facts.keyMissing || unknown || shards.size() == 0) {
    if (facts.isWrite) return unkeyedWrite(facts, map, write);
    if (facts.pinnedShard) {
      return refuse(RefusalReason::NotSupported,
                    fmt::format("this statement reads sharded {} on every shard (no usable key) "
                                "together with {}",
                                shardedTables(facts, map), pinnedTables(facts, map)),
                    "constrain the sharding key to values on the pinned table's shard, or "
                    "split the statement");
    }
    return everyShard(map, RouteSource::Scatter, write);
  }
  if (facts.pinnedShard && (shards.size() != 1 || shards.first() != *facts.pinnedShard)) {
    return refuse(RefusalReason::NotSupported,
                  fmt::format("this statement joins {} with sharded {} whose keys are on {}: the "
                              "tables are on different shards",
                              pinnedTables(facts, map), shardedTables(facts, map),
                              shardLabels(map, std::move(shards).sorted())),
                  "split the statement, or use keys on the pinned table's shard");
  }
  if (shards.size() == 1) return one(shards.first(), RouteSource::Key, write);
  std::vector<uint32_t> sorted = std::move(shards).sorted();
  if (facts.kind == StatementKind::Insert) {
    return refuse(RefusalReason::NotSupported,
                  fmt::format("this INSERT into sharded {} has {} that belong to {}: an INSERT "
                              "must go to a single shard",
                              shardedTables(facts, map), facts.multiRowInsert ? "rows" : "keys",
                              shardLabels(map, sorted)),
                  fmt::format("send one INSERT per shard, or route each one with "
                              "SET {} / /* sharding_key: K */",
                              wording(map).keyHint));
  }
  return all(std::move(sorted), RouteSource::Key, write);
}

// No hint: the tables and keys of a parsed statement decide.
Route automaticRoute(const StatementFacts& facts, const ShardMap& map, const StatementParams* params,
                     bool write) {
  if (facts.conflictingPins) {
    return refuse(RefusalReason::NotSupported,
                  fmt::format("this statement names tables pinned to different shards: {}",
                              pinnedTables(facts, map)),
                  "split it into one statement per shard");
  }
  if (facts.touchesSharded) return shardedRoute(facts, map, params, write);
  if (facts.pinnedShard) return one(*facts.pinnedShard, RouteSource::Pinned, write);
  if (facts.touchesReplicated) {
    if (write) {
      return everyShard(
          map, facts.kind == StatementKind::Ddl ? RouteSource::Broadcast : RouteSource::Replicated,
          write);
    }
    return one(map.defaultShard.value_or(0), RouteSource::Replicated, write, true);
  }
  // No table with a rule.
  if (facts.kind == StatementKind::Ddl) return everyShard(map, RouteSource::Broadcast, write);
  if (map.defaultShard) return one(*map.defaultShard, RouteSource::Default, write);
  if (facts.tables.empty() || map.shardCount <= 1) return one(0, RouteSource::Any, write, true);
  return refuse(RefusalReason::NotSupported,
                fmt::format("table \"{}\" has no rule in databases.{}.tables and the database "
                            "has no default_shard: shardpool cannot tell which shard holds it",
                            facts.tables.front(), map.database),
                fmt::format("add a rule for the table (sharded, replicated or pinned), set "
                            "default_shard in [databases.{}], or route the statement with "
                            "/* shard: N */",
                            map.database));
}

}  // namespace

ShardMap buildShardMap(const config::Database& db) {
  ShardMap map;
  map.database = db.name;
  if (db.shards.empty()) {
    map.shardCount = 1;
    map.shardNames = {db.name};
  } else {
    map.shardCount = static_cast<uint32_t>(db.shards.size());
    for (const config::Shard& s : db.shards) map.shardNames.push_back(s.name);
  }
  map.function = db.shardingFunction;
  map.protocol = db.protocol;
  map.defaultShard = db.defaultShard;
  map.allowUnkeyedWrites = db.allowUnkeyedWrites;
  // Names: the config's spelling is already the router's (a name without an upper-case letter
  // is the lower-case form of an unquoted identifier; one with an upper-case letter is a quoted
  // identifier, compared exactly), so keys are copied as they are.
  std::optional<KeyKind> keyType;
  bool disagree = false;
  for (const auto& [name, rule] : db.tables) {
    switch (rule.kind) {
      case config::TableRule::Kind::Sharded: {
        KeyKind kind = rule.keyType == config::KeyType::Text ? KeyKind::Text : KeyKind::Integer;
        map.tables.sharded.emplace(name, ShardedTable{rule.keyColumn, kind});
        if (keyType && *keyType != kind) disagree = true;
        keyType = kind;
        break;
      }
      case config::TableRule::Kind::Replicated:
        map.tables.replicated.insert(name);
        break;
      case config::TableRule::Kind::Pinned:
        map.tables.pinned.emplace(name, rule.shard);
        break;
    }
  }
  map.hintKeyType = keyType && !disagree ? *keyType : KeyKind::Integer;
  return map;
}

Route route(const StatementFacts& facts, const ShardMap& map, const SessionHints& session,
            const StatementParams* params) {
  const bool write = facts.isWrite || facts.kind == StatementKind::Ddl;
  if (!facts.hintError.empty()) {
    return refuse(RefusalReason::InvalidKey,
                  fmt::format("invalid shardpool hint: {}", facts.hintError), hintUsage(map));
  }
  if (isHintStatement(facts)) return localRoute(facts, map);
  if (facts.kind == StatementKind::Empty) {
    return one(map.defaultShard.value_or(0), RouteSource::Any, false, true);
  }

  // The session's hints as this string leaves them (setting one hint clears the other, as the
  // pooler's SessionHints do), then the comment's.
  // (A pointer rather than a copied optional: GCC 12 cannot see that the copy is initialized.)
  const uint32_t* sessionShard = session.shard ? &*session.shard : nullptr;
  const std::string* sessionKey = session.shardingKey ? &*session.shardingKey : nullptr;
  if (facts.resetShard) sessionShard = nullptr;
  if (facts.resetShardingKey) sessionKey = nullptr;
  if (facts.setShard) {
    sessionShard = &*facts.setShard;
    sessionKey = nullptr;
  }
  if (facts.setShardingKey) {
    sessionKey = &*facts.setShardingKey;
    sessionShard = nullptr;
  }
  if (sessionShard) return shardHintRoute(*sessionShard, RouteSource::SessionHint, map, write);
  if (sessionKey) return keyHintRoute(*sessionKey, RouteSource::SessionHint, map, write);
  if (facts.commentShard) {
    return shardHintRoute(*facts.commentShard, RouteSource::CommentHint, map, write);
  }
  if (facts.commentShardingKey) {
    return keyHintRoute(*facts.commentShardingKey, RouteSource::CommentHint, map, write);
  }

  if (!facts.parsed) {
    // Maybe valid PostgreSQL that libpg_query's grammar lacks: route it like a statement
    // without a table, unless that means guessing where a write goes.
    if (map.defaultShard) return one(*map.defaultShard, RouteSource::Default, write);
    if (!write || map.shardCount <= 1) return one(0, RouteSource::Any, write, true);
    return refuse(RefusalReason::NotSupported,
                  fmt::format("shardpool could not parse this statement ({}), so it cannot tell "
                              "which shard it belongs to, and database \"{}\" has no "
                              "default_shard",
                              facts.parseError, map.database),
                  fmt::format("if it is valid {}, add /* shard: N */ to it (N from 0 to "
                              "{}), or SET {} = N before it",
                              wording(map).dialect, map.shardCount - 1, wording(map).shardHint));
  }
  return automaticRoute(facts, map, params, write);
}

std::string_view routeSourceName(RouteSource source) {
  switch (source) {
    case RouteSource::SessionHint:
      return "session hint";
    case RouteSource::CommentHint:
      return "comment hint";
    case RouteSource::Key:
      return "key";
    case RouteSource::Pinned:
      return "pinned";
    case RouteSource::Replicated:
      return "replicated";
    case RouteSource::Broadcast:
      return "broadcast";
    case RouteSource::Scatter:
      return "scatter";
    case RouteSource::Default:
      return "default shard";
    case RouteSource::Any:
      return "any shard";
  }
  return "?";
}

std::string_view routeKindName(RouteKind kind) {
  switch (kind) {
    case RouteKind::One:
      return "one";
    case RouteKind::All:
      return "all";
    case RouteKind::Local:
      return "local";
    case RouteKind::Refuse:
      return "refuse";
  }
  return "?";
}

void applyHints(SessionHints& session, SessionHints& local, const StatementFacts& f) {
  SessionHints& h = f.setIsLocal ? local : session;
  if (f.setShard) {
    h.shard = f.setShard;
    h.shardingKey.reset();
  }
  if (f.setShardingKey) {
    h.shardingKey = f.setShardingKey;
    h.shard.reset();
  }
  if (f.resetShard) h.shard.reset();
  if (f.resetShardingKey) h.shardingKey.reset();
}

}  // namespace shardpool::router
