// PacketScanner: streaming framing with pass-through, and the result tracker on top of it.
#include "pooler/protocol/mysql_scanner.h"

#include <catch2/catch.hpp>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "pooler/protocol/mysql_result_tracker.h"
#include "tests/pooler/protocol/mysql_recorded.h"
#include "tests/pooler/protocol/mysql_test_helpers.h"

using namespace shardpool::protocol::mysql;
using namespace shardpool::protocol::mysql::testing;
namespace recorded = shardpool::protocol::mysql::recorded;

namespace {

// Records what the scanner reports; the disposition of each packet comes from `choose`.
struct Recorder {
  std::function<Disposition(const PacketHead&)> choose = [](const PacketHead&) {
    return Disposition::Forward;
  };
  std::vector<PacketHead> heads;
  std::string forwarded;
  size_t forwardedFromInput = 0;
  std::vector<std::string> payloads;
  int stopAfter = -1;

  Disposition onPacket(const PacketHead& h) {
    heads.push_back(h);
    return choose(h);
  }
  void onForward(Bytes b, bool inInput) {
    forwarded += str(b);
    if (inInput) forwardedFromInput += b.size();
  }
  bool onPayload(const PacketHead&, Bytes p) {
    payloads.push_back(str(p));
    return stopAfter < 0 || int(payloads.size()) < stopAfter;
  }
};

std::string recordedStream() {
  std::string s;
  for (const auto& ex : recorded::kRawDeprecateEofExchanges) s += str(ex.response);
  return s;
}

}  // namespace

TEST_CASE("PacketScanner: forwards a recorded stream split anywhere, byte for byte",
          "[mysql][protocol]") {
  std::string stream = recordedStream();
  // The heads every split must report, from framePacket.
  std::vector<PacketHead> expected;
  bool continued = false;
  for (Bytes p = bytesOf(stream); !p.empty();) {
    PacketFrame f = framePacket(p);
    REQUIRE(f.status == FrameStatus::Ok);
    expected.push_back({f.length, f.sequenceId, f.length ? f.payload[0] : uint8_t(0), continued});
    continued = f.continued();
    p = p.subspan(f.totalSize);
  }
  auto check = [&](const Recorder& r) {
    REQUIRE(r.forwarded == stream);
    REQUIRE(r.heads.size() == expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      REQUIRE(r.heads[i].length == expected[i].length);
      REQUIRE(r.heads[i].sequenceId == expected[i].sequenceId);
      REQUIRE(r.heads[i].firstByte == expected[i].firstByte);
      REQUIRE(r.heads[i].continuation == expected[i].continuation);
    }
  };
  for (size_t split = 0; split <= stream.size(); ++split) {
    INFO("split " << split);
    PacketScanner s;
    Recorder r;
    ScanResult a = s.feed(bytesOf(std::string_view(stream).substr(0, split)), r);
    REQUIRE(a.status == ScanStatus::Ok);
    REQUIRE(a.consumed == split);
    ScanResult b = s.feed(bytesOf(std::string_view(stream).substr(split)), r);
    REQUIRE(b.status == ScanStatus::Ok);
    REQUIRE(s.atBoundary());
    check(r);
  }
  SECTION("one byte at a time") {
    PacketScanner s;
    Recorder r;
    for (char c : stream) REQUIRE(s.feed(bytesOf(std::string_view(&c, 1)), r).consumed == 1);
    check(r);
  }
}

TEST_CASE("PacketScanner: inspect, collect, swallow, stop", "[mysql][protocol]") {
  std::string stream = packet(1, "\x01") + packet(2, "row-1") + packet(3, "") +
                       packet(4, std::string("\xfe\x00\x00\x02\x00", 5)) + packet(5, "after");
  Recorder r;
  r.choose = [](const PacketHead& h) {
    if (h.firstByte == 0xFE) return Disposition::Inspect;
    if (h.length == 0) return Disposition::Swallow;
    if (h.firstByte == 'r') return Disposition::Collect;
    return Disposition::Forward;
  };
  r.stopAfter = 2;
  PacketScanner s;
  for (size_t step : {1, 3, 7}) {
    INFO("chunks of " << step);
    r = Recorder{r.choose, {}, {}, 0, {}, 2};
    s.reset();
    size_t pos = 0;
    ScanResult last;
    while (pos < stream.size()) {
      last = s.feed(bytesOf(std::string_view(stream).substr(pos, step)), r);
      pos += last.consumed;
      if (last.status == ScanStatus::Stopped) break;
      REQUIRE(last.status == ScanStatus::Ok);
    }
    REQUIRE(last.status == ScanStatus::Stopped);
    // Stopped right after the EOF: the last packet is left in the input.
    CHECK(pos == stream.size() - packet(5, "after").size());
    CHECK(r.payloads == std::vector<std::string>{"row-1", std::string("\xfe\x00\x00\x02\x00", 5)});
    CHECK(r.forwarded == packet(1, "\x01") + packet(4, std::string("\xfe\x00\x00\x02\x00", 5)));
  }
  SECTION("a payload over the collect limit is Invalid") {
    PacketScanner small(4);
    Recorder c;
    c.choose = [](const PacketHead&) { return Disposition::Collect; };
    CHECK(small.feed(bytesOf(packet(0, "12345")), c).status == ScanStatus::Invalid);
  }
}

