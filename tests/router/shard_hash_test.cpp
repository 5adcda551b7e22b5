// Sharding functions: PostgreSQL-compatible hashes and partition remainders, modulo sharding,
// statuses.
//
// Every expected hash and remainder below was read from a real PostgreSQL 15.x (little-endian,
// UTF8 database, C.UTF-8 locale; scripts/pg-cluster.sh), never from this code:
//   SELECT hashint8extended(k::bigint, 0), hashint8extended(k::bigint, 8816678312871386365);
//   SELECT hashint4extended(k::int, ...);   -- identical to the int8 values for every int4 key
//   SELECT hashtextextended(t, 0), hashtextextended(t, 8816678312871386365), octet_length(t);
// and the remainders from tables `PARTITION BY HASH (k)` (bigint and text) with MODULUS 2, 3,
// 4, 7 and 16 and one partition per REMAINDER r named <table>_r: after inserting each key,
//   SELECT tableoid::regclass FROM <table> WHERE k = <key>;
// psql prints the (unsigned) hashes as signed bigints; the tables keep that form.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <string_view>

#include "router/shard_hash.h"

namespace shardpool::router {
namespace {

constexpr std::array<uint32_t, 5> kModuli{2, 3, 4, 7, 16};
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

struct IntCase {
  int64_t key;
  int64_t hash;                        // hashint8extended(key, 0)
  int64_t seededHash;                  // hashint8extended(key, HASH_PARTITION_SEED)
  std::array<uint32_t, 5> remainders;  // partition of `key` for each of kModuli
};

struct TextCase {
  std::string_view text;
  size_t bytes;        // octet_length: guards against the source being read in another charset
  int64_t hash;        // hashtextextended(text, 0)
  int64_t seededHash;  // hashtextextended(text, HASH_PARTITION_SEED)
  std::array<uint32_t, 5> remainders;
};

// 4294967296 folds to 1, and INT64_MAX / INT64_MIN fold to INT32_MIN / INT32_MAX: PostgreSQL
// xors the high half into the low half (complemented for negative keys).
constexpr IntCase kIntCases[] = {
    {0, 4154612158245552303, -4403592609991167795, {0, 2, 0, 4, 0}},
    {1, -3670598878359251130, 5968994663651403477, {0, 2, 0, 5, 8}},
    {-1, -1888257769727981238, -5017072347659237694, {1, 2, 1, 0, 5}},
    {2, 3647684041653542134, -6784076462669891433, {0, 0, 2, 6, 10}},
    {42, 8010225493015854792, 7363975540656877951, {0, 0, 2, 0, 2}},
    {-42, 8809670066178192187, 6660635123915733087, {0, 2, 2, 4, 2}},
    {1000000, 8952854757942890677, 4098724818956435368, {1, 0, 3, 4, 11}},
    {2147483647, -9109110466470504941, -6050265599104649060, {1, 1, 3, 0, 15}},
    {-2147483648, 1977219185673256887, 4938542303000433043, {0, 0, 2, 3, 6}},
    {4294967296, -3670598878359251130, 5968994663651403477, {0, 2, 0, 5, 8}},
    {1000000000000, 6526889373032620460, -3183190251791293774, {1, 1, 1, 1, 5}},
    {-1234567890123, -4233410618833895210, 5643214861867138814, {1, 1, 1, 2, 1}},
    {kMax, 1977219185673256887, 4938542303000433043, {0, 0, 2, 3, 6}},
    {kMin, -9109110466470504941, -6050265599104649060, {1, 1, 3, 0, 15}},
};

// Lengths 11, 12, 13, 24, 25 and 46 cover the 12-byte block loop and every tail shape.
constexpr TextCase kTextCases[] = {
    {"", 0, -6939563903564495251, -5700645584453517373, {0, 2, 2, 1, 6}},
    {"a", 1, 3591986179850072241, -6705225459120232837, {0, 2, 2, 3, 14}},
    {"abc", 3, -6747756470228489321, 3628778498291917250, {1, 1, 1, 3, 5}},
    {"abcd", 4, -1038429303365892052, 4029384952263848046, {1, 2, 1, 5, 1}},
    {"hello", 5, 3449563369152288809, -2635279551741001039, {0, 1, 0, 3, 4}},
    {"shardpool", 9, -7247289073609499403, 4078872595962789713, {0, 1, 0, 0, 4}},
    {"abcdefghijk", 11, 3112909444737856467, -2046435308545367432, {1, 0, 3, 3, 11}},
    {"abcdefghijkl", 12, -7556637188122330412, -7876791541613377658, {1, 1, 1, 3, 9}},
    {"abcdefghijklm", 13, 8871624171452417744, -6785754114725280077, {0, 1, 2, 0, 6}},
    {"customer-000123456789", 21, 7820748743132350296, -1372236652511685879, {0, 2, 0, 1, 12}},
    {"abcdefghijklmnopqrstuvwx", 24, -1933194731779935345, -10959101940276370, {1, 1, 1, 4, 1}},
    {"abcdefghijklmnopqrstuvwxy", 25, 5649064133428767341, 1383018584709609407, {0, 1, 2, 3, 2}},
    {"héllo", 6, 2465157995015290115, 3506307356728073920, {1, 0, 3, 4, 3}},
    {"日本語", 9, 2870829529307104068, -8050275759738715173, {0, 0, 2, 6, 14}},
    {"🐘", 4, -2321601135681841783, 5988827191104673008, {1, 2, 3, 5, 3}},
    {"Ünïcödé strîng ✓ 🐘 over twelve bytes",
     46,
     5479707772958953031,
     -4115974494036887418,
     {1, 2, 1, 4, 9}},
};

uint64_t u64(int64_t signedHash) {
  return static_cast<uint64_t>(signedHash);
}

TEST_CASE("shard hash: hashint8extended / hashint4extended match PostgreSQL", "[router][hash]") {
  for (const auto& c : kIntCases) {
    INFO("key " << c.key);
    CHECK(pgHashInt8(c.key, 0) == u64(c.hash));
    CHECK(pgHashInt8(c.key, kPgHashPartitionSeed) == u64(c.seededHash));
    if (c.key >= std::numeric_limits<int32_t>::min() &&
        c.key <= std::numeric_limits<int32_t>::max()) {
      CHECK(pgHashInt4(static_cast<int32_t>(c.key), 0) == u64(c.hash));
      CHECK(pgHashInt4(static_cast<int32_t>(c.key), kPgHashPartitionSeed) == u64(c.seededHash));
    }
  }
}

TEST_CASE("shard hash: hashtextextended matches PostgreSQL", "[router][hash]") {
  for (const auto& c : kTextCases) {
    INFO("text '" << c.text << "'");
    REQUIRE(c.text.size() == c.bytes);
    CHECK(pgHashText(c.text, 0) == u64(c.hash));
    CHECK(pgHashText(c.text, kPgHashPartitionSeed) == u64(c.seededHash));
    CHECK(pgHashBytes(c.text, kPgHashPartitionSeed) == u64(c.seededHash));
  }
}

TEST_CASE("shard hash: the hash is independent of the key's alignment", "[router][hash]") {
  // PostgreSQL has word-wide and byte-wise paths; on little-endian hosts they agree.
  alignas(8) char buffer[64] = {};
  const std::string_view text = "abcdefghijklmnopqrstuvwxy";
  for (size_t offset = 0; offset < 8; ++offset) {
    std::copy(text.begin(), text.end(), buffer + offset);
    CHECK(pgHashText({buffer + offset, text.size()}, 0) == u64(5649064133428767341));
  }
}

TEST_CASE("shard hash: partition remainders match PARTITION BY HASH", "[router][hash]") {
  for (const auto& c : kIntCases) {
    const auto key = KeyValue::ofInteger(c.key);
    CHECK(pgPartitionHash(key) == pgHashCombine64(0, u64(c.seededHash)));
    for (size_t i = 0; i < kModuli.size(); ++i) {
      INFO("key " << c.key << " modulus " << kModuli[i]);
      CHECK(pgHashPartitionFor(pgPartitionHash(key), kModuli[i]) == c.remainders[i]);
      const ShardResult r = shardFor(ShardFunction::Hash, key, kModuli[i]);
      CHECK(r.status == ShardStatus::Ok);
      CHECK(r.shard == c.remainders[i]);
    }
  }
  for (const auto& c : kTextCases) {
    const auto key = KeyValue::ofText(c.text);
    CHECK(pgPartitionHash(key) == pgHashCombine64(0, u64(c.seededHash)));
    for (size_t i = 0; i < kModuli.size(); ++i) {
      INFO("text '" << c.text << "' modulus " << kModuli[i]);
      const ShardResult r = shardFor(ShardFunction::Hash, key, kModuli[i]);
      CHECK(r.status == ShardStatus::Ok);
      CHECK(r.shard == c.remainders[i]);
    }
  }
}

TEST_CASE("shard hash: the remainder is an unsigned 64-bit modulo", "[router][hash]") {
  CHECK(pgHashCombine64(0, 0) == 0x49a0f4dd15e5a8e3ULL);
  // As a signed value this hash is -1, whose signed remainder would be -1 (or 6), not 1.
  CHECK(pgHashPartitionFor(~uint64_t{0}, 7) == 1);
  CHECK(pgHashPartitionFor(~uint64_t{0}, 2) == 1);
  CHECK(pgHashPartitionFor(0, 5) == 0);
  CHECK(pgHashPartitionFor(42, 1) == 0);
}

TEST_CASE("shard hash: modulo sharding gives the non-negative remainder", "[router][modulo]") {
  struct Case {
    int64_t key;
    uint32_t shards;
    uint32_t shard;
  };
  constexpr Case kCases[] = {
      {0, 3, 0},
      {1, 3, 1},
      {2, 3, 2},
      {3, 3, 0},
      {-1, 3, 2},
      {-3, 3, 0},
      {-4, 3, 2},
      {7, 4, 3},
      {-7, 4, 1},
      {5, 1, 0},
      {-5, 1, 0},
      {kMax, 3, 1},
      {kMin, 3, 1},
      {kMin, 2, 0},
      {kMin, 7, 6},
      {-1000000000000, 7, 6},
      {-1, 4294967295, 4294967294},
      {4294967295, 4294967295, 0},
  };
  for (const auto& c : kCases) {
    INFO("key " << c.key << " shards " << c.shards);
    CHECK(moduloShard(c.key, c.shards) == c.shard);
    const ShardResult r = shardFor(ShardFunction::Modulo, KeyValue::ofInteger(c.key), c.shards);
    CHECK(r.status == ShardStatus::Ok);
    CHECK(r.shard == c.shard);
  }
}

TEST_CASE("shard hash: statuses for keys a function cannot shard and for no shards",
          "[router][hash][modulo]") {
  struct Case {
    ShardFunction function;
    KeyValue key;
    uint32_t shards;
    ShardStatus status;
  };
  const Case cases[] = {
      {ShardFunction::Modulo, KeyValue::ofText("42"), 4, ShardStatus::BadKey},
      {ShardFunction::Modulo, KeyValue::ofText(""), 1, ShardStatus::BadKey},
      {ShardFunction::Modulo, KeyValue::ofInteger(42), 0, ShardStatus::NoShards},
      {ShardFunction::Modulo, KeyValue::ofText("42"), 0, ShardStatus::NoShards},
      {ShardFunction::Hash, KeyValue::ofInteger(42), 0, ShardStatus::NoShards},
      {ShardFunction::Hash, KeyValue::ofText("42"), 0, ShardStatus::NoShards},
      {ShardFunction::Hash, KeyValue::ofText("42"), 1, ShardStatus::Ok},
  };
  for (const auto& c : cases) {
    INFO(shardFunctionName(c.function) << " expecting " << shardStatusName(c.status));
    const ShardResult r = shardFor(c.function, c.key, c.shards);
    CHECK(r.status == c.status);
    CHECK(r.shard == 0);
  }
}

TEST_CASE("shard hash: names", "[router]") {
  CHECK(shardFunctionName(ShardFunction::Modulo) == "modulo");
  CHECK(shardFunctionName(ShardFunction::Hash) == "hash");
  CHECK(shardStatusName(ShardStatus::Ok) == "ok");
  CHECK(shardStatusName(ShardStatus::BadKey) == "bad key");
  CHECK(shardStatusName(ShardStatus::NoShards) == "no shards");
}

}  // namespace
}  // namespace shardpool::router
