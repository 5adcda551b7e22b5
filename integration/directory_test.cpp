// Directory sharding's map read from a PostgreSQL table: shardpool loads it at start, again on a
// NOTIFY or, with polling only, when its change check sees the table changed; a bad row or an
// overlap keeps the previous map (SHOW DIRECTORY's last_error says why); a source that cannot be
// reached does not keep shardpool from serving its other databases. The directory tables live
// in the fixture's sp_db; the console is where the map shows. The last case routes statements
// by the map.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <functional>
#include <thread>

#include "integration/admin_util.h"

using namespace shardpool::integration;

namespace {

// A directory table in the fixture's sp_db, dropped with the object.
class DirectoryTable {
 public:
  explicit DirectoryTable(const std::string& keyType = "bigint") : name_("dir_" + uniqueSuffix()) {
    admin_.query("CREATE TABLE " + name_ + " (key_from " + keyType + " PRIMARY KEY, key_to " +
                 keyType + ", shard text NOT NULL)");
  }
  ~DirectoryTable() {
    try {
      admin_.query("DROP TABLE IF EXISTS " + name_);
    } catch (...) {
    }
  }
  const std::string& name() const { return name_; }
  void sql(const std::string& statement) { admin_.query(statement); }
  // `count` single keys from `first`, spread over s0 and s1.
  void insertKeys(int64_t first, int64_t count) {
    sql("INSERT INTO " + name_ + " SELECT k, NULL, CASE WHEN k % 2 = 0 THEN 's0' ELSE 's1' END " +
        "FROM generate_series(" + std::to_string(first) + ", " + std::to_string(first + count - 1) +
        ") AS k");
  }

 private:
  Conn admin_ = adminConn();
  std::string name_;
};

std::string directoryConninfo(uint16_t port) {
  return "host=127.0.0.1 port=" + std::to_string(port) +
         " dbname=sp_db user=sp_admin password=admin_pass sslmode=disable";
}

// [databases.NAME]: two shards (both the fixture's sp_db), a directory with one file entry and
// the table, then `directoryExtra` in the directory table.
std::string directoryDatabase(const std::string& name, const std::string& table,
                              const std::string& directoryExtra, uint16_t sourcePort = 0) {
  std::string port = std::to_string(pgPort());
  return "[databases." + name + "]\nhost = \"127.0.0.1\"\nport = " + port +
         "\ndbname = \"sp_db\"\nsharding_function = \"directory\"\n\n"
         "[[databases." +
         name +
         ".shards]]\nname = \"s0\"\n\n"
         "[[databases." +
         name +
         ".shards]]\nname = \"s1\"\n\n"
         "[databases." +
         name +
         ".directory]\n"
         "entries = [ { key = -1, shard = \"s1\" } ]\n"
         "default_shard = \"s0\"\n"
         "conninfo = \"" +
         directoryConninfo(sourcePort ? sourcePort : pgPort()) +
         "\"\n"
         "table = \"" +
         table + "\"\n" + directoryExtra + "\n\n";
}

std::string fileOnlyDatabase(const std::string& name) {
  return "[databases." + name + "]\nhost = \"127.0.0.1\"\nport = " + std::to_string(pgPort()) +
         "\ndbname = \"sp_db\"\nsharding_function = \"directory\"\n\n"
         "[[databases." +
         name +
         ".shards]]\nname = \"a\"\n\n"
         "[[databases." +
         name +
         ".shards]]\nname = \"b\"\n\n"
         "[databases." +
         name +
         ".directory]\n"
         "entries = [ { key = 1, shard = \"a\" }, { from = 10, to = 19, shard = \"b\" }, "
         "{ key = \"acme\", shard = 1 } ]\n\n";
}

std::string configWith(const std::string& databases) {
  return generalSection("pool_mode = \"transaction\"\nadmin_users = [\"sp_admin\"]") +
         clusterDatabase() + databases + userSection("sp_scram", "scram_pass") +
         userSection("sp_admin", "admin_pass");
}

NamedRow directoryRow(Conn& console, const std::string& db) {
  return findRow(showRows(console, "SHOW DIRECTORY"), "database", db);
}

// Polls SHOW DIRECTORY until `db`'s row satisfies `ok`; returns the last row seen.
NamedRow waitForRow(Conn& console, const std::string& db,
                    const std::function<bool(const NamedRow&)>& ok, Ms timeout = 10s) {
  auto deadline = Clock::now() + timeout;
  NamedRow row;
  while (true) {
    for (const auto& r : showRows(console, "SHOW DIRECTORY"))
      if (r.at("database") == db) row = r;
    if ((!row.empty() && ok(row)) || Clock::now() >= deadline) return row;
    std::this_thread::sleep_for(50ms);
  }
}

std::string describe(const NamedRow& row) {
  std::string out;
  for (const auto& [k, v] : row) out += k + "=" + v + " ";
  return out;
}

auto entriesAre(long n) {
  return [n](const NamedRow& r) { return num(r, "entries") == n; };
}

}  // namespace

