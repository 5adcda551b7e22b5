// Shard routing end to end (issue 6): two PostgreSQL servers of the test's own as shards
// (sharding_util.h), shardpool in front with hash, text-key and modulo databases in transaction
// pooling. Rows are written through shardpool in every way a key can reach it (literal, Bind
// text/binary, named prepared statement, hints), then each shard is read DIRECTLY: every row must
// be on the shard the map names (router::shardFor, and PostgreSQL's satisfies_hash_partition for
// hash) and nowhere else.
//
// Tags: [sharding] all; [scatter] SELECTs without a key (scatter/gather) and [broadcast] DDL and
// unkeyed writes sent to every shard can also be run on their own. Each test case starts from
// empty tables; the shard servers are started once per process (a few seconds), so running the
// whole tag in one process ("[sharding]") is much faster than ctest's process per test case.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "integration/sharding_util.h"

using namespace shardpool::integration;
using namespace shardpool::integration::sharding;

namespace {

std::string str(int64_t v) {
  return std::to_string(v);
}

// The first id >= `from` on hash shard `shard`.
int64_t hashIdOn(uint32_t shard, int64_t from) {
  while (hashShard(from) != shard) ++from;
  return from;
}

std::string countWhereId(int64_t id) {
  return "SELECT count(*) FROM accounts WHERE id = " + str(id);
}

// Rows with `id` in `db`.accounts on each shard, read directly: {on shard 0, on shard 1}.
std::vector<long> copiesOf(const std::string& db, int64_t id) {
  std::vector<long> out;
  for (uint32_t s = 0; s < kShards; ++s)
    out.push_back(std::stol(ShardServers::get().direct(s, db).scalar(countWhereId(id))));
  return out;
}
std::vector<long> onlyOn(uint32_t shard) {
  std::vector<long> v(kShards, 0);
  v[shard] = 1;
  return v;
}
const std::vector<long> kNowhere(kShards, 0);

// Inserts rows into accounts through `c` in every way a key reaches shardpool; returns the ids
// whose INSERT succeeded (each failure is a CHECK failure of its own).
std::vector<int64_t> insertEveryWay(Conn& c) {
  std::vector<int64_t> ids;
  auto ok = [&](int64_t id, const PGresult* r, const char* how) {
    INFO(how << " id " << id << ": " << describe(c, r));
    CHECK(succeeded(r));
    if (succeeded(r)) ids.push_back(id);
  };
  // 200 literals, simple protocol, negative ones too.
  for (int64_t id = -20; id < 180; ++id) {
    auto r = c.exec("INSERT INTO accounts (id, note) VALUES (" + str(id) + ", 'literal')");
    ok(id, r.back().get(), "literal");
  }
  // 200 Bind parameters, text format, type left to the server.
  for (int64_t id = 1000; id < 1200; ++id) {
    auto r = execParams(c, "INSERT INTO accounts (id, note) VALUES ($1, 'bind text')", {str(id)});
    ok(id, r.get(), "bind text");
  }
  // Binary int8 and int4 parameters.
  for (int64_t id = 2000; id < 2050; ++id) {
    auto r = execBinaryInt(c, "INSERT INTO accounts (id, note) VALUES ($1, 'bind int8')", id, 20);
    ok(id, r.get(), "bind binary int8");
  }
  for (int64_t id = -3000; id > -3020; --id) {
    auto r = execBinaryInt(c, "INSERT INTO accounts (id, note) VALUES ($1, 'bind int4')", id, 23);
    ok(id, r.get(), "bind binary int4");
  }
  // A named prepared statement, executed 50 times (prepared again on each shard's servers).
  auto prep = prepare(c, "ins_account", "INSERT INTO accounts (id, note) VALUES ($1, 'prepared')");
  INFO(describe(c, prep.get()));
  CHECK(succeeded(prep.get()));
  for (int64_t id = 4000; id < 4050; ++id) {
    auto r = execPrepared(c, "ins_account", {str(id)});
    ok(id, r.get(), "named prepared");
  }
  // Keys outside int4: PostgreSQL's grammar reads such literals as numeric constants.
  for (int64_t id : {int64_t{5000000000}, int64_t{-5000000000}, int64_t{1} << 62,
                     std::numeric_limits<int64_t>::max()}) {
    auto r = c.exec("INSERT INTO accounts (id, note) VALUES (" + str(id) + ", 'big literal')");
    ok(id, r.back().get(), "big literal");
  }
  for (int64_t id : {int64_t{6000000000}, std::numeric_limits<int64_t>::min()}) {
    auto r = execParams(c, "INSERT INTO accounts (id, note) VALUES ($1, 'big bind')", {str(id)});
    ok(id, r.get(), "big bind");
  }
  return ids;
}

// Each id of `ids` is in `db`.accounts on shard `shardOf(id)` only, once.
template <class ShardOf>
void checkPlacement(const std::string& db, const std::vector<int64_t>& ids, ShardOf shardOf) {
  std::vector<std::set<std::string>> expected(kShards);
  for (int64_t id : ids) expected[shardOf(id)].insert(str(id));
  auto found = valuesPerShard(db, "accounts", "id");
  INFO("rows per shard: " << found[0].size() << " + " << found[1].size() << ", expected "
                          << expected[0].size() << " + " << expected[1].size());
  CHECK(placementDiff(expected, found) == "");
  CHECK(found[0].size() + found[1].size() == ids.size());
  CHECK(!expected[0].empty());
  CHECK(!expected[1].empty());
}

// Reads a sample of `ids` back through shardpool by key: one row each.
void readBack(Conn& c, const std::vector<int64_t>& ids) {
  int wrong = 0;
  std::string first;
  for (size_t i = 0; i < ids.size(); i += 7) {
    auto r = execParams(c, "SELECT count(*) FROM accounts WHERE id = $1", {str(ids[i])});
    if (!succeeded(r.get()) || firstValue(r.get()) != "1") {
      if (wrong++ == 0)
        first = str(ids[i]) + ": " + describe(c, r.get()) + " " + firstValue(r.get());
    }
  }
  INFO("first wrong read: " << first);
  CHECK(wrong == 0);
}

struct PgbenchRun {
  CommandResult result;
  long processed = -1;
  long failed = -1;
};

PgbenchRun runPgbench(uint16_t port, const std::string& script, const std::string& mode) {
  PgbenchRun run;
  run.result =
      runCommand({"pgbench", "-n", "-h", "127.0.0.1", "-p", std::to_string(port), "-U", "sp_scram",
                  "-f", script, "-c", "4", "-j", "2", "-T", "5", "-M", mode, "app_hash"},
                 clientEnv("scram_pass"), 60s);
  std::smatch m;
  static const std::regex processed(R"(number of transactions actually processed: (\d+))");
  static const std::regex failed(R"(number of failed transactions: (\d+))");
  if (std::regex_search(run.result.out, m, processed)) run.processed = std::stol(m[1]);
  if (std::regex_search(run.result.out, m, failed)) run.failed = std::stol(m[1]);
  return run;
}

}  // namespace

