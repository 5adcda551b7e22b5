// MysqlSessionVars: the session state transaction pooling moves between servers, fed the
// session-state entries MariaDB 10.11 sends (recorded with session_track_system_variables='*'),
// and the SET that turns one server's variables into a client's.
#include "pooler/mysql/session_vars.h"

#include <catch2/catch.hpp>

#include "pooler/protocol/mysql_results.h"

using namespace shardpool::pooler;
namespace my = shardpool::protocol::mysql;

namespace {

my::SessionStateChange variable(std::string_view name, std::string_view value) {
  my::SessionStateChange c;
  c.type = my::SessionTrackType::SystemVariables;
  c.name = name;
  c.value = value;
  return c;
}

my::SessionStateChange ofType(my::SessionTrackType type, std::string_view value) {
  my::SessionStateChange c;
  c.type = type;
  c.value = value;
  return c;
}

MysqlSessionVars::Noted noteAll(MysqlSessionVars& vars,
                                std::initializer_list<my::SessionStateChange> changes) {
  std::string entries = my::encodeSessionState(std::vector<my::SessionStateChange>(changes));
  return vars.note(my::asBytes(entries));
}

}  // namespace

TEST_CASE("MysqlSessionVars: records what SET NAMES, USE and SET time_zone reported",
          "[mysql][session]") {
  MysqlSessionVars vars;
  auto noted = noteAll(vars, {variable("character_set_connection", "latin1"),
                              variable("character_set_client", "latin1"),
                              variable("character_set_results", "latin1"),
                              ofType(my::SessionTrackType::StateChange, "1")});
  CHECK(noted.variables);
  CHECK(noted.stateChange);
  CHECK_FALSE(noted.schema);
  CHECK_FALSE(noted.malformed);
  REQUIRE(vars.variables().size() == 3);
  CHECK(vars.variables()[0].first == "character_set_client");  // kept sorted
  CHECK(*vars.find("character_set_results") == "latin1");

  noted = noteAll(vars, {ofType(my::SessionTrackType::Schema, "shop"),
                         ofType(my::SessionTrackType::StateChange, "1")});
  CHECK(noted.schema);
  CHECK_FALSE(noted.variables);
  CHECK(vars.schema() == "shop");

  noteAll(vars, {variable("time_zone", "+01:00")});
  noteAll(vars, {variable("time_zone", "SYSTEM")});
  CHECK(*vars.find("time_zone") == "SYSTEM");
  CHECK(vars.variables().size() == 4);
}

TEST_CASE("MysqlSessionVars: a session_track_* change is reported, not recorded",
          "[mysql][session]") {
  MysqlSessionVars vars;
  auto noted = noteAll(vars, {variable("session_track_system_variables", "*"),
                              variable("session_track_schema", "ON")});
  CHECK(noted.tracking);
  CHECK_FALSE(noted.variables);
  CHECK(vars.variables().empty());
}

TEST_CASE("MysqlSessionVars: a user variable's SET is a state change with nothing else",
          "[mysql][session]") {
  MysqlSessionVars vars;
  auto noted = noteAll(vars, {ofType(my::SessionTrackType::StateChange, "1")});
  CHECK(noted.stateChange);
  CHECK_FALSE(noted.variables);
  CHECK_FALSE(noted.schema);
}

TEST_CASE("MysqlSessionVars: malformed entries are reported", "[mysql][session]") {
  MysqlSessionVars vars;
  std::string entries("\x00\x09\x04name", 7);  // says 9 bytes, has 5
  CHECK(vars.note(my::asBytes(entries)).malformed);
}

TEST_CASE("applyStatement: sets what differs, DEFAULTs what only the server has",
          "[mysql][session]") {
  MysqlSessionVars client, server;
  CHECK(applyStatement(client, server, false).empty());

  client.set("time_zone", "+01:00");
  client.set("sql_mode", "ANSI");
  client.set("character_set_client", "latin1");
  server.set("character_set_client", "latin1");
  server.set("wait_timeout", "100");
  server.set("sql_mode", "TRADITIONAL");
  CHECK(applyStatement(client, server, false) ==
        "SET @@SESSION.sql_mode='ANSI', @@SESSION.time_zone='+01:00', "
        "@@SESSION.wait_timeout=DEFAULT");

  // Applied, the server's variables are the client's: nothing more to send.
  server = client;
  CHECK(applyStatement(client, server, false).empty());
  CHECK(client.sameVariables(server));
}

TEST_CASE("applyStatement: character-set variables are never DEFAULTed", "[mysql][session]") {
  MysqlSessionVars client, server;
  server.set("character_set_results", "latin1");
  server.set("collation_connection", "latin1_swedish_ci");
  CHECK(applyStatement(client, server, false).empty());
  client.set("character_set_results", "");
  CHECK(applyStatement(client, server, false) == "SET @@SESSION.character_set_results=NULL");
}

TEST_CASE("setValue: numbers bare, strings quoted for the server's sql_mode",
          "[mysql][session]") {
  CHECK(setValue("wait_timeout", "100", false) == "100");
  CHECK(setValue("long_query_time", "0.500000", false) == "0.500000");
  CHECK(setValue("auto_increment_offset", "-1", false) == "-1");
  CHECK(setValue("time_zone", "+01:00", false) == "'+01:00'");
  CHECK(setValue("autocommit", "ON", false) == "'ON'");
  CHECK(setValue("sql_mode", "", false) == "''");
  CHECK(setValue("character_set_results", "", false) == "NULL");
  CHECK(setValue("x", "1.", false) == "'1.'");
  CHECK(setValue("x", "it's a\\b", false) == "'it''s a\\\\b'");
  CHECK(setValue("x", "it's a\\b", true) == "'it''s a\\b'");
}

TEST_CASE("MysqlSessionVars: MariaDB's last_gtid after a write is not session state",
          "[mysql][session]") {
  MysqlSessionVars vars;
  auto noted = noteAll(vars, {variable("last_gtid", "0-1-22")});
  CHECK_FALSE(noted.variables);
  CHECK(vars.variables().empty());
}
