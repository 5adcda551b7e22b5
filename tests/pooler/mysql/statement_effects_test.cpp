// scanStatementEffects: what keeps a transaction-pooled MySQL client on its server, found in
// the text of the statements real drivers and ORMs send.
#include "pooler/mysql/statement_effects.h"

#include <catch2/catch.hpp>

using namespace shardpool::pooler;

TEST_CASE("scanStatementEffects: user variables, set or read, outside strings and comments",
          "[mysql][pinning]") {
  CHECK(scanStatementEffects("SET @a = 1") == kUsesUserVariable);
  CHECK(scanStatementEffects("select 1 into @c") == kUsesUserVariable);
  CHECK(scanStatementEffects("SELECT @`quoted name`") == kUsesUserVariable);
  CHECK(scanStatementEffects("SELECT @a:=@a+1 FROM t") == kUsesUserVariable);
  CHECK(scanStatementEffects("SELECT @@session.time_zone, @@sql_mode") == 0);
  CHECK(scanStatementEffects("SELECT 'me@example.com', \"@x\", `a@b` FROM t") == 0);
  CHECK(scanStatementEffects("SELECT 1 -- @a\n") == 0);
  CHECK(scanStatementEffects("SELECT 1 # @a") == 0);
  CHECK(scanStatementEffects("SELECT /* @a */ 1") == 0);
  CHECK(scanStatementEffects("SELECT 'it''s @a', 'x\\'@b'") == 0);
  CHECK(scanStatementEffects("SELECT /*!50100 @a */ 1") == kUsesUserVariable);
  CHECK(scanStatementEffects("SELECT 1--@a") == kUsesUserVariable);  // 1 - (-@a)
}

TEST_CASE("scanStatementEffects: temporary tables, locks, prepare, handler, XA",
          "[mysql][pinning]") {
  CHECK(scanStatementEffects("CREATE TEMPORARY TABLE t1 (a int)") == kCreatesTemporaryTable);
  CHECK(scanStatementEffects("create or replace temporary table t (a int)") ==
        kCreatesTemporaryTable);
  CHECK(scanStatementEffects("DROP TEMPORARY TABLE t1") == 0);
  CHECK(scanStatementEffects("CREATE TABLE temporary_things (a int)") == 0);
  CHECK(scanStatementEffects("LOCK TABLES t READ, u WRITE") == kLocksTables);
  CHECK(scanStatementEffects("lock table t write") == kLocksTables);
  CHECK(scanStatementEffects("UNLOCK TABLES") == kUnlocksTables);
  CHECK(scanStatementEffects("SELECT * FROM t LOCK IN SHARE MODE") == 0);
  CHECK(scanStatementEffects("SELECT GET_LOCK('job', 10)") == kTakesNamedLock);
  CHECK(scanStatementEffects("SELECT RELEASE_ALL_LOCKS()") == kReleasesAllLocks);
  CHECK(scanStatementEffects("SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 5") == kCalcFoundRows);
  CHECK(scanStatementEffects("PREPARE s FROM 'SELECT 1'") == kPreparesText);
  CHECK(scanStatementEffects("HANDLER t OPEN") == kOpensHandler);
  CHECK(scanStatementEffects("XA START 'x'") == kXaTransaction);
  CHECK(scanStatementEffects("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE") ==
        kSetsNextTransaction);
  CHECK(scanStatementEffects("SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE") == 0);
  CHECK(scanStatementEffects("SELECT 1; set transaction read only") == kSetsNextTransaction);
  CHECK(scanStatementEffects("SELECT 'PREPARE', 'LOCK TABLES'") == 0);
  CHECK(scanStatementEffects("SELECT * FROM `prepare`") == 0);
  CHECK(scanStatementEffects("INSERT INTO t VALUES (1); SELECT @a") == kUsesUserVariable);
}

TEST_CASE("lastInsertIdQuery: only the bare form is answered by shardpool", "[mysql][pinning]") {
  CHECK(lastInsertIdQuery("SELECT LAST_INSERT_ID()") == std::optional<std::string_view>("LAST_INSERT_ID()"));
  CHECK(lastInsertIdQuery("  select last_insert_id( ) ;") ==
        std::optional<std::string_view>("last_insert_id( )"));
  CHECK_FALSE(lastInsertIdQuery("SELECT LAST_INSERT_ID(5)"));
  CHECK_FALSE(lastInsertIdQuery("SELECT LAST_INSERT_ID() AS id"));
  CHECK_FALSE(lastInsertIdQuery("SELECT LAST_INSERT_ID(), 1"));
  CHECK_FALSE(lastInsertIdQuery("SELECTLAST_INSERT_ID()"));
  CHECK_FALSE(lastInsertIdQuery("SELECT 1"));
}

TEST_CASE("cannotCommit: one DML statement, nothing that may commit", "[mysql][pinning]") {
  CHECK(cannotCommit("UPDATE t SET a = 1 WHERE id = 2"));
  CHECK(cannotCommit("  /* c */ insert into t values (1);"));
  CHECK(cannotCommit("SELECT ';' FROM t"));
  CHECK(cannotCommit("DELETE FROM t; -- done"));
  CHECK(cannotCommit("REPLACE INTO t VALUES (1)"));
  CHECK_FALSE(cannotCommit("COMMIT"));
  CHECK_FALSE(cannotCommit("commit work"));
  CHECK_FALSE(cannotCommit("BEGIN"));
  CHECK_FALSE(cannotCommit("CREATE TABLE x (a int)"));
  CHECK_FALSE(cannotCommit("SET autocommit = 1"));
  CHECK_FALSE(cannotCommit("UPDATE t SET a = 1; COMMIT"));
  CHECK_FALSE(cannotCommit("/*!40101 COMMIT */"));
  CHECK_FALSE(cannotCommit(""));
}