TEST_CASE("sharding: hash - keys as literal, Bind text or binary and prepared land on their shard",
          "[integration][sharding]") {
  ShardServers::get().resetTables();
  Proxy proxy(shardingConfig());
  Conn c = clientConn(proxy, "app_hash");
  auto ids = insertEveryWay(c);
  CHECK(ids.size() == 526);
  checkPlacement(kHashDb, ids, [](int64_t id) { return hashShard(id); });
  CHECK(misplacedByPostgres("accounts", "id", "hp_int") == std::vector<long>{0, 0});
  readBack(c, ids);
}

TEST_CASE(
    "sharding: modulo - keys as literal, Bind text or binary and prepared land on their shard",
    "[integration][sharding]") {
  ShardServers::get().resetTables();
  Proxy proxy(shardingConfig());
  Conn c = clientConn(proxy, "app_mod");
  auto ids = insertEveryWay(c);
  CHECK(ids.size() == 526);
  checkPlacement(kModDb, ids, [](int64_t id) { return moduloShard(id); });
  for (uint32_t s = 0; s < kShards; ++s) {
    INFO("shard " << s);
    CHECK(ShardServers::get().direct(s, kModDb).scalar(
              "SELECT count(*) FROM accounts WHERE ((id % 2) + 2) % 2 <> " + str(s)) == "0");
  }
  readBack(c, ids);
}

