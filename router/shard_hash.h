// Sharding functions: which shard a key value belongs to. Pure arithmetic, no I/O, no allocation.
//
// Two functions are offered (ShardFunction):
//   Modulo  integer keys only: shard = ((k % n) + n) % n, i.e. the non-negative remainder, so -1
//           goes to shard n - 1 (not -1, and not |k| % n). Text keys are refused (BadKey).
//   Hash    PostgreSQL-compatible: the shard is the remainder of the table partition a
//           `PARTITION BY HASH (k) ... WITH (MODULUS n, REMAINDER r)` table would put k in, so a
//           shard map can mirror a hash-partitioned table (satisfies_hash_partition() agrees).
//           Integer keys hash as bigint; PostgreSQL hashes smallint/integer/bigint equal values
//           equally, so this also matches int2/int4 columns. Text keys hash their UTF-8 bytes, as
//           PostgreSQL does for text/varchar under a deterministic collation (C, libc, or a
//           deterministic ICU collation); nondeterministic ICU collations are not supported.
//
// The pg* functions reproduce PostgreSQL 15's extended (64-bit, seeded) hash functions on a
// little-endian server (x86-64, AArch64); big-endian servers hash differently.
#pragma once

#include <cstdint>
#include <string_view>

namespace shardpool::router {

// Seed PostgreSQL passes to a column's extended hash function for hash partitioning.
inline constexpr uint64_t kPgHashPartitionSeed = 0x7A5B22367996DCFDULL;  // 8816678312871386365

// A shard key value: a 64-bit integer or text. Text is not owned: it must outlive the call.
struct KeyValue {
  enum class Kind : uint8_t { Integer, Text };

  static KeyValue ofInteger(int64_t value) { return KeyValue{Kind::Integer, value, {}}; }
  static KeyValue ofText(std::string_view utf8) { return KeyValue{Kind::Text, 0, utf8}; }

  Kind kind = Kind::Integer;
  int64_t integer = 0;    // Kind::Integer
  std::string_view text;  // Kind::Text (UTF-8 bytes, no terminator needed)
};

// ---- PostgreSQL-compatible hashes (seed 0 means unseeded, as in PostgreSQL) -----------------

// hash_bytes_extended(): Bob Jenkins' lookup3 over the bytes, 64-bit result (b << 32 | c).
uint64_t pgHashBytes(std::string_view bytes, uint64_t seed);
// hashint8extended(value, seed)
uint64_t pgHashInt8(int64_t value, uint64_t seed);
// hashint4extended(value, seed)
uint64_t pgHashInt4(int32_t value, uint64_t seed);
// hashtextextended(value, seed) under a deterministic collation.
uint64_t pgHashText(std::string_view utf8, uint64_t seed);
// hash_combine64(a, b)
uint64_t pgHashCombine64(uint64_t a, uint64_t b);

// The row hash of a single-column hash partition key: hash_combine64(0, columnHash) where
// columnHash is the column type's extended hash with kPgHashPartitionSeed.
uint64_t pgPartitionHash(const KeyValue& key);
// The partition remainder for a row hash: hash % modulus (unsigned 64-bit). modulus > 0.
uint32_t pgHashPartitionFor(uint64_t hash, uint32_t modulus);

// ---- shard choice --------------------------------------------------------------------------

enum class ShardFunction : uint8_t { Modulo, Hash };

enum class ShardStatus : uint8_t {
  Ok,
  BadKey,    // the function cannot shard this kind of key (Modulo with a text key)
  NoShards,  // shardCount is 0
};

struct ShardResult {
  ShardStatus status = ShardStatus::Ok;
  uint32_t shard = 0;  // in [0, shardCount) when status is Ok, else 0
};

// Shard index for `key` among `shardCount` shards.
[[nodiscard]] ShardResult shardFor(ShardFunction function, const KeyValue& key,
                                   uint32_t shardCount);

// Non-negative integer remainder of value / shardCount (shardCount > 0).
uint32_t moduloShard(int64_t value, uint32_t shardCount);

std::string_view shardFunctionName(ShardFunction function);  // "modulo", "hash"
std::string_view shardStatusName(ShardStatus status);        // "ok", "bad key", "no shards"

}  // namespace shardpool::router