TEST_CASE("isRollback: ROLLBACK alone, not to a savepoint", "[mysql][pinning]") {
  CHECK(isRollback("ROLLBACK"));
  CHECK(isRollback(" rollback work;"));
  CHECK(isRollback("ROLLBACK AND NO CHAIN"));
  CHECK_FALSE(isRollback("ROLLBACK TO SAVEPOINT a"));
  CHECK_FALSE(isRollback("rollback to a"));
  CHECK_FALSE(isRollback("ROLLBACK; SELECT 1"));
  CHECK_FALSE(isRollback("COMMIT"));
}

TEST_CASE("transactionWord: statements that open or end a transaction", "[mysql][pinning]") {
  CHECK(transactionWord("BEGIN") == TransactionWord::Begin);
  CHECK(transactionWord("begin work;") == TransactionWord::Begin);
  CHECK(transactionWord("START TRANSACTION READ ONLY") == TransactionWord::Begin);
  CHECK(transactionWord("/* shard: 1 */ START TRANSACTION") == TransactionWord::Begin);
  CHECK(transactionWord("BEGIN NOT ATOMIC SELECT 1; END") == TransactionWord::None);
  CHECK(transactionWord("COMMIT WORK") == TransactionWord::Commit);
  CHECK(transactionWord("ROLLBACK") == TransactionWord::Rollback);
  CHECK(transactionWord("ROLLBACK TO SAVEPOINT a") == TransactionWord::None);
  CHECK(transactionWord("BEGIN; SELECT 1") == TransactionWord::None);
  CHECK(transactionWord("START SLAVE") == TransactionWord::None);
  CHECK(transactionWord("SELECT 1") == TransactionWord::None);
}

namespace shardpool::pooler {
namespace {

TEST_CASE("mysql: killStatement reads the KILL forms shardpool answers", "[mysql_effects]") {
  auto k = killStatement("KILL 42");
  REQUIRE(k);
  CHECK(k->supported);
  CHECK_FALSE(k->query);
  CHECK(k->id == 42);

  k = killStatement("  kill query 7 ;  ");
  REQUIRE(k);
  CHECK(k->supported);
  CHECK(k->query);
  CHECK(k->id == 7);

  k = killStatement("/* from the CLI */ KILL HARD CONNECTION 123456789");
  REQUIRE(k);
  CHECK(k->supported);
  CHECK_FALSE(k->query);
  CHECK(k->id == 123456789);

  k = killStatement("KILL SOFT QUERY /*x*/ 9");
  REQUIRE(k);
  CHECK(k->query);
  CHECK(k->id == 9);

  // Forms that name no client of shardpool: answered as not supported, never forwarded.
  for (const char* sql : {"KILL QUERY ID 5", "KILL USER app", "KILL CONNECTION_ID()",
                          "KILL QUERY 5 + 1", "KILL", "KILL QUERY 'x'",
                          "KILL 99999999999999999999", "KILL 5; SELECT 1",
                          "KILL QUERY 5 AND MORE WORDS THAN FIT"}) {
    INFO(sql);
    k = killStatement(sql);
    REQUIRE(k);
    CHECK_FALSE(k->supported);
  }

  // Not a KILL first: the usual path.
  for (const char* sql : {"SELECT 1", "KILLS 5", "kill_me()", "SELECT 1; KILL 5", "",
                          "/* KILL 5 */ SELECT 1", "killed = 1"}) {
    INFO(sql);
    CHECK_FALSE(killStatement(sql));
  }
}

TEST_CASE("mysql: a KILL anywhere in a multi-statement query is seen", "[mysql_effects]") {
  CHECK((scanStatementEffects("SELECT 1; KILL 5") & kRunsKill) != 0);
  CHECK((scanStatementEffects("SELECT 1;/* x */ kill query 5;") & kRunsKill) != 0);
  CHECK((scanStatementEffects("SELECT 'KILL 5'; SELECT `kill`") & kRunsKill) == 0);
  CHECK((scanStatementEffects("SELECT killed FROM t") & kRunsKill) == 0);
}

TEST_CASE("mysql: authLookupStatement binds the user name as a hex literal", "[mysql_effects]") {
  CHECK(authLookupStatement("SELECT u, p FROM t WHERE u = ?", "app") ==
        "SELECT u, p FROM t WHERE u = X'617070'");
  // Quotes and comments keep their question marks; the name cannot break out.
  CHECK(authLookupStatement("SELECT '?', `a?` /* ? */ FROM t WHERE u = ? AND v = ?", "x'; --") ==
        "SELECT '?', `a?` /* ? */ FROM t WHERE u = X'78273B202D2D' AND v = ?");
  CHECK(authLookupStatement("SELECT 1", "a") == "SELECT 1");
}

TEST_CASE("mysql: useStatementTarget reads USE <database>", "[mysql_effects]") {
  CHECK(useStatementTarget("USE shop") == "shop");
  CHECK(useStatementTarget("  use   sp_db ; ") == "sp_db");
  CHECK(useStatementTarget("USE `my db`") == "my db");
  CHECK(useStatementTarget("USE `a``b`") == "a`b");
  for (const char* sql : {"USE", "USE a b", "USE a; SELECT 1", "USERS", "USE `a", "USE a-b",
                          "SELECT 1", "USE `a`b`"}) {
    INFO(sql);
    CHECK_FALSE(useStatementTarget(sql));
  }
}

}  // namespace
}  // namespace shardpool::pooler