TEST_CASE("sharding: reads by key, and SET shardpool.shard or comment hints win over the key",
          "[integration][sharding]") {
  auto& servers = ShardServers::get();
  servers.resetTables();
  for (int64_t id = 1; id <= 20; ++id) {
    servers.direct(hashShard(id), kHashDb)
        .query("INSERT INTO accounts (id, note) VALUES (" + str(id) + ", 's" + str(hashShard(id)) +
               "')");
  }
  std::vector<long> perShard(kShards, 0);
  for (int64_t id = 1; id <= 20; ++id) ++perShard[hashShard(id)];
  Proxy proxy(shardingConfig());
  Conn c = clientConn(proxy, "app_hash");

  SECTION("by key: literal, IN on one shard, Bind text and binary") {
    for (int64_t id = 1; id <= 20; ++id) {
      INFO("id " << id);
      const std::string note = "s" + str(hashShard(id));
      CHECK(column(c, "SELECT note FROM accounts WHERE id = " + str(id)) ==
            std::vector<std::string>{note});
      auto r = execParams(c, "SELECT note FROM accounts WHERE id = $1", {str(id)});
      INFO(describe(c, r.get()));
      CHECK(firstValue(r.get()) == note);
      auto b = execBinaryInt(c, "SELECT note FROM accounts WHERE id = $1", id, 20);
      INFO(describe(c, b.get()));
      CHECK(firstValue(b.get()) == note);
    }
    const int64_t a = hashIdOn(0, 1), a2 = hashIdOn(0, a + 1);
    CHECK(c.scalar("SELECT count(*) FROM accounts WHERE id IN (" + str(a) + ", " + str(a2) + ")") ==
          "2");
  }

  const int64_t k = hashIdOn(0, 1);      // on shard 0
  const int64_t other = hashIdOn(1, 1);  // a key of shard 1
  SECTION("SET shardpool.shard wins over the key, for the session, until RESET") {
    c.query("SET shardpool.shard = 1");
    CHECK(c.scalar(countWhereId(k)) == "0");
    CHECK(c.scalar(countWhereId(k)) == "0");  // still: the session's hint
    auto r = execParams(c, "SELECT count(*) FROM accounts WHERE id = $1", {str(k)});
    INFO(describe(c, r.get()));
    CHECK(firstValue(r.get()) == "0");
    CHECK(c.scalar("SELECT count(*) FROM accounts") == str(perShard[1]));  // no key: that shard
    // A session hint also wins over a comment hint.
    CHECK(c.scalar("/* shard: 0 */ " + countWhereId(k)) == "0");
    c.query("RESET shardpool.shard");
    CHECK(c.scalar(countWhereId(k)) == "1");
    c.query("SET shardpool.shard = 0");
    CHECK(c.scalar("SELECT count(*) FROM accounts") == str(perShard[0]));
    c.query("RESET shardpool.shard");
  }

  SECTION("SET shardpool.sharding_key picks the key's shard") {
    c.query("SET shardpool.sharding_key = '" + str(other) + "'");
    CHECK(c.scalar(countWhereId(k)) == "0");
    CHECK(c.scalar("SELECT count(*) FROM accounts") == str(perShard[1]));
    c.query("RESET shardpool.sharding_key");
    CHECK(c.scalar(countWhereId(k)) == "1");
  }

  SECTION("comment hints, anywhere in the statement, win over the key") {
    CHECK(c.scalar("/* shard: 1 */ " + countWhereId(k)) == "0");
    CHECK(c.scalar(countWhereId(k) + " /* shard: 1 */") == "0");
    CHECK(c.scalar("/* shard: 0 */ " + countWhereId(k)) == "1");
    CHECK(c.scalar("/* sharding_key: " + str(other) + " */ " + countWhereId(k)) == "0");
    CHECK(c.scalar("/* shard: 1 */ SELECT count(*) FROM accounts") == str(perShard[1]));
    auto r = execParams(c, "/* shard: 1 */ SELECT count(*) FROM accounts WHERE id = $1", {str(k)});
    INFO(describe(c, r.get()));
    CHECK(firstValue(r.get()) == "0");
    // The hint is per statement: the next one routes by its key again.
    CHECK(c.scalar(countWhereId(k)) == "1");
  }

  SECTION("a hint out of range is refused, the connection stays usable") {
    auto e = c.expectError("SET shardpool.shard = 7");
    INFO(e.message);
    CHECK(e.sqlstate == "22023");
    auto e2 = c.expectError("/* shard: 9 */ " + countWhereId(k));
    INFO(e2.message);
    CHECK(e2.sqlstate == "22023");
    CHECK(c.scalar(countWhereId(k)) == "1");
  }
}

TEST_CASE(
    "sharding: SET LOCAL shardpool.shard or sharding_key, or a hint on BEGIN, last one transaction",
    "[integration][sharding]") {
  auto& servers = ShardServers::get();
  servers.resetTables();
  const int64_t k = hashIdOn(0, 1), other = hashIdOn(1, 1);
  servers.direct(0, kHashDb).query("INSERT INTO accounts (id) VALUES (" + str(k) + ")");
  Proxy proxy(shardingConfig());
  Conn c = clientConn(proxy, "app_hash");
  CHECK(c.scalar(countWhereId(k)) == "1");

  c.query("BEGIN");
  c.query("SET LOCAL shardpool.shard = 1");
  CHECK(c.scalar(countWhereId(k)) == "0");
  c.query("COMMIT");
  CHECK(c.scalar(countWhereId(k)) == "1");

  c.query("BEGIN");
  c.query("SET LOCAL shardpool.sharding_key = '" + str(other) + "'");
  CHECK(c.scalar(countWhereId(k)) == "0");
  c.query("ROLLBACK");
  CHECK(c.scalar(countWhereId(k)) == "1");

  // Outside a transaction SET LOCAL does nothing (PostgreSQL only warns).
  c.exec("SET LOCAL shardpool.shard = 1");
  CHECK(c.scalar(countWhereId(k)) == "1");

  // SET LOCAL over a session hint: the transaction's wins, then the session's again.
  c.query("SET shardpool.shard = 1");
  c.query("BEGIN");
  c.query("SET LOCAL shardpool.shard = 0");
  CHECK(c.scalar(countWhereId(k)) == "1");
  c.query("COMMIT");
  CHECK(c.scalar(countWhereId(k)) == "0");
  c.query("RESET shardpool.shard");
  CHECK(c.scalar(countWhereId(k)) == "1");

  // A comment hint on BEGIN routes the whole transaction.
  c.query("/* shard: 1 */ BEGIN");
  CHECK(c.scalar(countWhereId(k)) == "0");
  c.query("COMMIT");
  CHECK(c.scalar(countWhereId(k)) == "1");
}