TEST_CASE("directory: the table loads at start, and INSERT + NOTIFY is seen at once",
          "[integration][directory]") {
  DirectoryTable table;
  table.insertKeys(1, 100);
  table.sql("INSERT INTO " + table.name() + " VALUES (1000, 1999, 's1'), (2000, 2999, '0')");
  std::string channel = "chan_" + uniqueSuffix();
  Proxy proxy(
      configWith(directoryDatabase("dir_db", table.name(),
                                   "refresh_interval = 0\nnotify_channel = \"" + channel + "\"") +
                 fileOnlyDatabase("file_db")));
  Conn console = consoleConn(proxy);
  REQUIRE(console.ok());

  NamedRow row = waitForRow(console, "dir_db", entriesAre(103));  // 102 rows + 1 file entry
  INFO(describe(row));
  REQUIRE(num(row, "entries") == 103);
  CHECK(row.at("source") == table.name());
  CHECK(num(row, "ranges") == 2);
  CHECK(num(row, "text_keys") == 0);
  CHECK(num(row, "version") == 1);
  CHECK_FALSE(row.at("loaded_at").empty());
  CHECK(row.at("last_error").empty());

  NamedRow file = directoryRow(console, "file_db");
  CHECK(file.at("source") == "file");
  CHECK(num(file, "entries") == 3);
  CHECK(num(file, "ranges") == 1);
  CHECK(num(file, "text_keys") == 1);
  CHECK(num(file, "version") == 1);

  // New rows, then a NOTIFY (refresh_interval 0: nothing else reads the table again).
  table.insertKeys(101, 50);
  table.sql("NOTIFY " + channel);
  auto notified = Clock::now();
  row = waitForRow(console, "dir_db", entriesAre(153), 5s);
  INFO(describe(row));
  CHECK(num(row, "entries") == 153);
  CHECK(num(row, "version") == 2);
  CHECK(Clock::now() - notified < 3s);

  // pg_notify() with a payload, in the same transaction as the change.
  table.sql("BEGIN; DELETE FROM " + table.name() +
            " WHERE key_from BETWEEN 141 AND 150; SELECT pg_notify('" + channel +
            "', 'changed'); COMMIT");
  row = waitForRow(console, "dir_db", entriesAre(143), 5s);
  CHECK(num(row, "entries") == 143);
  CHECK(num(row, "version") == 3);
  CHECK(contains(proxy.log(), "directory of database dir_db: loaded 143 entries"));
}

