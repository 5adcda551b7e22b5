#include <catch2/catch.hpp>

#include "pooler/admin/admin_command.h"
#include "pooler/admin/result_set.h"
#include "pooler/protocol/pg_codec.h"

using namespace shardpool::pooler::admin;
namespace pg = shardpool::protocol::pg;

TEST_CASE("admin commands parse in PgBouncer's syntax", "[admin]") {
  struct Case {
    const char* sql;
    Verb verb;
    const char* arg;
    const char* value;
  };
  const Case cases[] = {
      {"SHOW POOLS", Verb::Show, "POOLS", ""},
      {"show pools;", Verb::Show, "POOLS", ""},
      {"  Show   stats ;; ", Verb::Show, "STATS", ""},
      {"PAUSE", Verb::Pause, "", ""},
      {"pause app_db", Verb::Pause, "app_db", ""},
      {"PAUSE \"Mixed Case\"", Verb::Pause, "Mixed Case", ""},
      {"resume app_db;", Verb::Resume, "app_db", ""},
      {"suspend;", Verb::Suspend, "", ""},
      {"RECONNECT", Verb::Reconnect, "", ""},
      {"kill AppDb", Verb::Kill, "AppDb", ""},
      {"KILL_CLIENT 42", Verb::KillClient, "42", ""},
      {"disable db1", Verb::Disable, "db1", ""},
      {"ENABLE db1", Verb::Enable, "db1", ""},
      {"WAIT_CLOSE", Verb::WaitClose, "", ""},
      {"wait_close db", Verb::WaitClose, "db", ""},
      {"RELOAD", Verb::Reload, "", ""},
      {"shutdown", Verb::Shutdown, "", ""},
      {"SHUTDOWN wait_for_clients", Verb::Shutdown, "WAIT_FOR_CLIENTS", ""},
      {"SET default_pool_size = 50", Verb::Set, "default_pool_size", "50"},
      {"set query_timeout='1.5s'", Verb::Set, "query_timeout", "1.5s"},
      {"SET server_reset_query = 'DISCARD ALL'", Verb::Set, "server_reset_query", "DISCARD ALL"},
      {"SET server_reset_query = ''", Verb::Set, "server_reset_query", ""},
      {"SET log_level TO debug", Verb::Set, "log_level", "debug"},
      {"SET x = 'it''s'", Verb::Set, "x", "it's"},
      {"", Verb::Empty, "", ""},
      {" ; ", Verb::Empty, "", ""},
  };
  for (const Case& c : cases) {
    INFO(c.sql);
    Parsed p = parseCommand(c.sql);
    REQUIRE(p.command);
    CHECK(p.command->verb == c.verb);
    CHECK(p.command->arg == c.arg);
    CHECK(p.command->value == c.value);
  }
}

TEST_CASE("bad admin commands get an error that says what is wrong", "[admin]") {
  struct Case {
    const char* sql;
    const char* mentions;
  };
  const Case cases[] = {
      {"SHOW", "needs an argument"},
      {"KILL", "needs an argument"},
      {"RELOAD now", "takes no argument"},
      {"SUSPEND app_db", "takes no argument"},
      {"PAUSE a b", "at most one argument"},
      {"SET x", "SET key = value"},
      {"SET x = ", "SET key = value"},
      {"SELECT 1", "unknown command"},
      {"SHOW POOLS; SHOW STATS", "one command"},
      {"PAUSE 'unterminated", "unterminated"},
  };
  for (const Case& c : cases) {
    INFO(c.sql);
    Parsed p = parseCommand(c.sql);
    CHECK_FALSE(p.command);
    CHECK(p.error.find(c.mentions) != std::string::npos);
  }
}

TEST_CASE("only SHOW is read-only", "[admin]") {
  CHECK_FALSE(changesState(Verb::Show));
  CHECK_FALSE(changesState(Verb::Empty));
  for (Verb v :
       {Verb::Pause, Verb::Resume, Verb::Reconnect, Verb::Kill, Verb::KillClient, Verb::Disable,
        Verb::Enable, Verb::WaitClose, Verb::Reload, Verb::Shutdown, Verb::Set})
    CHECK(changesState(v));
}

TEST_CASE("a result set encodes as RowDescription, DataRows and CommandComplete", "[admin]") {
  ResultSet rs;
  rs.column("name").column("count", ResultSet::Type::Int);
  rs.row().add("a").add(int64_t{7});
  rs.row().add("b").addNull();
  pg::Writer w;
  rs.encode(w);
  REQUIRE_FALSE(w.failed());
  std::string bytes = w.take();
  pg::Bytes data(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  std::string types;
  std::vector<pg::Bytes> bodies;
  while (!data.empty()) {
    pg::Frame f = pg::frameMessage(data);
    REQUIRE(f.status == pg::FrameStatus::Ok);
    types.push_back(f.type);
    bodies.push_back(f.body);
    data = data.subspan(f.totalSize);
  }
  CHECK(types == "TDDC");
  pg::Reader desc(bodies[0]);
  CHECK(desc.i16() == 2);
  CHECK(desc.cstring() == "name");
  desc.i32();
  desc.i16();
  CHECK(desc.i32() == 25);
  desc.i16();
  desc.i32();
  desc.i16();
  CHECK(desc.cstring() == "count");
  desc.i32();
  desc.i16();
  CHECK(desc.i32() == 20);
  pg::Reader row(bodies[2]);
  CHECK(row.i16() == 2);
  CHECK(row.i32() == 1);
  row.bytes(1);
  CHECK(row.i32() == -1);  // NULL
  CHECK(rs.cell(0, "count") == "7");
  pg::Reader tag(bodies[3]);
  CHECK(tag.cstring() == "SHOW");
}