TEST_CASE("sharding: a transaction stays on one shard, another shard's statement gets 0A000",
          "[integration][sharding]") {
  auto& servers = ShardServers::get();
  servers.resetTables();
  Proxy proxy(shardingConfig());
  Conn c = clientConn(proxy, "app_hash");
  const int64_t a = hashIdOn(0, 100), a2 = hashIdOn(0, a + 1);
  const int64_t b = hashIdOn(1, 100), b2 = hashIdOn(1, b + 1);
  auto insert = [](int64_t id) { return "INSERT INTO accounts (id) VALUES (" + str(id) + ")"; };

  SECTION("two statements of one shard commit together there") {
    c.query("BEGIN");
    c.query(insert(a));
    c.query(insert(a2));
    c.query("COMMIT");
    CHECK(copiesOf(kHashDb, a) == onlyOn(0));
    CHECK(copiesOf(kHashDb, a2) == onlyOn(0));
    // A transaction that starts with a read and then writes on the same shard.
    c.query("BEGIN");
    CHECK(c.scalar(countWhereId(a)) == "1");
    c.query("UPDATE accounts SET balance = 5 WHERE id = " + str(a2));
    c.query("COMMIT");
    CHECK(servers.direct(0, kHashDb).scalar("SELECT balance FROM accounts WHERE id = " + str(a2)) ==
          "5");
    // Shard 1 too, with START TRANSACTION and END.
    c.query("START TRANSACTION");
    c.query(insert(b));
    c.query(insert(b2));
    c.query("END");
    CHECK(copiesOf(kHashDb, b) == onlyOn(1));
    CHECK(copiesOf(kHashDb, b2) == onlyOn(1));
  }

  SECTION("a statement for another shard fails the transaction: ROLLBACK, nothing kept") {
    c.query("BEGIN");
    c.query(insert(a));
    auto e = expectFullError(c, insert(b));
    INFO(e.message << " / " << e.hint);
    CHECK(e.sqlstate == "0A000");
    CHECK(contains(e.message, "cross-shard transactions are not supported"));
    // What went wrong, not how shardpool raised it (a DO block on the server).
    CHECK(e.context.empty());
    CHECK(e.schema.empty());
    // The transaction is aborted, as PostgreSQL aborts one after an error.
    auto aborted = c.expectError("SELECT 1");
    CHECK(aborted.sqlstate == "25P02");
    c.query("ROLLBACK");
    CHECK(c.scalar("SELECT 1") == "1");
    CHECK(copiesOf(kHashDb, a) == kNowhere);
    CHECK(copiesOf(kHashDb, b) == kNowhere);
    // Still usable for a transaction of the other shard.
    c.query("BEGIN");
    c.query(insert(b));
    c.query("COMMIT");
    CHECK(copiesOf(kHashDb, b) == onlyOn(1));
  }

  SECTION("the same with Bind parameters") {
    c.query("BEGIN");
    const std::string sql = "INSERT INTO accounts (id) VALUES ($1)";
    auto first = execParams(c, sql, {str(b)});
    INFO(describe(c, first.get()));
    CHECK(succeeded(first.get()));
    auto second = execParams(c, sql, {str(a)});
    auto e = errorOf(c, second.get());
    INFO(e.message);
    CHECK(e.sqlstate == "0A000");
    CHECK(contains(e.message, "cross-shard transactions are not supported"));
    c.query("ROLLBACK");
    CHECK(copiesOf(kHashDb, a) == kNowhere);
    CHECK(copiesOf(kHashDb, b) == kNowhere);
    auto after = execParams(c, "SELECT count(*) FROM accounts WHERE id = $1", {str(a)});
    INFO(describe(c, after.get()));
    CHECK(firstValue(after.get()) == "0");
  }

  SECTION("BEGIN and COMMIT through the extended protocol, as pgbench -M extended sends them") {
    for (int64_t id : {a, b}) {
      INFO("id " << id << " (shard " << hashShard(id) << ")");
      auto begin = execParams(c, "BEGIN", {});
      INFO("BEGIN: " << describe(c, begin.get()));
      CHECK(succeeded(begin.get()));
      auto ins = execParams(c, "INSERT INTO accounts (id) VALUES ($1)", {str(id)});
      INFO("INSERT: " << describe(c, ins.get()));
      CHECK(succeeded(ins.get()));
      auto commit = execParams(c, "COMMIT", {});
      INFO("COMMIT: " << describe(c, commit.get()));
      CHECK(succeeded(commit.get()));
      if (PQtransactionStatus(c.get()) != PQTRANS_IDLE) c.exec("ROLLBACK");
      CHECK(copiesOf(kHashDb, id) == onlyOn(hashShard(id)));
    }
  }

  SECTION("ROLLBACK of a one-shard transaction keeps nothing") {
    c.query("BEGIN");
    c.query(insert(b));
    c.query("ROLLBACK");
    CHECK(copiesOf(kHashDb, b) == kNowhere);
  }

  SECTION("empty transactions") {
    c.query("BEGIN");
    c.query("COMMIT");
    c.query("BEGIN");
    c.query("ROLLBACK");
    c.query("START TRANSACTION ISOLATION LEVEL REPEATABLE READ");
    c.query("COMMIT");
    CHECK(c.scalar("SELECT 1") == "1");
    // A transaction opened and closed in one string.
    auto r = c.exec("BEGIN; " + insert(a) + "; COMMIT");
    INFO(describe(c, r.back().get()));
    CHECK(succeeded(r.back().get()));
    CHECK(copiesOf(kHashDb, a) == onlyOn(0));
  }
}

