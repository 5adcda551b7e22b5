#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "pooler/pg/session_guard.h"

using shardpool::pooler::noteSettingChanges;
using shardpool::pooler::SettingChanges;
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

namespace {
// The changed names in order, each with "!" when it is a reset ("!" alone: RESET ALL).
struct Changes {
  std::vector<std::string> names;
  bool empty() const { return names.empty(); }
};
Changes changes(std::string_view sql) {
  SettingChanges c;
  noteSettingChanges(sql, c);
  Changes out;
  for (auto& ch : c.changes) out.names.push_back(ch.name + (ch.reset ? "!" : ""));
  return out;
}
using Names = std::vector<std::string>;
}  // namespace

TEST_CASE("noteSettingChanges: the settings a statement changes for the session",
          "[session_guard]") {
  CHECK(changes("SET search_path = a, public").names == Names{"search_path"});
  CHECK(changes("set SESSION Work_Mem to '4MB'").names == Names{"work_mem"});
  CHECK(changes("SET \"statement_timeout\" = 5").names == Names{"statement_timeout"});
  CHECK(changes("set myapp.tenant = 'x'").names == Names{"myapp.tenant"});
  CHECK(changes("SET TIME ZONE 'UTC'").names == Names{"timezone"});
  CHECK(changes("set role alice").names == Names{"role"});
  CHECK(changes("SET SCHEMA 'x'").names == Names{"search_path"});
  CHECK(changes("set names 'UTF8'").names == Names{"client_encoding"});
  CHECK(changes("set session authorization bob").names == Names{"session_authorization"});
  CHECK(changes("reset session authorization").names == Names{"session_authorization!"});
  CHECK(changes("RESET work_mem").names == Names{"work_mem!"});
  CHECK(changes("set work_mem to default").names == Names{"work_mem!"});
  CHECK(changes("set session work_mem = DEFAULT").names == Names{"work_mem!"});
  CHECK(changes("set time zone local").names == Names{"timezone!"});
  CHECK(changes("set session characteristics as transaction isolation level serializable")
            .names.size() == 3);
  CHECK(changes("RESET ALL").names == Names{"!"});
  CHECK(changes("discard all").names == Names{"!"});
  // The last change of a name counts; RESET ALL replaces what came before it.
  CHECK(changes("set a = 1; reset a; set b = 2; set a = 3").names == Names{"b", "a"});
  CHECK(changes("set a = 1; reset all; set b = 2").names == Names{"!", "b"});
  CHECK(changes("BEGIN; SET a = 1; /* ; */ SELECT ';'; set b to 2; COMMIT").names ==
        Names{"a", "b"});
  CHECK(changes("select set_config('x.y', '1', false), set_config ( E'z' , '2', true)").names ==
        Names{"x.y", "z"});
  CHECK(changes("DO $$ BEGIN PERFORM set_config('in.body', 'v', false); END $$").names ==
        Names{"in.body"});
  // Not session changes.
  CHECK(changes("SET LOCAL work_mem = '1MB'").empty());
  CHECK(changes("set transaction isolation level serializable").empty());
  CHECK(changes("SET CONSTRAINTS ALL DEFERRED").empty());
  CHECK(changes("update t set a = 1").empty());
  CHECK(changes("alter role r set work_mem = '1MB'").empty());
  CHECK(changes("select 'set x = 1'").empty());
  CHECK(changes("discard plans").empty());
  CHECK(changes("select 1").empty());
}

TEST_CASE("noteSettingChanges: garbage never crashes", "[session_guard]") {
  std::mt19937 rng(5);
  const char alphabet[] = "SETRESDICALset_config$'\"()/*-\n; ea.";
  for (int iter = 0; iter < 20000; ++iter) {
    std::string s(rng() % 40, ' ');
    for (char& c : s) c = alphabet[rng() % (sizeof(alphabet) - 1)];
    SettingChanges c;
    noteSettingChanges(s, c);
  }
}

