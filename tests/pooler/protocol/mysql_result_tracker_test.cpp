// ResultTracker: where a command's response ends, driven by recorded MariaDB responses and by
// hand-made packets for the corners (the 0xFE pitfall, 16 MiB rows, auth flows, progress).
#include "pooler/protocol/mysql_result_tracker.h"

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "pooler/protocol/mysql_handshake.h"
#include "tests/pooler/protocol/mysql_recorded.h"
#include "tests/pooler/protocol/mysql_test_helpers.h"

using namespace shardpool::protocol::mysql;
using namespace shardpool::protocol::mysql::testing;
namespace recorded = shardpool::protocol::mysql::recorded;

namespace {

// Feeds a tracker one packet the way a pass-through session does: the header and the first
// payload byte first, the whole payload only when the tracker asks for it. Checks that
// wantsPayload() predicted the request.
TrackResult feed(ResultTracker& t, uint32_t length, Bytes payload) {
  Bytes first = payload.first(std::min<size_t>(payload.size(), 1));
  bool wants = length > 0 && t.wantsPayload(length, payload.empty() ? 0 : payload[0]);
  TrackResult r = t.onPacket(length, first);
  if (r.status == TrackStatus::NeedPayload) {
    REQUIRE(wants);
    REQUIRE(payload.size() == length);
    r = t.onPacket(length, payload);
    REQUIRE(r.status != TrackStatus::NeedPayload);
  } else {
    REQUIRE((!wants || length <= 1));
  }
  return r;
}

TrackResult feed(ResultTracker& t, std::string_view payload) {
  return feed(t, uint32_t(payload.size()), bytesOf(payload));
}

struct Run {
  std::vector<TrackResult> results;
  size_t doneAt = SIZE_MAX;  // index of the packet that completed the response
  int waits = 0;
};

// Runs a recorded exchange through a tracker: begin with the command, then every server packet.
Run runExchange(ResultTracker& t, const recorded::Exchange& ex) {
  Run run;
  TrackStatus begun = t.begin(firstPayload(ex.command));
  if (begun == TrackStatus::Done) {
    run.doneAt = 0;
    REQUIRE(ex.response.empty());
    return run;
  }
  REQUIRE(begun == TrackStatus::More);
  std::vector<Bytes> packets = payloads(ex.response);
  for (size_t i = 0; i < packets.size(); ++i) {
    INFO("packet " << i);
    REQUIRE(run.doneAt == SIZE_MAX);  // nothing after the end
    TrackResult r = feed(t, uint32_t(packets[i].size()), packets[i]);
    run.results.push_back(r);
    REQUIRE(r.status != TrackStatus::Invalid);
    if (r.status == TrackStatus::WaitClient) ++run.waits;
    if (r.status == TrackStatus::Done) run.doneAt = i;
  }
  return run;
}

std::string okPayload(uint16_t status, uint8_t header = 0x00, std::string_view info = {},
                      Capabilities caps = kClientProtocol41) {
  OkPacket ok;
  ok.header = header;
  ok.statusFlags = status;
  ok.info = info;
  return buildPayload([&](Writer& w) { putOk(w, 1, ok, caps); }, 1);
}

std::string eofPayload(uint16_t status) {
  return buildPayload([&](Writer& w) { putEof(w, 1, EofPacket{0, status}); }, 1);
}

std::string errPayload(uint16_t code) {
  return buildPayload(
      [&](Writer& w) {
        putErr(w, 1, ErrPacket{code, "HY000", "boom"}, kClientProtocol41);
      },
      1);
}

// A column definition payload (its content does not matter to the tracker).
const std::string kColumnDef = std::string(
                                   "\x03"
                                   "def\x00\x00\x00\x01"
                                   "c\x00\x0c",
                                   11) +
                               std::string("\x2d\x00\x10\x00\x00\x00\xfd\x00\x00\x00\x00\x00", 12);

constexpr Capabilities kOld = kClientProtocol41 | kClientTransactions | kClientSecureConnection;
constexpr Capabilities kNew = kOld | kClientDeprecateEof | kClientSessionTrack;

}  // namespace

// ---------------------------------------------------------------------------------------------
// Every recorded exchange

