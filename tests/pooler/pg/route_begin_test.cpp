#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "pooler/pg/client_routing.h"
#include "router/pg_statement.h"

namespace pooler = shardpool::pooler;
namespace router = shardpool::router;

namespace {
router::StatementFacts factsOf(std::string_view sql) {
  return router::analyze(sql, {});
}
}  // namespace

TEST_CASE("route begin: shardpool answers BEGIN and the end of a transaction that ran nowhere",
          "[pooler][routing]") {
  struct Case {
    const char* sql;
    bool begins;
    std::optional<std::string_view> ends;  // the command tag of the answer
  };
  const Case cases[] = {
      {"BEGIN", true, std::nullopt},
      {"begin isolation level serializable", true, std::nullopt},
      {"/* shard: 1 */ START TRANSACTION", true, std::nullopt},
      {"-- a comment\nBEGIN", true, std::nullopt},
      {"BEGIN; SELECT 1", false, std::nullopt},  // several statements: a server runs them
      {"SELECT 1", false, std::nullopt},
      {"COMMIT", false, "COMMIT"},
      {"end", false, "COMMIT"},
      {"ROLLBACK", false, "ROLLBACK"},
      {"abort", false, "ROLLBACK"},
      {"ROLLBACK TO SAVEPOINT a", false, std::nullopt},
      {"PREPARE TRANSACTION 'x'", false, std::nullopt},
      {"SAVEPOINT a", false, std::nullopt},
  };
  for (const Case& c : cases) {
    INFO(c.sql);
    router::StatementFacts f = factsOf(c.sql);
    CHECK(pooler::startsTransaction(f, c.sql) == c.begins);
    CHECK(pooler::endsTransaction(f, c.sql) == c.ends);
  }
  CHECK(pooler::beginTag("BEGIN") == "BEGIN");
  CHECK(pooler::beginTag("/* shard: 1 */ start transaction") == "START TRANSACTION");
  CHECK(pooler::firstWord("  /* a */ -- b\n  Commit;") == "COMMIT");
  CHECK(pooler::firstWord("/* never closed") == "");
}

TEST_CASE("route set: SET shardpool.* changes the session's or the transaction's hints",
          "[pooler][routing]") {
  router::SessionHints session, local;
  router::applyHints(session, local, factsOf("SET shardpool.shard = 1"));
  CHECK(session.shard == 1u);
  CHECK_FALSE(local.shard);
  router::applyHints(session, local, factsOf("SET LOCAL shardpool.sharding_key = '42'"));
  CHECK(local.shardingKey == std::optional<std::string>("42"));
  CHECK(session.shard == 1u);
  // One of the two at a level: a key replaces a shard, and the other way round.
  router::applyHints(session, local, factsOf("SET shardpool.sharding_key = 7"));
  CHECK_FALSE(session.shard);
  CHECK(session.shardingKey == std::optional<std::string>("7"));
  router::applyHints(session, local, factsOf("RESET shardpool.sharding_key"));
  CHECK_FALSE(session.shardingKey);
  CHECK(local.shardingKey == std::optional<std::string>("42"));
}
