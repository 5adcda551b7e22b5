// Response packets: OK and session state, ERR, EOF, metadata, rows, prepare OK, LOCAL INFILE.
#include "pooler/protocol/mysql_results.h"

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "tests/pooler/protocol/mysql_recorded.h"
#include "tests/pooler/protocol/mysql_test_helpers.h"

using namespace shardpool::protocol::mysql;
using namespace shardpool::protocol::mysql::testing;
namespace recorded = shardpool::protocol::mysql::recorded;

namespace {

// The OK that answers a recorded raw-client COM_QUERY (no DEPRECATE_EOF run).
OkPacket recordedOk(std::string_view name) {
  const auto& ex = exchange(recorded::kRawEofExchanges, name);
  auto ok = decodeOk(firstPayload(ex.response), rawEofCaps());
  REQUIRE(ok);
  return *ok;
}

std::vector<SessionStateChange> changesOf(const OkPacket& ok) {
  auto changes = decodeSessionState(ok.sessionState);
  REQUIRE(changes);
  return *changes;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// OK and session state

TEST_CASE("decodeOk: recorded OK packets and their session state", "[mysql][protocol]") {
  SECTION("the login OK tracks the schema") {
    auto ok = decodeOk(firstPayload(recorded::kCliAuthOk), cliCaps());
    REQUIRE(ok);
    CHECK(ok->header == 0x00);
    CHECK(ok->affectedRows == 0);
    CHECK(ok->statusFlags == (kServerStatusAutocommit | kServerSessionStateChanged));
    CHECK(ok->info.empty());
    auto changes = changesOf(*ok);
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].type == SessionTrackType::Schema);
    CHECK(changes[0].value == "shop");
  }
  SECTION("SET autocommit = 0: a system variable") {
    OkPacket ok = recordedOk("Q SET autocommit = 0");
    CHECK(ok.statusFlags == kServerSessionStateChanged);  // autocommit off, no transaction yet
    auto changes = changesOf(ok);
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].type == SessionTrackType::SystemVariables);
    CHECK(changes[0].name == "autocommit");
    CHECK(changes[0].value == "OFF");
  }
  SECTION("an INSERT with autocommit off opens a transaction") {
    OkPacket ok = recordedOk("Q INSERT INTO items VALUES (4, 'fig', 2.00)");
    CHECK(ok.affectedRows == 1);
    CHECK(ok.lastInsertId == 0);
    CHECK(ok.statusFlags == kServerStatusInTrans);
    CHECK(ok.sessionState.empty());
  }
  SECTION("state change, transaction state and characteristics trackers") {
    OkPacket set = recordedOk(
        "Q SET SESSION session_track_state_change = ON, session_track_transaction_info = "
        "CHARACTERISTICS");
    auto c = changesOf(set);
    REQUIRE(c.size() == 3);
    CHECK(c[0].type == SessionTrackType::StateChange);
    CHECK(c[0].value == "1");
    CHECK(c[1].type == SessionTrackType::TransactionState);
    CHECK(c[1].value == "________");
    CHECK(c[2].type == SessionTrackType::TransactionCharacteristics);
    CHECK(c[2].value.empty());

    OkPacket start = recordedOk("Q START TRANSACTION READ ONLY");
    CHECK(start.statusFlags == (kServerStatusInTrans | kServerStatusAutocommit |
                                kServerStatusInTransReadonly | kServerSessionStateChanged));
    auto s = changesOf(start);
    REQUIRE(s.size() == 2);
    CHECK(s[0].type == SessionTrackType::TransactionState);
    CHECK(s[0].value == "T_______");
    CHECK(s[1].type == SessionTrackType::TransactionCharacteristics);
    CHECK(s[1].value == "START TRANSACTION READ ONLY;");

    OkPacket commit = recordedOk("Q COMMIT");
    CHECK_FALSE(commit.statusFlags & kServerStatusInTrans);
    CHECK(changesOf(commit)[0].value == "________");

    OkPacket use = recordedOk("Q USE mysql");
    auto u = changesOf(use);
    REQUIRE(u.size() == 2);
    CHECK(u[0].type == SessionTrackType::Schema);
    CHECK(u[0].value == "mysql");
    CHECK(u[1].type == SessionTrackType::StateChange);
  }
  SECTION("info text after the UPDATE of a multi-statement query") {
    const auto& ex =
        exchange(recorded::kRawEofExchanges,
                 "Q SELECT 1 AS a; SELECT 'x' AS b; UPDATE items SET price = price WHERE id = 99");
    std::vector<Bytes> packets = payloads(ex.response);
    auto ok = decodeOk(packets.back(), rawEofCaps());
    REQUIRE(ok);
    CHECK(ok->info == "Rows matched: 0  Changed: 0  Warnings: 0");
    CHECK(ok->statusFlags == kServerStatusAutocommit);
  }
  SECTION("the 0xFE OK that ends a result set with DEPRECATE_EOF") {
    const auto& ex = exchange(recorded::kRawDeprecateEofExchanges,
                              "Q SELECT id, name, price FROM items ORDER BY id");
    Bytes last = payloads(ex.response).back();
    CHECK(str(last) == std::string("\xfe\x00\x00\x22\x00\x00\x00", 7));
    auto ok = decodeOk(last, rawDeprecateEofCaps());
    REQUIRE(ok);
    CHECK(ok->header == 0xFE);
    CHECK(ok->statusFlags == (kServerStatusAutocommit | kServerQueryNoIndexUsed));
  }
}