TEST_CASE("ResultTracker: every recorded response ends exactly at its last packet",
          "[mysql][protocol]") {
  struct Mode {
    const char* name;
    std::span<const recorded::Exchange> exchanges;
    Capabilities caps;
  };
  for (Mode mode :
       {Mode{"without DEPRECATE_EOF", recorded::kRawEofExchanges, rawEofCaps()},
        Mode{"with DEPRECATE_EOF", recorded::kRawDeprecateEofExchanges, rawDeprecateEofCaps()}}) {
    INFO(mode.name);
    ResultTracker t(mode.caps);
    for (const auto& ex : mode.exchanges) {
      INFO(ex.name);
      Run run = runExchange(t, ex);
      size_t packets = payloads(ex.response).size();
      CHECK(run.doneAt == (packets == 0 ? 0 : packets - 1));
      CHECK(t.done());
      // The client spoke in between exactly where the recording shows client packets.
      CHECK((run.waits > 0) == !ex.clientFollowUp.empty());
    }
  }
}

TEST_CASE("ResultTracker: what the recorded responses report", "[mysql][protocol]") {
  for (bool deprecate : {false, true}) {
    INFO((deprecate ? "with DEPRECATE_EOF" : "without DEPRECATE_EOF"));
    const auto& list = deprecate ? recorded::kRawDeprecateEofExchanges : recorded::kRawEofExchanges;
    ResultTracker t(deprecate ? rawDeprecateEofCaps() : rawEofCaps());
    auto run = [&](std::string_view name, int occurrence = 0) {
      return runExchange(t, exchange(list, name, occurrence));
    };

    run("Q SELECT 1 AS a; SELECT 'x' AS b; UPDATE items SET price = price WHERE id = 99");
    CHECK(t.resultSets() == 2);
    CHECK(t.rows() == 2);
    REQUIRE(t.hasOk());
    CHECK(t.lastOk().info == "Rows matched: 0  Changed: 0  Warnings: 0");
    CHECK_FALSE(t.hasError());

    Run multiErr = run("Q SELECT 1 AS a; SELECT nosuch FROM items; SELECT 2");
    CHECK(multiErr.results.back().kind == PacketKind::Err);
    CHECK(t.hasError());
    CHECK(t.errorCode() == 1054);
    CHECK(t.errorSqlState() == "42S22");
    CHECK(t.errorMessage() == "Unknown column 'nosuch' in 'SELECT'");
    CHECK(t.resultSets() == 1);

    run("Q SELECT id, name, price FROM items ORDER BY id");
    CHECK(t.rows() == 3);
    CHECK(t.resultSets() == 1);
    CHECK(t.statusFlags() == (kServerStatusAutocommit | kServerQueryNoIndexUsed));
    CHECK(t.statusSeen());

    run("Q SET autocommit = 0");
    REQUIRE(t.hasOk());
    auto changes = decodeSessionState(t.lastOk().sessionState);
    REQUIRE(changes);
    REQUIRE(changes->size() == 1);
    CHECK((*changes)[0].name == "autocommit");
    CHECK_FALSE(t.inTransaction());
    run("Q INSERT INTO items VALUES (4, 'fig', 2.00)");
    CHECK(t.inTransaction());
    CHECK(t.lastOk().affectedRows == 1);
    run("Q ROLLBACK");
    CHECK_FALSE(t.inTransaction());
    run("Q SET autocommit = 1");
    run("Q SET SESSION session_track_state_change = ON, session_track_transaction_info = "
        "CHARACTERISTICS");
    run("Q START TRANSACTION READ ONLY");
    CHECK(t.inTransaction());
    CHECK(t.statusFlags() & kServerStatusInTransReadonly);
    run("Q COMMIT");
    CHECK_FALSE(t.inTransaction());

    Run prep = run("P SELECT id, name FROM items WHERE id > ? AND name <> ?");
    CHECK(prep.results.front().kind == PacketKind::StmtPrepareOk);
    CHECK(t.prepareOk().numParams == 2);
    CHECK(t.prepareOk().numColumns == 2);
    CHECK(prep.results.size() == (deprecate ? 5u : 7u));

    run("EXECUTE (1, 'kiwi')");
    CHECK(t.rows() == 2);
    CHECK(t.resultSets() == 1);

    Run cursor = run("EXECUTE CURSOR types not re-sent");
    CHECK(t.rows() == 0);
    CHECK(t.statusFlags() & kServerStatusCursorExists);
    CHECK(cursor.results.back().kind == PacketKind::Eof);
    run("FETCH 2");
    CHECK(t.rows() == 2);
    CHECK(t.statusFlags() & kServerStatusCursorExists);
    CHECK_FALSE(t.statusFlags() & kServerStatusLastRowSent);
    run("FETCH 2", 1);
    CHECK(t.rows() == 1);
    CHECK(t.statusFlags() & kServerStatusLastRowSent);
    run("STMT_RESET");
    run("EXECUTE (1, NULL)");
    CHECK(t.rows() == 0);
    CHECK(t.resultSets() == 1);
    CHECK(runExchange(t, exchange(list, "STMT_CLOSE")).doneAt == 0);  // no response at all

    run("P INSERT INTO items VALUES (?, ?, ?)");
    CHECK(t.prepareOk().numParams == 3);
    CHECK(t.prepareOk().numColumns == 0);
    run("EXECUTE INSERT (5, 'kiwi', 2.25)");
    CHECK(t.lastOk().affectedRows == 1);

    Run call = run("P CALL two_results()");
    CHECK(call.results.size() == 1);  // no parameters, no columns: the OK alone
    run("EXECUTE CALL");
    CHECK(t.resultSets() == 2);
    CHECK(t.rows() == 2);
    CHECK(t.hasOk());
    CHECK_FALSE(t.statusFlags() & kServerMoreResultsExists);

    Run infile =
        run("INFILE LOAD DATA LOCAL INFILE 'fruit.csv' INTO TABLE items FIELDS TERMINATED BY ','");
    REQUIRE(infile.results.size() == 2);
    CHECK(infile.results[0].status == TrackStatus::WaitClient);
    CHECK(infile.results[0].kind == PacketKind::LocalInfile);
    CHECK(t.lastOk().affectedRows == 1);

    Run ping = run("PING");
    CHECK(ping.results.back().kind == PacketKind::Ok);
    Run opt = run("SET_OPTION MULTI_STATEMENTS_OFF");
    CHECK(opt.results.back().kind == PacketKind::Eof);
    CHECK(t.statusFlags() == kServerStatusAutocommit);
    run("INIT_DB hello");
    CHECK(t.errorCode() == 1049);
    CHECK(t.statusFlags() == kServerStatusAutocommit);  // an ERR leaves the flags alone
    CHECK_FALSE(t.statusSeen());
    run("INIT_DB shop");
    CHECK((*decodeSessionState(t.lastOk().sessionState))[0].value == "shop");
    run("RESET_CONNECTION");
    run("FIELD_LIST ''");
    CHECK(t.hasError());
    Run stats = run("STATISTICS");
    CHECK(stats.results.back().kind == PacketKind::Statistics);
    Run change = run("CHANGEUSER");
    REQUIRE(change.results.size() == 2);
    CHECK(change.results[0].status == TrackStatus::WaitClient);
    CHECK(change.results[0].kind == PacketKind::AuthSwitch);
    CHECK(change.results[1].kind == PacketKind::Ok);
  }
}

