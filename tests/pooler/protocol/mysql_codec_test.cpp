// MySQL framing, sequence ids, Reader and Writer.
#include "pooler/protocol/mysql_codec.h"

#include <catch2/catch.hpp>
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

constexpr size_t kMax = kMaxPacketPayload;

// A message payload of n bytes with a recognisable pattern.
std::string patterned(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = char(uint8_t(i * 7 + i / 251));
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Physical packets

TEST_CASE("framePacket: whole, every prefix, two per buffer, split at every offset",
          "[mysql][protocol]") {
  std::string stream = packet(0, "\x03SELECT 1") + packet(1, "") + packet(2, "\x0e");
  const size_t first = 4 + 9;

  SECTION("whole packets one after another") {
    Bytes in = bytesOf(stream);
    PacketFrame f = framePacket(in);
    REQUIRE(f.status == FrameStatus::Ok);
    CHECK(f.length == 9);
    CHECK(f.sequenceId == 0);
    CHECK(f.totalSize == first);
    CHECK(str(f.payload) == "\x03SELECT 1");
    CHECK_FALSE(f.continued());
    in = in.subspan(f.totalSize);
    f = framePacket(in);
    REQUIRE(f.status == FrameStatus::Ok);
    CHECK(f.length == 0);
    CHECK(f.sequenceId == 1);
    CHECK(f.payload.empty());
    in = in.subspan(f.totalSize);
    f = framePacket(in);
    REQUIRE(f.status == FrameStatus::Ok);
    CHECK(f.sequenceId == 2);
    CHECK(f.totalSize == in.size());
  }

  SECTION("every prefix needs exactly the missing bytes") {
    for (size_t k = 0; k < first; ++k) {
      INFO("prefix " << k);
      PacketFrame f = framePacket(bytesOf(std::string_view(stream).substr(0, k)));
      REQUIRE(f.status == FrameStatus::NeedMore);
      REQUIRE(f.need == (k < 4 ? 4 - k : first - k));
      if (k >= 4) REQUIRE(f.totalSize == first);
    }
  }

  SECTION("split at every offset: frame the head, then head + tail") {
    for (size_t split = 0; split <= stream.size(); ++split) {
      std::string buffer;
      std::vector<uint8_t> seqs;
      auto drain = [&] {
        for (;;) {
          PacketFrame f = framePacket(bytesOf(buffer));
          REQUIRE(f.status != FrameStatus::Invalid);
          if (f.status == FrameStatus::NeedMore) {
            REQUIRE(f.need >= 1);
            return;
          }
          seqs.push_back(f.sequenceId);
          buffer.erase(0, f.totalSize);
        }
      };
      buffer.append(stream, 0, split);
      drain();
      buffer.append(stream, split, std::string::npos);
      drain();
      REQUIRE(buffer.empty());
      REQUIRE(seqs == std::vector<uint8_t>{0, 1, 2});
    }
  }
}

TEST_CASE("framePacket: the largest length never reads past the end", "[mysql][protocol]") {
  std::string hdr = "\xff\xff\xff\x07";
  PacketFrame f = framePacket(bytesOf(hdr + "abc"));
  REQUIRE(f.status == FrameStatus::NeedMore);
  CHECK(f.length == kMax);
  CHECK(f.continued());
  CHECK(f.need == kMax - 3);
  CHECK(f.totalSize == kMax + 4);
}

// ---------------------------------------------------------------------------------------------
// Logical messages

TEST_CASE("frameMessage: single-packet messages are views into the input", "[mysql][protocol]") {
  std::string stream = packet(0, "\x03SELECT 1") + packet(0, "\x01");
  MessageFrame m = frameMessage(bytesOf(stream));
  REQUIRE(m.status == FrameStatus::Ok);
  CHECK(m.packets == 1);
  CHECK(m.contiguous());
  CHECK(m.payloadSize == 9);
  CHECK(m.totalSize == 13);
  CHECK(m.firstSequenceId == 0);
  CHECK(m.lastSequenceId == 0);
  CHECK(m.payload.data() == reinterpret_cast<const uint8_t*>(stream.data()) + 4);
  MessageFrame n = frameMessage(bytesOf(stream).subspan(m.totalSize));
  REQUIRE(n.status == FrameStatus::Ok);
  CHECK(str(n.payload) == "\x01");

  for (size_t k = 0; k < 13; ++k) {
    MessageFrame p = frameMessage(bytesOf(std::string_view(stream).substr(0, k)));
    INFO("prefix " << k);
    REQUIRE(p.status == FrameStatus::NeedMore);
    REQUIRE(p.need == (k < 4 ? 4 - k : 13 - k));
  }

  // An empty message is one empty packet.
  MessageFrame e = frameMessage(bytesOf(packet(3, "")));
  REQUIRE(e.status == FrameStatus::Ok);
  CHECK(e.packets == 1);
  CHECK(e.payloadSize == 0);
  CHECK(e.firstSequenceId == 3);
}

TEST_CASE("frameMessage and Writer: payloads of 0xFFFFFF bytes and more", "[mysql][protocol]") {
  struct Case {
    size_t size;
    size_t packets;
  };
  // Just below, exactly at (then an empty packet ends it), above, and twice the limit.
  for (Case c : {Case{kMax - 1, 1}, Case{kMax, 2}, Case{kMax + 1, 2}, Case{2 * kMax, 3},
                 Case{2 * kMax + 5, 3}}) {
    INFO("payload " << c.size);
    std::string payload = patterned(c.size);
    Writer w;
    w.start(254);  // the ids wrap: 254, 255, 0
    w.bytes(payload);
    uint8_t next = w.finish();
    REQUIRE_FALSE(w.failed());
    CHECK(next == uint8_t(254 + c.packets));
    std::string wire = w.take();
    REQUIRE(wire.size() == c.size + 4 * c.packets);

    // Each physical packet: full ones of 0xFFFFFF bytes, the last shorter (maybe empty).
    Bytes in = bytesOf(wire);
    for (size_t k = 0; k < c.packets; ++k) {
      PacketFrame p = framePacket(in);
      REQUIRE(p.status == FrameStatus::Ok);
      CHECK(p.sequenceId == uint8_t(254 + k));
      CHECK(p.length == (k + 1 < c.packets ? kMax : c.size - k * kMax));
      CHECK(p.continued() == (k + 1 < c.packets));
      in = in.subspan(p.totalSize);
    }
    CHECK(in.empty());

    // Two messages in one buffer: the first frames whole, then the second.
    std::string both = wire + packet(uint8_t(next), "\x0e");
    MessageFrame m = frameMessage(bytesOf(both));
    REQUIRE(m.status == FrameStatus::Ok);
    CHECK(m.packets == c.packets);
    CHECK(m.contiguous() == (c.packets == 1));
    CHECK(m.payloadSize == c.size);
    CHECK(m.totalSize == wire.size());
    CHECK(m.firstSequenceId == 254);
    CHECK(m.lastSequenceId == uint8_t(254 + c.packets - 1));
    if (c.packets > 1) CHECK(m.payload.empty());
    MessageFrame second = frameMessage(bytesOf(both).subspan(m.totalSize));
    REQUIRE(second.status == FrameStatus::Ok);
    CHECK(str(second.payload) == "\x0e");

    std::string joined = "x";
    REQUIRE(appendPayload(bytesOf(wire), joined));
    CHECK(joined.size() == c.size + 1);
    CHECK(joined.compare(1, std::string::npos, payload) == 0);

    // Truncated anywhere (header bytes, packet boundaries, the very end): NeedMore, never Ok.
    std::vector<size_t> cuts = {0,        1,        3,        4,        5,        kMax,
                                kMax + 3, kMax + 4, kMax + 5, kMax + 7, kMax + 8, wire.size() - 1};
    for (size_t cut : cuts) {
      if (cut >= wire.size()) continue;
      INFO("cut " << cut);
      MessageFrame t = frameMessage(bytesOf(std::string_view(wire).substr(0, cut)));
      REQUIRE(t.status == FrameStatus::NeedMore);
      REQUIRE(t.need >= 1);
      REQUIRE(t.need <= wire.size() - cut);
      std::string out;
      CHECK_FALSE(appendPayload(bytesOf(std::string_view(wire).substr(0, cut)), out));
      CHECK(out.empty());
    }
  }
}

TEST_CASE("frameMessage: a sequence gap or an oversize message is Invalid", "[mysql][protocol]") {
  std::string full(kMax, 'a');
  std::string gap = packet(0, full) + packet(2, "tail");
  CHECK(frameMessage(bytesOf(gap)).status == FrameStatus::Invalid);
  // Found as soon as the second header is there.
  CHECK(frameMessage(bytesOf(std::string_view(gap).substr(0, kMax + 8))).status ==
        FrameStatus::Invalid);
  std::string out;
  CHECK_FALSE(appendPayload(bytesOf(gap), out));

  std::string ok = packet(0, full) + packet(1, "tail");
  CHECK(frameMessage(bytesOf(ok)).status == FrameStatus::Ok);
  CHECK(frameMessage(bytesOf(ok), kMax + 3).status == FrameStatus::Invalid);
  CHECK(frameMessage(bytesOf(ok), kMax + 4).status == FrameStatus::Ok);
  // A too-long message is refused from its first header on.
  CHECK(frameMessage(bytesOf(packet(0, "0123456789")), 9).status == FrameStatus::Invalid);
  CHECK(frameMessage(bytesOf(std::string_view("\x0a\x00\x00\x00", 4)), 9).status ==
        FrameStatus::Invalid);
  CHECK(frameMessage(bytesOf(packet(0, "0123456789")), 10).status == FrameStatus::Ok);

  // appendPayload wants exactly one message.
  CHECK_FALSE(appendPayload(bytesOf(packet(0, "a") + packet(1, "b")), out));
  CHECK(appendPayload(bytesOf(packet(0, "a")), out));
  CHECK(out == "a");
}

TEST_CASE("frameMessage: the recorded streams frame packet by packet", "[mysql][protocol]") {
  for (const auto& ex : recorded::kRawDeprecateEofExchanges) {
    INFO(ex.name);
    size_t pos = 0;
    int packets = 0;
    while (pos < ex.response.size()) {
      MessageFrame m = frameMessage(ex.response.subspan(pos));
      REQUIRE(m.status == FrameStatus::Ok);
      REQUIRE(m.packets == 1);
      pos += m.totalSize;
      ++packets;
    }
    CHECK(pos == ex.response.size());
    CHECK((packets >= 1) == (std::string_view(ex.name) != "STMT_CLOSE"));  // no response to it
  }
}

TEST_CASE("frameMessage: random garbage never reads past the end", "[mysql][protocol]") {
  std::mt19937 rng(20240611);
  for (int round = 0; round < 3000; ++round) {
    std::string junk = randomBytes(rng, rng() % 64);
    // Keep lengths small sometimes so whole packets occur.
    if (junk.size() >= 4 && (round & 1)) junk[1] = junk[2] = 0;
    Bytes in = bytesOf(junk);
    size_t consumed = 0;
    for (int guard = 0; guard < 100; ++guard) {
      MessageFrame m = frameMessage(in.subspan(consumed));
      if (m.status != FrameStatus::Ok) {
        if (m.status == FrameStatus::NeedMore) REQUIRE(m.need >= 1);
        break;
      }
      REQUIRE(m.totalSize >= 4);
      consumed += m.totalSize;
      REQUIRE(consumed <= in.size());
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Sequence ids

TEST_CASE("SequenceTracker", "[mysql][protocol]") {
  SequenceTracker s;
  CHECK(s.next() == 0);
  CHECK(s.take() == 0);      // the command
  CHECK(s.accept(1));        // the server's first reply
  CHECK_FALSE(s.accept(1));  // a repeated id is out of step
  CHECK(s.accept(2));
  CHECK(s.take() == 3);  // the client answers (auth switch response)
  CHECK_FALSE(s.accept(5));
  CHECK(s.next() == 4);
  s.reset(255);
  CHECK(s.accept(255));
  CHECK(s.next() == 0);  // wraps
  CHECK(s.take() == 0);
  s.reset();
  CHECK(s.next() == 0);
}

// ---------------------------------------------------------------------------------------------
// Reader

TEST_CASE("Reader: fixed-width little-endian integers", "[mysql][protocol]") {
  std::string bytes =
      "\x01"
      "\x02\x01"
      "\x03\x02\x01"
      "\x04\x03\x02\x01"
      "\x06\x05\x04\x03\x02\x01"
      "\x08\x07\x06\x05\x04\x03\x02\x81";
  Reader r(bytesOf(bytes));
  CHECK(r.u8() == 0x01);
  CHECK(r.u16() == 0x0102);
  CHECK(r.u24() == 0x010203);
  CHECK(r.u32() == 0x01020304u);
  CHECK(r.u48() == 0x010203040506ull);
  CHECK(r.u64() == 0x8102030405060708ull);
  CHECK(r.atEnd());
  CHECK(r.ok());
  CHECK(r.u8() == 0);  // overrun: zero and a sticky failure
  CHECK_FALSE(r.ok());
  CHECK_FALSE(r.atEnd());
  CHECK(r.remaining() == 0);

  for (size_t width : {2, 3, 4, 6, 8}) {
    std::string shorter(width - 1, '\x11');
    Reader t(bytesOf(shorter));
    uint64_t v = width == 2   ? t.u16()
                 : width == 3 ? t.u24()
                 : width == 4 ? t.u32()
                 : width == 6 ? t.u48()
                              : t.u64();
    CHECK(v == 0);
    CHECK_FALSE(t.ok());
    CHECK(t.u8() == 0);  // sticky: even though a byte is left
  }
}

TEST_CASE("Reader: length-encoded integers and strings", "[mysql][protocol]") {
  SECTION("every width at its boundaries, written and read back") {
    const uint64_t values[] = {0,          1,
                               250,        251,
                               252,        0xFFFF,
                               0x10000,    0xFFFFFF,
                               0x1000000,  0xFFFFFFFFull,
                               1ull << 40, std::numeric_limits<uint64_t>::max()};
    const size_t sizes[] = {1, 1, 1, 3, 3, 3, 4, 4, 9, 9, 9, 9};
    for (size_t i = 0; i < std::size(values); ++i) {
      INFO(values[i]);
      CHECK(lenencSize(values[i]) == sizes[i]);
      std::string payload = buildPayload([&](Writer& w) {
        w.start(0);
        w.lenenc(values[i]);
        w.finish();
      });
      CHECK(payload.size() == sizes[i]);
      Reader r(bytesOf(payload));
      CHECK(r.lenenc() == values[i]);
      CHECK(r.atEnd());
      // Every truncation fails.
      for (size_t cut = 0; cut < payload.size(); ++cut) {
        Reader t(bytesOf(std::string_view(payload).substr(0, cut)));
        CHECK(t.lenenc() == 0);
        CHECK_FALSE(t.ok());
      }
    }
  }

  SECTION("the exact encodings") {
    const std::string encoded(
        "\xfa\xfc\xfb\x00\xfd\x01\x02\x03\xfe\x01\x00\x00\x00\x00\x00\x00\x00", 17);
    Reader r(bytesOf(encoded));
    CHECK(r.lenenc() == 250);
    CHECK(r.lenenc() == 0xFB);
    CHECK(r.lenenc() == 0x030201);
    CHECK(r.lenenc() == 1);  // non-minimal encodings are accepted
    CHECK(r.atEnd());
  }

  SECTION("0xFB is NULL, 0xFF is invalid") {
    Reader n(bytesOf("\xfb"));
    CHECK_FALSE(n.lenencNullable().has_value());
    CHECK(n.ok());
    Reader n2(bytesOf("\xfb"));
    CHECK(n2.lenenc() == 0);
    CHECK_FALSE(n2.ok());
    Reader n3(bytesOf("\xfb"));
    CHECK_FALSE(n3.lenencStringNullable().has_value());
    CHECK(n3.atEnd());
    Reader n4(bytesOf("\xfb"));
    CHECK(n4.lenencString().empty());
    CHECK_FALSE(n4.ok());
    Reader f(bytesOf("\xff"));
    CHECK(f.lenencNullable() == 0u);
    CHECK_FALSE(f.ok());
  }

  SECTION("strings") {
    std::string big(300, 'q');
    std::string payload = buildPayload([&](Writer& w) {
      w.start(0);
      w.lenencString("abc");
      w.lenencString("");
      w.lenencString(big);
      w.lenencNull();
      w.cstring("nul-terminated");
      w.bytes("rest of it");
      w.finish();
    });
    Reader r(bytesOf(payload));
    CHECK(r.lenencString() == "abc");
    CHECK(r.lenencString().empty());
    CHECK(r.ok());
    CHECK(r.lenencString() == big);
    CHECK_FALSE(r.lenencStringNullable().has_value());
    CHECK(r.cstring() == "nul-terminated");
    CHECK(r.peek() == 'r');
    CHECK(r.restString() == "rest of it");
    CHECK(r.atEnd());
    CHECK(r.peek() == 0);
    CHECK(r.ok());

    // A length longer than what is left fails without reading past the end.
    Reader t(
        bytesOf("\x05"
                "abcd"));
    CHECK(t.lenencString().empty());
    CHECK_FALSE(t.ok());
    const std::string huge(
        "\xfe\xff\xff\xff\xff\xff\xff\xff\xff"
        "a",
        10);
    Reader u(bytesOf(huge));
    CHECK(u.lenencString().empty());
    CHECK_FALSE(u.ok());
    Reader c(bytesOf("no terminator"));
    CHECK(c.cstring().empty());
    CHECK_FALSE(c.ok());
    Reader e(bytesOf(""));
    CHECK(e.cstring().empty());
    CHECK_FALSE(e.ok());
    Reader b(bytesOf("abc"));
    CHECK(b.bytes(4).empty());
    CHECK_FALSE(b.ok());
    CHECK(b.rest().empty());
  }
}

TEST_CASE("Reader: random garbage through every reader never overruns", "[mysql][protocol]") {
  std::mt19937 rng(7);
  for (int round = 0; round < 5000; ++round) {
    std::string junk = randomBytes(rng, rng() % 24);
    Reader r(bytesOf(junk));
    for (int step = 0; step < 12 && r.ok(); ++step) {
      switch (rng() % 8) {
        case 0:
          r.u8();
          break;
        case 1:
          r.u24();
          break;
        case 2:
          r.u64();
          break;
        case 3:
          r.lenenc();
          break;
        case 4: {
          std::string_view s = r.lenencString();
          REQUIRE(s.size() <= junk.size());
          break;
        }
        case 5:
          r.lenencStringNullable();
          break;
        case 6:
          r.cstring();
          break;
        default:
          r.bytes(rng() % 5);
          break;
      }
      REQUIRE(r.position() <= junk.size());
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Writer

TEST_CASE("Writer: headers, sequence ids and misuse", "[mysql][protocol]") {
  SECTION("fixed widths and the header") {
    Writer w;
    w.start(7);
    w.u8(0x01);
    w.u16(0x0203);
    w.u24(0x040506);
    w.u32(0x0708090A);
    w.u48(0x0B0C0D0E0F10ull);
    w.u64(0x1112131415161718ull);
    CHECK(w.payloadSize() == 24);
    CHECK(w.finish() == 8);
    REQUIRE_FALSE(w.failed());
    std::string expect = std::string("\x18\x00\x00\x07", 4) +
                         "\x01\x03\x02\x06\x05\x04\x0a\x09\x08\x07\x10\x0f\x0e\x0d\x0c\x0b"
                         "\x18\x17\x16\x15\x14\x13\x12\x11";
    CHECK(w.data() == expect);
  }

  SECTION("several messages in one buffer") {
    Writer w;
    w.start(0);
    w.u8(0x0e);
    w.finish();
    CHECK(w.packet(3, bytesOf("abc")) == 4);
    REQUIRE_FALSE(w.failed());
    CHECK(w.data() == packet(0, "\x0e") + packet(3, "abc"));
    std::string taken = w.take();
    CHECK(w.data().empty());
    CHECK(taken.size() == 5 + 7);
  }

  SECTION("misuse sets a sticky failure") {
    Writer outside;
    outside.u8(1);
    CHECK(outside.failed());

    Writer nested;
    nested.start(0);
    nested.start(1);
    CHECK(nested.failed());

    Writer finishTwice;
    finishTwice.start(0);
    finishTwice.finish();
    CHECK_FALSE(finishTwice.failed());
    finishTwice.finish();
    CHECK(finishTwice.failed());

    Writer nul;
    nul.start(0);
    nul.cstring(std::string_view("a\0b", 3));
    CHECK(nul.failed());
    nul.finish();
    CHECK(nul.failed());  // sticky
    nul.clear();
    CHECK_FALSE(nul.failed());

    Writer wide;
    wide.start(0);
    wide.u24(0x1000000);
    CHECK(wide.failed());
    Writer wide48;
    wide48.start(0);
    wide48.u48(1ull << 48);
    CHECK(wide48.failed());
  }

  SECTION("a payload limit is enforced before anything is appended") {
    Writer w(10);
    w.start(0);
    w.bytes("0123456789");
    CHECK_FALSE(w.failed());
    size_t size = w.data().size();
    w.u8(1);
    CHECK(w.failed());
    CHECK(w.data().size() == size);
    Writer s(10);
    s.start(0);
    s.lenencString("123456789");  // 1 + 9 fits
    CHECK_FALSE(s.failed());
    Writer t(10);
    t.start(0);
    t.lenencString("1234567890");  // 1 + 10 does not
    CHECK(t.failed());
  }
}