TEST_CASE("putOk / decodeOk round trips for every layout", "[mysql][protocol]") {
  std::vector<SessionStateChange> changes(2);
  changes[0].type = SessionTrackType::Schema;
  changes[0].value = "shop";
  changes[1].type = SessionTrackType::SystemVariables;
  changes[1].name = "autocommit";
  changes[1].value = "OFF";
  std::string state = encodeSessionState(changes);

  OkPacket ok;
  ok.affectedRows = 300;  // two-byte lenenc
  ok.lastInsertId = 1ull << 40;
  ok.statusFlags = kServerStatusInTrans;
  ok.warnings = 2;
  ok.info = "Records: 1";

  const Capabilities full = kClientProtocol41 | kClientTransactions | kClientSessionTrack;
  struct Variant {
    const char* name;
    Capabilities caps;
    bool withState;
    uint8_t header;
  };
  for (Variant v :
       {Variant{"4.1 without session tracking", kClientProtocol41, false, 0x00},
        Variant{"transactions only", kClientTransactions, false, 0x00},
        Variant{"pre-4.1", 0, false, 0x00}, Variant{"session track, no state", full, false, 0x00},
        Variant{"session track with state", full, true, 0x00},
        Variant{"0xFE header", full | kClientDeprecateEof, true, 0xFE}}) {
    INFO(v.name);
    OkPacket in = ok;
    in.header = v.header;
    if (v.withState) in.sessionState = bytesOf(state);
    std::string payload = buildPayload([&](Writer& w) { putOk(w, 1, in, v.caps); }, 1);
    auto d = decodeOk(bytesOf(payload), v.caps);
    REQUIRE(d);
    CHECK(d->header == v.header);
    CHECK(d->affectedRows == 300);
    CHECK(d->lastInsertId == 1ull << 40);
    CHECK(d->info == "Records: 1");
    if (v.caps & (kClientProtocol41 | kClientTransactions)) {
      uint16_t expect = kServerStatusInTrans | (v.withState ? kServerSessionStateChanged : 0);
      CHECK(d->statusFlags == expect);
    }
    CHECK(d->warnings == ((v.caps & kClientProtocol41) ? 2 : 0));
    CHECK(str(d->sessionState) == (v.withState ? state : ""));
    // Refused when cut anywhere that leaves a field half there.
    for (size_t k = 0; k < payload.size(); ++k) {
      auto t = decodeOk(bytesOf(std::string_view(payload).substr(0, k)), v.caps);
      if (t) {
        // Only the cuts that end between whole fields decode, and they lose the tail.
        CHECK(t->info.size() + t->sessionState.size() < ok.info.size() + state.size());
      }
    }
  }

  SECTION("an empty info is left out unless state follows") {
    OkPacket bare;
    bare.statusFlags = kServerStatusAutocommit;
    std::string payload = buildPayload([&](Writer& w) { putOk(w, 1, bare, full); }, 1);
    CHECK(payload == std::string("\x00\x00\x00\x02\x00\x00\x00", 7));
  }
  SECTION("bad header or trailing bytes") {
    CHECK_FALSE(decodeOk(bytesOf(std::string("\x01\x00\x00\x02\x00\x00\x00", 7)), full));
    CHECK_FALSE(decodeOk(bytesOf(std::string("\x00\x00\x00\x02\x00\x00\x00\x00\x00", 9)), full));
    CHECK_FALSE(decodeOk({}, full));
    CHECK_FALSE(decodeOk(bytesOf(std::string("\x00\xff\x00\x02\x00\x00\x00", 7)), full));
  }
}