TEST_CASE("ResultTracker: the mariadb CLI's responses (metadata cache negotiated)",
          "[mysql][protocol]") {
  ResultTracker t(cliCaps());
  REQUIRE(t.capabilities() & kMariaDbClientCacheMetadata);
  t.beginAuth();
  CHECK(feed(t, str(firstPayload(recorded::kCliAuthOk))).status == TrackStatus::Done);
  CHECK(t.statusFlags() == (kServerStatusAutocommit | kServerSessionStateChanged));

  REQUIRE(t.begin(firstPayload(recorded::kCliSelectCommand)) == TrackStatus::More);
  std::vector<Bytes> packets = payloads(recorded::kCliSelectResponse);
  for (size_t i = 0; i < packets.size(); ++i) {
    TrackResult r = feed(t, uint32_t(packets[i].size()), packets[i]);
    CHECK(r.status == (i + 1 == packets.size() ? TrackStatus::Done : TrackStatus::More));
  }
  CHECK(t.rows() == 3);

  REQUIRE(t.begin(firstPayload(recorded::kCliErrCommand)) == TrackStatus::More);
  CHECK(feed(t, str(firstPayload(recorded::kCliErrResponse))).status == TrackStatus::Done);
  CHECK(t.errorCode() == 1054);
  CHECK(t.begin(firstPayload(recorded::kCliQuit)) == TrackStatus::Done);

  SECTION("a column count that says the cached metadata is reused skips the definitions") {
    t.begin(Command::Query);
    std::string count = buildPayload(
        [](Writer& w) { putColumnCount(w, 1, 3, kMariaDbClientCacheMetadata, false); }, 1);
    CHECK(feed(t, count).status == TrackStatus::More);
    CHECK(feed(t, eofPayload(kServerStatusAutocommit)).kind == PacketKind::Eof);  // no defs
    CHECK(feed(t,
               "\x01"
               "1\x01"
               "2\x01"
               "3")
              .kind == PacketKind::Row);
    CHECK(feed(t, eofPayload(kServerStatusAutocommit)).status == TrackStatus::Done);
  }
}

