// Command packets: decoders for routing, builders, COM_STMT_EXECUTE parameters.
#include "pooler/protocol/mysql_commands.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "tests/pooler/protocol/mysql_recorded.h"
#include "tests/pooler/protocol/mysql_test_helpers.h"

using namespace shardpool::protocol::mysql;
using namespace shardpool::protocol::mysql::testing;
namespace recorded = shardpool::protocol::mysql::recorded;

namespace {

const recorded::Exchange& rawEof(std::string_view name, int occurrence = 0) {
  return exchange(recorded::kRawEofExchanges, name, occurrence);
}

// Builds one command with `build` and checks it equals the recorded command packet.
template <class Build>
void sameAsRecorded(Build build, Bytes recordedPacket) {
  Writer w;
  build(w);
  REQUIRE_FALSE(w.failed());
  CHECK(w.data() == str(recordedPacket));
}

std::string le(uint64_t v, size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = char(uint8_t(v >> (8 * i)));
  return s;
}

ParamValue param(FieldType type, std::string_view raw, bool isUnsigned = false) {
  ParamValue p;
  p.type = type;
  p.isUnsigned = isUnsigned;
  p.raw = bytesOf(raw);
  return p;
}

ParamValue nullParam(FieldType type = FieldType::Null) {
  ParamValue p;
  p.type = type;
  p.isNull = true;
  return p;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Text commands and ids

TEST_CASE("text commands: recorded, decoded, rebuilt byte for byte", "[mysql][protocol]") {
  Bytes select = firstPayload(recorded::kCliSelectCommand);
  CHECK(commandOf(select) == Command::Query);
  CHECK(decodeQuery(select) == "SELECT id, name, price FROM items ORDER BY id");
  sameAsRecorded([](Writer& w) { putQuery(w, "SELECT id, name, price FROM items ORDER BY id"); },
                 recorded::kCliSelectCommand);

  Bytes prepare =
      firstPayload(rawEof("P SELECT id, name FROM items WHERE id > ? AND name <> ?").command);
  CHECK(decodeStmtPrepare(prepare) == "SELECT id, name FROM items WHERE id > ? AND name <> ?");
  CHECK_FALSE(decodeQuery(prepare));
  sameAsRecorded(
      [](Writer& w) { putStmtPrepare(w, "SELECT id, name FROM items WHERE id > ? AND name <> ?"); },
      rawEof("P SELECT id, name FROM items WHERE id > ? AND name <> ?").command);

  CHECK(decodeInitDb(firstPayload(rawEof("INIT_DB hello").command)) == "hello");
  sameAsRecorded([](Writer& w) { putInitDb(w, "shop"); }, rawEof("INIT_DB shop").command);
  CHECK(decodeSetOption(firstPayload(rawEof("SET_OPTION MULTI_STATEMENTS_OFF").command)) ==
        kOptionMultiStatementsOff);
  sameAsRecorded([](Writer& w) { putSetOption(w, kOptionMultiStatementsOn); },
                 rawEof("SET_OPTION MULTI_STATEMENTS_ON").command);
  sameAsRecorded([](Writer& w) { putPing(w); }, rawEof("PING").command);
  sameAsRecorded([](Writer& w) { putResetConnection(w); }, rawEof("RESET_CONNECTION").command);
  sameAsRecorded([](Writer& w) { putQuit(w); }, recorded::kCliQuit);

  // Empty statements are legal packets; wrong command bytes and bad sizes are not.
  CHECK(decodeQuery(bytesOf("\x03")) == "");
  CHECK_FALSE(decodeQuery({}));
  CHECK_FALSE(decodeInitDb(bytesOf("\x03shop")));
  CHECK_FALSE(decodeSetOption(bytesOf("\x1b\x01")));
  CHECK_FALSE(decodeSetOption(lit("\x1b\x01\x00\x00")));
  CHECK_FALSE(commandOf({}));
  CHECK(commandOf(bytesOf("\xfa")) == Command::StmtBulkExecute);
}

TEST_CASE("statement-id commands: close, reset, fetch, send long data", "[mysql][protocol]") {
  Bytes close = firstPayload(rawEof("STMT_CLOSE").command);
  auto closeId = decodeStmtClose(close);
  REQUIRE(closeId);
  sameAsRecorded([&](Writer& w) { putStmtClose(w, *closeId); }, rawEof("STMT_CLOSE").command);
  auto resetId = decodeStmtReset(firstPayload(rawEof("STMT_RESET").command));
  REQUIRE(resetId);
  CHECK(*resetId == *closeId);  // the same statement
  sameAsRecorded([&](Writer& w) { putStmtReset(w, *resetId); }, rawEof("STMT_RESET").command);
  auto fetch = decodeStmtFetch(firstPayload(rawEof("FETCH 2").command));
  REQUIRE(fetch);
  CHECK(fetch->statementId == *closeId);
  CHECK(fetch->numRows == 2);
  sameAsRecorded([&](Writer& w) { putStmtFetch(w, fetch->statementId, 2); },
                 rawEof("FETCH 2").command);

  std::string blob(1000, '\x7f');
  std::string payload =
      buildPayload([&](Writer& w) { putStmtSendLongData(w, 0xA1B2C3D4, 3, bytesOf(blob)); });
  auto sld = decodeStmtSendLongData(bytesOf(payload));
  REQUIRE(sld);
  CHECK(sld->statementId == 0xA1B2C3D4);
  CHECK(sld->paramId == 3);
  CHECK(str(sld->data) == blob);

  CHECK_FALSE(decodeStmtClose(lit("\x19\x01\x00\x00")));
  CHECK_FALSE(decodeStmtClose(lit("\x19\x01\x00\x00\x00\x00")));
  CHECK_FALSE(decodeStmtClose(lit("\x1a\x01\x00\x00\x00")));
  CHECK_FALSE(decodeStmtFetch(lit("\x1c\x01\x00\x00\x00\x02")));
  CHECK_FALSE(decodeStmtSendLongData(lit("\x18\x01\x00\x00\x00\x01")));

  SECTION("rewriting and reading the id in place, for every command that has one") {
    for (Command c : {Command::StmtExecute, Command::StmtClose, Command::StmtReset,
                      Command::StmtSendLongData, Command::StmtFetch}) {
      std::string p = std::string(1, char(c)) + le(7, 4) + "tail";
      std::span<uint8_t> mutableP(reinterpret_cast<uint8_t*>(p.data()), p.size());
      CHECK(statementIdOf(bytesOf(p)) == 7u);
      REQUIRE(rewriteStatementId(mutableP, 0x01020304));
      CHECK(statementIdOf(bytesOf(p)) == 0x01020304u);
      CHECK(p.substr(5) == "tail");
    }
    std::string q = "\x03SELECT 1";
    std::span<uint8_t> mq(reinterpret_cast<uint8_t*>(q.data()), q.size());
    CHECK_FALSE(rewriteStatementId(mq, 9));
    CHECK(q == "\x03SELECT 1");
    CHECK_FALSE(statementIdOf(bytesOf(q)));
    std::string shortP = "\x19\x01\x00";
    CHECK_FALSE(statementIdOf(bytesOf(shortP)));
  }
}

// ---------------------------------------------------------------------------------------------
// COM_STMT_EXECUTE

TEST_CASE("COM_STMT_EXECUTE: recorded packets and their parameter values", "[mysql][protocol]") {
  const auto& first = rawEof("EXECUTE (1, 'kiwi')");
  Bytes payload = firstPayload(first.command);
  auto e = decodeStmtExecute(payload, 2);
  REQUIRE(e);
  CHECK(e->flags == kCursorTypeNoCursor);
  CHECK(e->iterationCount == 1);
  CHECK(e->newParamsBound);
  CHECK_FALSE(e->isNull(0));
  CHECK_FALSE(e->isNull(1));
  CHECK(str(e->paramTypes) == std::string("\x08\x00\x0f\x00", 4));
  ParamValue v[2];
  REQUIRE(decodeParamValues(*e, v) == ParamStatus::Ok);
  CHECK(v[0].type == FieldType::LongLong);
  CHECK(v[0].asInt64() == 1);
  CHECK(v[1].type == FieldType::VarChar);
  CHECK(v[1].asString() == "kiwi");
  CHECK_FALSE(v[1].asInt64());
  // Re-encoded byte for byte, and re-targeted to another statement id.
  sameAsRecorded([&](Writer& w) { putStmtExecute(w, *e); }, first.command);
  StmtExecute moved = *e;
  moved.statementId = 0xCAFE;
  std::string rebuilt = buildPayload([&](Writer& w) { putStmtExecute(w, moved); });
  CHECK(statementIdOf(bytesOf(rebuilt)) == 0xCAFEu);
  CHECK(rebuilt.substr(5) == str(payload).substr(5));

  SECTION("a cursor execute that re-uses the types of the previous one") {
    auto c = decodeStmtExecute(firstPayload(rawEof("EXECUTE CURSOR types not re-sent").command), 2);
    REQUIRE(c);
    CHECK(c->flags == kCursorTypeReadOnly);
    CHECK_FALSE(c->newParamsBound);
    CHECK(c->paramTypes.empty());
    ParamValue cv[2];
    CHECK(decodeParamValues(*c, cv) == ParamStatus::NoTypes);
    // The recording holds (0, '') and three stray bytes (00 01 61) that MariaDB ignored.
    REQUIRE(decodeParamValues(*c, cv, e->paramTypes) == ParamStatus::Ok);
    CHECK(cv[0].asInt64() == 0);
    CHECK(cv[1].asString() == "");
  }
  SECTION("a NULL parameter has no value in the packet") {
    auto n = decodeStmtExecute(firstPayload(rawEof("EXECUTE (1, NULL)").command), 2);
    REQUIRE(n);
    CHECK_FALSE(n->isNull(0));
    CHECK(n->isNull(1));
    ParamValue nv[2];
    REQUIRE(decodeParamValues(*n, nv) == ParamStatus::Ok);
    CHECK(nv[0].asInt64() == 1);
    CHECK(nv[1].isNull);
    CHECK(nv[1].type == FieldType::Null);
    CHECK_FALSE(nv[1].asInt64());
    CHECK_FALSE(nv[1].asString());
  }
  SECTION("INT, VARCHAR and DOUBLE") {
    auto ins =
        decodeStmtExecute(firstPayload(rawEof("EXECUTE INSERT (5, 'kiwi', 2.25)").command), 3);
    REQUIRE(ins);
    ParamValue iv[3];
    REQUIRE(decodeParamValues(*ins, iv) == ParamStatus::Ok);
    CHECK(iv[0].type == FieldType::Long);
    CHECK(iv[0].asInt64() == 5);
    CHECK(iv[0].asUint64() == 5u);
    CHECK(iv[1].asString() == "kiwi");
    CHECK(iv[2].type == FieldType::Double);
    double d = 0;
    REQUIRE(iv[2].raw.size() == 8);
    std::memcpy(&d, iv[2].raw.data(), 8);
    CHECK(d == 2.25);
    CHECK_FALSE(iv[2].asInt64());
  }
  SECTION("no parameters") {
    auto call = decodeStmtExecute(firstPayload(rawEof("EXECUTE CALL").command), 0);
    REQUIRE(call);
    CHECK(call->nullBitmap.empty());
    CHECK(call->values.empty());
    CHECK(decodeParamValues(*call, std::span<ParamValue>()) == ParamStatus::Ok);
    sameAsRecorded([&](Writer& w) { putStmtExecute(w, *call); }, rawEof("EXECUTE CALL").command);
  }
  SECTION("every truncation is refused or leaves the values short") {
    for (size_t k = 0; k < payload.size(); ++k) {
      INFO("prefix " << k);
      auto t = decodeStmtExecute(payload.first(k), 2);
      if (!t) continue;
      ParamValue tv[2];
      CHECK(decodeParamValues(*t, tv) == ParamStatus::Malformed);
    }
  }
}

TEST_CASE("COM_STMT_EXECUTE: every parameter type round trips", "[mysql][protocol]") {
  const std::string tiny = le(0xFF, 1), shortV = le(0x8000, 2), year = le(2024, 2),
                    longV = le(0xFFFFFFFE, 4), int24 = le(0x00FFFFFF, 4),
                    bigNeg = le(uint64_t(-5), 8),
                    bigU = le(std::numeric_limits<uint64_t>::max(), 8), floatV = le(0x3F800000, 4),
                    date = std::string("\xe8\x07\x02\x1d", 4),
                    datetime = std::string("\xe8\x07\x02\x1d\x0c\x22\x38\x40\x42\x0f\x00", 11),
                    time = std::string("\x01\x02\x00\x00\x00\x03\x04\x05", 8), big(70000, 'B');
  std::vector<ParamValue> in = {
      param(FieldType::Tiny, tiny),                     // -1
      param(FieldType::Tiny, tiny, true),               // 255
      param(FieldType::Short, shortV),                  // -32768
      param(FieldType::Year, year),                     // 2024
      param(FieldType::Long, longV),                    // -2
      param(FieldType::Long, longV, true),              // 4294967294
      param(FieldType::Int24, int24),                   // 16777215 (sent in 4 bytes)
      param(FieldType::LongLong, bigNeg),               // -5
      param(FieldType::LongLong, bigU, true),           // 2^64 - 1
      param(FieldType::Float, floatV),                  // 1.0f
      nullParam(),                                      // NULL
      param(FieldType::Date, date),                     // 2024-02-29
      param(FieldType::DateTime, datetime),             // with microseconds
      param(FieldType::Timestamp, std::string_view()),  // zero length: 0000-00-00
      param(FieldType::Time, time),
      param(FieldType::NewDecimal, "-12.50"),
      param(FieldType::VarString, "42"),
      param(FieldType::String, ""),
      param(FieldType::Blob, big),  // 3-byte lenenc length
      param(FieldType::Json, "{\"a\":1}"),
      param(FieldType::Enum, "red"),
      param(FieldType::Bit, std::string_view("\x05", 1)),
      nullParam(FieldType::VarString),  // a NULL of a string type
  };
  std::string payload = buildPayload([&](Writer& w) { putStmtExecute(w, 99, 0, in); });
  auto e = decodeStmtExecute(bytesOf(payload), uint16_t(in.size()));
  REQUIRE(e);
  CHECK(e->statementId == 99);
  CHECK(e->nullBitmap.size() == 3);
  std::vector<ParamValue> out(in.size());
  REQUIRE(decodeParamValues(*e, out) == ParamStatus::Ok);
  for (size_t i = 0; i < in.size(); ++i) {
    INFO(i);
    CHECK(out[i].type == in[i].type);
    CHECK(out[i].isUnsigned == in[i].isUnsigned);
    CHECK(out[i].isNull == in[i].isNull);
    CHECK(str(out[i].raw) == str(in[i].raw));
  }
  CHECK(out[0].asInt64() == -1);
  CHECK_FALSE(out[0].asUint64());
  CHECK(out[1].asInt64() == 255);
  CHECK(out[2].asInt64() == -32768);
  CHECK(out[3].asInt64() == 2024);
  CHECK(out[4].asInt64() == -2);
  CHECK(out[5].asInt64() == 4294967294);
  CHECK(out[6].asInt64() == 16777215);
  CHECK(out[7].asInt64() == -5);
  CHECK_FALSE(out[8].asInt64());  // does not fit
  CHECK(out[8].asUint64() == std::numeric_limits<uint64_t>::max());
  CHECK_FALSE(out[9].asInt64());  // float
  CHECK_FALSE(out[10].asInt64());
  CHECK_FALSE(out[15].asInt64());  // "-12.50" is no integer
  CHECK(out[15].asString() == "-12.50");
  CHECK(out[16].asInt64() == 42);  // a string holding an integer (drivers send those)
  CHECK(out[16].asUint64() == 42u);
  CHECK_FALSE(out[17].asInt64());
  CHECK(out[17].asString() == "");
  CHECK(out[18].asString()->size() == 70000);
  CHECK(out[21].asString() == std::string_view("\x05", 1));
  CHECK(out[22].isNull);
  CHECK_FALSE(out[22].asString());

  SECTION("types not re-sent: the previous ones are used") {
    std::string again = buildPayload([&](Writer& w) { putStmtExecute(w, 99, 0, in, false); });
    auto a = decodeStmtExecute(bytesOf(again), uint16_t(in.size()));
    REQUIRE(a);
    CHECK_FALSE(a->newParamsBound);
    std::vector<ParamValue> o2(in.size());
    CHECK(decodeParamValues(*a, o2) == ParamStatus::NoTypes);
    REQUIRE(decodeParamValues(*a, o2, e->paramTypes) == ParamStatus::Ok);
    CHECK(o2[7].asInt64() == -5);
    CHECK(decodeParamValues(*a, o2, e->paramTypes.first(4)) == ParamStatus::NoTypes);
  }
  SECTION("parameters sent with COM_STMT_SEND_LONG_DATA have no value in the packet") {
    std::vector<ParamValue> three = {param(FieldType::Long, longV), param(FieldType::Blob, "x"),
                                     param(FieldType::VarString, "tail")};
    std::string withLong = [&] {
      // What a client sends when parameter 1 went by SEND_LONG_DATA: its type, no value.
      std::string p = buildPayload([&](Writer& w) { putStmtExecute(w, 5, 0, three); });
      // Drop the blob's value ("\x01x") from the values.
      size_t at = p.find(std::string("\x01x", 2), 1 + 4 + 1 + 4 + 1 + 1 + 6 + 4);
      REQUIRE(at != std::string::npos);
      return p.erase(at, 2);
    }();
    auto d = decodeStmtExecute(bytesOf(withLong), 3);
    REQUIRE(d);
    std::vector<ParamValue> o3(3);
    CHECK(decodeParamValues(*d, o3) != ParamStatus::Ok);  // "tail" misread as the blob
    const uint8_t longData[] = {0, 1, 0};
    REQUIRE(decodeParamValues(*d, o3, {}, longData) == ParamStatus::Ok);
    CHECK(o3[0].asInt64() == -2);
    CHECK(o3[1].raw.empty());
    CHECK(o3[2].asString() == "tail");
  }
  SECTION("malformed values") {
    std::vector<ParamValue> two = {param(FieldType::LongLong, bigNeg),
                                   param(FieldType::VarString, "ab")};
    std::string p = buildPayload([&](Writer& w) { putStmtExecute(w, 1, 0, two); });
    std::vector<ParamValue> o(2);
    auto ok = decodeStmtExecute(bytesOf(p), 2);
    REQUIRE(ok);
    CHECK(decodeParamValues(*ok, o) == ParamStatus::Ok);
    std::string longer = p + "z";  // a byte too many
    auto extra = decodeStmtExecute(bytesOf(longer), 2);
    REQUIRE(extra);
    CHECK(decodeParamValues(*extra, o) == ParamStatus::Ok);  // ignored, as the servers do
    CHECK(o[1].asString() == "ab");
    std::vector<ParamValue> small(1);
    CHECK(decodeParamValues(*ok, small) == ParamStatus::Malformed);
    // An unknown type stops the reading.
    std::string unknown = p;
    unknown[1 + 4 + 1 + 4 + 1 + 1] = char(0x11);  // TIMESTAMP2: server-internal
    auto u = decodeStmtExecute(bytesOf(unknown), 2);
    REQUIRE(u);
    CHECK(decodeParamValues(*u, o) == ParamStatus::UnsupportedType);
    // new_params_bound_flag must be 0 or 1.
    std::string flag = p;
    flag[1 + 4 + 1 + 4 + 1] = 2;
    CHECK_FALSE(decodeStmtExecute(bytesOf(flag), 2));
    // More parameters than the client bound: the values no longer line up.
    auto three = decodeStmtExecute(bytesOf(p), 3);
    REQUIRE(three);
    std::vector<ParamValue> o3(3);
    CHECK(decodeParamValues(*three, o3) != ParamStatus::Ok);
    CHECK_FALSE(decodeStmtExecute(bytesOf(p.substr(0, 1 + 4 + 1 + 4 + 1 + 1 + 5)), 3));
    CHECK_FALSE(decodeStmtExecute(lit("\x16\x01\x00\x00\x00"), 0));
  }
  SECTION("builders refuse values that do not fit their type") {
    Writer w;
    putStmtExecute(w, 1, 0, std::vector<ParamValue>{param(FieldType::Long, "abc")});
    CHECK(w.failed());
    Writer w2;
    std::string longDate(256, 'd');
    putStmtExecute(w2, 1, 0, std::vector<ParamValue>{param(FieldType::Date, longDate)});
    CHECK(w2.failed());
    Writer w3;
    putStmtExecute(w3, 1, 0, std::vector<ParamValue>{param(FieldType::NewDate, "x")});
    CHECK(w3.failed());
    Writer w4;
    StmtExecute bad;
    bad.numParams = 9;
    bad.nullBitmap = lit("\x00");  // needs 2 bytes for 9 parameters
    putStmtExecute(w4, bad);
    CHECK(w4.failed());
  }
}

TEST_CASE("ParamValue: integers in strings", "[mysql][protocol]") {
  struct Case {
    const char* text;
    std::optional<int64_t> i64;
    std::optional<uint64_t> u64;
  };
  for (Case c :
       {Case{"0", 0, 0u}, Case{"-0", 0, 0u}, Case{"+7", 7, 7u}, Case{"-7", -7, std::nullopt},
        Case{"9223372036854775807", INT64_MAX, 9223372036854775807u},
        Case{"-9223372036854775808", INT64_MIN, std::nullopt},
        Case{"9223372036854775808", std::nullopt, 9223372036854775808u},
        Case{"18446744073709551615", std::nullopt, UINT64_MAX},
        Case{"18446744073709551616", std::nullopt, std::nullopt},
        Case{"-9223372036854775809", std::nullopt, std::nullopt},
        Case{"", std::nullopt, std::nullopt}, Case{"-", std::nullopt, std::nullopt},
        Case{" 1", std::nullopt, std::nullopt}, Case{"1.0", std::nullopt, std::nullopt},
        Case{"0x10", std::nullopt, std::nullopt}, Case{"12a", std::nullopt, std::nullopt}}) {
    INFO(c.text);
    ParamValue v = param(FieldType::VarString, c.text);
    CHECK(v.asInt64() == c.i64);
    CHECK(v.asUint64() == c.u64);
  }
}

// ---------------------------------------------------------------------------------------------
// COM_CHANGE_USER

TEST_CASE("COM_CHANGE_USER: recorded, round trips", "[mysql][protocol]") {
  const auto& ex = rawEof("CHANGEUSER");
  Bytes payload = firstPayload(ex.command);
  const Capabilities caps = rawEofCaps();
  auto c = decodeChangeUser(payload, caps);
  REQUIRE(c);
  CHECK(c->username == "shard");
  CHECK(c->authResponse.empty());
  CHECK(c->database == "shop");
  CHECK(c->hasCharacterSet);
  CHECK(c->characterSet == kCollationUtf8mb4GeneralCi);
  CHECK(c->authPluginName == kCachingSha2Plugin);
  CHECK(c->connectAttributes.empty());
  sameAsRecorded([&](Writer& w) { putChangeUser(w, *c, caps); }, ex.command);

  std::string token(20, '\x11');
  std::string attrs = std::string(
      "\x03"
      "key\x05"
      "value",
      10);
  ChangeUser in;
  in.username = "bob";
  in.authResponse = bytesOf(token);
  in.database = "";
  in.hasCharacterSet = true;
  in.characterSet = 224;
  in.authPluginName = kNativePasswordPlugin;
  in.connectAttributes = bytesOf(attrs);
  const Capabilities all =
      kClientProtocol41 | kClientSecureConnection | kClientPluginAuth | kClientConnectAttrs;
  for (Capabilities v : {all, all & ~kClientConnectAttrs, all & ~kClientPluginAuth,
                         Capabilities(kClientProtocol41 | kClientSecureConnection)}) {
    INFO(v);
    std::string p = buildPayload([&](Writer& w) { putChangeUser(w, in, v); });
    auto d = decodeChangeUser(bytesOf(p), v);
    REQUIRE(d);
    CHECK(d->username == "bob");
    CHECK(str(d->authResponse) == token);
    CHECK(d->characterSet == 224);
    CHECK(d->authPluginName == ((v & kClientPluginAuth) ? kNativePasswordPlugin : ""));
    CHECK(str(d->connectAttributes) == ((v & kClientConnectAttrs) ? attrs : ""));
    for (size_t k = 0; k < p.size(); ++k) {
      auto t = decodeChangeUser(bytesOf(std::string_view(p).substr(0, k)), v);
      // Cuts right after the database, or where an optional trailing field would begin.
      if (t) CHECK(k >= 1 + 4 + 1 + 20 + 1);
    }
  }
  SECTION("old clients stop after the database") {
    ChangeUser old;
    old.username = "u";
    old.database = "d";
    std::string p = buildPayload([&](Writer& w) { putChangeUser(w, old, all); });
    CHECK(p == std::string("\x11u\0\0d\0", 6));
    auto d = decodeChangeUser(bytesOf(p), all);
    REQUIRE(d);
    CHECK_FALSE(d->hasCharacterSet);
  }
  SECTION("without SECURE_CONNECTION the auth response is NUL-terminated") {
    ChangeUser plain = in;
    std::string pw = "secret";
    plain.authResponse = bytesOf(pw);
    std::string p = buildPayload([&](Writer& w) { putChangeUser(w, plain, kClientProtocol41); });
    auto d = decodeChangeUser(bytesOf(p), kClientProtocol41);
    REQUIRE(d);
    CHECK(str(d->authResponse) == "secret");
  }
  CHECK_FALSE(decodeChangeUser(bytesOf("\x03u"), all));
  Writer tooLong;
  std::string huge(256, 'x');
  ChangeUser h = in;
  h.authResponse = bytesOf(huge);
  putChangeUser(tooLong, h, all);
  CHECK(tooLong.failed());
}

TEST_CASE("command decoders: random garbage never crashes", "[mysql][protocol]") {
  std::mt19937 rng(555);
  const uint8_t cmds[] = {0x02, 0x03, 0x11, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c};
  std::vector<ParamValue> out(16);
  for (int round = 0; round < 5000; ++round) {
    std::string junk = randomBytes(rng, rng() % 40);
    if (!junk.empty()) junk[0] = char(cmds[rng() % std::size(cmds)]);
    Bytes b = bytesOf(junk);
    (void)decodeQuery(b);
    (void)decodeInitDb(b);
    (void)decodeStmtPrepare(b);
    (void)decodeSetOption(b);
    (void)decodeStmtClose(b);
    (void)decodeStmtReset(b);
    (void)decodeStmtFetch(b);
    (void)decodeStmtSendLongData(b);
    (void)statementIdOf(b);
    (void)decodeChangeUser(b, ~Capabilities(0));
    (void)decodeChangeUser(b, 0);
    uint16_t n = uint16_t(rng() % 17);
    if (auto e = decodeStmtExecute(b, n)) {
      (void)decodeParamValues(*e, out);
      std::string prev = randomBytes(rng, size_t(n) * 2);
      if (decodeParamValues(*e, out, bytesOf(prev)) == ParamStatus::Ok) {
        for (size_t i = 0; i < n; ++i) {
          (void)out[i].asInt64();
          (void)out[i].asUint64();
          (void)out[i].asString();
        }
      }
    }
  }
}
