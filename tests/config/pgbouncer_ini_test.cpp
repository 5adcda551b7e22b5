// import-pgbouncer: ini syntax (comments, case, malformed lines, %include), auth_file, and input
// that must never crash the importer.
#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <string>

#include "config/config.h"
#include "config/pgbouncer_import.h"
#include "pgbouncer_test_support.h"

namespace shardpool::config {
namespace {

using testing::hasNote;
using testing::requireLoads;

// A FileReader over a map of path -> contents that records what was asked for.
struct FakeFiles {
  std::map<std::string, std::string> files;
  std::vector<std::string> asked;

  FileReader reader() {
    return [this](const std::string& path, std::string& error) -> std::optional<std::string> {
      asked.push_back(path);
      auto it = files.find(path);
      if (it == files.end()) {
        error = "No such file or directory";
        return std::nullopt;
      }
      return it->second;
    };
  }
};

TEST_CASE("pgbouncer import: ini syntax", "[config][pgbouncer]") {
  std::string ini =
      "; PgBouncer configuration\r\n"
      "# another comment\r\n"
      "  [PgBouncer]  \r\n"
      "LISTEN_ADDR = 127.0.0.1\r\n"
      "listen_port=7777\r\n"
      "   ; indented comment\r\n"
      "this line has no equals sign\r\n"
      " = no key\r\n"
      "[databases\r\n"
      "[ ]\r\n"
      "[DATABASES]\r\n"
      "App = host=h\r\n"
      "[peers]\r\n"
      "1 = host=/tmp/pgbouncer1\r\n";
  auto imported = requireLoads(importPgbouncer("orphan = 1\n" + ini, "pgb.ini"));
  const Config& c = *imported.config;
  CHECK(c.general.listenAddr == "127.0.0.1");
  CHECK(c.general.listenPort == 7777);
  // Database names keep their case.
  CHECK(c.databases.count("App") == 1);
  CHECK(c.databases.count("app") == 0);
  const auto& notes = imported.result.notes;
  INFO(testing::formatNotes(notes));
  CHECK(hasNote(notes, "orphan", 1, "outside any [section]"));
  CHECK(hasNote(notes, "", 8, "expected key = value"));
  CHECK(hasNote(notes, "", 9, "no key"));
  CHECK(hasNote(notes, "", 10, "malformed section header"));
  CHECK(hasNote(notes, "", 11, "empty section name"));
  CHECK(hasNote(notes, "[peers]", 14, "no equivalent"));
  for (const auto& n : notes) CHECK(n.file == "pgb.ini");
  // Notes come in file order.
  for (size_t i = 1; i < notes.size(); ++i) CHECK(notes[i - 1].line <= notes[i].line);
}

TEST_CASE("pgbouncer import: %include", "[config][pgbouncer]") {
  const std::string main =
      "[pgbouncer]\nlisten_addr = 127.0.0.1\n%include conf.d/pool.ini\n[databases]\n"
      "%include /etc/other/dbs.ini\n";
  SECTION("not followed without a reader") {
    auto imported =
        requireLoads(importPgbouncer(main + "app = host=h\n", "/etc/pgbouncer/pgbouncer.ini"));
    CHECK(hasNote(imported.result.notes, "%include", 3, "was not read"));
    CHECK(hasNote(imported.result.notes, "%include", 5, "was not read"));
  }
  SECTION("followed relative to the including file") {
    FakeFiles fs;
    fs.files["/etc/pgbouncer/conf.d/pool.ini"] =
        "pool_mode = transaction\n%include ../more.ini\nlogfile = /x.log\n";
    fs.files["/etc/pgbouncer/more.ini"] = "default_pool_size = 3\n";
    fs.files["/etc/other/dbs.ini"] = "inc = host=10.0.0.9\n";
    ImportInput in;
    in.ini = main;
    in.iniName = "/etc/pgbouncer/pgbouncer.ini";
    in.readFile = fs.reader();
    auto imported = requireLoads(importPgbouncer(in));
    const Config& c = *imported.config;
    CHECK(c.general.poolMode == PoolMode::Transaction);
    CHECK(c.general.defaultPoolSize == 3);
    REQUIRE(c.findDatabase("inc") != nullptr);
    CHECK(c.findDatabase("inc")->host == "10.0.0.9");
    // Notes name the included file and its line.
    CHECK(hasNote(imported.result.notes, "logfile", 3, "no equivalent"));
    bool named = false;
    for (const auto& n : imported.result.notes) {
      if (n.key == "logfile") named = n.file == "/etc/pgbouncer/conf.d/pool.ini";
    }
    CHECK(named);
  }
  SECTION("missing files and loops get notes") {
    FakeFiles fs;
    fs.files["/a/loop.ini"] = "%include loop.ini\n";
    ImportInput in;
    std::string text =
        "[pgbouncer]\n%include missing.ini\n%include loop.ini\n[databases]\n"
        "app = host=h\n%include\n%pragma x\n";
    in.ini = text;
    in.iniName = "/a/pgbouncer.ini";
    in.readFile = fs.reader();
    auto imported = requireLoads(importPgbouncer(in));
    const auto& notes = imported.result.notes;
    INFO(testing::formatNotes(notes));
    CHECK(hasNote(notes, "%include", 2, "cannot read \"/a/missing.ini\": No such file"));
    CHECK(hasNote(notes, "%include", 0, "levels deep"));
    CHECK(hasNote(notes, "%include", 6, "no file named"));
    CHECK(hasNote(notes, "", 7, "unknown directive"));
  }
}

TEST_CASE("pgbouncer import: auth_file is read relative to the ini", "[config][pgbouncer]") {
  const std::string ini =
      "[pgbouncer]\nlisten_addr = 127.0.0.1\nauth_file = users/userlist.txt\n"
      "[databases]\napp = host=h\n";
  FakeFiles fs;
  fs.files["/etc/pgbouncer/users/userlist.txt"] = "\"alice\" \"from-auth-file\"\n";
  ImportInput in;
  in.ini = ini;
  in.iniName = "/etc/pgbouncer/pgbouncer.ini";
  in.readFile = fs.reader();

  SECTION("no userlist given: auth_file is read") {
    auto imported = requireLoads(importPgbouncer(in));
    REQUIRE(imported.config->findUser("alice") != nullptr);
    CHECK(imported.config->findUser("alice")->password == "from-auth-file");
    CHECK(imported.result.userlistUsed == "/etc/pgbouncer/users/userlist.txt");
    CHECK(imported.result.toml.find("from /etc/pgbouncer/pgbouncer.ini and "
                                    "/etc/pgbouncer/users/userlist.txt") != std::string::npos);
  }
  SECTION("a userlist given wins over auth_file") {
    in.userlist = "\"bob\" \"given\"\n";
    in.userlistName = "mine.txt";
    auto imported = requireLoads(importPgbouncer(in));
    CHECK(imported.config->findUser("alice") == nullptr);
    CHECK(imported.config->findUser("bob") != nullptr);
    CHECK(fs.asked.empty());
    CHECK(imported.result.userlistUsed == "mine.txt");
  }
  SECTION("an unreadable auth_file gets a note") {
    fs.files.clear();
    auto imported = requireLoads(importPgbouncer(in));
    CHECK(imported.config->users.empty());
    CHECK(hasNote(imported.result.notes, "auth_file", 3, "cannot read"));
    CHECK_FALSE(imported.result.userlistUsed);
  }
  SECTION("without a reader, auth_file is named in a note") {
    in.readFile = nullptr;
    auto imported = requireLoads(importPgbouncer(in));
    CHECK(hasNote(imported.result.notes, "auth_file", 3, "pass it as the userlist"));
  }
}

TEST_CASE("pgbouncer import: garbage never crashes", "[config][pgbouncer]") {
  const std::string alphabet = "[]=;#%'\" \t\r\n,*$\\abcdhostport0123456789pgbouncerdatabases";
  std::mt19937 rng(12345);
  for (int round = 0; round < 300; ++round) {
    std::string text = round % 2 == 0 ? "[pgbouncer]\n" : "[databases]\n";
    std::uniform_int_distribution<size_t> len(0, 300), pick(0, alphabet.size() - 1);
    size_t n = len(rng);
    for (size_t i = 0; i < n; ++i) {
      text += round % 3 == 0 ? static_cast<char>(rng() & 0xff) : alphabet[pick(rng)];
    }
    ImportResult r = importPgbouncer(text, "fuzz.ini", std::string_view(text), "fuzz.txt");
    CHECK(r.parsed);
    // Whatever came out must at least be TOML shardpool can read (it may lack a database).
    LoadResult loaded = loadString(r.toml, "fuzz.toml");
    for (const auto& e : loaded.errors) {
      INFO(text << "\n---\n" << r.toml << "\n---\n" << e.format());
      CHECK(e.message.find("no databases defined") != std::string::npos);
    }
  }
}

}  // namespace
}  // namespace shardpool::config