// ---------------------------------------------------------------------------------------------
// A pass-through session: arbitrary chunks, headers and first bytes only

namespace {

// What an engine does with the tracker: frames packet headers as bytes arrive, forwards rows
// without buffering them, and buffers only the packets the tracker wants whole.
class PassThrough {
 public:
  PassThrough(ResultTracker& t) : t_(t) {}
  // Feeds a chunk; appends each completed response's end offset (in bytes seen) to `ends`.
  void feed(Bytes chunk, std::vector<size_t>& ends) {
    for (uint8_t b : chunk) {
      ++seen_;
      if (skip_ > 0) {  // the rest of a forwarded packet
        if (--skip_ == 0) packetDone(ends);
        continue;
      }
      buf_.push_back(char(b));
      if (buf_.size() < 4) continue;
      uint32_t length =
          uint8_t(buf_[0]) | (uint8_t(buf_[1]) << 8) | (uint32_t(uint8_t(buf_[2])) << 16);
      if (length == 0) {
        result_ = t_.onPacket(0, {});
        REQUIRE(result_.status != TrackStatus::NeedPayload);
        buf_.clear();
        packetDone(ends);
        continue;
      }
      if (buf_.size() == 5 && !wantWhole_) {
        Bytes first = bytesOf(std::string_view(buf_).substr(4, 1));
        result_ = t_.onPacket(length, first);
        if (result_.status == TrackStatus::NeedPayload) {
          wantWhole_ = true;
        } else {
          buf_.clear();
          skip_ = length - 1;
          if (skip_ == 0) packetDone(ends);
          continue;
        }
      }
      if (wantWhole_ && buf_.size() == 4 + size_t(length)) {
        result_ = t_.onPacket(length, bytesOf(std::string_view(buf_).substr(4)));
        REQUIRE(result_.status != TrackStatus::NeedPayload);
        buf_.clear();
        wantWhole_ = false;
        packetDone(ends);
      }
    }
  }

 private:
  void packetDone(std::vector<size_t>& ends) {
    REQUIRE(result_.status != TrackStatus::Invalid);
    if (result_.status == TrackStatus::Done) ends.push_back(seen_);
  }

  ResultTracker& t_;
  std::string buf_;
  size_t skip_ = 0;
  size_t seen_ = 0;
  bool wantWhole_ = false;
  TrackResult result_;
};

}  // namespace

TEST_CASE("ResultTracker: a response stream split at every offset", "[mysql][protocol]") {
  // Three responses back to back: the multi-statement query, the CALL execute, the infile.
  const auto& list = recorded::kRawDeprecateEofExchanges;
  const recorded::Exchange* picks[] = {
      &exchange(list,
                "Q SELECT 1 AS a; SELECT 'x' AS b; UPDATE items SET price = price WHERE id = 99"),
      &exchange(list, "Q SELECT id, name, price FROM items ORDER BY id"), &exchange(list, "PING")};
  std::string stream;
  std::vector<size_t> expectedEnds;
  for (const auto* ex : picks) {
    stream += str(ex->response);
    expectedEnds.push_back(stream.size());
  }
  for (size_t split = 0; split <= stream.size(); ++split) {
    INFO("split " << split);
    ResultTracker t(rawDeprecateEofCaps());
    PassThrough p(t);
    std::vector<size_t> ends;
    size_t next = 0;
    // The session begins the next command as soon as the previous response is complete.
    auto chunk = [&](size_t from, size_t to) {
      for (size_t pos = from; pos < to;) {
        if (t.done()) {
          REQUIRE(next < std::size(picks));
          REQUIRE(t.begin(firstPayload(picks[next++]->command)) == TrackStatus::More);
        }
        // Feed up to the end of this chunk, but stop at a response boundary so the next
        // command can begin.
        size_t stop = to;
        for (size_t e : expectedEnds)
          if (e > pos && e < stop) stop = e;
        p.feed(bytesOf(std::string_view(stream).substr(pos, stop - pos)), ends);
        pos = stop;
      }
    };
    chunk(0, split);
    chunk(split, stream.size());
    REQUIRE(ends == expectedEnds);
  }
}