TEST_CASE("directory: with polling only, a change is seen within refresh_interval",
          "[integration][directory]") {
  DirectoryTable table;
  table.insertKeys(1, 20);
  Proxy proxy(configWith(directoryDatabase("dir_db", table.name(), "refresh_interval = \"1s\"")));
  Conn console = consoleConn(proxy);
  REQUIRE(console.ok());
  NamedRow row = waitForRow(console, "dir_db", entriesAre(21));
  REQUIRE(num(row, "entries") == 21);
  REQUIRE(num(row, "version") == 1);

  // Unchanged: the change check reads nothing, so the map is not published again.
  std::this_thread::sleep_for(2500ms);
  CHECK(num(directoryRow(console, "dir_db"), "version") == 1);

  table.insertKeys(21, 10);
  auto changed = Clock::now();
  row = waitForRow(console, "dir_db", entriesAre(31), 5s);
  INFO(describe(row));
  CHECK(num(row, "entries") == 31);
  CHECK(Clock::now() - changed < 2500ms);  // one interval, plus the read

  // An UPDATE that keeps the row count is a change too.
  table.sql("UPDATE " + table.name() + " SET shard = 's1' WHERE key_from = 2");
  row = waitForRow(
      console, "dir_db", [](const NamedRow& r) { return num(r, "version") == 3; }, 5s);
  CHECK(num(row, "version") == 3);
  CHECK(num(row, "entries") == 31);
}

TEST_CASE("directory: a bad row or an overlap keeps the previous map, and the error clears",
          "[integration][directory]") {
  DirectoryTable table;
  table.insertKeys(1, 10);
  std::string channel = "chan_" + uniqueSuffix();
  Proxy proxy(configWith(directoryDatabase(
      "dir_db", table.name(), "refresh_interval = 0\nnotify_channel = \"" + channel + "\"")));
  Conn console = consoleConn(proxy);
  REQUIRE(console.ok());
  REQUIRE(num(waitForRow(console, "dir_db", entriesAre(11)), "entries") == 11);

  // A shard out of range: nothing changes but last_error.
  table.sql("INSERT INTO " + table.name() + " VALUES (500, NULL, 's9'), (501, NULL, '7')");
  table.sql("NOTIFY " + channel);
  NamedRow row = waitForRow(
      console, "dir_db", [](const NamedRow& r) { return !r.at("last_error").empty(); }, 5s);
  INFO(describe(row));
  CHECK_THAT(row.at("last_error"), Catch::Contains("2 bad row(s)"));
  CHECK_THAT(row.at("last_error"), Catch::Contains("row key_from 500: no shard is named \"s9\""));
  CHECK_THAT(row.at("last_error"), Catch::Contains("row key_from 501: shard 7 does not exist"));
  CHECK(num(row, "entries") == 11);
  CHECK(num(row, "version") == 1);
  CHECK(contains(proxy.log(), "the last good map stays in use"));

  // Fixed: the error clears and the new rows are published.
  table.sql("UPDATE " + table.name() + " SET shard = 's1' WHERE key_from IN (500, 501)");
  table.sql("NOTIFY " + channel);
  row = waitForRow(console, "dir_db", entriesAre(13), 5s);
  CHECK(num(row, "entries") == 13);
  CHECK(num(row, "version") == 2);
  CHECK(row.at("last_error").empty());

  // An overlap (a range over keys already in the table, and one over the file's key -1).
  table.sql("INSERT INTO " + table.name() + " VALUES (-5, -1, 's0'), (0, 3, 's0')");
  table.sql("NOTIFY " + channel);
  row = waitForRow(
      console, "dir_db", [](const NamedRow& r) { return !r.at("last_error").empty(); }, 5s);
  INFO(describe(row));
  CHECK_THAT(row.at("last_error"), Catch::Contains("overlaps"));
  CHECK_THAT(row.at("last_error"), Catch::Contains("range -5..-1 (table " + table.name() + ")"));
  CHECK_THAT(row.at("last_error"), Catch::Contains("key -1 (file entries[0])"));
  CHECK_THAT(row.at("last_error"), Catch::Contains("(and 1 more problem(s))"));
  CHECK(num(row, "entries") == 13);
  CHECK(num(row, "version") == 2);
}