TEST_CASE("sharding: text keys land where satisfies_hash_partition puts them",
          "[integration][sharding]") {
  ShardServers::get().resetTables();
  Proxy proxy(shardingConfig());
  Conn c = clientConn(proxy, "app_text");
  std::vector<std::string> keys;
  const char* stems[] = {"user-", "Ключ-", "鍵", "key with spaces ", "😀"};
  for (int i = 0; i < 100; ++i) keys.push_back(stems[i % 5] + std::to_string(i));
  keys.push_back("");  // the empty string is a key too
  std::vector<std::string> inserted;
  for (size_t i = 0; i < keys.size(); ++i) {
    auto r = c.exec("INSERT INTO tkeys (k, v) VALUES ('" + keys[i] + "', " + str(i) + ")");
    INFO("literal '" << keys[i] << "': " << describe(c, r.back().get()));
    CHECK(succeeded(r.back().get()));
    if (succeeded(r.back().get())) inserted.push_back(keys[i]);
  }
  for (int i = 0; i < 100; ++i) {
    std::string k = "bound-" + std::to_string(i) + (i % 3 == 0 ? "-ß" : "");
    auto r = execParams(c, "INSERT INTO tkeys (k, v) VALUES ($1, $2)", {k, str(1000 + i)});
    INFO("bind '" << k << "': " << describe(c, r.get()));
    CHECK(succeeded(r.get()));
    if (succeeded(r.get())) inserted.push_back(k);
  }
  std::vector<std::set<std::string>> expected(kShards);
  for (const auto& k : inserted) expected[hashShard(std::string_view(k))].insert(k);
  CHECK(placementDiff(expected, valuesPerShard(kHashDb, "tkeys", "k")) == "");
  CHECK(misplacedByPostgres("tkeys", "k", "hp_text") == std::vector<long>{0, 0});

  // Reads by key, and text sharding_key hints.
  CHECK(c.scalar("SELECT v FROM tkeys WHERE k = 'user-5'") == "5");
  auto r = execParams(c, "SELECT v FROM tkeys WHERE k = $1", {"bound-3-ß"});
  INFO(describe(c, r.get()));
  CHECK(firstValue(r.get()) == "1003");
  const std::string k5 = "user-5";
  const uint32_t s5 = hashShard(std::string_view(k5));
  const std::string count5 = str(static_cast<int64_t>(expected[s5].size()));
  c.query("SET shardpool.sharding_key = 'user-5'");
  CHECK(c.scalar("SELECT count(*) FROM tkeys") == count5);
  c.query("RESET shardpool.sharding_key");
  CHECK(c.scalar("/* sharding_key: user-5 */ SELECT count(*) FROM tkeys") == count5);
}