// ---------------------------------------------------------------------------------------------
// Hand-made corners

TEST_CASE("ResultTracker: the 0xFE pitfall", "[mysql][protocol]") {
  std::string fe9 = "\xfe" + std::string(8, 'x');  // 0xFE and 9 bytes: a row, not an EOF

  SECTION("without DEPRECATE_EOF: only 0xFE shorter than 9 bytes ends the rows") {
    ResultTracker t(kOld);
    t.begin(Command::Query);
    CHECK(feed(t, "\x01").kind == PacketKind::ColumnCount);
    CHECK(feed(t, kColumnDef).kind == PacketKind::ColumnDefinition);
    CHECK(feed(t, eofPayload(kServerStatusAutocommit)).kind == PacketKind::Eof);
    CHECK(feed(t, fe9).kind == PacketKind::Row);
    // A row whose first value is 2^24 bytes or more: 0xFE lenenc prefix, first packet 0xFFFFFF.
    TrackResult big = t.onPacket(kMaxPacketPayload, bytesOf("\xfe"));
    CHECK(big.status == TrackStatus::More);
    CHECK(big.kind == PacketKind::Row);
    // Its continuation may start with anything, 0xFE and 0xFF included, and be short.
    CHECK(t.onPacket(kMaxPacketPayload, bytesOf("\xff")).kind == PacketKind::Continuation);
    CHECK(t.onPacket(5, bytesOf("\xfe\x00\x00\x02\x00")).kind == PacketKind::Continuation);
    CHECK(t.rows() == 2);
    TrackResult end = feed(t, eofPayload(kServerStatusAutocommit));
    CHECK(end.status == TrackStatus::Done);
    CHECK(end.kind == PacketKind::Eof);
  }
  SECTION("with DEPRECATE_EOF: a 0xFE OK of any length under 0xFFFFFF ends the rows") {
    ResultTracker t(kNew);
    t.begin(Command::Query);
    feed(t, "\x01");
    feed(t, kColumnDef);
    std::string longOk = okPayload(kServerStatusAutocommit, 0xFE, "Rows matched: 1", kNew);
    REQUIRE(longOk.size() >= 9);
    CHECK(feed(t, longOk).status == TrackStatus::Done);  // 9 bytes and more: still the OK
    t.begin(Command::Query);
    feed(t, "\x01");
    feed(t, kColumnDef);
    CHECK(t.onPacket(kMaxPacketPayload, bytesOf("\xfe")).kind == PacketKind::Row);
    // A row of exactly 2 * 0xFFFFFF bytes ends with an empty packet.
    CHECK(t.onPacket(kMaxPacketPayload, bytesOf("\xfe")).kind == PacketKind::Continuation);
    CHECK(t.onPacket(0, {}).kind == PacketKind::Continuation);
    std::string ok = okPayload(kServerStatusAutocommit, 0xFE, "a long info text", kNew);
    REQUIRE(ok.size() >= 9);
    TrackResult end = feed(t, ok);
    CHECK(end.status == TrackStatus::Done);
    CHECK(end.kind == PacketKind::Eof);
    CHECK(t.lastOk().info == "a long info text");
  }
  SECTION("binary rows start with 0x00: anything else is out of step") {
    ResultTracker t(kOld);
    t.begin(Command::StmtExecute);
    feed(t, "\x01");
    feed(t, kColumnDef);
    feed(t, eofPayload(0));
    CHECK(feed(t, std::string("\x00\x00\x05", 3)).kind == PacketKind::Row);
    CHECK(feed(t,
               "\x05"
               "abc")
              .status == TrackStatus::Invalid);
    CHECK(t.done());
  }
}