TEST_CASE("directory: a lost connection is opened again, with its LISTEN",
          "[integration][directory]") {
  DirectoryTable table;
  table.insertKeys(1, 10);
  std::string channel = "chan_" + uniqueSuffix();
  Proxy proxy(configWith(directoryDatabase(
      "dir_db", table.name(), "refresh_interval = 0\nnotify_channel = \"" + channel + "\"")));
  Conn console = consoleConn(proxy);
  REQUIRE(console.ok());
  REQUIRE(num(waitForRow(console, "dir_db", entriesAre(11)), "entries") == 11);

  Conn admin = adminConn();
  CHECK(admin.scalar("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                     "application_name = 'shardpool_directory' AND query LIKE '%" +
                     table.name() + "%'") == "1");
  NamedRow row = waitForRow(
      console, "dir_db", [](const NamedRow& r) { return !r.at("last_error").empty(); }, 5s);
  INFO(describe(row));
  CHECK_FALSE(row.at("last_error").empty());
  CHECK(num(row, "entries") == 11);
  // Reconnected (after 1 s): the table did not change, so the map is current again.
  row = waitForRow(
      console, "dir_db", [](const NamedRow& r) { return r.at("last_error").empty(); }, 5s);
  CHECK(row.at("last_error").empty());
  CHECK(num(row, "version") == 1);

  // Listening again.
  table.insertKeys(11, 5);
  table.sql("NOTIFY " + channel);
  row = waitForRow(console, "dir_db", entriesAre(16), 5s);
  CHECK(num(row, "entries") == 16);
}