TEST_CASE(
    "sharding: multi-row INSERT across shards and UPDATE or DELETE without the key are refused",
    "[integration][sharding]") {
  auto& servers = ShardServers::get();
  servers.resetTables();
  Proxy proxy(shardingConfig());
  Conn c = clientConn(proxy, "app_hash");
  const int64_t a = hashIdOn(0, 1), a2 = hashIdOn(0, a + 1);
  const int64_t b = hashIdOn(1, 1);

  auto e =
      expectFullError(c, "INSERT INTO accounts (id) VALUES (" + str(a) + "), (" + str(b) + ")");
  INFO("multi-row: " << e.message << " / " << e.hint);
  CHECK(e.sqlstate == "0A000");
  CHECK(contains(e.message, "single shard"));
  CHECK(copiesOf(kHashDb, a) == kNowhere);
  CHECK(copiesOf(kHashDb, b) == kNowhere);

  // Rows of one shard in one INSERT are fine.
  c.query("INSERT INTO accounts (id, balance) VALUES (" + str(a) + ", 1), (" + str(a2) + ", 2)");
  CHECK(copiesOf(kHashDb, a) == onlyOn(0));
  CHECK(copiesOf(kHashDb, a2) == onlyOn(0));
  c.query("INSERT INTO accounts (id, balance) VALUES (" + str(b) + ", 3)");

  for (const std::string sql :
       {"UPDATE accounts SET balance = 0", "UPDATE accounts SET balance = 0 WHERE balance > 0",
        "DELETE FROM accounts", "DELETE FROM accounts WHERE note IS NULL"}) {
    auto u = expectFullError(c, sql);
    INFO(sql << ": [" << u.sqlstate << "] " << u.message << " / " << u.hint);
    CHECK(u.sqlstate == "0A000");
    CHECK(contains(u.message + " " + u.hint, "allow_unkeyed_writes"));
  }
  // Nothing changed, and keyed writes still work.
  CHECK(servers.direct(0, kHashDb).scalar("SELECT sum(balance) FROM accounts") == "3");
  CHECK(servers.direct(1, kHashDb).scalar("SELECT sum(balance) FROM accounts") == "3");
  auto u = c.exec("UPDATE accounts SET balance = 10 WHERE id = " + str(b));
  CHECK(std::string(PQcmdTuples(u.back().get())) == "1");
  CHECK(servers.direct(1, kHashDb).scalar("SELECT balance FROM accounts WHERE id = " + str(b)) ==
        "10");

  // Moving a row to another shard by updating its key, and an INSERT without the key.
  auto mv =
      expectFullError(c, "UPDATE accounts SET id = " + str(b + 1000) + " WHERE id = " + str(a));
  INFO("key update: " << mv.message);
  CHECK(mv.sqlstate == "0A000");
  auto nokey = expectFullError(c, "INSERT INTO accounts (note) VALUES ('no key')");
  INFO("no key: " << nokey.message);
  CHECK(nokey.sqlstate == "0A000");

  // A refusal inside a transaction aborts it; ROLLBACK, and the connection goes on.
  c.query("BEGIN");
  c.query("INSERT INTO accounts (id) VALUES (" + str(hashIdOn(0, a2 + 1)) + ")");
  auto inTx = expectFullError(c, "UPDATE accounts SET balance = 0");
  CHECK(inTx.sqlstate == "0A000");
  c.query("ROLLBACK");
  CHECK(copiesOf(kHashDb, hashIdOn(0, a2 + 1)) == kNowhere);
  CHECK(c.scalar(countWhereId(a)) == "1");
}

TEST_CASE("sharding: tables without a rule live on default_shard", "[integration][sharding]") {
  auto& servers = ShardServers::get();
  servers.resetTables();
  for (uint32_t s = 0; s < kShards; ++s)
    servers.direct(s, kHashDb).query("INSERT INTO unruled VALUES ('on s" + str(s) + "')");
  Proxy proxy(shardingConfig());
  Conn h = clientConn(proxy, "app_hash");  // default_shard = 1
  CHECK(column(h, "SELECT v FROM unruled") == std::vector<std::string>{"on s1"});
  h.query("INSERT INTO unruled VALUES ('via shardpool')");
  CHECK(
      servers.direct(1, kHashDb).scalar("SELECT count(*) FROM unruled WHERE v = 'via shardpool'") ==
      "1");
  CHECK(
      servers.direct(0, kHashDb).scalar("SELECT count(*) FROM unruled WHERE v = 'via shardpool'") ==
      "0");
  auto r = execParams(h, "SELECT v FROM unruled WHERE v = $1", {"on s1"});
  INFO(describe(h, r.get()));
  CHECK(firstValue(r.get()) == "on s1");
  Conn t = clientConn(proxy, "app_text");  // default_shard = 0
  CHECK(column(t, "SELECT v FROM unruled") == std::vector<std::string>{"on s0"});
  CHECK(h.scalar("SELECT 1") == "1");
}