TEST_CASE("ResultTracker: SERVER_MORE_RESULTS_EXISTS chains results", "[mysql][protocol]") {
  for (Capabilities caps : {kOld, kNew}) {
    INFO(caps);
    ResultTracker t(caps);
    t.begin(Command::Query);
    CHECK(feed(t, okPayload(kServerMoreResultsExists)).status == TrackStatus::More);
    CHECK(feed(t, okPayload(kServerMoreResultsExists | kServerStatusInTrans)).status ==
          TrackStatus::More);
    // A result set in the middle, its end announcing more.
    feed(t, "\x02");
    feed(t, kColumnDef);
    feed(t, kColumnDef);
    if (!(caps & kClientDeprecateEof)) feed(t, eofPayload(kServerMoreResultsExists));
    feed(t,
         "\x01"
         "a\x01"
         "b");
    TrackResult mid = (caps & kClientDeprecateEof)
                          ? feed(t, okPayload(kServerMoreResultsExists, 0xFE, {}, caps))
                          : feed(t, eofPayload(kServerMoreResultsExists));
    CHECK(mid.status == TrackStatus::More);
    CHECK(mid.kind == PacketKind::Eof);
    // A LOCAL INFILE in a multi-statement query, then the last OK.
    CHECK(feed(t,
               "\xfb"
               "f.csv")
              .status == TrackStatus::WaitClient);
    CHECK(feed(t, okPayload(kServerMoreResultsExists)).status == TrackStatus::More);
    TrackResult last = feed(t, okPayload(kServerStatusInTrans));
    CHECK(last.status == TrackStatus::Done);
    CHECK(t.inTransaction());
    CHECK(t.resultSets() == 1);
    CHECK(t.rows() == 1);
  }
}

TEST_CASE("ResultTracker: COM_STMT_PREPARE shapes", "[mysql][protocol]") {
  auto prepareOk = [](uint16_t params, uint16_t cols) {
    return buildPayload(
        [&](Writer& w) {
          putStmtPrepareOk(w, 1, StmtPrepareOk{7, cols, params, 0});
        },
        1);
  };
  struct Shape {
    uint16_t params, cols;
  };
  for (Capabilities caps : {kOld, kNew}) {
    for (Shape s : {Shape{0, 0}, Shape{1, 0}, Shape{0, 1}, Shape{2, 3}}) {
      INFO("caps " << caps << " params " << s.params << " cols " << s.cols);
      ResultTracker t(caps);
      REQUIRE(t.begin(Command::StmtPrepare) == TrackStatus::More);
      std::vector<std::string> packets = {prepareOk(s.params, s.cols)};
      for (int i = 0; i < s.params; ++i) packets.push_back(kColumnDef);
      if (s.params && !(caps & kClientDeprecateEof)) packets.push_back(eofPayload(2));
      for (int i = 0; i < s.cols; ++i) packets.push_back(kColumnDef);
      if (s.cols && !(caps & kClientDeprecateEof)) packets.push_back(eofPayload(2));
      for (size_t i = 0; i < packets.size(); ++i) {
        TrackResult r = feed(t, packets[i]);
        CHECK(r.status == (i + 1 == packets.size() ? TrackStatus::Done : TrackStatus::More));
      }
      CHECK(t.prepareOk().statementId == 7);
    }
    ResultTracker t(caps);
    t.begin(Command::StmtPrepare);
    CHECK(feed(t, errPayload(1064)).status == TrackStatus::Done);
    CHECK(t.errorCode() == 1064);
    t.begin(Command::StmtPrepare);
    CHECK(feed(t, okPayload(0)).status == TrackStatus::Invalid);  // a plain OK is too short
  }
}

