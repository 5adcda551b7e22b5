// StatementCache (LRU of analyze() results) and a hidden micro-benchmark of analyze().
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>

#include "router/pg_statement.h"

namespace shardpool::router {
namespace {

TableRules ordersRules(std::string keyColumn) {
  TableRules r;
  r.sharded["orders"] = {std::move(keyColumn), KeyKind::Integer};
  return r;
}

constexpr std::string_view kA = "SELECT * FROM orders WHERE customer_id = 1";
constexpr std::string_view kB = "SELECT * FROM orders WHERE customer_id = 2";
constexpr std::string_view kC = "SELECT * FROM orders WHERE customer_id = 3";

TEST_CASE("StatementCache: hits return the facts analyze() gives", "[router][pg_statement]") {
  TableRules rules = ordersRules("customer_id");
  StatementCache cache(8, &analyze);
  const StatementFacts& first = cache.get(kA, rules, 1);
  REQUIRE(first.keySets.size() == 1);
  CHECK(first.keySets[0][0].integer == 1);
  CHECK(cache.misses() == 1);
  const StatementFacts& again = cache.get(kA, rules, 1);
  CHECK(&again == &first);
  CHECK(cache.hits() == 1);
  CHECK(cache.size() == 1);
  // Keyed by the exact text: another spelling is another entry.
  cache.get("select * from orders where customer_id = 1", rules, 1);
  CHECK(cache.size() == 2);
  CHECK(cache.misses() == 2);
}

TEST_CASE("StatementCache: least recently used entries go first", "[router][pg_statement]") {
  TableRules rules = ordersRules("customer_id");
  StatementCache cache(2, &analyze);
  cache.get(kA, rules, 1);
  cache.get(kB, rules, 1);
  cache.get(kA, rules, 1);  // A is now the most recently used
  cache.get(kC, rules, 1);  // evicts B
  CHECK(cache.size() == 2);
  uint64_t misses = cache.misses();
  cache.get(kA, rules, 1);
  CHECK(cache.misses() == misses);  // still cached
  cache.get(kB, rules, 1);
  CHECK(cache.misses() == misses + 1);  // was evicted; now evicts C
  cache.get(kC, rules, 1);
  CHECK(cache.misses() == misses + 2);
}

TEST_CASE("StatementCache: a new rules version empties the cache", "[router][pg_statement]") {
  TableRules byCustomer = ordersRules("customer_id");
  TableRules byId = ordersRules("id");
  StatementCache cache(4, &analyze);
  CHECK_FALSE(cache.get(kA, byCustomer, 1).keyMissing);
  CHECK(cache.get(kA, byId, 2).keyMissing);  // re-analyzed under the new rules
  CHECK(cache.size() == 1);
  CHECK(cache.misses() == 2);
}

TEST_CASE("StatementCache: long texts are analyzed but not kept", "[router][pg_statement]") {
  TableRules rules = ordersRules("customer_id");
  StatementCache cache(4, &analyze, 32);
  const StatementFacts& f = cache.get(kA, rules, 1);  // longer than 32 bytes
  CHECK(f.keySets.size() == 1);
  CHECK(cache.size() == 0);
  CHECK(cache.get("SELECT 1", rules, 1).kind == StatementKind::Select);
  CHECK(cache.size() == 1);
}

TEST_CASE("StatementCache: capacity 0 keeps one entry, clear() empties", "[router][pg_statement]") {
  TableRules rules = ordersRules("customer_id");
  StatementCache cache(0, &analyze);
  CHECK(cache.capacity() == 1);
  cache.get(kA, rules, 1);
  cache.get(kB, rules, 1);
  CHECK(cache.size() == 1);
  CHECK(cache.get(kB, rules, 1).keySets[0][0].integer == 2);
  cache.clear();
  CHECK(cache.size() == 0);
}

// Hidden, not a timed assertion: `unit_tests "[.bench]"` prints the cost per call.
TEST_CASE("analyze: micro-benchmark", "[.bench]") {
  TableRules rules;
  rules.sharded["orders"] = {"customer_id", KeyKind::Integer};
  rules.sharded["items"] = {"customer_id", KeyKind::Integer};
  rules.replicated = {"countries"};
  const std::string_view queries[] = {
      "SELECT 1",
      "SELECT * FROM orders WHERE customer_id = $1",
      "INSERT INTO orders (id, customer_id, total) VALUES ($1, $2, $3)",
      "SELECT o.id, o.total, i.sku FROM orders o JOIN items i ON i.customer_id = o.customer_id "
      "AND i.order_id = o.id WHERE o.customer_id = 42 AND o.created_at > now() - interval '1 day' "
      "ORDER BY o.created_at DESC LIMIT 20",
      "UPDATE orders SET total = total + 1 WHERE customer_id IN (1, 2, 3) AND id = $1",
  };
  using Clock = std::chrono::steady_clock;
  auto perCall = [](auto&& fn) {
    double best = 1e300;
    for (int round = 0; round < 5; ++round) {
      constexpr int kCalls = 2000;
      auto start = Clock::now();
      for (int i = 0; i < kCalls; ++i) fn();
      std::chrono::duration<double, std::micro> took = Clock::now() - start;
      best = std::min(best, took.count() / kCalls);
    }
    return best;
  };
  StatementCache cache(64, &analyze);
  for (std::string_view q : queries) {
    size_t sink = 0;
    double analyzeUs = perCall([&] { sink += analyze(q, rules).tables.size(); });
    double cachedUs = perCall([&] { sink += cache.get(q, rules, 1).tables.size(); });
    std::printf("%8.2f us analyze  %6.3f us cached  %.60s\n", analyzeUs, cachedUs,
                std::string(q).c_str());
    CHECK((sink > 0 || q == queries[0]));
  }
}

}  // namespace
}  // namespace shardpool::router
