// [databases.<name>.directory]: its defaults, and every error in it, overlaps included.
#include <catch2/catch.hpp>

#include <string>

#include "config/config.h"
#include "config_test_support.h"
#include "sharding_test_support.h"

namespace shardpool::config {
namespace {

using testing::checkError;
using testing::ErrorCase;
using testing::formatAll;
using testing::kDirectory;
using testing::kHash;
using testing::loadOk;
using testing::twoShards;

TEST_CASE("sharding: a directory's refresh_interval defaults to 10s", "[config][sharding]") {
  auto config = loadOk(
      "[databases.app]\nsharding_function = \"directory\"\npool_mode = \"transaction\"\n"
      "[[databases.app.shards]]\n[[databases.app.shards]]\n"
      "[databases.app.directory]\nconninfo = \"host=x\"\ntable = \"control.map\"\n");
  const Directory& dir = *config->databases.at("app").directory;
  CHECK(dir.entries.empty());
  REQUIRE(dir.source);
  CHECK(dir.source->table == "control.map");
  CHECK(dir.source->refreshInterval == std::chrono::seconds(10));
  CHECK(dir.source->notifyChannel.empty());
}

TEST_CASE("sharding: errors in the directory", "[config][sharding]") {
  auto directory = [](std::string_view body) {
    return twoShards(kDirectory, "\n[databases.app.directory]\n" + std::string(body));
  };
  auto entries = [&](std::string_view list) {
    return directory("entries = [\n" + std::string(list) + "]\n");
  };
  // twoShards + "\n[databases.app.directory]\nentries = [\n": the first entry is on line 15.
  auto c = GENERATE_COPY(values<ErrorCase>({
      {"function without directory",
       twoShards(kDirectory),
       "databases.app.directory",
       "sharding_function",
       {"sharding_function \"directory\" needs a [databases.app.directory] table"}},
      {"directory with hash",
       twoShards(kHash,
                 "[databases.app.directory]\nconninfo = \"x\"\n"
                 "table = \"t\"\n"),
       "databases.app.directory",
       "[databases.app.directory]",
       {"a directory is only used with sharding_function = \"directory\", not \"hash\""}},
      {"directory without function",
       "[databases.app]\n[[databases.app.shards]]\n[databases.app.directory]\nconninfo = \"x\"\n"
       "table = \"t\"\n",
       "databases.app.directory",
       "[databases.app.directory]",
       {"a directory needs sharding_function = \"directory\""}},
      {"empty directory",
       directory(""),
       "databases.app.directory",
       "[databases.app.directory]",
       {"the directory has no entries and no table to load them from"}},
      {"empty entries",
       directory("entries = []\n"),
       "databases.app.directory",
       "[databases.app.directory]",
       {"no entries"}},
      {"misspelt directory key",
       directory("entries = []\nrefresh = 5\n"),
       "databases.app.directory.refresh",
       "refresh",
       {"unknown key \"refresh\"; did you mean \"refresh_interval\"?"}},
      {"conninfo without table",
       directory("conninfo = \"host=x\"\n"),
       "databases.app.directory.table",
       "[databases.app.directory]",
       {"a directory loaded from a PostgreSQL table needs conninfo and table: set table"}},
      {"notify_channel alone",
       directory("notify_channel = \"c\"\n"),
       "databases.app.directory.conninfo",
       "[databases.app.directory]",
       {"set both"}},
      {"bad refresh_interval",
       directory("conninfo = \"x\"\ntable = \"t\"\nrefresh_interval = "
                 "\"soon\"\n"),
       "databases.app.directory.refresh_interval",
       "soon",
       {"expected a duration"}},
      {"empty conninfo",
       directory("conninfo = \"\"\ntable = \"t\"\n"),
       "databases.app.directory.conninfo",
       "conninfo",
       {"expected a non-empty string"}},
      {"directory default_shard unknown",
       directory("entries = []\ndefault_shard = \"s3\"\n"),
       "databases.app.directory.default_shard",
       "default_shard",
       {"unknown shard \"s3\""}},
      {"entries not an array",
       directory("entries = 1\n"),
       "databases.app.directory.entries",
       "entries",
       {"expected an array of entries such as { key = 42, shard = 1 }"}},
      {"entry not a table",
       entries("  5,\n"),
       "databases.app.directory.entries[0]",
       "5,",
       {"expected an entry such as"}},
      {"entry without shard",
       entries("  { key = 1 },\n"),
       "databases.app.directory.entries[0]",
       "key = 1",
       {"an entry needs a shard (an index or a name)"}},
      {"entry without key",
       entries("  { shard = 1 },\n"),
       "databases.app.directory.entries[0]",
       "shard = 1",
       {"an entry needs key (one key) or from and to (a range)"}},
      {"key and range",
       entries("  { key = 1, from = 1, to = 2, shard = 0 },\n"),
       "databases.app.directory.entries[0]",
       "key = 1",
       {"either key (one key) or from and to"}},
      {"half a range",
       entries("  { from = 1, shard = 0 },\n"),
       "databases.app.directory.entries[0]",
       "from = 1",
       {"a range needs both from and to"}},
      {"backwards range",
       entries("  { from = 9, to = 1, shard = 0 },\n"),
       "databases.app.directory.entries[0].to",
       "from = 9",
       {"the range ends before it starts: to 1 is less than from 9"}},
      {"float key",
       entries("  { key = 1.5, shard = 0 },\n"),
       "databases.app.directory.entries[0].key",
       "key = 1.5",
       {"expected an integer or a non-empty string, got 1.5"}},
      {"text range",
       entries("  { from = \"a\", to = 5, shard = 0 },\n"),
       "databases.app.directory.entries[0].from",
       "from = \"a\"",
       {"expected an integer"}},
      {"misspelt entry key",
       entries("  { key = 1, shrad = 0 },\n"),
       "databases.app.directory.entries[0].shrad",
       "shrad",
       {"did you mean \"shard\"?"}},
      {"entry shard unknown",
       entries("  { key = 1, shard = \"s7\" },\n"),
       "databases.app.directory.entries[0].shard",
       "s7",
       {"unknown shard \"s7\"; did you mean \"s0\"? (shards: \"s0\", \"s1\")"}},
      {"duplicate integer key",
       entries("  { key = 42, shard = 0 },\n  { key = 42, shard = 1 },\n"),
       "databases.app.directory.entries[1]",
       "shard = 1",
       {"duplicate key 42: databases.app.directory.entries[0] at test.toml:15:3 has it already"}},
      {"duplicate text key",
       entries("  { key = \"acme\", shard = 0 },\n  { key = \"acme\", shard = 1 },\n"),
       "databases.app.directory.entries[1]",
       "shard = 1",
       {"duplicate key \"acme\": databases.app.directory.entries[0] at test.toml:15:3"}},
      {"overlapping ranges",
       entries("  { from = 1000, to = 1999, shard = 0 },\n  { from = 1500, to = 2500, shard = 1 "
               "},\n"),
       "databases.app.directory.entries[1]",
       "from = 1500",
       {"the range 1500 to 2500 overlaps the range 1000 to 1999 "
        "(databases.app.directory.entries[0] at test.toml:15:3)"}},
      {"a later range around an earlier key",
       entries("  { key = 1500, shard = 0 },\n  { from = 1000, to = 1999, shard = 1 },\n"),
       "databases.app.directory.entries[1]",
       "from = 1000",
       {"the range 1000 to 1999 overlaps key 1500 (databases.app.directory.entries[0] at "
        "test.toml:15:3)"}},
      {"a key inside an earlier range",
       entries("  { from = 1000, to = 1999, shard = 1 },\n  { key = 0, shard = 0 },\n"
               "  { key = 1999, shard = 0 },\n"),
       "databases.app.directory.entries[2]",
       "key = 1999",
       {"key 1999 overlaps the range 1000 to 1999"}},
  }));
  checkError(c);
}

TEST_CASE("sharding: several overlaps are each reported once", "[config][sharding]") {
  std::string toml = twoShards(kDirectory,
                               "[databases.app.directory]\nentries = [\n"
                               "  { from = 1, to = 100, shard = 0 },\n"
                               "  { from = 50, to = 60, shard = 0 },\n"
                               "  { from = 55, to = 200, shard = 1 },\n"
                               "  { key = 150, shard = 1 },\n"
                               "]\n");
  LoadResult result = loadString(toml, "test.toml");
  INFO(formatAll(result.errors));
  REQUIRE(result.errors.size() == 3);
  CHECK(result.errors[0].keyPath == "databases.app.directory.entries[1]");
  CHECK(result.errors[1].keyPath == "databases.app.directory.entries[2]");
  CHECK(result.errors[2].keyPath == "databases.app.directory.entries[3]");
  CHECK(result.errors[2].message.find("key 150 overlaps the range 55 to 200") != std::string::npos);
}

}  // namespace
}  // namespace shardpool::config