TEST_CASE("session state: every tracker type round trips, malformed entries are refused",
          "[mysql][protocol]") {
  std::vector<SessionStateChange> in(7);
  in[0].type = SessionTrackType::SystemVariables;
  in[0].name = "character_set_client";
  in[0].value = "utf8mb4";
  in[1].type = SessionTrackType::Schema;
  in[1].value = "db";
  in[2].type = SessionTrackType::StateChange;
  in[2].value = "1";
  in[3].type = SessionTrackType::Gtids;
  in[3].gtidEncoding = 0;
  in[3].value = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5";
  in[4].type = SessionTrackType::TransactionCharacteristics;
  in[4].value = "SET TRANSACTION ISOLATION LEVEL READ COMMITTED;";
  in[5].type = SessionTrackType::TransactionState;
  in[5].value = "T_R_____";
  std::string unknownData = "\x02zz";
  in[6].type = SessionTrackType(42);
  in[6].data = bytesOf(unknownData);

  std::string encoded = encodeSessionState(in);
  auto out = decodeSessionState(bytesOf(encoded));
  REQUIRE(out);
  REQUIRE(out->size() == in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    INFO(i);
    CHECK((*out)[i].type == in[i].type);
    CHECK((*out)[i].name == in[i].name);
    CHECK((*out)[i].value == in[i].value);
    CHECK((*out)[i].gtidEncoding == in[i].gtidEncoding);
  }
  CHECK(str((*out)[6].data) == unknownData);

  // The allocation-free reader sees the same entries.
  SessionStateReader reader(bytesOf(encoded));
  SessionStateChange c;
  size_t n = 0;
  while (reader.next(c)) ++n;
  CHECK(reader.ok());
  CHECK(n == in.size());

  // Every truncation is refused.
  for (size_t k = 1; k < encoded.size(); ++k) {
    auto t = decodeSessionState(bytesOf(std::string_view(encoded).substr(0, k)));
    // A cut exactly between entries is a shorter, valid list.
    if (t) CHECK(t->size() < in.size());
  }
  // An entry whose data holds more than its type reads, or runs past its own length.
  CHECK_FALSE(
      decodeSessionState(bytesOf(std::string("\x01\x03\x01"
                                             "ab",
                                             5))));
  CHECK_FALSE(
      decodeSessionState(bytesOf(std::string("\x00\x03\x01"
                                             "a\x05",
                                             5))));
  CHECK_FALSE(decodeSessionState(bytesOf(std::string("\x05\x09\x08____", 7))));
  CHECK(decodeSessionState({})->empty());
}

// ---------------------------------------------------------------------------------------------
// ERR