TEST_CASE("mayChangeResultTypes: ALTER, DROP, CREATE OR REPLACE", "[session_guard]") {
  using shardpool::pooler::mayChangeResultTypes;
  CHECK(mayChangeResultTypes("ALTER TABLE t ADD COLUMN c int"));
  CHECK(mayChangeResultTypes("begin; drop view v; commit"));
  CHECK(mayChangeResultTypes("/* x */ create or replace view v as select 1"));
  CHECK_FALSE(mayChangeResultTypes("create table t (a int)"));
  CHECK_FALSE(mayChangeResultTypes("select 'alter table t'"));
  CHECK_FALSE(mayChangeResultTypes("update t set dropped = true"));
  CHECK_FALSE(mayChangeResultTypes("select 1"));
}

TEST_CASE("scanWords: whole words in any case, never parts of longer ones", "[pooler][guard]") {
  using shardpool::pooler::scanWords;
  using W = shardpool::pooler::StatementWords;
  struct Case {
    const char* sql;
    uint32_t bits;
  };
  const Case cases[] = {
      {"SELECT abalance FROM pgbench_accounts WHERE aid = $1", 0},
      {"select * from t order by a offset 10", 0},  // offset holds "set"
      {"update settings set dropped = true, alternate = 1, replacement = 2", W::Set},
      {"ReSeT ALL", W::Set},
      {"select pg_catalog.set_config('a.b', '1', false)", W::SetConfig},
      {"DISCARD ALL", W::Discard},
      {"deallocate prepare s1", W::Deallocate},
      {"alter table t add c int; DROP view v", W::Alter | W::Drop},
      {"create or replace view v as select 1", W::Replace},
      {"LISTEN chan", W::Listen},
      {"create temporary table t (a int)", W::Temp},
      {"create TEMP table t (a int)", W::Temp},
      {"select pg_try_advisory_lock_shared(1), PG_ADVISORY_LOCK(2)", W::AdvisoryLock},
      {"select my_pg_advisory_lock(1), pg_advisory_xact_lock(2)", 0},
      {"select 'set' -- a literal or a comment counts: it may say yes in vain", W::Set},
      {"select \"drop\"", W::Drop},
      {"select set$x, xset, set1", 0},
      {"", 0},
  };
  for (const Case& c : cases) {
    INFO(c.sql);
    CHECK(scanWords(c.sql).bits == c.bits);
  }
}

TEST_CASE("scanWords never rules out a statement the checks act on", "[pooler][guard]") {
  // Each check with the words found agrees with the check told that every word occurs. (Parts
  // are kept apart: "x" + "set_config(" is the word xset_config, which nothing acts on.)
  using namespace shardpool::pooler;
  std::mt19937 rng(7);
  const std::vector<std::string> parts = {
      "SET ", "reset ", "set_config('x.y', '1', false)", "LISTEN c", "create temp table t(a int)",
      "ALTER TABLE t ", "drop ", "create or replace ", "select ", "pg_advisory_lock(1)",
      "discard all", "; ", "'", "\"", "/*", "*/", "--", "\n", "$$", "offset ", "x", "(", ")"};
  const std::vector<std::string> separators = {" ", "\n", ";", "(", "\t"};
  for (int i = 0; i < 3000; ++i) {
    std::string sql;
    for (int k = rng() % 8; k >= 0; --k)
      sql += parts[rng() % parts.size()] + separators[rng() % separators.size()];
    INFO(sql);
    StatementWords w = scanWords(sql);
    CHECK(sessionOnlyFeature(sql, w).has_value() ==
          sessionOnlyFeature(sql, StatementWords{~0u}).has_value());
    CHECK(mayChangeResultTypes(sql, w) == mayChangeResultTypes(sql, StatementWords{~0u}));
    SettingChanges a, b;
    noteSettingChanges(sql, w, a);
    noteSettingChanges(sql, StatementWords{~0u}, b);
    CHECK(a.changes.size() == b.changes.size());
  }
}