TEST_CASE("directory: an unreachable source is an error, and other databases are served",
          "[integration][directory]") {
  uint16_t nobody = freePort();
  Proxy proxy(configWith(
      directoryDatabase("dir_db", "shard_directory", "refresh_interval = \"1s\"", nobody) +
      directoryDatabase("no_table_db", "no_such_directory", "refresh_interval = \"1s\"")));
  Conn console = consoleConn(proxy);
  REQUIRE(console.ok());
  NamedRow row = waitForRow(
      console, "dir_db", [](const NamedRow& r) { return !r.at("last_error").empty(); }, 10s);
  INFO(describe(row));
  CHECK_THAT(row.at("last_error"), Catch::Contains(std::to_string(nobody)));
  CHECK(num(row, "version") == 0);
  CHECK(num(row, "entries") == 0);
  CHECK(row.at("loaded_at").empty());
  CHECK(contains(proxy.log(), "directory of database dir_db"));
  CHECK(contains(proxy.log(), "no map yet"));
  row = waitForRow(
      console, "no_table_db", [](const NamedRow& r) { return !r.at("last_error").empty(); }, 10s);
  CHECK(row.at("last_error") == "relation \"no_such_directory\" does not exist (42P01)");
  CHECK(num(row, "version") == 0);

  Conn client(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(client.ok());
  CHECK(client.scalar("SELECT 41 + 1") == "42");

  // The retries (with backoff) log the same error once.
  std::this_thread::sleep_for(3500ms);
  std::string log = proxy.log();
  size_t count = 0;
  for (size_t at = log.find("directory of database dir_db"); at != std::string::npos;
       at = log.find("directory of database dir_db", at + 1))
    ++count;
  CHECK(count == 1);
}

TEST_CASE("directory: text keys, and a reload that removes the database",
          "[integration][directory]") {
  DirectoryTable table("text");
  table.sql("INSERT INTO " + table.name() +
            " VALUES ('acme', NULL, 's0'), ('globex', NULL, 's1'), ('initech', NULL, '1')");
  Proxy proxy(configWith(directoryDatabase("dir_db", table.name(), "refresh_interval = 0")));
  Conn console = consoleConn(proxy);
  REQUIRE(console.ok());
  NamedRow row = waitForRow(console, "dir_db", entriesAre(4));
  INFO(describe(row));
  CHECK(num(row, "entries") == 4);
  CHECK(num(row, "text_keys") == 3);

  // RELOAD reads the table again (refresh_interval 0 and no channel: nothing else does).
  table.sql("INSERT INTO " + table.name() + " VALUES ('hooli', NULL, 's0')");
  console.query("RELOAD");
  row = waitForRow(console, "dir_db", entriesAre(5), 5s);
  CHECK(num(row, "entries") == 5);

  {
    std::ofstream out(proxy.configPath(), std::ios::trunc);
    out << substitute(configWith(""), proxy.port());
  }
  console.query("RELOAD");
  auto deadline = Clock::now() + 5s;
  while (Clock::now() < deadline && !showRows(console, "SHOW DIRECTORY").empty())
    std::this_thread::sleep_for(50ms);
  CHECK(showRows(console, "SHOW DIRECTORY").empty());
}

TEST_CASE("directory: loading a million rows", "[.bench]") {
  DirectoryTable table;
  table.sql("INSERT INTO " + table.name() +
            " SELECT k * 10, CASE WHEN k % 4 = 0 THEN k * 10 + 5 END, "
            "CASE WHEN k % 2 = 0 THEN 's0' ELSE 's1' END FROM generate_series(1, 1000000) AS k");
  table.sql("VACUUM ANALYZE " + table.name());
  Conn admin = adminConn();
  auto t0 = Clock::now();
  admin.query("SELECT count(*), sum(hashtext(ctid::text || xmin::text)) FROM " + table.name());
  auto checkMs = std::chrono::duration_cast<Ms>(Clock::now() - t0).count();
  auto start = Clock::now();
  Proxy proxy(configWith(directoryDatabase("dir_db", table.name(), "refresh_interval = 0")));
  Conn console = consoleConn(proxy);
  NamedRow row = waitForRow(console, "dir_db", entriesAre(1000001), 60s);
  auto ms = std::chrono::duration_cast<Ms>(Clock::now() - start).count();
  REQUIRE(num(row, "entries") == 1000001);
  std::printf(
      "1M directory rows: published %lld ms after start (change check alone: %lld ms); "
      "shardpool RSS %ld KiB (peak %ld KiB)\n",
      static_cast<long long>(ms), static_cast<long long>(checkMs), proxy.rssKiB(),
      proxy.peakRssKiB());
  std::string log = proxy.log();
  auto at = log.find("loaded 1000001 entries");
  if (at != std::string::npos) std::printf("%s\n", log.substr(at, log.find('\n', at) - at).c_str());
}

// Routing by the map: two shards (two databases on the fixture server) holding `items`; a key's
// rows go where the map says, a key the map lacks goes to the default shard, and a moved key's
// next rows follow the new map as soon as it is published (NOTIFY), without reconnecting.
TEST_CASE("directory: statements are routed by the map, and a moved key follows it live",
          "[integration][directory][sharding]") {
  std::string suffix = uniqueSuffix();
  std::string db0 = "dirroute0_" + suffix, db1 = "dirroute1_" + suffix;
  Conn admin = adminConn();
  for (const auto& d : {db0, db1}) admin.query("CREATE DATABASE " + d);
  struct Drop {
    std::vector<std::string> dbs;
    ~Drop() {
      try {
        Conn a = adminConn();
        for (const auto& d : dbs) a.query("DROP DATABASE IF EXISTS " + d + " WITH (FORCE)");
      } catch (...) {
      }
    }
  } drop{{db0, db1}};
  for (const auto& d : {db0, db1})
    Conn(directConninfo("sp_admin", "admin_pass", d)).query("CREATE TABLE items (k bigint, v text)");

  DirectoryTable table;
  table.sql("INSERT INTO " + table.name() + " VALUES (5, NULL, 's0'), (100, 199, 's1')");
  std::string channel = "chan_" + uniqueSuffix();
  std::string port = std::to_string(pgPort());
  std::string database =
      "[databases.dirapp]\nhost = \"127.0.0.1\"\nport = " + port +
      "\nuser = \"sp_admin\"\npassword = \"admin_pass\"\nsharding_function = \"directory\"\n"
      "pool_size = 1\n\n"
      "[[databases.dirapp.shards]]\nname = \"s0\"\ndbname = \"" + db0 + "\"\n\n"
      "[[databases.dirapp.shards]]\nname = \"s1\"\ndbname = \"" + db1 + "\"\n\n"
      "[databases.dirapp.tables]\nitems = { key = \"k\" }\n\n"
      "[databases.dirapp.directory]\ndefault_shard = \"s0\"\nconninfo = \"" +
      directoryConninfo(pgPort()) + "\"\ntable = \"" + table.name() +
      "\"\nrefresh_interval = 0\nnotify_channel = \"" + channel + "\"\n\n";
  Proxy proxy(configWith(database));
  Conn console = consoleConn(proxy);
  REQUIRE(console.ok());
  REQUIRE(num(waitForRow(console, "dirapp", entriesAre(2)), "version") == 1);

  Conn app(proxy.conninfo("sp_admin", "admin_pass", "dirapp"));
  REQUIRE(app.ok());
  app.query("INSERT INTO items (k, v) VALUES (5, 'before')");
  app.query("INSERT INTO items (k, v) VALUES (150, 'range')");
  app.query("INSERT INTO items (k, v) VALUES (7, 'default')");
  Conn s0(directConninfo("sp_admin", "admin_pass", db0));
  Conn s1(directConninfo("sp_admin", "admin_pass", db1));
  CHECK(s0.scalar("SELECT string_agg(v, ',' ORDER BY v) FROM items") == "before,default");
  CHECK(s1.scalar("SELECT string_agg(v, ',' ORDER BY v) FROM items") == "range");
  // A read by key finds its row through the map.
  CHECK(app.scalar("SELECT v FROM items WHERE k = 150") == "range");

  // Key 5 moves to s1: the DBA's copy first, then the map, then NOTIFY.
  table.sql("UPDATE " + table.name() + " SET shard = 's1' WHERE key_from = 5");
  table.sql("NOTIFY " + channel);
  REQUIRE(num(waitForRow(console, "dirapp",
                         [](const NamedRow& r) { return num(r, "version") == 2; }, 5s),
              "version") == 2);
  // Workers take the new map at their next statement.
  app.query("INSERT INTO items (k, v) VALUES (5, 'after')");
  CHECK(s1.scalar("SELECT string_agg(v, ',' ORDER BY v) FROM items WHERE k = 5") == "after");
  CHECK(s0.scalar("SELECT count(*) FROM items WHERE v = 'after'") == "0");
  CHECK(app.scalar("SELECT v FROM items WHERE k = 5") == "after");

  // A statement routed before a move runs where it was routed, even when it waits for a server
  // across the move: each transaction is routed against one version of the map. (It was once
  // refused: "belongs to shard s1, but the transaction runs on shard s0".) s0's only server
  // is held by a transaction; a read of key 6 (s0 by default) queues for it; key 6 moves to s1;
  // the transaction ends and the read runs on s0.
  Conn holder(proxy.conninfo("sp_admin", "admin_pass", "dirapp"));
  Conn waiter(proxy.conninfo("sp_admin", "admin_pass", "dirapp"));  // logs in through s0
  REQUIRE(holder.ok());
  REQUIRE(waiter.ok());
  holder.query("BEGIN");
  holder.query("INSERT INTO items (k, v) VALUES (8, 'held')");  // s0 (default), pool_size 1
  REQUIRE(PQsendQuery(waiter.get(), "SELECT count(*) FROM items WHERE k = 6") == 1);
  CHECK_FALSE(waiter.waitReadable(300ms));  // queued for s0's server
  table.sql("INSERT INTO " + table.name() + " VALUES (6, NULL, 's1')");
  table.sql("NOTIFY " + channel);
  REQUIRE(num(waitForRow(console, "dirapp",
                         [](const NamedRow& r) { return num(r, "version") == 3; }, 5s),
              "version") == 3);
  holder.query("COMMIT");
  auto results = waiter.collect(10s);
  REQUIRE(!results.empty());
  REQUIRE(results.back() != nullptr);
  INFO(PQresultErrorMessage(results.front().get()));
  CHECK(PQresultStatus(results.front().get()) == PGRES_TUPLES_OK);
  // The next transaction goes by the new map: key 6 is written on s1.
  waiter.query("INSERT INTO items (k, v) VALUES (6, 'moved')");
  CHECK(s1.scalar("SELECT v FROM items WHERE k = 6") == "moved");
}