TEST_CASE(
    "sharding: pgbench keyed by aid through transaction pooling, simple, extended and prepared",
    "[integration][sharding][pgbench]") {
  auto& servers = ShardServers::get();
  servers.resetTables();
  constexpr int kAccounts = 100000;
  for (uint32_t s = 0; s < kShards; ++s) {
    Conn d = servers.direct(s, kHashDb);
    d.query(
        "CREATE TABLE pgbench_accounts (aid int PRIMARY KEY, bid int, abalance int, "
        "filler char(84))");
    d.query(
        "CREATE TABLE pgbench_history (tid int, bid int, aid int, delta int, mtime "
        "timestamp, filler char(22))");
    // Only the rows of this shard.
    d.query("INSERT INTO pgbench_accounts SELECT g, 1, 0, '' FROM generate_series(1, " +
            std::to_string(kAccounts) + ") g WHERE satisfies_hash_partition('hp_int'::regclass, " +
            std::to_string(kShards) + ", " + str(s) + ", g::bigint)");
  }
  // Autocommit read by aid, then a transaction: update by aid, read it, log it by aid.
  TempDir dir;
  const std::string script =
      dir.write("by_aid.pgbench", "\\set aid random(1, " + std::to_string(kAccounts) +
                                      ")\n"
                                      "\\set delta random(-5000, 5000)\n"
                                      "SELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n"
                                      "BEGIN;\n"
                                      "UPDATE pgbench_accounts SET abalance = abalance + :delta "
                                      "WHERE aid = :aid;\n"
                                      "SELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n"
                                      "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) "
                                      "VALUES (1, 1, :aid, :delta, CURRENT_TIMESTAMP);\n"
                                      "END;\n");
  Proxy proxy(shardingConfig());
  long total = 0;
  for (const char* mode : {"simple", "extended", "prepared"}) {
    auto run = runPgbench(proxy.port(), script, mode);
    INFO("mode " << mode << "\n" << run.result.all());
    CHECK_FALSE(run.result.timedOut);
    CHECK(run.result.exitCode == 0);
    CHECK_FALSE(containsNoCase(run.result.all(), "error"));
    CHECK(run.processed > 0);
    CHECK(run.failed <= 0);  // "number of failed transactions: 0" (absent counts as none)
    if (run.processed > 0) total += run.processed;
  }
  // Every logged aid is on its shard, each balance is the sum of its logged deltas (so each
  // UPDATE hit the row, on the shard of its transaction), and nothing is lost.
  CHECK(misplacedByPostgres("pgbench_history", "aid::bigint", "hp_int") == std::vector<long>{0, 0});
  CHECK(misplacedByPostgres("pgbench_accounts", "aid::bigint", "hp_int") ==
        std::vector<long>{0, 0});
  long history = 0;
  for (uint32_t s = 0; s < kShards; ++s) {
    Conn d = servers.direct(s, kHashDb);
    INFO("shard " << s);
    CHECK(d.scalar("SELECT count(*) FROM pgbench_history h WHERE NOT EXISTS "
                   "(SELECT 1 FROM pgbench_accounts a WHERE a.aid = h.aid)") == "0");
    CHECK(d.scalar("SELECT count(*) FROM pgbench_accounts a LEFT JOIN (SELECT aid, sum(delta) "
                   "AS s FROM pgbench_history GROUP BY aid) h USING (aid) "
                   "WHERE a.abalance <> coalesce(h.s, 0)") == "0");
    history += std::stol(d.scalar("SELECT count(*) FROM pgbench_history"));
    CHECK(std::stol(d.scalar("SELECT count(*) FROM pgbench_history")) > 0);
  }
  CHECK(history == total);
}

TEST_CASE("sharding: a SELECT without a key gathers the rows of every shard",
          "[integration][sharding][scatter]") {
  auto& servers = ShardServers::get();
  servers.resetTables();
  for (int64_t id = 1; id <= 40; ++id) {
    servers.direct(hashShard(id), kHashDb)
        .query("INSERT INTO accounts (id, balance, note) VALUES (" + str(id) + ", " + str(id) +
               ", 'n')");
  }
  Proxy proxy(shardingConfig());
  Conn c = clientConn(proxy, "app_hash");

  auto rows = c.exec("SELECT * FROM accounts");
  INFO("SELECT *: " << describe(c, rows.back().get()));
  REQUIRE(succeeded(rows.back().get()));
  std::set<std::string> ids;
  for (int i = 0; i < PQntuples(rows.back().get()); ++i)
    ids.insert(PQgetvalue(rows.back().get(), i, 0));
  CHECK(ids.size() == 40);
  CHECK(PQntuples(rows.back().get()) == 40);
  CHECK(std::string(PQcmdTuples(rows.back().get())) == "40");  // one CommandComplete, summed
  CHECK(PQnfields(rows.back().get()) == 3);

  auto count = c.exec("SELECT count(*) FROM accounts");
  INFO("count(*): " << describe(c, count.back().get()));
  CHECK(firstValue(count.back().get()) == "40");
  CHECK(PQntuples(count.back().get()) == 1);

  auto first5 = c.exec("SELECT id FROM accounts ORDER BY id LIMIT 5");
  INFO("ORDER BY id LIMIT 5: " << describe(c, first5.back().get()));
  std::vector<std::string> got;
  for (int i = 0; i < PQntuples(first5.back().get()); ++i)
    got.push_back(PQgetvalue(first5.back().get(), i, 0));
  CHECK(got == std::vector<std::string>{"1", "2", "3", "4", "5"});

  auto avg = c.exec("SELECT avg(balance) FROM accounts");
  INFO("avg: " << describe(c, avg.back().get()));
  CHECK_FALSE(succeeded(avg.back().get()));  // needs merging: refused, never wrong
  CHECK(errorOf(c, avg.back().get()).sqlstate == "0A000");

  auto bound = execParams(c, "SELECT id FROM accounts WHERE note = $1", {"n"});
  INFO("extended: " << describe(c, bound.get()));
  CHECK(PQntuples(bound.get()) == 40);

  // Inside a transaction (here on shard 1, the default shard) a scatter is refused.
  const int64_t k1 = hashIdOn(1, 1);
  c.query("BEGIN");
  CHECK(c.scalar(countWhereId(k1)) == "1");
  auto inTx = c.expectError("SELECT count(*) FROM accounts");
  INFO("scatter in a transaction: " << inTx.message);
  CHECK(inTx.sqlstate == "0A000");
  c.query("ROLLBACK");

  // The connection is fine after all of it.
  CHECK(c.scalar(countWhereId(7)) == "1");
}

