#include "pooler/protocol/pg_codec.h"

#include <sys/mman.h>

#include <catch2/catch.hpp>
#include <deque>
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

std::string be32(uint32_t v) {
  std::string s(4, '\0');
  s[0] = char(v >> 24);
  s[1] = char(v >> 16);
  s[2] = char(v >> 8);
  s[3] = char(v);
  return s;
}

// A raw message with an arbitrary (possibly lying) length field.
std::string rawMessage(char type, uint32_t length, std::string_view body) {
  return std::string(1, type) + be32(length) + std::string(body);
}

// Builds one message with `build`, checks the Writer is healthy, frames it, and returns the body.
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
  REQUIRE(f.length == bytes.size() - 1);
  return std::string(asText(f.body));
}

template <class Build>
std::string buildAndFrameStartup(Build build) {
  Writer w;
  build(w);
  REQUIRE_FALSE(w.failed());
  std::string bytes = w.take();
  Frame f = frameStartup(asBytes(bytes));
  REQUIRE(f.status == FrameStatus::Ok);
  REQUIRE(f.type == 0);
  REQUIRE(f.totalSize == bytes.size());
  REQUIRE(f.length == bytes.size());
  return std::string(asText(f.body));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Framing

TEST_CASE("frameMessage: whole, every split offset, two per buffer", "[protocol]") {
  Writer w;
  putQuery(w, "SELECT 1");
  putReadyForQuery(w, 'I');
  putTerminate(w);  // empty body
  REQUIRE_FALSE(w.failed());
  std::string stream = w.take();
  const size_t q = 1 + 4 + 9, z = 1 + 4 + 1, x = 1 + 4;
  REQUIRE(stream.size() == q + z + x);

  SECTION("whole message, then the next ones from the same buffer") {
    Bytes in = asBytes(stream);
    Frame f = frameMessage(in);
    REQUIRE(f.status == FrameStatus::Ok);
    CHECK(f.type == 'Q');
    CHECK(f.length == 13);
    CHECK(f.totalSize == q);
    CHECK(asText(f.body) == std::string_view("SELECT 1\0", 9));
    in = in.subspan(f.totalSize);
    f = frameMessage(in);
    REQUIRE(f.status == FrameStatus::Ok);
    CHECK(f.type == 'Z');
    CHECK(asText(f.body) == "I");
    in = in.subspan(f.totalSize);
    f = frameMessage(in);
    REQUIRE(f.status == FrameStatus::Ok);
    CHECK(f.type == 'X');
    CHECK(f.length == 4);
    CHECK(f.body.empty());
    CHECK(f.totalSize == in.size());
  }

  SECTION("every prefix of the first message needs exactly the missing bytes") {
    for (size_t k = 0; k < q; ++k) {
      Frame f = frameMessage(asBytes(std::string_view(stream).substr(0, k)));
      INFO("prefix " << k);
      REQUIRE(f.status == FrameStatus::NeedMore);
      REQUIRE(f.need == (k < 5 ? 5 - k : q - k));
      REQUIRE(f.need >= 1);
    }
  }

  SECTION("split at every offset: framing the head then the tail recovers all messages") {
    for (size_t split = 0; split <= stream.size(); ++split) {
      std::string buffer;
      std::vector<char> types;
      auto drain = [&] {
        for (;;) {
          Frame f = frameMessage(asBytes(buffer));
          REQUIRE(f.status != FrameStatus::Invalid);
          if (f.status == FrameStatus::NeedMore) {
            REQUIRE(f.need >= 1);
            return;
          }
          types.push_back(f.type);
          buffer.erase(0, f.totalSize);
        }
      };
      buffer.append(stream, 0, split);
      drain();
      buffer.append(stream, split, std::string::npos);
      drain();
      REQUIRE(buffer.empty());
      REQUIRE(types == std::vector<char>{'Q', 'Z', 'X'});
    }
  }
}

TEST_CASE("frameMessage: bad length fields are Invalid", "[protocol]") {
  for (uint32_t len : {0u, 1u, 3u, kMaxMessageLength + 1, 0xffffffffu}) {
    Frame f = frameMessage(asBytes(rawMessage('Q', len, "")));
    CHECK(f.status == FrameStatus::Invalid);
  }
  Frame f = frameMessage(asBytes(rawMessage('D', kMaxMessageLength, "abc")));
  CHECK(f.status == FrameStatus::NeedMore);
  CHECK(f.need == size_t(kMaxMessageLength) + 1 - 8);
}

TEST_CASE("frameStartup: whole, every split offset, two per buffer, bad lengths", "[protocol]") {
  Writer w;
  putStartup(w, {{"user", "alice"}, {"database", "db"}});
  putSslRequest(w);
  REQUIRE_FALSE(w.failed());
  std::string stream = w.take();
  std::string_view sv(stream);
  const size_t first = stream.size() - 8;

  Frame f = frameStartup(asBytes(sv));
  REQUIRE(f.status == FrameStatus::Ok);
  CHECK(f.type == 0);
  CHECK(f.totalSize == first);
  CHECK(f.body.size() == first - 4);
  Frame g = frameStartup(asBytes(sv.substr(first)));
  REQUIRE(g.status == FrameStatus::Ok);
  CHECK(g.totalSize == 8);

  for (size_t k = 0; k < first; ++k) {
    Frame p = frameStartup(asBytes(sv.substr(0, k)));
    INFO("prefix " << k);
    REQUIRE(p.status == FrameStatus::NeedMore);
    REQUIRE(p.need == (k < 4 ? 4 - k : first - k));
  }

  for (uint32_t len : {0u, 4u, 7u, kMaxStartupLength + 1, 0x80000000u}) {
    Frame bad = frameStartup(asBytes(be32(len) + std::string(16, 'x')));
    CHECK(bad.status == FrameStatus::Invalid);
  }
  Frame maxLen = frameStartup(asBytes(be32(kMaxStartupLength)));
  CHECK(maxLen.status == FrameStatus::NeedMore);
  CHECK(maxLen.need == kMaxStartupLength - 4);
}

// ---------------------------------------------------------------------------------------------
// Startup packets

TEST_CASE("decodeStartup: request codes", "[protocol]") {
  SECTION("SSLRequest") {
    Writer w;
    putSslRequest(w);
    REQUIRE(w.data().size() == 8);
    std::string body = buildAndFrameStartup([](Writer& w) { putSslRequest(w); });
    auto r = decodeStartup(asBytes(body));
    REQUIRE(r.packet);
    CHECK(r.packet->kind == StartupKind::SslRequest);
    CHECK(r.error.empty());
    auto longer = decodeStartup(asBytes(body + "x"));
    CHECK_FALSE(longer.packet);
    CHECK_FALSE(longer.error.empty());
  }
  SECTION("GSSENCRequest") {
    std::string body = buildAndFrameStartup([](Writer& w) {
      w.start(0);
      w.i32(int32_t(kGssEncRequestCode));
      w.finish();
    });
    auto r = decodeStartup(asBytes(body));
    REQUIRE(r.packet);
    CHECK(r.packet->kind == StartupKind::GssEncRequest);
    CHECK_FALSE(decodeStartup(asBytes(body + "xxxx")).packet);
  }
  SECTION("CancelRequest") {
    Writer w;
    putCancelRequest(w, 0xdeadbeef, 0x01020304);
    REQUIRE(w.data().size() == 16);
    std::string body =
        buildAndFrameStartup([](Writer& w) { putCancelRequest(w, 0xdeadbeef, 0x01020304); });
    auto r = decodeStartup(asBytes(body));
    REQUIRE(r.packet);
    CHECK(r.packet->kind == StartupKind::CancelRequest);
    CHECK(r.packet->cancelPid == 0xdeadbeef);
    CHECK(r.packet->cancelKey == 0x01020304);
    CHECK_FALSE(decodeStartup(asBytes(body.substr(0, 8))).packet);
    CHECK_FALSE(decodeStartup(asBytes(body + "x")).packet);
  }
}

TEST_CASE("decodeStartup: protocol 3 parameters", "[protocol]") {
  SECTION("round trip with parameters in order") {
    std::vector<std::pair<std::string, std::string>> params = {
        {"user", "alice"}, {"database", "shop"}, {"application_name", ""}, {"options", "-c x=1"}};
    std::string body = buildAndFrameStartup([&](Writer& w) { putStartup(w, params); });
    auto r = decodeStartup(asBytes(body));
    REQUIRE(r.packet);
    CHECK(r.packet->kind == StartupKind::Startup);
    CHECK(r.packet->protocol == kProtocolV3);
    CHECK(r.packet->params == params);
    CHECK(r.packet->param("user") == "alice");
    CHECK(r.packet->param("database") == "shop");
    CHECK(r.packet->param("missing").empty());
  }
  SECTION("minor version above 0 is accepted and recorded") {
    std::string body = be32((3u << 16) | 2u) + std::string("user\0bob\0\0", 10);
    auto r = decodeStartup(asBytes(body));
    REQUIRE(r.packet);
    CHECK(r.packet->protocol == ((3u << 16) | 2u));
    CHECK(r.packet->param("user") == "bob");
  }
  SECTION("missing or empty user") {
    auto noUser = decodeStartup(asBytes(be32(kProtocolV3) + std::string("database\0d\0\0", 12)));
    CHECK_FALSE(noUser.packet);
    CHECK(noUser.error == "startup packet has no user");
    auto emptyUser = decodeStartup(asBytes(be32(kProtocolV3) + std::string("user\0\0\0", 7)));
    CHECK_FALSE(emptyUser.packet);
    CHECK(emptyUser.error == "startup packet has no user");
  }
  SECTION("protocol 2 and unknown codes") {
    auto v2 = decodeStartup(asBytes(be32(2u << 16) + std::string("user\0a\0\0", 8)));
    CHECK_FALSE(v2.packet);
    CHECK(v2.error == "unsupported frontend protocol 2.0");
    auto odd = decodeStartup(asBytes(be32((1234u << 16) | 5681u)));
    CHECK_FALSE(odd.packet);
    CHECK(odd.error == "unsupported frontend protocol 1234.5681");
  }
  SECTION("layout errors") {
    // No terminator at all.
    CHECK_FALSE(decodeStartup(asBytes(be32(kProtocolV3) + std::string("user\0a\0", 7))).packet);
    // Name without a value.
    CHECK_FALSE(decodeStartup(asBytes(be32(kProtocolV3) + std::string("user\0a\0x\0", 9))).packet);
    // Bytes after the terminator.
    CHECK_FALSE(decodeStartup(asBytes(be32(kProtocolV3) + std::string("user\0a\0\0z", 9))).packet);
    // Too short for the code.
    auto tiny = decodeStartup(asBytes(std::string("\0\3", 2)));
    CHECK_FALSE(tiny.packet);
    CHECK_FALSE(tiny.error.empty());
  }
}

// ---------------------------------------------------------------------------------------------
// Reader / Writer

TEST_CASE("Reader: sticky failure on overrun", "[protocol]") {
  std::string data("\x01\x02\x03\x04\x05\x06\x07hi\0rest", 14);
  Reader r(asBytes(data));
  CHECK(r.u8() == 1);
  CHECK(r.i16() == 0x0203);
  CHECK(r.i32() == 0x04050607);
  CHECK(r.cstring() == "hi");
  CHECK(r.remaining() == 4);
  CHECK(r.bytes(5).empty());
  CHECK_FALSE(r.ok());
  CHECK(r.remaining() == 0);
  CHECK(r.u8() == 0);
  CHECK(r.rest().empty());

  std::string negData("\xff\xfe\xff\xff\xff\xfd", 6);
  Reader neg(asBytes(negData));
  CHECK(neg.i16() == -2);
  CHECK(neg.i32() == -3);
  CHECK(neg.ok());

  Reader noNul(asBytes("abc"));
  CHECK(noNul.cstring().empty());
  CHECK_FALSE(noNul.ok());
}

TEST_CASE("Writer: misuse sets the sticky failure flag", "[protocol]") {
  SECTION("put without start") {
    Writer w;
    w.i32(1);
    CHECK(w.failed());
  }
  SECTION("start while open") {
    Writer w;
    w.start('Q');
    w.start('Q');
    CHECK(w.failed());
  }
  SECTION("finish without start") {
    Writer w;
    w.finish();
    CHECK(w.failed());
  }
  SECTION("embedded NUL in a cstring") {
    Writer w;
    w.start('Q');
    w.cstring(std::string_view("a\0b", 3));
    CHECK(w.failed());
  }
  SECTION("message larger than kMaxMessageLength") {
    // Reserved but untouched address space: the Writer refuses before copying a byte.
    size_t size = size_t(kMaxMessageLength) + 4096;
    void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    REQUIRE(p != MAP_FAILED);
    Writer w;
    w.start('d');
    w.bytes(Bytes(static_cast<const uint8_t*>(p), kMaxMessageLength - 3));  // one byte too many
    CHECK(w.failed());
    munmap(p, size);
    CHECK(w.data().size() == 5);  // nothing was appended
  }
  SECTION("failure is sticky until take/clear") {
    Writer w;
    w.finish();
    putQuery(w, "x");
    CHECK(w.failed());
    std::string taken = w.take();
    CHECK_FALSE(w.failed());
    CHECK(w.data().empty());
    putQuery(w, "x");
    CHECK_FALSE(w.failed());
  }
  SECTION("take returns the buffer and clears it") {
    Writer w;
    putTerminate(w);
    std::string out = w.take();
    CHECK(out == std::string("X\0\0\0\4", 5));
    CHECK(w.data().empty());
  }
  SECTION("start(0) writes only a length placeholder") {
    Writer w;
    w.start(0);
    w.i32(7);
    w.finish();
    CHECK(w.data() == std::string("\0\0\0\x08\0\0\0\x07", 8));
  }
}

// ---------------------------------------------------------------------------------------------
// Builders round-trip through framing and their decoders

TEST_CASE("ErrorResponse and NoticeResponse round trip", "[protocol]") {
  SECTION("with detail and hint") {
    std::string body = buildAndFrame(
        [](Writer& w) { putErrorResponse(w, "FATAL", "28P01", "bad password", "d", "h"); }, 'E');
    CHECK(body == std::string("SFATAL\0VFATAL\0C28P01\0Mbad password\0Dd\0Hh\0\0", 42));
    auto e = decodeErrorResponse(asBytes(body));
    REQUIRE(e);
    CHECK(e->severity == "FATAL");
    CHECK(e->sqlstate == "28P01");
    CHECK(e->message == "bad password");
    CHECK(e->detail == "d");
    CHECK(e->hint == "h");
  }
  SECTION("without detail and hint: no D or H fields") {
    std::string body = buildAndFrame(
        [](Writer& w) { putErrorResponse(w, "ERROR", "42601", "syntax error"); }, 'E');
    CHECK(body.find('D') == std::string::npos);
    CHECK(body.find('H') == std::string::npos);
    auto e = decodeErrorResponse(asBytes(body));
    REQUIRE(e);
    CHECK(e->detail.empty());
    CHECK(e->hint.empty());
  }
  SECTION("notice") {
    std::string body =
        buildAndFrame([](Writer& w) { putNoticeResponse(w, "00000", "hello"); }, 'N');
    auto e = decodeErrorResponse(asBytes(body));
    REQUIRE(e);
    CHECK(e->severity == "NOTICE");
    CHECK(e->sqlstate == "00000");
    CHECK(e->message == "hello");
  }
  SECTION("unknown codes ignored, V preferred over localized S, malformed rejected") {
    std::string body("SFEHLER\0P12\0VERROR\0C22012\0Mdiv\0Wctx\0\0", 37);
    auto e = decodeErrorResponse(asBytes(body));
    REQUIRE(e);
    CHECK(e->severity == "ERROR");
    CHECK(e->sqlstate == "22012");
    CHECK(e->message == "div");
    CHECK_FALSE(decodeErrorResponse(asBytes(body.substr(0, body.size() - 1))));  // no terminator
    CHECK_FALSE(decodeErrorResponse(asBytes(std::string("Mabc", 4))));           // no NUL
    CHECK_FALSE(decodeErrorResponse(asBytes("")));
    CHECK_FALSE(decodeErrorResponse(asBytes(body + "x")));      // trailing bytes
    CHECK(decodeErrorResponse(asBytes(std::string(1, '\0'))));  // no fields at all is well formed
  }
}

TEST_CASE("Authentication requests round trip", "[protocol]") {
  std::deque<std::string> keep;  // AuthRequest::data points into the body: keep it alive
  auto auth = [&](std::string body) {
    keep.push_back(std::move(body));
    auto a = decodeAuthentication(asBytes(keep.back()));
    REQUIRE(a);
    return *a;
  };
  SECTION("ok and cleartext") {
    auto ok = auth(buildAndFrame([](Writer& w) { putAuthOk(w); }, 'R'));
    CHECK(ok.code == AuthCode::Ok);
    CHECK(ok.data.empty());
    auto clear = auth(buildAndFrame([](Writer& w) { putAuthCleartext(w); }, 'R'));
    CHECK(clear.code == AuthCode::CleartextPassword);
  }
  SECTION("md5 with salt") {
    const uint8_t salt[4] = {0xde, 0xad, 0x00, 0x01};
    std::string body = buildAndFrame([&](Writer& w) { putAuthMd5(w, salt); }, 'R');
    CHECK(body.size() == 8);
    auto a = auth(body);
    CHECK(a.code == AuthCode::Md5Password);
    REQUIRE(a.data.size() == 4);
    CHECK(std::equal(a.data.begin(), a.data.end(), salt));
    CHECK_FALSE(decodeAuthentication(asBytes(body.substr(0, 7))));
  }
  SECTION("SASL mechanisms") {
    std::string body = buildAndFrame(
        [](Writer& w) {
          putAuthSasl(w, {"SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"});
        },
        'R');
    auto a = auth(body);
    CHECK(a.code == AuthCode::Sasl);
    auto mechs = decodeSaslMechanisms(a.data);
    REQUIRE(mechs.size() == 2);
    CHECK(mechs[0] == "SCRAM-SHA-256");
    CHECK(mechs[1] == "SCRAM-SHA-256-PLUS");
    CHECK(decodeSaslMechanisms(asBytes("SCRAM")).empty());  // no terminator
    CHECK(decodeSaslMechanisms(asBytes("")).empty());
  }
  SECTION("SASL continue and final carry raw data") {
    auto c = auth(buildAndFrame([](Writer& w) { putAuthSaslContinue(w, "r=abc,s=xyz,i=1"); }, 'R'));
    CHECK(c.code == AuthCode::SaslContinue);
    CHECK(asText(c.data) == "r=abc,s=xyz,i=1");
    auto f = auth(buildAndFrame([](Writer& w) { putAuthSaslFinal(w, "v=sig"); }, 'R'));
    CHECK(f.code == AuthCode::SaslFinal);
    CHECK(asText(f.data) == "v=sig");
  }
  SECTION("malformed") {
    CHECK_FALSE(decodeAuthentication(asBytes(std::string("\0\0\0", 3))));
    CHECK_FALSE(decodeAuthentication(asBytes(be32(0) + "x")));
    auto gss = decodeAuthentication(asBytes(be32(7)));
    REQUIRE(gss);
    CHECK(int32_t(gss->code) == 7);  // unsupported codes are reported, not hidden
  }
}

TEST_CASE("Session messages round trip", "[protocol]") {
  SECTION("ParameterStatus") {
    std::string body =
        buildAndFrame([](Writer& w) { putParameterStatus(w, "server_version", "15.4"); }, 'S');
    auto p = decodeParameterStatus(asBytes(body));
    REQUIRE(p);
    CHECK(p->name == "server_version");
    CHECK(p->value == "15.4");
    CHECK_FALSE(decodeParameterStatus(asBytes(body.substr(0, body.size() - 1))));
    CHECK_FALSE(decodeParameterStatus(asBytes(body + "x")));
  }
  SECTION("BackendKeyData") {
    std::string body =
        buildAndFrame([](Writer& w) { putBackendKeyData(w, 0x80000001u, 0xfffffffeu); }, 'K');
    auto k = decodeBackendKeyData(asBytes(body));
    REQUIRE(k);
    CHECK(k->pid == 0x80000001u);
    CHECK(k->key == 0xfffffffeu);
    CHECK_FALSE(decodeBackendKeyData(asBytes(body.substr(0, 7))));
    CHECK_FALSE(decodeBackendKeyData(asBytes(body + "x")));
  }
  SECTION("ReadyForQuery") {
    for (char s : {'I', 'T', 'E'}) {
      std::string body = buildAndFrame([&](Writer& w) { putReadyForQuery(w, s); }, 'Z');
      CHECK(decodeReadyForQuery(asBytes(body)) == s);
    }
    CHECK_FALSE(decodeReadyForQuery(asBytes("X")));
    CHECK_FALSE(decodeReadyForQuery(asBytes("II")));
    CHECK_FALSE(decodeReadyForQuery(asBytes("")));
  }
  SECTION("Query and Terminate") {
    std::string body = buildAndFrame([](Writer& w) { putQuery(w, "SELECT 1"); }, 'Q');
    Reader r(asBytes(body));
    CHECK(r.cstring() == "SELECT 1");
    CHECK(r.ok());
    CHECK(r.remaining() == 0);
    CHECK(buildAndFrame([](Writer& w) { putTerminate(w); }, 'X').empty());
  }
}

TEST_CASE("Password messages round trip", "[protocol]") {
  SECTION("PasswordMessage") {
    std::string body = buildAndFrame([](Writer& w) { putPasswordMessage(w, "s3cret"); }, 'p');
    CHECK(decodePasswordMessage(asBytes(body)) == std::string_view("s3cret"));
    CHECK_FALSE(decodePasswordMessage(asBytes("abc")));
    CHECK_FALSE(decodePasswordMessage(asBytes(body + "x")));
  }
  SECTION("SASLInitialResponse") {
    std::string body = buildAndFrame(
        [](Writer& w) { putSaslInitialResponse(w, "SCRAM-SHA-256", "n,,n=,r=abc"); }, 'p');
    auto s = decodeSaslInitialResponse(asBytes(body));
    REQUIRE(s);
    CHECK(s->mechanism == "SCRAM-SHA-256");
    CHECK(s->data == "n,,n=,r=abc");

    std::string empty =
        buildAndFrame([](Writer& w) { putSaslInitialResponse(w, "SCRAM-SHA-256", ""); }, 'p');
    auto e = decodeSaslInitialResponse(asBytes(empty));
    REQUIRE(e);
    CHECK(e->data.empty());

    std::string mech("SCRAM-SHA-256\0", 14);
    auto none = decodeSaslInitialResponse(asBytes(mech + be32(0xffffffffu)));
    REQUIRE(none);
    CHECK(none->data.empty());
    CHECK_FALSE(decodeSaslInitialResponse(asBytes(mech + be32(0xffffffffu) + "x")));
    CHECK_FALSE(decodeSaslInitialResponse(asBytes(mech + be32(0xfffffffeu))));
    CHECK_FALSE(decodeSaslInitialResponse(asBytes(mech + be32(5) + "abcd")));
    CHECK_FALSE(decodeSaslInitialResponse(asBytes(mech + be32(3) + "abcd")));
    CHECK_FALSE(decodeSaslInitialResponse(asBytes(mech + "\0\0")));
  }
  SECTION("SASLResponse carries raw data") {
    std::string body = buildAndFrame([](Writer& w) { putSaslResponse(w, "c=biws,r=x,p=y"); }, 'p');
    CHECK(body == "c=biws,r=x,p=y");
  }
}

// ---------------------------------------------------------------------------------------------
// Random garbage must never crash and results must stay consistent.

TEST_CASE("Fuzz: random bytes through framing and every decoder", "[protocol]") {
  std::mt19937 rng(20240607);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> buf;
  int startupOk = 0, messageOk = 0, startupDecoded = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    size_t n = size_t(rng() % 64);
    buf.resize(n);
    for (auto& b : buf) b = uint8_t(byte(rng));
    auto putLen = [&](size_t at, uint32_t v) {
      buf[at] = uint8_t(v >> 24), buf[at + 1] = uint8_t(v >> 16), buf[at + 2] = uint8_t(v >> 8),
      buf[at + 3] = uint8_t(v);
    };
    // Two thirds of the time plant a plausible length so the decoders see well-framed garbage.
    if (iter % 3 == 0 && n >= 8) {
      putLen(0, uint32_t(8 + rng() % (n - 7)));  // startup length ...
      if (iter % 2 == 0) putLen(4, rng() % 4 == 0 ? kCancelRequestCode : kProtocolV3);  // ... code
    } else if (iter % 3 == 1 && n >= 5) {
      putLen(1, uint32_t(4 + rng() % (n - 4)));  // message length
    }
    Bytes data(buf.data(), buf.size());

    Frame s = frameStartup(data);
    if (s.status == FrameStatus::Ok) {
      REQUIRE(s.totalSize <= n);
      REQUIRE(s.totalSize == s.length);
      REQUIRE(s.body.size() == s.length - 4);
      ++startupOk;
      StartupResult r = decodeStartup(s.body);
      REQUIRE(r.packet.has_value() == r.error.empty());
      if (r.packet) ++startupDecoded;
      if (r.packet && r.packet->kind == StartupKind::Startup)
        REQUIRE_FALSE(r.packet->param("user").empty());
    } else if (s.status == FrameStatus::NeedMore) {
      REQUIRE(s.need >= 1);
    }
    StartupResult raw = decodeStartup(data);
    REQUIRE(raw.packet.has_value() == raw.error.empty());

    Frame m = frameMessage(data);
    Bytes body = data;
    if (m.status == FrameStatus::Ok) {
      REQUIRE(m.totalSize <= n);
      REQUIRE(m.totalSize == size_t(m.length) + 1);
      REQUIRE(m.body.size() == m.length - 4);
      body = m.body;
      ++messageOk;
    } else if (m.status == FrameStatus::NeedMore) {
      REQUIRE(m.need >= 1);
    }
    for (Bytes b : {body, data}) {
      (void)decodeErrorResponse(b);
      if (auto p = decodeParameterStatus(b))
        REQUIRE(p->name.size() + p->value.size() + 2 == b.size());
      if (decodeBackendKeyData(b)) REQUIRE(b.size() == 8);
      if (auto z = decodeReadyForQuery(b)) REQUIRE((*z == 'I' || *z == 'T' || *z == 'E'));
      if (auto a = decodeAuthentication(b)) {
        REQUIRE(a->data.size() + 4 == b.size());
        for (auto mech : decodeSaslMechanisms(a->data)) REQUIRE_FALSE(mech.empty());
      }
      if (auto pw = decodePasswordMessage(b)) REQUIRE(pw->size() + 1 == b.size());
      if (auto sasl = decodeSaslInitialResponse(b))
        REQUIRE(sasl->mechanism.size() + 1 + 4 + sasl->data.size() == b.size());
      Reader r(b);
      size_t before = r.remaining();
      (void)r.u8(), (void)r.cstring(), (void)r.i16(), (void)r.bytes(rng() % 8), (void)r.i32();
      REQUIRE(r.remaining() <= before);
    }
  }
  // The planted lengths make sure the decoders really saw framed input.
  CHECK(startupOk > 1000);
  CHECK(messageOk > 1000);
  CHECK(startupDecoded > 0);
}
