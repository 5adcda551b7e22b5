#include <catch2/catch.hpp>

#include "pooler/session/statement_cache.h"

using shardpool::pooler::StatementCache;

TEST_CASE("statement cache: least recently used is evicted first", "[pooler][statements]") {
  StatementCache c;
  c.add("a");
  c.add("b");
  c.add("c");
  CHECK(c.size() == 3);
  CHECK_FALSE(c.evictIfFull(4).has_value());
  c.touch("a");  // b is now the oldest
  auto victim = c.evictIfFull(3);
  REQUIRE(victim.has_value());
  CHECK(*victim == "b");
  CHECK_FALSE(c.contains("b"));
  CHECK(c.contains("a"));
  c.add("a");  // re-adding touches
  victim = c.evictIfFull(2);
  REQUIRE(victim.has_value());
  CHECK(*victim == "c");
}

TEST_CASE("statement cache: remove, clear and a zero cap", "[pooler][statements]") {
  StatementCache c;
  c.add("x");
  c.remove("x");
  c.remove("missing");
  CHECK(c.size() == 0);
  c.add("y");
  CHECK_FALSE(c.evictIfFull(0).has_value());  // 0: no limit
  c.clear();
  CHECK_FALSE(c.contains("y"));
}