TEST_CASE("ERR: recorded, round trip, without SQL state, progress", "[mysql][protocol]") {
  auto err = decodeErr(firstPayload(recorded::kCliErrResponse));
  REQUIRE(err);
  CHECK(err->code == 1054);
  CHECK(err->sqlState == "42S22");
  CHECK(err->message == "Unknown column 'nosuchcol' in 'SELECT'");
  // Re-encoded byte for byte.
  Writer w;
  putErr(w, 1, *err, cliCaps());
  REQUIRE_FALSE(w.failed());
  CHECK(w.data() == str(recorded::kCliErrResponse));

  auto db = decodeErr(firstPayload(exchange(recorded::kRawEofExchanges, "INIT_DB hello").response));
  REQUIRE(db);
  CHECK(db->code == 1049);
  CHECK(db->sqlState == "42000");
  CHECK(db->message == "Unknown database 'hello'");

  std::string payload = buildPayload(
      [](Writer& w) {
        putErr(w, 2, ErrPacket{1045, "28000", "Access denied"}, kClientProtocol41);
      },
      2);
  CHECK(payload == "\xff\x15\x04#28000Access denied");
  std::string noState = buildPayload([](Writer& w) {
    putErr(w, 0, ErrPacket{1040, {}, "Too many connections"}, 0);
  });
  auto d = decodeErr(bytesOf(noState));
  REQUIRE(d);
  CHECK(d->code == 1040);
  CHECK(d->sqlState.empty());
  CHECK(d->message == "Too many connections");
  std::string defaulted = buildPayload(
      [](Writer& w) {
        putErr(w, 1, ErrPacket{1105, {}, "oops"}, kClientProtocol41);
      },
      1);
  CHECK(decodeErr(bytesOf(defaulted))->sqlState == "HY000");
  Writer bad;
  putErr(bad, 1, ErrPacket{1105, "HY00", "x"}, kClientProtocol41);
  CHECK(bad.failed());

  // MariaDB progress report: code 0xFFFF, no SQL state.
  std::string progress("\xff\xff\xff\x01\x01\x02\x10\x00\x00\x05stage", 15);
  auto p = decodeErr(bytesOf(progress));
  REQUIRE(p);
  CHECK(p->code == kProgressReportCode);
  CHECK(p->sqlState.empty());

  CHECK_FALSE(decodeErr({}));
  CHECK_FALSE(decodeErr(bytesOf("\xff\x15")));
  CHECK_FALSE(decodeErr(bytesOf(std::string_view("\x00\x15\x04", 3))));
  auto shortMarker = decodeErr(bytesOf("\xff\x15\x04#2800"));  // '#' without 5 characters
  REQUIRE(shortMarker);
  CHECK(shortMarker->sqlState.empty());
  CHECK(shortMarker->message == "#2800");
}

// ---------------------------------------------------------------------------------------------
// EOF

TEST_CASE("EOF: recorded, round trip, the length rule", "[mysql][protocol]") {
  const auto& ex =
      exchange(recorded::kRawEofExchanges, "Q SELECT id, name, price FROM items ORDER BY id");
  std::vector<Bytes> packets = payloads(ex.response);
  REQUIRE(packets.size() == 9);
  CHECK(isEof(packets[4]));
  auto eof = decodeEof(packets[4]);
  REQUIRE(eof);
  CHECK(eof->warnings == 0);
  CHECK(eof->statusFlags == (kServerStatusAutocommit | kServerQueryNoIndexUsed));
  CHECK(isEof(packets[8]));

  std::string payload = buildPayload([](Writer& w) { putEof(w, 5, EofPacket{3, 0x000A}); }, 5);
  CHECK(payload == std::string("\xfe\x03\x00\x0a\x00", 5));
  auto d = decodeEof(bytesOf(payload));
  REQUIRE(d);
  CHECK(d->warnings == 3);
  CHECK(d->statusFlags == (kServerMoreResultsExists | kServerStatusAutocommit));

  auto old = decodeEof(bytesOf("\xfe"));
  REQUIRE(old);
  CHECK(old->statusFlags == 0);
  CHECK(isEof(bytesOf(std::string(8, '\xfe'))));
  CHECK_FALSE(isEof(bytesOf(std::string(9, '\xfe'))));  // 9 bytes or more: a row or an OK
  CHECK_FALSE(decodeEof(bytesOf(std::string(9, '\xfe'))));
  CHECK_FALSE(decodeEof(bytesOf(std::string("\xfe\x00\x00", 3))));
  CHECK_FALSE(decodeEof(bytesOf(std::string("\x00\x00\x00\x02\x00", 5))));
  CHECK_FALSE(decodeEof({}));

  SECTION("putResultSetEnd writes an EOF, or with DEPRECATE_EOF a 0xFE OK") {
    std::string eofEnd = buildPayload(
        [](Writer& w) { putResultSetEnd(w, 4, kServerStatusAutocommit, 0, kClientProtocol41); }, 4);
    CHECK(eofEnd == std::string("\xfe\x00\x00\x02\x00", 5));
    const Capabilities caps = kClientProtocol41 | kClientDeprecateEof | kClientSessionTrack;
    std::string okEnd = buildPayload(
        [&](Writer& w) { putResultSetEnd(w, 4, kServerStatusAutocommit, 1, caps); }, 4);
    CHECK(okEnd == std::string("\xfe\x00\x00\x02\x00\x01\x00", 7));
    CHECK(decodeOk(bytesOf(okEnd), caps)->warnings == 1);
  }
}

