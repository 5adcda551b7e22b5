// MysqlProbeExchange: a MySQL health probe's conversation, fed MariaDB's recorded greeting and
// OK, then result sets built as the server sends them; and the GTID positions it compares.
#include "pooler/health/mysql_probe_exchange.h"

#include <catch2/catch.hpp>
#include <random>

#include "pooler/protocol/mysql_commands.h"
#include "tests/pooler/mysql/login_test_helpers.h"

using namespace shardpool::pooler;
using namespace shardpool::pooler::health;
using namespace shardpool::pooler::testing;
using Status = MysqlProbeExchange::Status;
using Goal = MysqlProbeExchange::Goal;

namespace {

// What the server answers, as packets: a text result set (DEPRECATE_EOF, as the login agreed),
// an OK, or an ERR.
std::vector<std::string> resultSet(const std::vector<std::string>& names,
                                   const std::vector<std::vector<std::optional<std::string>>>& rows) {
  my::Writer w;
  uint8_t seq = 1;
  my::putColumnCount(w, seq++, names.size());
  for (const auto& n : names) {
    my::ColumnDefinition c;
    c.name = n;
    c.orgName = n;
    my::putColumnDefinition(w, seq++, c);
  }
  for (const auto& r : rows) {
    std::vector<std::optional<std::string_view>> values;
    for (const auto& v : r) values.push_back(v ? std::optional<std::string_view>(*v) : std::nullopt);
    my::putTextRow(w, seq++, values);
  }
  my::putResultSetEnd(w, seq, my::kServerStatusAutocommit, 0,
                      my::kClientProtocol41 | my::kClientDeprecateEof);
  std::vector<std::string> out;
  for (auto& p : takePackets(w)) out.push_back(p.payload);
  return out;
}

std::vector<std::string> ok() {
  my::Writer w;
  my::putOk(w, 1, my::OkPacket{.statusFlags = my::kServerStatusAutocommit},
            my::kClientProtocol41);
  return {takeOne(w).payload};
}

std::vector<std::string> err(uint16_t code, std::string_view message) {
  my::Writer w;
  my::putErr(w, 1, my::ErrPacket{code, "HY000", message}, my::kClientProtocol41);
  return {takeOne(w).payload};
}

// The statement text of the one COM_QUERY `w` holds.
std::string sentQuery(my::Writer& w) {
  WrittenPacket p = takeOne(w);
  CHECK(p.seq == 0);
  auto sql = my::decodeQuery(p.bytes());
  REQUIRE(sql);
  return std::string(*sql);
}

// Logs in with the recorded MariaDB exchange; returns the first statement sent.
std::string loggedIn(MysqlProbeExchange& x) {
  my::Writer w;
  REQUIRE(x.onPacket(recordedGreeting(), 0, w) == Status::Continue);
  takeOne(w);  // the handshake response
  REQUIRE(x.onPacket(my::testing::firstPayload(recorded::kCliAuthOk), 2, w) == Status::Continue);
  CHECK(x.loggedIn());
  CHECK(x.mariadb());
  return sentQuery(w);
}

// Feeds `packets`; the status of the last one.
Status feed(MysqlProbeExchange& x, const std::vector<std::string>& packets, my::Writer& w) {
  Status st = Status::Continue;
  for (size_t i = 0; i < packets.size(); ++i) {
    st = x.onPacket(my::asBytes(packets[i]), static_cast<uint8_t>(i + 1), w);
    if (i + 1 < packets.size()) REQUIRE(st == Status::Continue);
  }
  return st;
}

}  // namespace

TEST_CASE("gtidPosition: MariaDB domains sum, MySQL sets count transactions",
          "[health][mysql]") {
  CHECK(gtidPosition("") == 0);
  CHECK(gtidPosition("0-1-100") == 100);
  CHECK(gtidPosition("0-1-100,1-2-5") == 105);
  CHECK(gtidPosition(" 0-1-100 ,\n1-2-5 ") == 105);
  CHECK(gtidPosition("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5") == 5);
  CHECK(gtidPosition("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:11-18,\n"
                     "2174b383-5441-11e8-b90a-c80aa9429562:1-2") == 15);
  CHECK(gtidPosition("3e11fa47-71ca-11e1-9e33-c80aa9429562:7") == 1);
  // MySQL 8.3 tags: the intervals after a tag count as well.
  CHECK(gtidPosition("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-3:tag:1-2") == 5);
  CHECK(gtidPosition("garbage") == 0);
  CHECK(gtidPosition("0-1-x") == 0);
  CHECK(gtidPosition("uuid:9-3") == 0);  // not an interval
}