TEST_CASE("ResultTracker: authentication exchanges", "[mysql][protocol]") {
  const std::string fastOk = "\x01\x03";
  const std::string fullAuth = "\x01\x04";
  std::string switchReq = buildPayload(
      [](Writer& w) { putAuthSwitchRequest(w, 2, kCachingSha2Plugin, bytesOf("scramble")); }, 2);

  SECTION("caching_sha2 fast path: the server goes on to its OK") {
    ResultTracker t(kNew);
    t.beginAuth();
    TrackResult r = feed(t, fastOk);
    CHECK(r.status == TrackStatus::More);
    CHECK(r.kind == PacketKind::AuthMoreData);
    CHECK(feed(t, okPayload(kServerStatusAutocommit, 0, {}, kNew)).status == TrackStatus::Done);
  }
  SECTION("caching_sha2 full auth with the public key exchange") {
    ResultTracker t(kNew);
    t.beginAuth();
    CHECK(feed(t, fullAuth).status == TrackStatus::WaitClient);
    CHECK(feed(t, "\x01-----BEGIN PUBLIC KEY-----...").status == TrackStatus::WaitClient);
    CHECK(feed(t, okPayload(0, 0, {}, kNew)).status == TrackStatus::Done);
  }
  SECTION("auth switch, then a wrong password") {
    ResultTracker t(kNew);
    t.beginAuth();
    TrackResult r = feed(t, switchReq);
    CHECK(r.status == TrackStatus::WaitClient);
    CHECK(r.kind == PacketKind::AuthSwitch);
    CHECK(feed(t, errPayload(1045)).status == TrackStatus::Done);
    CHECK(t.errorCode() == 1045);
  }
  SECTION("COM_CHANGE_USER takes the same path") {
    ResultTracker t(kNew);
    CHECK(t.begin(Command::ChangeUser) == TrackStatus::More);
    CHECK(feed(t, switchReq).status == TrackStatus::WaitClient);
    CHECK(feed(t, fastOk).status == TrackStatus::More);
    CHECK(feed(t, okPayload(0, 0, {}, kNew)).status == TrackStatus::Done);
  }
  SECTION("anything else is out of step") {
    ResultTracker t(kNew);
    t.beginAuth();
    CHECK(feed(t, "\x05hello").status == TrackStatus::Invalid);
    t.beginAuth();
    CHECK(feed(t,
               "\xfe"
               "no-nul")
              .status == TrackStatus::Invalid);
  }
}

TEST_CASE("ResultTracker: MariaDB progress reports", "[mysql][protocol]") {
  std::string progress("\xff\xff\xff\x01\x01\x02\x10\x00\x00\x05stage", 15);
  ResultTracker t(kNew | kMariaDbClientProgress);
  t.begin(Command::Query);
  TrackResult r = feed(t, progress);
  CHECK(r.status == TrackStatus::More);
  CHECK(r.kind == PacketKind::Progress);
  CHECK(feed(t, okPayload(0, 0, {}, kNew)).status == TrackStatus::Done);
  CHECK_FALSE(t.hasError());
  // Without the capability, it is an ERR that ends the response.
  ResultTracker u(kNew);
  u.begin(Command::Query);
  CHECK(feed(u, progress).status == TrackStatus::Done);
  CHECK(u.hasError());
}

TEST_CASE("ResultTracker: COM_FIELD_LIST, single-packet commands, begin()", "[mysql][protocol]") {
  for (Capabilities caps : {kOld, kNew}) {
    ResultTracker t(caps);
    t.begin(Command::FieldList);
    CHECK(feed(t, kColumnDef).status == TrackStatus::More);
    CHECK(feed(t, kColumnDef).status == TrackStatus::More);
    std::string end = (caps & kClientDeprecateEof) ? okPayload(2, 0xFE, {}, caps) : eofPayload(2);
    CHECK(feed(t, end).status == TrackStatus::Done);
  }

  ResultTracker t(kOld);
  for (Command c : {Command::Quit, Command::StmtClose, Command::StmtSendLongData}) {
    CHECK(t.begin(c) == TrackStatus::Done);
    CHECK(t.done());
  }
  for (Command c : {Command::BinlogDump, Command::BinlogDumpGtid, Command::TableDump,
                    Command::Clone, Command::StmtBulkExecute})
    CHECK(t.begin(c) == TrackStatus::Unsupported);
  CHECK(t.begin(Bytes{}) == TrackStatus::Invalid);

  for (Command c : {Command::Ping, Command::InitDb, Command::ResetConnection, Command::StmtReset,
                    Command::SetOption, Command::Refresh, Command::ProcessKill, Command(0x77)}) {
    INFO(int(c));
    REQUIRE(t.begin(c) == TrackStatus::More);
    CHECK(feed(t, okPayload(2)).status == TrackStatus::Done);
    REQUIRE(t.begin(c) == TrackStatus::More);
    CHECK(feed(t, errPayload(1047)).status == TrackStatus::Done);
    REQUIRE(t.begin(c) == TrackStatus::More);
    CHECK(feed(t, eofPayload(2)).status == TrackStatus::Done);
    REQUIRE(t.begin(c) == TrackStatus::More);
    CHECK(feed(t,
               "\x03"
               "def")
              .status == TrackStatus::Invalid);
  }

  // COM_PROCESS_INFO answers with a result set, no LOCAL INFILE.
  REQUIRE(t.begin(Command::ProcessInfo) == TrackStatus::More);
  CHECK(feed(t,
             "\xfb"
             "x")
            .status == TrackStatus::Invalid);
}

