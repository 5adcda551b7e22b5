#include <catch2/catch.hpp>

#include "pooler/session/session_guard.h"

using shardpool::pooler::sessionOnlyFeature;

TEST_CASE("session guard: features that outlive a transaction are named", "[pooler][guard]") {
  struct Case {
    const char* sql;
    bool refused;
  };
  const Case cases[] = {
      {"LISTEN chan", true},
      {"  /* c */ listen \"Chan\"", true},
      {"-- x\nLISTEN a; select 1", true},
      {"UNLISTEN *", false},
      {"NOTIFY chan", false},
      {"CREATE TEMP TABLE t (a int)", true},
      {"create global temporary table t (a int)", true},
      {"CREATE TEMP TABLE t (a int) ON COMMIT DROP", false},
      {"create temporary table t as select 1 on commit drop", false},
      {"CREATE TABLE temp (a int)", false},
      {"SELECT pg_advisory_lock(1)", true},
      {"select PG_TRY_ADVISORY_LOCK_SHARED(1, 2)", true},
      {"SELECT pg_advisory_xact_lock(1)", false},
      {"SELECT pg_advisory_unlock_all()", false},
      {"SELECT 1", false},
      {"", false},
  };
  for (const Case& c : cases) {
    INFO(c.sql);
    CHECK(sessionOnlyFeature(c.sql).has_value() == c.refused);
  }
}

TEST_CASE("session guard: the refusal query quotes its message", "[pooler][guard]") {
  std::string q = shardpool::pooler::raiseFeatureNotSupported("it's not ok");
  CHECK(q.find("E'it''s not ok'") != std::string::npos);
  CHECK(q.find("ERRCODE = E'0A000'") != std::string::npos);
}

TEST_CASE("session guard: a raised error keeps its SQLSTATE and hint, and cannot end the DO block",
          "[pooler][guard]") {
  using shardpool::pooler::raiseError;
  std::string q = raiseError("22023", "shard 9 of 2 \\ $shardpool$ x", "use 0 or 1");
  CHECK(q.find("ERRCODE = E'22023'") != std::string::npos);
  CHECK(q.find("HINT = E'use 0 or 1'") != std::string::npos);
  CHECK(q.find("\\\\") != std::string::npos);  // the backslash doubled inside E'...'
  // Only the two tags that open and close the block remain.
  size_t tags = 0;
  for (size_t at = q.find("$shardpool$"); at != std::string::npos; at = q.find("$shardpool$", at + 1))
    ++tags;
  CHECK(tags == 2);
  CHECK(raiseError("bad", "m").find("ERRCODE = E'XX000'") != std::string::npos);
}
