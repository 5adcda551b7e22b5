// Helpers for the shard-routing tests (sharding_test.cpp): two PostgreSQL servers of the test's
// own as shards, started once per test process and shared by its test cases; a shardpool config
// with hash, text-key and modulo databases over them; direct checks of where each row is.
//
// On each shard server:
//   database sh_hash   accounts (id bigint), tkeys (k text), unruled (no rule: default_shard),
//                      hp_int / hp_text: empty PARTITION BY HASH parents, only there for
//                      satisfies_hash_partition(), PostgreSQL's own say on which remainder a key
//                      has
//   database sh_mod    accounts (id bigint), sharded by modulo
// shardpool databases (clients log in as sp_scram; shardpool logs in to the shards as sp_admin):
//   app_hash      sh_hash, hash, accounts by id, pgbench_accounts / pgbench_history by aid,
//                 default_shard = 1 (so "no rule" is told apart from "shard 0 by accident")
//   app_text      sh_hash, hash, tkeys by k (text): only text keys, so sharding_key hints are text
//   app_mod       sh_mod, modulo, accounts by id
//   app_unkeyed   sh_hash, hash, accounts by id, allow_unkeyed_writes = true
#pragma once

#include <libpq-fe.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "integration/cluster_util.h"
#include "integration/extended_query.h"
#include "integration/harness.h"
#include "router/shard_hash.h"

namespace shardpool::integration::sharding {

inline constexpr uint32_t kShards = 2;
inline constexpr const char* kHashDb = "sh_hash";
inline constexpr const char* kModDb = "sh_mod";

inline uint32_t hashShard(int64_t id) {
  return router::shardFor(router::ShardFunction::Hash, router::KeyValue::ofInteger(id), kShards)
      .shard;
}
inline uint32_t hashShard(std::string_view key) {
  return router::shardFor(router::ShardFunction::Hash, router::KeyValue::ofText(key), kShards)
      .shard;
}
inline uint32_t moduloShard(int64_t id) {
  return router::moduloShard(id, kShards);
}

// The shard servers. get() starts them on first use (a few seconds); they stop at process exit.
class ShardServers {
 public:
  static ShardServers& get() {
    static ShardServers servers;
    return servers;
  }

  uint16_t port(uint32_t shard) const { return servers_.at(shard)->port(); }
  Conn direct(uint32_t shard, const std::string& db) const {
    Conn c(servers_.at(shard)->conninfo(db));
    if (!c.ok()) {
      throw std::runtime_error("direct connection to shard " + std::to_string(shard) + " (" + db +
                               ") failed: " + c.connectError().message);
    }
    return c;
  }
  // Runs `sql` directly on `db` of every shard.
  void onEach(const std::string& db, const std::string& sql) const {
    for (uint32_t s = 0; s < kShards; ++s) direct(s, db).query(sql);
  }
  // Fresh, empty test tables on every shard (a test case starts from these).
  void resetTables() const {
    for (const char* db : {kHashDb, kModDb}) {
      onEach(db,
             "SET client_min_messages = warning; DROP TABLE IF EXISTS accounts, tkeys, unruled, "
             "pgbench_accounts, pgbench_history CASCADE");
      onEach(db,
             "CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL DEFAULT 0, "
             "note text)");
      onEach(db, "CREATE TABLE tkeys (k text PRIMARY KEY, v int)");
      onEach(db, "CREATE TABLE unruled (v text)");
    }
  }

 private:
  ShardServers() {
    for (uint32_t s = 0; s < kShards; ++s) servers_.push_back(std::make_unique<Cluster>());
    for (uint32_t s = 0; s < kShards; ++s) {
      Conn c = direct(s, "sp_db");
      for (const char* db : {kHashDb, kModDb}) c.query(std::string("CREATE DATABASE ") + db);
      Conn h = direct(s, kHashDb);
      h.query("CREATE TABLE hp_int (id bigint) PARTITION BY HASH (id)");
      h.query("CREATE TABLE hp_text (k text) PARTITION BY HASH (k)");
    }
  }
  std::vector<std::unique_ptr<Cluster>> servers_;
};

// [[databases.NAME.shards]] s0 and s1 on the shard servers, then the rules.
inline std::string shardedDatabase(const std::string& name, const std::string& dbname,
                                   const std::string& function, const std::string& extra,
                                   const std::string& tables) {
  const ShardServers& servers = ShardServers::get();
  std::string s = "[databases." + name + "]\nhost = \"127.0.0.1\"\ndbname = \"" + dbname +
                  "\"\nuser = \"sp_admin\"\npassword = \"admin_pass\"\n"
                  "sharding_function = \"" +
                  function + "\"\n" + extra + "\n";
  for (uint32_t i = 0; i < kShards; ++i) {
    s += "[[databases." + name + ".shards]]\nname = \"s" + std::to_string(i) +
         "\"\nport = " + std::to_string(servers.port(i)) + "\n\n";
  }
  return s + "[databases." + name + ".tables]\n" + tables + "\n\n";
}

// The whole shardpool config of the sharding tests (see the top of this file).
inline std::string shardingConfig(const std::string& generalExtra = "") {
  return generalSection("pool_mode = \"transaction\"\ndefault_pool_size = 8\n" + generalExtra) +
         shardedDatabase("app_hash", kHashDb, "hash", "default_shard = 1",
                         "accounts = { key = \"id\" }\n"
                         "pgbench_accounts = { key = \"aid\" }\n"
                         "pgbench_history = { key = \"aid\" }") +
         shardedDatabase("app_text", kHashDb, "hash", "default_shard = 0",
                         "tkeys = { key = \"k\", type = \"text\" }") +
         shardedDatabase("app_mod", kModDb, "modulo", "default_shard = 0",
                         "accounts = { key = \"id\", type = \"integer\" }") +
         shardedDatabase("app_unkeyed", kHashDb, "hash",
                         "default_shard = 0\nallow_unkeyed_writes = true",
                         "accounts = { key = \"id\" }") +
         userSection("sp_scram", "scram_pass");
}

inline Conn clientConn(const Proxy& proxy, const std::string& db) {
  Conn c(proxy.conninfo("sp_scram", "scram_pass", db));
  if (!c.ok()) throw std::runtime_error("login to " + db + " failed: " + c.connectError().message);
  return c;
}

// The values of column `column` of `table` on each shard's `db`, read directly.
inline std::vector<std::multiset<std::string>> valuesPerShard(const std::string& db,
                                                              const std::string& table,
                                                              const std::string& column) {
  std::vector<std::multiset<std::string>> out(kShards);
  for (uint32_t s = 0; s < kShards; ++s) {
    for (const Row& r :
         ShardServers::get().direct(s, db).query("SELECT " + column + " FROM " + table))
      out[s].insert(r.at(0).value_or("<null>"));
  }
  return out;
}

// "" when each shard holds exactly `expected[shard]` (no more, no fewer, no duplicates), else
// what differs, at most a few values per shard.
inline std::string placementDiff(const std::vector<std::set<std::string>>& expected,
                                 const std::vector<std::multiset<std::string>>& found) {
  std::string out;
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size() && i < 10; ++i) s += (i ? ", " : "") + v[i];
    if (v.size() > 10) s += ", ... (" + std::to_string(v.size()) + " in all)";
    return s;
  };
  for (uint32_t s = 0; s < kShards; ++s) {
    std::vector<std::string> missing, extra;
    for (const auto& v : expected[s])
      if (found[s].count(v) == 0) missing.push_back(v);
    for (auto it = found[s].begin(); it != found[s].end(); it = found[s].upper_bound(*it)) {
      if (expected[s].count(*it) == 0 || found[s].count(*it) > 1) extra.push_back(*it);
    }
    if (!missing.empty()) out += "shard " + std::to_string(s) + " lacks " + list(missing) + "\n";
    if (!extra.empty())
      out += "shard " + std::to_string(s) + " has unexpected/duplicate " + list(extra) + "\n";
  }
  return out;
}