// ---------------------------------------------------------------------------------------------
// Metadata and rows

TEST_CASE("column count: plain, and with MariaDB's metadata cache", "[mysql][protocol]") {
  // The CLI negotiated CACHE_METADATA: "03 01" (three columns, definitions follow).
  Bytes cli = firstPayload(recorded::kCliSelectResponse);
  CHECK(str(cli) == "\x03\x01");
  auto c = decodeColumnCount(cli, cliCaps());
  REQUIRE(c);
  CHECK(c->count == 3);
  CHECK(c->metadataFollows);
  CHECK_FALSE(decodeColumnCount(cli, rawEofCaps()));  // a trailing byte without the capability

  const auto& ex =
      exchange(recorded::kRawEofExchanges, "Q SELECT id, name, price FROM items ORDER BY id");
  auto r = decodeColumnCount(firstPayload(ex.response), rawEofCaps());
  REQUIRE(r);
  CHECK(r->count == 3);

  for (uint64_t n : {1ull, 250ull, 251ull, 4096ull, 70000ull}) {
    std::string p = buildPayload([&](Writer& w) { putColumnCount(w, 1, n); }, 1);
    CHECK(decodeColumnCount(bytesOf(p), 0)->count == n);
    std::string q = buildPayload(
        [&](Writer& w) { putColumnCount(w, 1, n, kMariaDbClientCacheMetadata, false); }, 1);
    auto d = decodeColumnCount(bytesOf(q), kMariaDbClientCacheMetadata);
    REQUIRE(d);
    CHECK(d->count == n);
    CHECK_FALSE(d->metadataFollows);
  }
  CHECK_FALSE(decodeColumnCount(bytesOf(std::string(1, '\0')), 0));  // zero columns
  CHECK_FALSE(decodeColumnCount(bytesOf("\xfb"), 0));                // NULL
  CHECK_FALSE(decodeColumnCount(bytesOf("\x03\x02"), kMariaDbClientCacheMetadata));
  CHECK_FALSE(decodeColumnCount(bytesOf("\xfc\x01"), 0));
  CHECK_FALSE(decodeColumnCount({}, 0));
}

