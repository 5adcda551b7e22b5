// The shard map of a logical database: its shards (each a primary and its replicas), how keys
// pick a shard, which tables are sharded, replicated or pinned, and the directory of keys for
// directory sharding. Plain data, validated when the configuration loads (docs/config.md,
// "Sharding and replicas"). Included by config.h; use Config::shardsOf for the effective
// backends of a database.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shardpool::config {

using Duration = std::chrono::milliseconds;
enum class TlsMode;  // config.h

// One PostgreSQL server. As written in the file, an unset field is empty (host, dbname), 0 (port)
// or nullopt (sslmode, sslrootcert); Config::shardsOf fills each one in from the shard, else
// from the database.
struct Backend {
  std::string host;  // or a unix-socket directory starting with '/'
  uint16_t port = 0;
  std::string dbname;
  std::optional<TlsMode> sslmode;          // still unset after filling: general's
  std::optional<std::string> sslrootcert;  // still unset after filling: general's
};

struct Shard {
  std::string name;  // never empty once loaded: as written, else "shard<index>"; unique
  Backend primary;
  std::vector<Backend> replicas;  // hot standbys / read replicas, in file order
};

// How a sharding key picks a shard. None: no function (a database with one shard or none).
enum class ShardingFunction { None, Modulo, Hash, Directory };
enum class KeyType { Integer, Text };
// Where a SELECT outside an explicit transaction goes. A shard without replicas serves its
// reads from its primary.
enum class ReadFrom { Primary, Replicas, Any };

std::string_view toString(ShardingFunction f);  // "none", "modulo", "hash", "directory"
std::string_view toString(KeyType t);           // "integer", "text"
std::string_view toString(ReadFrom r);          // "primary", "replicas", "any"

// How one table is spread over the shards.
struct TableRule {
  enum class Kind {
    Sharded,     // rows live on the shard their keyColumn value picks
    Replicated,  // a full copy on every shard
    Pinned,      // only on `shard`
  };
  Kind kind = Kind::Sharded;
  std::string keyColumn;               // Sharded: the column, as written
  KeyType keyType = KeyType::Integer;  // Sharded
  uint32_t shard = 0;                  // Pinned: index into the database's shards
};

// Table names as written in the file (no schema, at most 63 bytes). A name with no upper-case
// letter stands for an unquoted SQL identifier and matches it in any case (PostgreSQL folds
// unquoted names to lower case); a name with an upper-case letter stands for a quoted identifier
// and matches only that exact spelling. Key columns follow the same rule.
using TableRules = std::map<std::string, TableRule, std::less<>>;

// The rule for a table named in a query: `quoted` says whether it was written as a quoted
// identifier ("Orders"), which is looked up as is; an unquoted one is looked up in lower case.
// nullptr when the table has no rule. No allocation.
const TableRule* findTableRule(const TableRules& tables, std::string_view name, bool quoted);

// One key, or one inclusive range of integer keys, of a directory.
struct DirectoryEntry {
  enum class Kind { Integer, Text, Range };
  Kind kind = Kind::Integer;
  int64_t from = 0;    // Integer: the key; Range: the first key
  int64_t to = 0;      // Integer: the key; Range: the last key (from <= to)
  std::string text;    // Text: the key
  uint32_t shard = 0;  // index into the database's shards
};

// A PostgreSQL table the directory is loaded from at run time (columns key_from, key_to, shard;
// see docs/config.md).
struct DirectorySource {
  std::string conninfo;  // libpq conninfo string or URI
  std::string table;     // as it is written in SQL, optionally schema-qualified
  Duration refreshInterval = std::chrono::seconds(10);  // 0: only on NOTIFY (and at load)
  std::string notifyChannel;                            // empty: no LISTEN
};

// For ShardingFunction::Directory: keys looked up in a map. Entries from the file never overlap
// (checked at load); those loaded from `source` are added to them.
struct Directory {
  std::vector<DirectoryEntry> entries;   // file order
  std::optional<uint32_t> defaultShard;  // keys not in the map; unset: the database's default_shard
  std::optional<DirectorySource> source;
};

}  // namespace shardpool::config