TEST_CASE("MysqlProbeExchange: a probe reads read_only and the GTID position",
          "[health][mysql]") {
  MysqlProbeExchange x("sp_admin", std::string(recorded::kPassword), "sp_db", false, false);
  CHECK(loggedIn(x) == "SELECT @@global.read_only, @@global.gtid_current_pos");
  my::Writer w;
  REQUIRE(feed(x, resultSet({"@@global.read_only", "@@global.gtid_current_pos"},
                            {{"1", "0-1-42"}}),
               w) == Status::Done);
  CHECK(w.data().empty());
  CHECK(x.result().ok);
  CHECK(x.result().inRecovery);
  CHECK(x.result().walPosition == 42);

  // Again on the same connection: a primary now.
  x.again(Goal::Probe, w);
  CHECK(sentQuery(w) == "SELECT @@global.read_only, @@global.gtid_current_pos");
  REQUIRE(feed(x, resultSet({"a", "b"}, {{"0", "0-1-50,1-1-3"}}), w) == Status::Done);
  CHECK(x.result().ok);
  CHECK_FALSE(x.result().inRecovery);
  CHECK(x.result().walPosition == 53);

  // An error, or no row, fails it with the statement named.
  x.again(Goal::Probe, w);
  sentQuery(w);
  REQUIRE(feed(x, err(1227, "Access denied"), w) == Status::Failed);
  CHECK(x.error() ==
        "SELECT @@global.read_only, @@global.gtid_current_pos: ERROR 1227 (HY000): Access denied");
}

TEST_CASE("MysqlProbeExchange: a probe with no row fails", "[health][mysql]") {
  MysqlProbeExchange x("sp_admin", std::string(recorded::kPassword), "sp_db", false, false);
  loggedIn(x);
  my::Writer w;
  REQUIRE(feed(x, resultSet({"a", "b"}, {}), w) == Status::Failed);
  CHECK(x.error().find("no answer") != std::string::npos);
}

TEST_CASE("MysqlProbeExchange: promoting MariaDB waits for what the replica received",
          "[health][mysql]") {
  MysqlProbeExchange x("sp_admin", std::string(recorded::kPassword), "sp_db", false, false);
  x.setGoal(Goal::Promote);
  CHECK(loggedIn(x) == "STOP SLAVE IO_THREAD");
  my::Writer w;
  REQUIRE(feed(x, ok(), w) == Status::Continue);
  CHECK(sentQuery(w) == "SHOW SLAVE STATUS");
  REQUIRE(feed(x, resultSet({"Slave_IO_State", "Gtid_IO_Pos", "Master_Host"},
                            {{"", "0-1-1234", "127.0.0.1"}}),
               w) == Status::Continue);
  CHECK(sentQuery(w) == "SELECT MASTER_GTID_WAIT('0-1-1234', 20)");
  REQUIRE(feed(x, resultSet({"r"}, {{"0"}}), w) == Status::Continue);
  CHECK(sentQuery(w) == "STOP SLAVE");
  REQUIRE(feed(x, ok(), w) == Status::Continue);
  CHECK(sentQuery(w) == "RESET SLAVE ALL");
  REQUIRE(feed(x, ok(), w) == Status::Continue);
  CHECK(sentQuery(w) == "SET GLOBAL read_only = 0");
  REQUIRE(feed(x, ok(), w) == Status::Done);
  CHECK(w.data().empty());
  CHECK(x.result().ok);
}

TEST_CASE("MysqlProbeExchange: a promotion without replication skips the wait, a timed-out "
          "wait fails it",
          "[health][mysql]") {
  {
    MysqlProbeExchange x("u", "p", "d", false, false);
    x.setGoal(Goal::Promote);
    loggedIn(x);
    my::Writer w;
    REQUIRE(feed(x, ok(), w) == Status::Continue);
    CHECK(sentQuery(w) == "SHOW SLAVE STATUS");
    REQUIRE(feed(x, resultSet({"Gtid_IO_Pos"}, {}), w) == Status::Continue);
    CHECK(sentQuery(w) == "STOP SLAVE");
  }
  {
    MysqlProbeExchange x("u", "p", "d", false, false);
    x.setGoal(Goal::Promote);
    loggedIn(x);
    my::Writer w;
    REQUIRE(feed(x, ok(), w) == Status::Continue);
    sentQuery(w);
    REQUIRE(feed(x, resultSet({"Gtid_IO_Pos"}, {{"0-1-9"}}), w) == Status::Continue);
    sentQuery(w);
    REQUIRE(feed(x, resultSet({"r"}, {{"-1"}}), w) == Status::Failed);
    CHECK(x.error().find("did not apply") != std::string::npos);
  }
  {
    // A position that is not GTID text is never put into a statement.
    MysqlProbeExchange x("u", "p", "d", false, false);
    x.setGoal(Goal::Promote);
    loggedIn(x);
    my::Writer w;
    REQUIRE(feed(x, ok(), w) == Status::Continue);
    sentQuery(w);
    REQUIRE(feed(x, resultSet({"Gtid_IO_Pos"}, {{"0-1-9'); DROP"}}), w) == Status::Failed);
    CHECK(w.data().empty());
  }
}

TEST_CASE("MysqlProbeExchange: random packets after the login never crash it",
          "[health][mysql]") {
  std::mt19937 rng(7);
  for (int round = 0; round < 300; ++round) {
    MysqlProbeExchange x("u", "p", "d", false, false);
    if (round % 2) x.setGoal(Goal::Promote);
    loggedIn(x);
    my::Writer w;
    for (int i = 0; i < 8; ++i) {
      std::string p(rng() % 40, '\0');
      for (auto& c : p) c = static_cast<char>(rng());
      if (x.onPacket(my::asBytes(p), static_cast<uint8_t>(i + 1), w) != Status::Continue) break;
    }
  }
}