TEST_CASE("column definitions: recorded, extended metadata, round trips", "[mysql][protocol]") {
  const auto& ex =
      exchange(recorded::kRawEofExchanges, "Q SELECT id, name, price FROM items ORDER BY id");
  std::vector<Bytes> packets = payloads(ex.response);
  auto id = decodeColumnDefinition(packets[1]);
  REQUIRE(id);
  CHECK(id->catalog == "def");
  CHECK(id->schema == "shop");
  CHECK(id->table == "items");
  CHECK(id->orgTable == "items");
  CHECK(id->name == "id");
  CHECK(id->orgName == "id");
  CHECK(id->characterSet == kCollationBinary);
  CHECK(id->columnLength == 11);
  CHECK(id->type == FieldType::Long);
  CHECK(id->flags == (kNotNullFlag | kPriKeyFlag | kNoDefaultValueFlag | 0x4000));
  CHECK(id->decimals == 0);
  CHECK_FALSE(id->hasDefault);
  auto name = decodeColumnDefinition(packets[2]);
  REQUIRE(name);
  CHECK(name->type == FieldType::VarString);
  CHECK(name->characterSet == kCollationUtf8mb4GeneralCi);
  CHECK(name->columnLength == 128);
  auto price = decodeColumnDefinition(packets[3]);
  REQUIRE(price);
  CHECK(price->type == FieldType::NewDecimal);
  CHECK(price->decimals == 2);
  // Re-encoded byte for byte.
  for (size_t i = 1; i <= 3; ++i) {
    Writer w;
    putColumnDefinition(w, uint8_t(i + 1), *decodeColumnDefinition(packets[i]));
    CHECK(payloads(bytesOf(w.data()))[0].size() == packets[i].size());
    CHECK(str(payloads(bytesOf(w.data()))[0]) == str(packets[i]));
  }

  // The mariadb CLI negotiated EXTENDED_METADATA: an (empty) extended type info precedes the
  // fixed fields, and only decodes with the capability.
  Bytes cliId = nthPayload(recorded::kCliSelectResponse, 1);
  CHECK_FALSE(decodeColumnDefinition(cliId, 0));
  auto ext = decodeColumnDefinition(cliId, cliCaps());
  REQUIRE(ext);
  CHECK(ext->name == "id");
  CHECK(ext->extendedTypeInfo.empty());
  CHECK(ext->flags == id->flags);
  Writer ew;
  putColumnDefinition(ew, 2, *ext, cliCaps());
  CHECK(str(payloads(bytesOf(ew.data()))[0]) == str(cliId));

  SECTION("round trips with COM_FIELD_LIST defaults and extended info") {
    ColumnDefinition c;
    c.schema = "s";
    c.table = "t";
    c.orgTable = "t";
    c.name = "n";
    c.orgName = "n";
    c.columnLength = 0xFFFFFFFF;
    c.type = FieldType::Blob;
    c.flags = kBlobFlag | kBinaryFlag;
    c.decimals = 0x27;
    std::string extInfo("\x00\x04json", 6);  // type name "json"
    for (int variant = 0; variant < 4; ++variant) {
      INFO(variant);
      ColumnDefinition in = c;
      Capabilities caps = 0;
      if (variant == 1) {
        in.hasDefault = true;
        in.defaultValue = "dflt";
      } else if (variant == 2) {
        in.hasDefault = true;
        in.defaultValue = std::nullopt;
      } else if (variant == 3) {
        caps = kMariaDbClientExtendedMetadata;
        in.extendedTypeInfo = bytesOf(extInfo);
      }
      std::string payload =
          buildPayload([&](Writer& w) { putColumnDefinition(w, 2, in, caps); }, 2);
      auto d = decodeColumnDefinition(bytesOf(payload), caps);
      REQUIRE(d);
      CHECK(d->name == "n");
      CHECK(d->columnLength == 0xFFFFFFFF);
      CHECK(d->type == FieldType::Blob);
      CHECK(d->flags == (kBlobFlag | kBinaryFlag));
      CHECK(d->decimals == 0x27);
      CHECK(d->hasDefault == in.hasDefault);
      CHECK(d->defaultValue == in.defaultValue);
      CHECK(str(d->extendedTypeInfo) == str(in.extendedTypeInfo));
      for (size_t k = 0; k < payload.size(); ++k) {
        auto t = decodeColumnDefinition(bytesOf(std::string_view(payload).substr(0, k)), caps);
        // Only the cut right before a COM_FIELD_LIST default decodes (as no default).
        if (t) CHECK((in.hasDefault && !t->hasDefault));
      }
    }
  }
  SECTION("a fixed-length field under 12 bytes is refused") {
    std::string p = std::string(
                        "\x03"
                        "def\x00\x00\x00\x01"
                        "a\x00\x0b",
                        11) +
                    std::string(11, '\0');
    CHECK_FALSE(decodeColumnDefinition(bytesOf(p)));
  }
}

