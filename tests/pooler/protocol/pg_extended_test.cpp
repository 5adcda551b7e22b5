#include "pooler/protocol/pg_extended.h"

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

using namespace shardpool::protocol::pg;

namespace {

Bytes asBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string_view asText(Bytes b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

std::string be16(uint16_t v) {
  return {char(v >> 8), char(v)};
}

std::string be32(uint32_t v) {
  return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}

std::string cstr(std::string_view s) {
  return std::string(s) + '\0';
}

// Builds one message with `build`, checks the Writer is healthy, frames it, returns the body.
template <class Build>
std::string buildAndFrame(Build build, char expectType) {
  Writer w;
  build(w);
  REQUIRE_FALSE(w.failed());
  std::string bytes = w.take();
  Frame f = frameMessage(asBytes(bytes));
  REQUIRE(f.status == FrameStatus::Ok);
  REQUIRE(f.type == expectType);
  REQUIRE(f.totalSize == bytes.size());
  return std::string(asText(f.body));
}

// Bind body after the two names: 3 params (text, binary, NULL) with per-param formats, then two
// result formats. Every field is hand-encoded so the test does not depend on the code under test.
std::string bindTail() {
  std::string t;
  t += be16(3) + be16(0) + be16(1) + be16(0);  // parameter formats
  t += be16(3);                                // parameter values
  t += be32(2) + "42";
  t += be32(4) + std::string("\x00\x00\x00\x07", 4);
  t += be32(0xffffffffu);            // NULL: -1, no bytes
  t += be16(2) + be16(1) + be16(0);  // result formats
  return t;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Parse

TEST_CASE("Parse: round trips", "[extended]") {
  struct Case {
    std::string name, query;
    std::vector<uint32_t> types;
  };
  std::vector<Case> cases = {
      {"", "SELECT 1", {}},
      {"stmt1", "SELECT $1::int, $2", {23, 0}},
      {"s", "", {}},
      {"big", "SELECT $1", {0xffffffffu}},
      {"n", "INSERT INTO t VALUES ($1, $2, $3)", {25, 1043, 3802}},
  };
  for (const Case& c : cases) {
    std::string body =
        buildAndFrame([&](Writer& w) { putParse(w, c.name, c.query, c.types); }, 'P');
    auto m = decodeParse(asBytes(body));
    REQUIRE(m);
    CHECK(*m == ParseMsg{c.name, c.query, c.types});
  }
}

TEST_CASE("Parse: wire layout and limits", "[extended]") {
  std::string body = buildAndFrame([](Writer& w) { putParse(w, "a", "q", {23}); }, 'P');
  CHECK(body == cstr("a") + cstr("q") + be16(1) + be32(23));

  // Counts are unsigned 16-bit, as the server reads them: 40000 parameters is legal.
  std::vector<uint32_t> many(40000, 23);
  body = buildAndFrame([&](Writer& w) { putParse(w, "m", "q", many); }, 'P');
  CHECK(body.substr(4, 2) == be16(40000));
  auto m = decodeParse(asBytes(body));
  REQUIRE(m);
  CHECK(m->paramTypes == many);

  std::vector<uint32_t> tooMany(kMaxCount16 + 1, 23);
  Writer w;
  putParse(w, "m", "q", tooMany);
  CHECK(w.failed());
  CHECK(w.data().empty());

  Writer nul;
  putParse(nul, std::string_view("a\0b", 3), "q", {});
  CHECK(nul.failed());
}

TEST_CASE("Parse: strict decoding", "[extended]") {
  std::string good = cstr("s") + cstr("SELECT $1") + be16(1) + be32(23);
  REQUIRE(decodeParse(asBytes(good)));
  CHECK_FALSE(decodeParse(asBytes(good + "x")));                                  // trailing
  CHECK_FALSE(decodeParse(asBytes(cstr("s") + cstr("q") + be16(2) + be32(23))));  // short
  CHECK_FALSE(decodeParse(asBytes(cstr("s") + cstr("q") + be16(0xffff))));        // huge count
  CHECK_FALSE(decodeParse(asBytes(cstr("s") + cstr("q") + std::string(1, '\0'))));
  CHECK_FALSE(decodeParse(asBytes(cstr("s") + "q")));  // unterminated query
  CHECK_FALSE(decodeParse(asBytes("")));
  for (size_t n = 0; n < good.size(); ++n)
    CHECK_FALSE(decodeParse(asBytes(std::string_view(good).substr(0, n))));
}

// ---------------------------------------------------------------------------------------------
// Bind

TEST_CASE("Bind: decode a hand-built message and rename it byte for byte", "[extended]") {
  const std::string tail = bindTail();
  const std::string body = cstr("portal1") + cstr("client_stmt") + tail;
  auto b = decodeBind(asBytes(body));
  REQUIRE(b);
  CHECK(b->portal == "portal1");
  CHECK(b->statement == "client_stmt");
  CHECK(asText(b->rest) == tail);

  std::string renamed =
      buildAndFrame([&](Writer& w) { putBindRenamed(w, *b, "sp_0123456789abcdef"); }, 'B');
  CHECK(renamed == cstr("portal1") + cstr("sp_0123456789abcdef") + tail);

  auto again = decodeBind(asBytes(renamed));
  REQUIRE(again);
  CHECK(again->portal == "portal1");
  CHECK(again->statement == "sp_0123456789abcdef");
  CHECK(asText(again->rest) == tail);

  // Renaming to the same name reproduces the original exactly.
  CHECK(buildAndFrame([&](Writer& w) { putBindRenamed(w, *b, b->statement); }, 'B') == body);
}

TEST_CASE("Bind: minimal and unnamed forms", "[extended]") {
  const std::string minimal = be16(0) + be16(0) + be16(0);
  const std::string unnamed = cstr("") + cstr("") + minimal;  // views into it outlive the call
  auto b = decodeBind(asBytes(unnamed));
  REQUIRE(b);
  CHECK(b->portal.empty());
  CHECK(b->statement.empty());
  CHECK(asText(b->rest) == minimal);

  // One format for all, empty (non-NULL) value, no result formats.
  std::string tail = be16(1) + be16(1) + be16(1) + be32(0) + be16(0);
  const std::string oneFormat = cstr("") + cstr("s") + tail;
  b = decodeBind(asBytes(oneFormat));
  REQUIRE(b);
  CHECK(asText(b->rest) == tail);
}

TEST_CASE("Bind: strict decoding", "[extended]") {
  const std::string head = cstr("p") + cstr("s");
  const std::string good = head + bindTail();
  REQUIRE(decodeBind(asBytes(good)));
  CHECK_FALSE(decodeBind(asBytes(good + "x")));  // trailing
  for (size_t n = 0; n < good.size(); ++n)
    CHECK_FALSE(decodeBind(asBytes(std::string_view(good).substr(0, n))));

  // Negative value length other than -1.
  CHECK_FALSE(decodeBind(asBytes(head + be16(0) + be16(1) + be32(0xfffffffeu) + be16(0))));
  CHECK_FALSE(decodeBind(asBytes(head + be16(0) + be16(1) + be32(0x80000000u) + be16(0))));
  // Value length past the end.
  CHECK_FALSE(decodeBind(asBytes(head + be16(0) + be16(1) + be32(100) + "ab" + be16(0))));
  // Counts that promise more than there is.
  CHECK_FALSE(decodeBind(asBytes(head + be16(0xffff) + be16(0) + be16(0))));
  CHECK_FALSE(decodeBind(asBytes(head + be16(0) + be16(0xffff) + be16(0))));
  CHECK_FALSE(decodeBind(asBytes(head + be16(0) + be16(0) + be16(0xffff))));
  CHECK_FALSE(decodeBind(asBytes(head)));  // no counts at all
}

// ---------------------------------------------------------------------------------------------
// Describe, Close, and the empty messages

TEST_CASE("Describe/Close: round trips and strictness", "[extended]") {
  for (char kind : {'S', 'P'}) {
    for (std::string_view name : {std::string_view(""), std::string_view("stmt_1")}) {
      std::string d = buildAndFrame([&](Writer& w) { putDescribe(w, kind, name); }, 'D');
      CHECK(d == std::string(1, kind) + cstr(name));
      auto dm = decodeDescribe(asBytes(d));
      REQUIRE(dm);
      CHECK(*dm == TargetMsg{kind, name});

      std::string c = buildAndFrame([&](Writer& w) { putClose(w, kind, name); }, 'C');
      CHECK(c == d);
      auto cm = decodeClose(asBytes(c));
      REQUIRE(cm);
      CHECK(*cm == TargetMsg{kind, name});
    }
  }
  CHECK_FALSE(decodeDescribe(asBytes("")));
  CHECK_FALSE(decodeDescribe(asBytes("S")));                  // no terminator
  CHECK_FALSE(decodeDescribe(asBytes(cstr("Sname") + "x")));  // trailing
  CHECK_FALSE(decodeDescribe(asBytes(cstr("Xname"))));        // unknown kind
  CHECK_FALSE(decodeClose(asBytes(cstr("sname"))));           // kinds are case-sensitive
  CHECK_FALSE(decodeClose(asBytes(std::string(1, '\0'))));

  Writer w;
  putDescribe(w, 'X', "n");
  CHECK(w.failed());
  CHECK(w.data().empty());
  Writer w2;
  putClose(w2, 0, "n");
  CHECK(w2.failed());
}

TEST_CASE("Sync/Flush/ParseComplete/CloseComplete: empty bodies", "[extended]") {
  Writer w;
  putSync(w);
  putFlush(w);
  putParseComplete(w);
  putCloseComplete(w);
  REQUIRE_FALSE(w.failed());
  const std::string expect =
      std::string("S") + be32(4) + "H" + be32(4) + "1" + be32(4) + "3" + be32(4);
  CHECK(w.data() == expect);
}

TEST_CASE("Extended messages: a pipeline frames message by message", "[extended]") {
  Writer w;
  putParse(w, "sp_x", "SELECT $1", {23});
  putBindRenamed(w, BindMsg{"", "client", asBytes(bindTail())}, "sp_x");
  putDescribe(w, 'P', "");
  putClose(w, 'S', "sp_x");
  putSync(w);
  REQUIRE_FALSE(w.failed());
  std::string stream = w.take();
  Bytes rest = asBytes(stream);
  std::string types;
  while (!rest.empty()) {
    Frame f = frameMessage(rest);
    REQUIRE(f.status == FrameStatus::Ok);
    types += f.type;
    switch (f.type) {
      case 'P':
        CHECK(decodeParse(f.body));
        break;
      case 'B':
        CHECK(decodeBind(f.body));
        break;
      case 'D':
        CHECK(decodeDescribe(f.body));
        break;
      case 'C':
        CHECK(decodeClose(f.body));
        break;
      default:
        CHECK(f.body.empty());
    }
    rest = rest.subspan(f.totalSize);
  }
  CHECK(types == "PBDCS");
}

// ---------------------------------------------------------------------------------------------
// Fuzz: garbage and mutated messages never crash; whatever decodes re-encodes to the same bytes.

TEST_CASE("Extended decoders: fuzz with random and mutated bodies", "[extended]") {
  std::mt19937 rng(20240611);
  std::vector<std::string> seeds = {
      cstr("s") + cstr("SELECT $1") + be16(1) + be32(23),
      cstr("p") + cstr("s") + bindTail(),
      cstr("") + cstr("") + be16(0) + be16(0) + be16(0),
      cstr("Sname"),
      cstr("P"),
  };
  int decoded = 0;
  for (int iter = 0; iter < 30000; ++iter) {
    std::string body;
    if (iter % 2 == 0) {
      body.resize(rng() % 48);
      for (char& c : body) c = char(rng() % 4 == 0 ? 0 : rng() % 256);  // plenty of NULs
    } else {
      body = seeds[rng() % seeds.size()];
      int edits = 1 + int(rng() % 3);
      for (int e = 0; e < edits && !body.empty(); ++e) {
        size_t at = rng() % body.size();
        switch (rng() % 3) {
          case 0:
            body[at] = char(rng() % 256);
            break;
          case 1:
            body.resize(at);
            break;
          default:
            body.insert(at, 1, char(rng() % 256));
        }
      }
    }
    Bytes data = asBytes(body);

    if (auto p = decodeParse(data)) {
      ++decoded;
      CHECK(buildAndFrame([&](Writer& w) { putParse(w, p->name, p->query, p->paramTypes); }, 'P') ==
            body);
    }
    if (auto b = decodeBind(data)) {
      ++decoded;
      CHECK(buildAndFrame([&](Writer& w) { putBindRenamed(w, *b, b->statement); }, 'B') == body);
    }
    if (auto d = decodeDescribe(data)) {
      ++decoded;
      CHECK(buildAndFrame([&](Writer& w) { putDescribe(w, d->kind, d->name); }, 'D') == body);
    }
    if (auto c = decodeClose(data)) {
      CHECK(buildAndFrame([&](Writer& w) { putClose(w, c->kind, c->name); }, 'C') == body);
    }
  }
  CHECK(decoded > 100);  // the mutations keep some inputs valid, so both paths are exercised
}

// ---------------------------------------------------------------------------------------------
// Server statement names

TEST_CASE("serverStatementName: pinned, deterministic, distinct", "[extended]") {
  // Expected values: "sp_" + first 16 hex digits of SHA-256 over
  // be64(len(query)) || query || be64(len(types)) || be32(type)... , computed independently
  // (Python hashlib). Pinning them keeps names stable across builds, processes and platforms;
  // the query lengths cover the SHA-256 padding boundaries (55/56/63/64-byte inputs) and
  // multi-block inputs.
  struct Case {
    std::string query;
    std::vector<uint32_t> types;
    const char* expect;
  };
  std::vector<uint32_t> hundred;
  for (uint32_t i = 0; i < 100; ++i) hundred.push_back(i);
  std::vector<Case> cases = {
      {"SELECT 1", {}, "sp_5edac06ba8f1fb3b"},
      {"SELECT $1", {23}, "sp_7497628d7431d49f"},
      {"SELECT $1", {25}, "sp_db30379579d3b4a8"},
      {"", {}, "sp_374708fff7719dd5"},
      {std::string(39, 'x'), {}, "sp_7a7a2e2cf49f82d7"},
      {std::string(40, 'x'), {}, "sp_ee5b906ec66da37b"},
      {std::string(47, 'x'), {}, "sp_1c48c18b86287326"},
      {std::string(48, 'x'), {}, "sp_db8ece9953d166de"},
      {std::string(111, 'x'), {}, "sp_7b4755338e4bb140"},
      {"SELECT $1, $2", {0, 0xffffffffu}, "sp_a1e4e19adbca1e2d"},
      {std::string(1000, 'q'), hundred, "sp_fee15baa9007f6fd"},
      {"SELECT 'h\xc3\xa9llo'", {}, "sp_0d04d1e1ccd44335"},
      {std::string("a\0b", 3), {}, "sp_0430fbb769a04c3d"},
  };
  for (const Case& c : cases) {
    std::string name = serverStatementName(c.query, c.types);
    CHECK(name == c.expect);
    CHECK(name.size() == 19);
    CHECK(name.size() <= kMaxIdentifierLength);
    CHECK(serverStatementName(c.query, c.types) == name);
  }

  // Different types, type order, or an extra unspecified type all give different names.
  CHECK(serverStatementName("SELECT $1", {23}) != serverStatementName("SELECT $1", {20}));
  CHECK(serverStatementName("SELECT $1", {}) != serverStatementName("SELECT $1", {0}));
  CHECK(serverStatementName("SELECT $1, $2", {23, 25}) !=
        serverStatementName("SELECT $1, $2", {25, 23}));
  CHECK(serverStatementName("SELECT 1", {}) != serverStatementName("SELECT 2", {}));
  CHECK(serverStatementName("SELECT 1", {}) != serverStatementName("SELECT 1 ", {}));
}

// ---------------------------------------------------------------------------------------------
// DEALLOCATE ALL / DISCARD ALL detection

TEST_CASE("isDeallocateAllOrDiscardAll: table", "[extended]") {
  struct Case {
    std::string_view sql;
    bool expect;
  };
  const Case cases[] = {
      {"DEALLOCATE ALL", true},
      {"deallocate all", true},
      {"deallocate prepare all", true},
      {"DeAlLoCaTe PrEpArE aLl;", true},
      {"DISCARD ALL", true},
      {"  /* x */ discard   all;", true},
      {"discard all;;  ;", true},
      {";discard all", true},
      {"\t\r\n\f\vDISCARD\nALL\n", true},
      {"-- reset\nDISCARD ALL -- trailing comment", true},
      {"DISCARD/**/ALL", true},
      {"DEALLOCATE /* a /* nested */ comment */ PREPARE -- x\n ALL /* end */ ;", true},
      {"DISCARD PLANS", false},
      {"DISCARD SEQUENCES", false},
      {"DISCARD TEMP", false},
      {"DISCARD", false},
      {"DISCARD ALLx", false},
      {"DISCARDALL", false},
      {"DEALLOCATE", false},
      {"DEALLOCATE stmt1", false},
      {"DEALLOCATE PREPARE stmt1", false},
      {"DEALLOCATE \"ALL\"", false},  // a statement named ALL
      {"DEALLOCATE PREPARE \"all\"", false},
      {"DEALLOCATE ALL_STMTS", false},
      {"DEALLOCATE PREPARE PREPARE ALL", false},
      {"SELECT 'DISCARD ALL'", false},
      {"SELECT 1; DISCARD ALL", false},
      {"DISCARD ALL; SELECT 1", false},
      {"DISCARD ALL SELECT", false},
      {"/* DISCARD ALL */", false},
      {"-- DISCARD ALL", false},
      {"/* unterminated DISCARD ALL", false},
      {"DISCARD ALL /* unterminated", false},
      {"/* /* */ DISCARD ALL", false},  // still inside the outer comment
      {"", false},
      {"   ", false},
      {";", false},
      {"DISCARD ALL.", false},
      {"EXPLAIN DISCARD ALL", false},
  };
  for (const Case& c : cases) {
    INFO("sql: " << c.sql);
    CHECK(isDeallocateAllOrDiscardAll(c.sql) == c.expect);
  }
}

TEST_CASE("isDeallocateAllOrDiscardAll: garbage never crashes", "[extended]") {
  std::mt19937 rng(7);
  const char alphabet[] = "DISCARDEALOPdiscardealop /*-\n;'\"\\$\x80";
  for (int iter = 0; iter < 20000; ++iter) {
    std::string s(rng() % 32, ' ');
    for (char& c : s) c = alphabet[rng() % (sizeof(alphabet) - 1)];
    (void)isDeallocateAllOrDiscardAll(s);
  }
  SUCCEED();
}

TEST_CASE("deallocateTarget: names as PostgreSQL resolves them", "[extended]") {
  CHECK(deallocateTarget("DEALLOCATE s1") == "s1");
  CHECK(deallocateTarget("deallocate prepare S1;") == "s1");
  CHECK(deallocateTarget("  /* c */ DeAllocate\n\"MixedCase\" ; ") == "MixedCase");
  CHECK(deallocateTarget("deallocate prepare \"a\"\"b\"") == "a\"b");
  CHECK(deallocateTarget("deallocate \"all\"") == "all");  // quoted: a name, not the keyword
  CHECK(deallocateTarget("deallocate \"prepare\"") == "prepare");
  CHECK_FALSE(deallocateTarget("deallocate all"));
  CHECK_FALSE(deallocateTarget("deallocate prepare all"));
  CHECK_FALSE(deallocateTarget("deallocate"));
  CHECK_FALSE(deallocateTarget("deallocate \"\""));
  CHECK_FALSE(deallocateTarget("deallocate \"open"));
  CHECK_FALSE(deallocateTarget("deallocate s1; select 1"));
  CHECK_FALSE(deallocateTarget("deallocate s1 s2"));
  CHECK_FALSE(deallocateTarget("select 'deallocate s1'"));
  // Garbage never crashes.
  std::mt19937 rng(11);
  const char alphabet[] = "DEALOCTPRdealoctpr \"/*-\n;'\\$\x80";
  for (int iter = 0; iter < 20000; ++iter) {
    std::string s(rng() % 32, ' ');
    for (char& c : s) c = alphabet[rng() % (sizeof(alphabet) - 1)];
    (void)deallocateTarget(s);
  }
}