TEST_CASE("ResultTracker: NeedPayload, status persistence, invalid packets", "[mysql][protocol]") {
  ResultTracker t(kNew);
  t.setStatusFlags(kServerStatusAutocommit);
  t.begin(Command::Query);
  std::string ok = okPayload(kServerStatusInTrans, 0, {}, kNew);
  // Header and first byte only: the tracker wants the whole OK, and nothing moved.
  CHECK(t.wantsPayload(uint32_t(ok.size()), 0x00));
  CHECK(t.onPacket(uint32_t(ok.size()), bytesOf(ok).first(1)).status == TrackStatus::NeedPayload);
  CHECK(t.onPacket(uint32_t(ok.size()), {}).status == TrackStatus::NeedPayload);
  CHECK(t.statusFlags() == kServerStatusAutocommit);
  CHECK(t.onPacket(uint32_t(ok.size()), bytesOf(ok)).status == TrackStatus::Done);
  CHECK(t.inTransaction());

  // An ERR keeps the last known flags.
  t.begin(Command::Query);
  CHECK(feed(t, errPayload(1213)).status == TrackStatus::Done);
  CHECK(t.inTransaction());

  SECTION("packets after the end, empty packets, a payload longer than its length") {
    CHECK(t.onPacket(1, bytesOf(std::string_view("\x00", 1))).status == TrackStatus::Invalid);
    t.begin(Command::Query);
    CHECK(t.onPacket(0, {}).status == TrackStatus::Invalid);
    t.begin(Command::Query);
    CHECK(t.onPacket(1, bytesOf("ab")).status == TrackStatus::Invalid);
  }
  SECTION("malformed column counts and EOFs") {
    t.begin(Command::Query);
    CHECK(feed(t, "\x01\x02").status == TrackStatus::Invalid);  // trailing byte
    t.begin(Command::Query);
    CHECK(feed(t, std::string("\xfd\x00\x00\x01", 4)).status ==
          TrackStatus::Invalid);  // 65536 columns: more than any server allows
    ResultTracker old(kOld);
    old.begin(Command::Query);
    feed(old, "\x01");
    feed(old, kColumnDef);
    CHECK(feed(old, okPayload(0)).status == TrackStatus::Invalid);  // EOF expected
  }
  SECTION("a single-packet answer is never taken from a prefix") {
    t.begin(Command::Ping);
    CHECK(t.onPacket(kMaxPacketPayload, bytesOf(std::string_view("\x00", 1))).status ==
          TrackStatus::NeedPayload);
  }
}

TEST_CASE("ResultTracker: random packets never crash it", "[mysql][protocol]") {
  std::mt19937 rng(1234);
  const Command commands[] = {Command::Query,     Command::StmtExecute, Command::StmtPrepare,
                              Command::StmtFetch, Command::FieldList,   Command::ChangeUser,
                              Command::Ping,      Command::Statistics,  Command::SetOption};
  const uint8_t firsts[] = {0x00, 0x01, 0x02, 0x03, 0xFB, 0xFC, 0xFE, 0xFF};
  for (int round = 0; round < 3000; ++round) {
    ResultTracker t((round & 1) ? kNew : kOld);
    t.begin(commands[rng() % std::size(commands)]);
    for (int step = 0; step < 40 && !t.done(); ++step) {
      std::string payload = randomBytes(rng, rng() % 12);
      if (!payload.empty() && (rng() & 1)) payload[0] = char(firsts[rng() % std::size(firsts)]);
      uint32_t length = uint32_t(payload.size());
      if (rng() % 16 == 0) length = kMaxPacketPayload;
      TrackResult r = t.onPacket(length, bytesOf(payload));
      if (r.status == TrackStatus::NeedPayload) continue;
      if (r.status == TrackStatus::Invalid) REQUIRE(t.done());
    }
  }
}