// Rows of `table` on each shard whose `column` PostgreSQL puts in another hash remainder
// (satisfies_hash_partition against the empty parent `parent`); 0 everywhere when all is well.
inline std::vector<long> misplacedByPostgres(const std::string& table, const std::string& column,
                                             const std::string& parent) {
  std::vector<long> out;
  for (uint32_t s = 0; s < kShards; ++s) {
    out.push_back(std::stol(ShardServers::get()
                                .direct(s, kHashDb)
                                .scalar("SELECT count(*) FROM " + table +
                                        " WHERE NOT satisfies_hash_partition('" + parent +
                                        "'::regclass, " + std::to_string(kShards) + ", " +
                                        std::to_string(s) + ", " + column + ")")));
  }
  return out;
}

// An unnamed extended-protocol statement with one binary integer parameter of type `oid`
// (20 int8, 23 int4), big-endian as the protocol wants.
inline ResultPtr execBinaryInt(Conn& c, const std::string& sql, int64_t value, Oid oid,
                               Ms timeout = 10s) {
  const int width = oid == 23 ? 4 : oid == 21 ? 2 : 8;
  std::string bytes(static_cast<size_t>(width), '\0');
  auto u = static_cast<uint64_t>(value);
  for (int i = width - 1; i >= 0; --i, u >>= 8)
    bytes[static_cast<size_t>(i)] = static_cast<char>(u & 0xff);
  const char* values[] = {bytes.data()};
  const int lengths[] = {width};
  const int formats[] = {1};
  const Oid types[] = {oid};
  if (!PQsendQueryParams(c.get(), sql.c_str(), 1, types, values, lengths, formats, 0)) {
    return ResultPtr(PQmakeEmptyPGresult(c.get(), PGRES_FATAL_ERROR));
  }
  return firstErrorOrLast(c.collect(timeout), "PQexecParams (binary): " + sql, timeout);
}

// SQLSTATE, message and hint of the first error among the results of `sql` (simple protocol);
// throws when it succeeds.
struct FullError {
  std::string sqlstate, message, hint;
  std::string context, schema;  // CONTEXT and schema name fields, "" when absent
};
inline FullError fullError(const PGresult* r) {
  FullError e;
  if (const char* s = PQresultErrorField(r, PG_DIAG_SQLSTATE)) e.sqlstate = s;
  if (const char* s = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)) e.message = s;
  if (const char* s = PQresultErrorField(r, PG_DIAG_MESSAGE_HINT)) e.hint = s;
  if (const char* s = PQresultErrorField(r, PG_DIAG_CONTEXT)) e.context = s;
  if (const char* s = PQresultErrorField(r, PG_DIAG_SCHEMA_NAME)) e.schema = s;
  if (e.message.empty() && r) e.message = PQresultErrorMessage(r);
  return e;
}
inline FullError expectFullError(Conn& c, const std::string& sql, Ms timeout = 20s) {
  auto results = c.exec(sql, timeout);
  if (!results.empty() && !results.back()) throw std::runtime_error("timeout: " + sql);
  for (auto& r : results) {
    auto st = PQresultStatus(r.get());
    if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE) return fullError(r.get());
  }
  throw std::runtime_error("expected an error, but it succeeded: " + sql);
}

// The first column of every row of `sql`, as text.
inline std::vector<std::string> column(Conn& c, const std::string& sql) {
  std::vector<std::string> out;
  for (const Row& r : c.query(sql)) out.push_back(r.at(0).value_or("<null>"));
  return out;
}

}  // namespace shardpool::integration::sharding