TEST_CASE("sharding: CREATE and DROP TABLE, and an allowed unkeyed UPDATE, go to every shard",
          "[integration][sharding][broadcast]") {
  auto& servers = ShardServers::get();
  servers.resetTables();
  Proxy proxy(shardingConfig());
  Conn c = clientConn(proxy, "app_hash");
  const std::string table = "bc_" + uniqueSuffix();
  auto existsOn = [&](uint32_t s, const std::string& name) {
    return servers.direct(s, kHashDb).scalar("SELECT to_regclass('" + name + "') IS NOT NULL");
  };

  auto created = c.exec("CREATE TABLE " + table + " (id bigint PRIMARY KEY, v text)");
  INFO("CREATE TABLE: " << describe(c, created.back().get()));
  CHECK(succeeded(created.back().get()));
  CHECK(existsOn(0, table) == "t");
  CHECK(existsOn(1, table) == "t");

  auto index = c.exec("CREATE INDEX accounts_note_idx ON accounts (note)");
  INFO("CREATE INDEX: " << describe(c, index.back().get()));
  CHECK(succeeded(index.back().get()));
  CHECK(existsOn(0, "accounts_note_idx") == "t");
  CHECK(existsOn(1, "accounts_note_idx") == "t");

  auto dropped = c.exec("DROP TABLE " + table);
  INFO("DROP TABLE: " << describe(c, dropped.back().get()));
  CHECK(succeeded(dropped.back().get()));
  CHECK(existsOn(0, table) == "f");
  CHECK(existsOn(1, table) == "f");

  // A failure on one shard names the shard.
  servers.direct(1, kHashDb).query("CREATE TABLE " + table + " (id int)");
  auto clash = expectFullError(c, "CREATE TABLE " + table + " (id bigint)");
  INFO("clash: [" << clash.sqlstate << "] " << clash.message);
  CHECK(clash.sqlstate == "42P07");
  CHECK(contains(clash.message, "s1"));
  servers.onEach(kHashDb, "DROP TABLE IF EXISTS " + table);

  // allow_unkeyed_writes: an UPDATE without the key updates the rows of every shard.
  for (int64_t id = 1; id <= 10; ++id) {
    servers.direct(hashShard(id), kHashDb)
        .query("INSERT INTO accounts (id) VALUES (" + str(id) + ")");
  }
  Conn u = clientConn(proxy, "app_unkeyed");
  auto upd = u.exec("UPDATE accounts SET balance = 7");
  INFO("unkeyed UPDATE: " << describe(u, upd.back().get()));
  CHECK(succeeded(upd.back().get()));
  CHECK(std::string(PQcmdTuples(upd.back().get())) == "10");
  for (uint32_t s = 0; s < kShards; ++s) {
    CHECK(servers.direct(s, kHashDb).scalar("SELECT count(*) FROM accounts WHERE balance <> 7") ==
          "0");
  }
}

TEST_CASE("sharding: settings a client changes follow it to every shard and reach no other client",
          "[integration][sharding]") {
  // An unreported setting (statement_timeout, work_mem) set while on one shard's server is read
  // back before that server goes, and applied on whichever server of any shard the client gets.
  auto& servers = ShardServers::get();
  servers.resetTables();
  int64_t on[kShards] = {-1, -1};
  for (int64_t id = 1; on[0] < 0 || on[1] < 0; ++id) {
    if (on[hashShard(id)] < 0) on[hashShard(id)] = id;
    servers.direct(hashShard(id), kHashDb).query("INSERT INTO accounts (id) VALUES (" + str(id) + ")");
  }
  Proxy proxy(shardingConfig());
  Conn c = clientConn(proxy, "app_hash");
  Conn other = clientConn(proxy, "app_hash");
  c.query("SET statement_timeout = '4321s'");
  for (const std::string& q : {std::string("BEGIN"), "SELECT id FROM accounts WHERE id = " + str(on[0]),
                               std::string("SET work_mem = '7MB'"), std::string("COMMIT")})
    c.query(q);
  const std::string probe = "SELECT current_setting('statement_timeout') || ' ' || "
                            "current_setting('work_mem') FROM accounts WHERE id = ";
  std::string defaults = other.scalar(probe + str(on[0]));
  CHECK(defaults.find("4321s") == std::string::npos);
  for (int round = 0; round < 6; ++round) {
    for (uint32_t s = 0; s < kShards; ++s) {
      INFO("round " << round << ", shard " << s);
      CHECK(c.scalar(probe + str(on[s])) == "4321s 7MB");
      CHECK(other.scalar(probe + str(on[s])) == defaults);
    }
  }
  // A SET rolled back is undone, as PostgreSQL undoes it.
  for (const std::string& q :
       {std::string("BEGIN"), "SELECT id FROM accounts WHERE id = " + str(on[1]),
        std::string("SET statement_timeout = '99s'"), std::string("ROLLBACK")})
    c.query(q);
  for (uint32_t s = 0; s < kShards; ++s) CHECK(c.scalar(probe + str(on[s])) == "4321s 7MB");
}