TEST_CASE("text rows: recorded, NULLs, round trips", "[mysql][protocol]") {
  const auto& ex =
      exchange(recorded::kRawEofExchanges, "Q SELECT id, name, price FROM items ORDER BY id");
  std::vector<Bytes> packets = payloads(ex.response);
  std::vector<std::optional<std::string_view>> row;
  REQUIRE(decodeTextRow(packets[5], row));
  CHECK(row == std::vector<std::optional<std::string_view>>{"1", "apple", "1.50"});
  REQUIRE(decodeTextRow(packets[6], row));
  CHECK(row == std::vector<std::optional<std::string_view>>{"2", "pear", std::nullopt});

  std::string big(70000, 'b');
  std::vector<std::optional<std::string_view>> in = {"", std::nullopt, "x", big};
  std::string payload = buildPayload([&](Writer& w) { putTextRow(w, 3, in); }, 3);
  REQUIRE(decodeTextRow(bytesOf(payload), row));
  CHECK(row == in);
  CHECK_FALSE(decodeTextRow(bytesOf("\x05"
                                    "abc"),
                            row));
  CHECK_FALSE(decodeTextRow(bytesOf("\xff"), row));
  CHECK(row.empty());
}

TEST_CASE("COM_STMT_PREPARE OK and LOCAL INFILE request", "[mysql][protocol]") {
  const auto& ex = exchange(recorded::kRawEofExchanges,
                            "P SELECT id, name FROM items WHERE id > ? AND name <> ?");
  auto ok = decodeStmtPrepareOk(firstPayload(ex.response));
  REQUIRE(ok);
  CHECK(ok->statementId != 0);
  CHECK(ok->numColumns == 2);
  CHECK(ok->numParams == 2);
  CHECK(ok->warnings == 0);
  Writer w;
  putStmtPrepareOk(w, 1, *ok);
  CHECK(str(payloads(bytesOf(w.data()))[0]) == str(firstPayload(ex.response)));

  StmtPrepareOk mine{0x01020304, 7, 65535, 3};
  std::string payload = buildPayload([&](Writer& w) { putStmtPrepareOk(w, 1, mine); }, 1);
  CHECK(payload.size() == 12);
  auto d = decodeStmtPrepareOk(bytesOf(payload));
  REQUIRE(d);
  CHECK(d->statementId == 0x01020304);
  CHECK(d->numColumns == 7);
  CHECK(d->numParams == 65535);
  CHECK(d->warnings == 3);
  CHECK(decodeStmtPrepareOk(bytesOf(std::string_view(payload).substr(0, 10))));  // no warnings
  CHECK_FALSE(decodeStmtPrepareOk(bytesOf(std::string_view(payload).substr(0, 9))));
  std::string err = payload;
  err[0] = '\xff';
  CHECK_FALSE(decodeStmtPrepareOk(bytesOf(err)));

  const auto& infile = exchange(recorded::kRawEofExchanges,
                                "INFILE LOAD DATA LOCAL INFILE 'fruit.csv' INTO TABLE items FIELDS "
                                "TERMINATED BY ','");
  auto name = decodeLocalInfileRequest(firstPayload(infile.response));
  REQUIRE(name);
  CHECK(*name == "fruit.csv");
  CHECK(buildPayload([](Writer& w) { putLocalInfileRequest(w, 1, "/tmp/x"); }, 1) == "\xfb/tmp/x");
  CHECK_FALSE(decodeLocalInfileRequest(bytesOf(std::string_view("\x00x", 2))));
}

TEST_CASE("result decoders: random garbage never crashes", "[mysql][protocol]") {
  std::mt19937 rng(4242);
  const Capabilities caps = kClientProtocol41 | kClientSessionTrack | kClientDeprecateEof |
                            kMariaDbClientExtendedMetadata | kMariaDbClientCacheMetadata;
  std::vector<std::optional<std::string_view>> row;
  for (int round = 0; round < 5000; ++round) {
    std::string junk = randomBytes(rng, rng() % 48);
    if (!junk.empty() && (round % 3 == 0)) junk[0] = char(0xFE);
    if (!junk.empty() && (round % 3 == 1)) junk[0] = 0;
    Bytes b = bytesOf(junk);
    for (Capabilities c : {Capabilities(0), caps}) {
      if (auto ok = decodeOk(b, c)) (void)decodeSessionState(ok->sessionState);
      (void)decodeColumnCount(b, c);
      (void)decodeColumnDefinition(b, c);
    }
    (void)decodeSessionState(b);
    (void)decodeErr(b);
    (void)decodeEof(b);
    (void)decodeTextRow(b, row);
    (void)decodeStmtPrepareOk(b);
    (void)decodeLocalInfileRequest(b);
  }
}