TEST_CASE("PacketScanner: a 16 MiB row passes through without being buffered",
          "[mysql][protocol]") {
  std::string big(kMaxPacketPayload, 'x');
  big[0] = char(0xFE);  // a row starting with a 0xFE-prefixed value
  std::string stream = packet(7, big) + packet(8, std::string("\xfe", 1) + "tail") + packet(9, "");
  Recorder r;
  PacketScanner s;
  for (size_t pos = 0; pos < stream.size(); pos += 1 << 20)
    REQUIRE(s.feed(bytesOf(std::string_view(stream).substr(pos, 1 << 20)), r).status ==
            ScanStatus::Ok);
  REQUIRE(r.heads.size() == 3);
  CHECK(r.heads[0].length == kMaxPacketPayload);
  CHECK(r.heads[0].firstByte == 0xFE);
  CHECK_FALSE(r.heads[0].continuation);
  CHECK(r.heads[1].continuation);
  CHECK(r.heads[1].firstByte == 0xFE);
  CHECK_FALSE(r.heads[2].continuation);  // after a short packet: a new message
  CHECK(r.forwarded.size() == stream.size());
  // Only headers split across the 1 MiB chunks come from scratch: the rest is zero-copy.
  CHECK(r.forwardedFromInput >= stream.size() - 3 * 5);
  CHECK(s.atMessageBoundary());
}

TEST_CASE("PacketScanner + ResultTracker: responses end where the recording ends",
          "[mysql][protocol]") {
  // The engine's loop: the tracker decides from the head; it asks for whole payloads only for
  // the packets it reads.
  struct Engine {
    ResultTracker tracker;
    std::vector<size_t> ends;
    size_t seen = 0;   // bytes forwarded so far (everything passes through here)
    size_t endAt = 0;  // with a response decided from a head: where its last packet ends
    bool pendingEnd = false;

    Disposition onPacket(const PacketHead& h) {
      uint8_t first = h.firstByte;
      if (h.length > 0 && tracker.wantsPayload(h.length, first)) return Disposition::Inspect;
      TrackResult r = tracker.onPacket(h.length, h.length ? Bytes(&first, 1) : Bytes());
      REQUIRE(r.status != TrackStatus::Invalid);
      REQUIRE(r.status != TrackStatus::NeedPayload);
      if (r.status == TrackStatus::Done) {
        pendingEnd = true;
        endAt = seen + kHeaderSize + h.length;
      }
      return Disposition::Forward;
    }
    void onForward(Bytes b, bool) {
      seen += b.size();
      if (pendingEnd && seen == endAt) {
        ends.push_back(seen);
        pendingEnd = false;
      }
    }
    bool onPayload(const PacketHead& h, Bytes p) {
      TrackResult r = tracker.onPacket(h.length, p);
      REQUIRE(r.status != TrackStatus::Invalid);
      REQUIRE(r.status != TrackStatus::NeedPayload);
      if (r.status == TrackStatus::Done) ends.push_back(seen);
      return true;
    }
  };

  const auto& list = recorded::kRawEofExchanges;
  std::string stream;
  std::vector<size_t> expected;
  std::vector<const recorded::Exchange*> order;
  for (const auto& ex : list) {
    if (ex.response.empty()) continue;  // STMT_CLOSE: no response
    stream += str(ex.response);
    expected.push_back(stream.size());
    order.push_back(&ex);
  }
  for (size_t chunk : {1, 2, 5, 64, 4096}) {
    INFO("chunk " << chunk);
    Engine e{ResultTracker(rawEofCaps())};
    PacketScanner s;
    size_t next = 0;
    size_t pos = 0;
    while (pos < stream.size()) {
      if (e.tracker.done()) {
        REQUIRE(next < order.size());
        REQUIRE(e.tracker.begin(firstPayload(order[next++]->command)) == TrackStatus::More);
      }
      // Do not run past the end of the current response: the next command begins first.
      size_t stop = std::min(pos + chunk, expected[next - 1]);
      ScanResult r = s.feed(bytesOf(std::string_view(stream).substr(pos, stop - pos)), e);
      REQUIRE(r.status == ScanStatus::Ok);
      pos += r.consumed;
    }
    CHECK(e.ends == expected);
  }
}

TEST_CASE("PacketScanner: random input in random chunks", "[mysql][protocol]") {
  std::mt19937 rng(31337);
  for (int round = 0; round < 500; ++round) {
    std::string junk = randomBytes(rng, rng() % 200);
    // Small lengths so that packets complete.
    for (size_t i = 0; i + 3 < junk.size(); i += 7) junk[i + 1] = junk[i + 2] = 0;
    Recorder r;
    r.choose = [&rng](const PacketHead&) { return Disposition(rng() % 4); };
    PacketScanner s(64);
    size_t pos = 0;
    while (pos < junk.size()) {
      ScanResult res = s.feed(bytesOf(std::string_view(junk).substr(pos, 1 + rng() % 9)), r);
      REQUIRE(res.consumed <= junk.size() - pos);
      pos += res.consumed;
      if (res.status != ScanStatus::Ok) break;
    }
    REQUIRE(r.forwarded.size() <= junk.size());
  }
}
