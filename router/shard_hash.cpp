#include "router/shard_hash.h"

#include <algorithm>
#include <cassert>
#include <cstddef>

namespace shardpool::router {
namespace {

// Bob Jenkins' lookup3 state and its two mixing steps, as PostgreSQL's hash_bytes uses them.
struct Lookup3 {
  uint32_t a;
  uint32_t b;
  uint32_t c;

  static uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

  void mix() {
    a -= c, a ^= rotl(c, 4), c += b;
    b -= a, b ^= rotl(a, 6), a += c;
    c -= b, c ^= rotl(b, 8), b += a;
    a -= c, a ^= rotl(c, 16), c += b;
    b -= a, b ^= rotl(a, 19), a += c;
    c -= b, c ^= rotl(b, 4), b += a;
  }

  void finish() {
    c ^= b, c -= rotl(b, 14);
    a ^= c, a -= rotl(c, 11);
    b ^= a, b -= rotl(a, 25);
    c ^= b, c -= rotl(b, 16);
    a ^= c, a -= rotl(c, 4);
    b ^= a, b -= rotl(a, 14);
    c ^= b, c -= rotl(b, 24);
  }

  // Initial state for `length` bytes; a non-zero seed is mixed in as an extra 12-byte block
  // (high half into a, low half into b, nothing into c).
  static Lookup3 start(uint32_t length, uint64_t seed) {
    const uint32_t init = 0x9e3779b9u + length + 3923095u;
    Lookup3 s{init, init, init};
    if (seed != 0) {
      s.a += static_cast<uint32_t>(seed >> 32);
      s.b += static_cast<uint32_t>(seed);
      s.mix();
    }
    return s;
  }

  uint64_t result() const { return (static_cast<uint64_t>(b) << 32) | c; }
};

// Up to four bytes as a little-endian word (PostgreSQL on a little-endian host).
uint32_t loadLittleEndian(const unsigned char* p, size_t n) {
  uint32_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}

}  // namespace

uint64_t pgHashBytes(std::string_view bytes, uint64_t seed) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  // PostgreSQL takes the length as an int; text values are at most 1 GB.
  size_t left = bytes.size();
  Lookup3 s = Lookup3::start(static_cast<uint32_t>(left), seed);
  for (; left >= 12; left -= 12, p += 12) {  // ">= 12": a full last block is mixed here
    s.a += loadLittleEndian(p, 4);
    s.b += loadLittleEndian(p + 4, 4);
    s.c += loadLittleEndian(p + 8, 4);
    s.mix();
  }
  // 0..11 bytes left: bytes 0-3 go to a, 4-7 to b, 8-10 to c shifted up one byte (the lowest
  // byte of c is left alone).
  s.a += loadLittleEndian(p, std::min<size_t>(left, 4));
  if (left > 4) s.b += loadLittleEndian(p + 4, std::min<size_t>(left - 4, 4));
  if (left > 8) s.c += loadLittleEndian(p + 8, left - 8) << 8;
  s.finish();
  return s.result();
}

uint64_t pgHashInt4(int32_t value, uint64_t seed) {
  // hash_uint32_extended: the same as hashing the four little-endian bytes.
  Lookup3 s = Lookup3::start(4, seed);
  s.a += static_cast<uint32_t>(value);
  s.finish();
  return s.result();
}

uint64_t pgHashInt8(int64_t value, uint64_t seed) {
  // Folds the high half into the low half (complemented for negative values) so that equal
  // int2/int4/int8 values hash alike, then hashes the 32-bit result.
  const auto low = static_cast<uint32_t>(value);
  const auto high = static_cast<uint32_t>(static_cast<uint64_t>(value) >> 32);
  const uint32_t folded = low ^ (value >= 0 ? high : ~high);
  return pgHashInt4(static_cast<int32_t>(folded), seed);
}

uint64_t pgHashText(std::string_view utf8, uint64_t seed) {
  return pgHashBytes(utf8, seed);
}

uint64_t pgHashCombine64(uint64_t a, uint64_t b) {
  a ^= b + 0x49a0f4dd15e5a8e3ULL + (a << 54) + (a >> 7);
  return a;
}

uint64_t pgPartitionHash(const KeyValue& key) {
  uint64_t column = 0;
  switch (key.kind) {
    case KeyValue::Kind::Integer:
      column = pgHashInt8(key.integer, kPgHashPartitionSeed);
      break;
    case KeyValue::Kind::Text:
      column = pgHashText(key.text, kPgHashPartitionSeed);
      break;
  }
  return pgHashCombine64(0, column);
}

uint32_t pgHashPartitionFor(uint64_t hash, uint32_t modulus) {
  assert(modulus > 0);
  return static_cast<uint32_t>(hash % modulus);
}

uint32_t moduloShard(int64_t value, uint32_t shardCount) {
  assert(shardCount > 0);
  // In int64: |value % n| < n <= 2^32, so neither the sum nor the remainder overflows.
  const auto n = static_cast<int64_t>(shardCount);
  return static_cast<uint32_t>(((value % n) + n) % n);
}

ShardResult shardFor(ShardFunction function, const KeyValue& key, uint32_t shardCount) {
  if (shardCount == 0) return {ShardStatus::NoShards, 0};
  switch (function) {
    case ShardFunction::Modulo:
      if (key.kind != KeyValue::Kind::Integer) return {ShardStatus::BadKey, 0};
      return {ShardStatus::Ok, moduloShard(key.integer, shardCount)};
    case ShardFunction::Hash:
      return {ShardStatus::Ok, pgHashPartitionFor(pgPartitionHash(key), shardCount)};
  }
  return {ShardStatus::BadKey, 0};  // not reached: every enumerator is handled above
}

std::string_view shardFunctionName(ShardFunction function) {
  switch (function) {
    case ShardFunction::Modulo:
      return "modulo";
    case ShardFunction::Hash:
      return "hash";
  }
  return "?";
}

std::string_view shardStatusName(ShardStatus status) {
  switch (status) {
    case ShardStatus::Ok:
      return "ok";
    case ShardStatus::BadKey:
      return "bad key";
    case ShardStatus::NoShards:
      return "no shards";
  }
  return "?";
}

}  // namespace shardpool::router
