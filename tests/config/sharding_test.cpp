// Shards, replicas, table rules and the directory in [databases.<name>]: decoding, the defaults
// Config::shardsOf fills in, table-name matching and configurations that load. Errors are in
// sharding_errors_test.cpp and sharding_directory_test.cpp.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "config/config.h"
#include "config_test_support.h"
#include "sharding_test_support.h"
#include "tls_test_support.h"

namespace shardpool::config {
namespace {

using testing::kDirectory;
using testing::kHash;
using testing::loadOk;
using testing::sets;
using testing::sharedTempDir;
using testing::twoShards;

constexpr std::string_view kFull = R"(
[general]
pool_mode = "transaction"

[databases.app]
host = "10.0.0.99"
port = 6543
user = "app_owner"
password = "pw"
dbname = "app"
sslmode = "require"
sharding_function = "directory"
default_shard = "s2"
read_from = "any"
allow_unkeyed_writes = true

[[databases.app.shards]]
host = "10.0.0.1"
port = 5432
dbname = "app_s0"
replicas = [ { host = "10.0.0.11", port = 5433 }, { host = "10.0.0.12" } ]
name = "s0"

[[databases.app.shards]]
host = "10.0.0.2"
sslmode = "disable"

[[databases.app.shards]]
name = "s2"
dbname = "app_s2"
replicas = [ { host = "10.0.0.31", dbname = "other", sslmode = "prefer" } ]

[databases.app.tables]
orders    = { key = "customer_id", type = "integer" }
customers = { key = "id" }
tenants   = { key = "slug", type = "text" }
countries = { replicated = true }
audit_log = { shard = 2 }
events    = { shard = "shard1" }
Invoices  = { key = "Customer" }

[databases.app.directory]
entries = [
  { key = 42, shard = 1 },
  { key = "acme", shard = "s0" },
  { from = 1000, to = 1999, shard = 1 },
  { from = -5, to = -5, shard = "s2" },
]
default_shard = 0
conninfo = "host=10.0.0.5 dbname=control user=router password=${MAP_PW:-x}"
table = "shard_directory"
refresh_interval = "5s"
notify_channel = "shard_directory"
)";

TEST_CASE("sharding: every key decodes", "[config][sharding]") {
  auto config = loadOk(kFull);
  const Database& db = config->databases.at("app");
  REQUIRE(db.sharded());
  REQUIRE(db.shards.size() == 3);
  CHECK(db.shardingFunction == ShardingFunction::Directory);
  CHECK(db.defaultShard == 2u);
  CHECK(db.readFrom == ReadFrom::Any);
  CHECK(db.allowUnkeyedWrites);
  CHECK(db.replicas.empty());

  // As written: unset fields stay empty until shardsOf fills them.
  CHECK(db.shards[0].name == "s0");
  CHECK(db.shards[0].primary.host == "10.0.0.1");
  CHECK(db.shards[0].primary.port == 5432);
  CHECK(db.shards[0].primary.dbname == "app_s0");
  REQUIRE(db.shards[0].replicas.size() == 2);
  CHECK(db.shards[0].replicas[0].host == "10.0.0.11");
  CHECK(db.shards[0].replicas[0].port == 5433);
  CHECK(db.shards[0].replicas[1].port == 0);
  CHECK(db.shards[1].name == "shard1");
  CHECK(db.shards[1].primary.sslmode == TlsMode::Disable);
  CHECK(db.shards[2].primary.host.empty());

  REQUIRE(db.tables.size() == 7);
  const TableRule& orders = db.tables.at("orders");
  CHECK(orders.kind == TableRule::Kind::Sharded);
  CHECK(orders.keyColumn == "customer_id");
  CHECK(orders.keyType == KeyType::Integer);
  CHECK(db.tables.at("customers").keyType == KeyType::Integer);
  CHECK(db.tables.at("tenants").keyType == KeyType::Text);
  CHECK(db.tables.at("countries").kind == TableRule::Kind::Replicated);
  CHECK(db.tables.at("audit_log").kind == TableRule::Kind::Pinned);
  CHECK(db.tables.at("audit_log").shard == 2);
  CHECK(db.tables.at("events").shard == 1);
  CHECK(db.tables.at("Invoices").keyColumn == "Customer");

  REQUIRE(db.directory);
  const Directory& dir = *db.directory;
  REQUIRE(dir.entries.size() == 4);
  CHECK(dir.entries[0].kind == DirectoryEntry::Kind::Integer);
  CHECK(dir.entries[0].from == 42);
  CHECK(dir.entries[0].to == 42);
  CHECK(dir.entries[0].shard == 1);
  CHECK(dir.entries[1].kind == DirectoryEntry::Kind::Text);
  CHECK(dir.entries[1].text == "acme");
  CHECK(dir.entries[1].shard == 0);
  CHECK(dir.entries[2].kind == DirectoryEntry::Kind::Range);
  CHECK(dir.entries[2].from == 1000);
  CHECK(dir.entries[2].to == 1999);
  CHECK(dir.entries[3].from == -5);
  CHECK(dir.entries[3].shard == 2);
  CHECK(dir.defaultShard == 0u);
  REQUIRE(dir.source);
  CHECK(dir.source->conninfo == "host=10.0.0.5 dbname=control user=router password=x");
  CHECK(dir.source->table == "shard_directory");
  CHECK(dir.source->refreshInterval == std::chrono::seconds(5));
  CHECK(dir.source->notifyChannel == "shard_directory");
}

TEST_CASE("sharding: shardsOf fills in the defaults of a sharded database", "[config][sharding]") {
  auto config = loadOk(kFull);
  std::vector<Shard> shards = config->shardsOf(config->databases.at("app"));
  REQUIRE(shards.size() == 3);

  CHECK(shards[0].name == "s0");
  CHECK(shards[0].primary.host == "10.0.0.1");
  CHECK(shards[0].primary.port == 5432);
  CHECK(shards[0].primary.dbname == "app_s0");
  CHECK(shards[0].primary.sslmode == TlsMode::Require);  // the database's
  CHECK_FALSE(shards[0].primary.sslrootcert);            // general's applies
  REQUIRE(shards[0].replicas.size() == 2);
  CHECK(shards[0].replicas[0].host == "10.0.0.11");
  CHECK(shards[0].replicas[0].port == 5433);
  CHECK(shards[0].replicas[0].dbname == "app_s0");  // the shard's
  CHECK(shards[0].replicas[1].port == 5432);        // the shard's, not the database's 6543

  CHECK(shards[1].name == "shard1");
  CHECK(shards[1].primary.host == "10.0.0.2");
  CHECK(shards[1].primary.port == 6543);  // the database's
  CHECK(shards[1].primary.dbname == "app");
  CHECK(shards[1].primary.sslmode == TlsMode::Disable);
  CHECK(shards[1].replicas.empty());

  CHECK(shards[2].primary.host == "10.0.0.99");
  CHECK(shards[2].primary.port == 6543);
  CHECK(shards[2].primary.dbname == "app_s2");
  REQUIRE(shards[2].replicas.size() == 1);
  CHECK(shards[2].replicas[0].host == "10.0.0.31");
  CHECK(shards[2].replicas[0].port == 6543);
  CHECK(shards[2].replicas[0].dbname == "other");
  CHECK(shards[2].replicas[0].sslmode == TlsMode::Prefer);
}

TEST_CASE("sharding: an unsharded database is one shard of its own server", "[config][sharding]") {
  struct Case {
    std::string toml;
    std::string database;
    std::string host;
    uint16_t port;
    std::string dbname;
    size_t replicas;
  };
  auto c = GENERATE(values<Case>({
      {"[databases.appdb]\n", "appdb", "127.0.0.1", 5432, "appdb", 0},
      {"[databases.appdb]\nhost = \"h\"\nport = 6000\ndbname = \"real\"\n", "appdb", "h", 6000,
       "real", 0},
      {"[databases.\"*\"]\nhost = \"/tmp\"\n", "*", "/tmp", 5432, "", 0},
      {"[databases.appdb]\nhost = \"p\"\nport = 6000\nread_from = \"replicas\"\n"
       "replicas = [ { host = \"r1\" }, { host = \"r2\", port = 7000, dbname = \"x\" } ]\n",
       "appdb", "p", 6000, "appdb", 2},
  }));
  INFO(c.toml);
  auto config = loadOk(c.toml);
  const Database& db = config->databases.at(c.database);
  CHECK_FALSE(db.sharded());
  CHECK(db.host == c.host);  // what existing code reads
  CHECK(db.port == c.port);
  std::vector<Shard> shards = config->shardsOf(db);
  REQUIRE(shards.size() == 1);
  CHECK(shards[0].name == "shard0");
  CHECK(shards[0].primary.host == c.host);
  CHECK(shards[0].primary.port == c.port);
  CHECK(shards[0].primary.dbname == c.dbname);
  REQUIRE(shards[0].replicas.size() == c.replicas);
  if (c.replicas == 2) {
    CHECK(db.readFrom == ReadFrom::Replicas);
    CHECK(shards[0].replicas[0].host == "r1");
    CHECK(shards[0].replicas[0].port == 6000);
    CHECK(shards[0].replicas[0].dbname == "appdb");
    CHECK(shards[0].replicas[1].port == 7000);
    CHECK(shards[0].replicas[1].dbname == "x");
  }
}

TEST_CASE("sharding: defaults of the new keys", "[config][sharding]") {
  auto config = loadOk(
      "[general]\npool_mode = \"statement\"\n[databases.app]\nsharding_function = \"modulo\"\n"
      "[[databases.app.shards]]\n[[databases.app.shards]]\n");
  const Database& db = config->databases.at("app");
  CHECK(db.shards.size() == 2);
  CHECK(db.shards[0].name == "shard0");
  CHECK(db.shards[1].name == "shard1");
  CHECK(db.shardingFunction == ShardingFunction::Modulo);
  CHECK_FALSE(db.defaultShard);
  CHECK(db.readFrom == ReadFrom::Primary);
  CHECK_FALSE(db.allowUnkeyedWrites);
  CHECK(db.tables.empty());
  CHECK_FALSE(db.directory);
  std::vector<Shard> shards = config->shardsOf(db);
  CHECK(shards[1].primary.host == "127.0.0.1");
  CHECK(shards[1].primary.port == 5432);
  CHECK(shards[1].primary.dbname == "app");

  auto plain = loadOk(testing::kOneDatabase);
  const Database& appdb = plain->databases.at("appdb");
  CHECK(appdb.shardingFunction == ShardingFunction::None);
  CHECK(appdb.replicas.empty());
  CHECK_FALSE(appdb.directory);
}

TEST_CASE("sharding: table names match like SQL identifiers", "[config][sharding]") {
  auto config = loadOk(kFull);
  const TableRules& tables = config->databases.at("app").tables;
  struct Case {
    std::string name;
    bool quoted;
    const char* rule;  // nullptr: no rule
  };
  auto c = GENERATE(values<Case>({
      {"orders", false, "orders"},
      {"ORDERS", false, "orders"},  // unquoted names fold to lower case
      {"Orders", false, "orders"},
      {"orders", true, "orders"},  // "orders" is the same table
      {"Orders", true, nullptr},   // "Orders" is another one
      {"Invoices", true, "Invoices"},
      {"invoices", false, nullptr},  // a rule with upper case is a quoted identifier
      {"INVOICES", false, nullptr},
      {"missing", false, nullptr},
      {std::string(64, 'a'), false, nullptr},
  }));
  INFO(c.name << (c.quoted ? " quoted" : ""));
  const TableRule* rule = findTableRule(tables, c.name, c.quoted);
  if (c.rule == nullptr) {
    CHECK(rule == nullptr);
  } else {
    CHECK(rule == &tables.at(c.rule));
  }
}

TEST_CASE("sharding: a user's session mode does not apply to several shards",
          "[config][sharding]") {
  auto config = loadOk(
      "[general]\npool_mode = \"transaction\"\n"
      "[databases.app]\nsharding_function = \"hash\"\n"
      "[[databases.app.shards]]\n[[databases.app.shards]]\n"
      "[databases.one]\n[[databases.one.shards]]\n"
      "[databases.plain]\n"
      "[users.reporter]\npassword = \"pw\"\npool_mode = \"session\"\n"
      "[users.batch]\npassword = \"pw\"\npool_mode = \"statement\"\n");
  const User* reporter = config->findUser("reporter");
  const User* batch = config->findUser("batch");
  CHECK(config->poolModeFor(config->databases.at("app"), reporter) == PoolMode::Transaction);
  CHECK(config->poolModeFor(config->databases.at("app"), batch) == PoolMode::Statement);
  CHECK(config->poolModeFor(config->databases.at("one"), reporter) == PoolMode::Session);
  CHECK(config->poolModeFor(config->databases.at("plain"), reporter) == PoolMode::Session);
}

TEST_CASE("sharding: valid configurations load", "[config][sharding]") {
  auto toml = GENERATE(values<std::string>({
      // One shard needs no sharding function, and may use session pooling.
      "[databases.app]\npool_mode = \"session\"\n[[databases.app.shards]]\nhost = \"h\"\n",
      twoShards(kHash),
      twoShards("sharding_function = \"modulo\"\n",
                "[databases.app.tables]\nt = { key = \"id\", type = \"integer\" }\n"),
      twoShards(kHash, "[databases.app.tables]\nt = { key = \"slug\", type = \"text\" }\n"),
      twoShards(std::string(kHash) + "default_shard = \"s1\"\n"),
      twoShards(std::string(kHash) + "read_from = \"replicas\"\n",
                "replicas = [ { host = \"r\" } ]\n"),
      twoShards(kDirectory, "[databases.app.directory]\nentries = [ { key = 1, shard = 0 } ]\n"),
      // Adjacent ranges and the same key as integer and text do not overlap.
      twoShards(kDirectory,
                "[databases.app.directory]\nentries = [ { from = 1, to = 9, shard = 0 }, "
                "{ from = 10, to = 19, shard = 1 }, { key = 20, shard = 0 }, "
                "{ key = \"20\", shard = 1 } ]\n"),
      twoShards(kDirectory,
                "[databases.app.directory]\nconninfo = \"host=x\"\ntable = \"t\"\n"
                "refresh_interval = 0\n"),
      "[databases.app]\nreplicas = []\n",
      "[databases.app]\nread_from = \"any\"\n",
  }));
  INFO(toml);
  loadOk(toml);
}

TEST_CASE("sharding: --set reaches the sharding keys", "[config][sharding]") {
  auto config =
      loadOk(twoShards(kHash),
             sets({"databases.app.sharding_function=modulo", "databases.app.default_shard=s1"}));
  const Database& db = config->databases.at("app");
  CHECK(db.shardingFunction == ShardingFunction::Modulo);
  CHECK(db.defaultShard == 1u);
  CHECK_FALSE(needsRestart("databases.app.shards"));
  CHECK_FALSE(needsRestart("databases.app.sharding_function"));
}

TEST_CASE("sharding: a CA on every shard serves the general verify mode", "[config][sharding]") {
  std::string ca = sharedTempDir().file("every-shard-ca.crt");
  loadOk(
      "[general]\nserver_tls_sslmode = \"verify-full\"\n"
      "[databases.app]\npool_mode = \"transaction\"\nsharding_function = \"hash\"\n"
      "[[databases.app.shards]]\nsslrootcert = \"" +
      ca +
      "\"\nreplicas = [ { host = \"/var/run/postgresql\" } ]\n"
      "[[databases.app.shards]]\nsslrootcert = \"" +
      ca + "\"\nreplicas = [ { host = \"r\" } ]\n");
}

}  // namespace
}  // namespace shardpool::config
