#include "pooler/protocol/pg_scanner.h"

#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

using namespace shardpool::protocol::pg;

namespace {

Bytes asBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string message(char type, std::string_view body) {
  std::string m(1, type);
  uint32_t len = uint32_t(body.size() + 4);
  m.push_back(char(len >> 24));
  m.push_back(char(len >> 16));
  m.push_back(char(len >> 8));
  m.push_back(char(len));
  m.append(body);
  return m;
}

// Chooses a disposition by message type and checks everything the scanner hands it. Forwarded
// bytes are compared against the expected stream as they arrive (no copy of the ~100 KB message
// per run), and in-input spans must point into the chunk being fed.
struct TestVisitor {
  std::map<char, Disposition> dispositions;  // default Forward
  const std::string* expectedForward = nullptr;
  char stopAfter = 0;  // onMessage returns false for this type

  Bytes feedChunk;
  size_t forwardedPos = 0;
  bool forwardMismatch = false;
  bool spanOutsideInput = false;
  std::string forwardedCopy;  // only filled when expectedForward is null
  std::vector<std::pair<char, std::string>> headers;
  std::vector<std::pair<char, std::string>> messages;

  Disposition onHeader(char type, uint32_t length) {
    headers.emplace_back(type, std::to_string(length));
    auto it = dispositions.find(type);
    return it == dispositions.end() ? Disposition::Forward : it->second;
  }

  void onForward(Bytes bytes, bool inInput) {
    if (inInput && (bytes.data() < feedChunk.data() ||
                    bytes.data() + bytes.size() > feedChunk.data() + feedChunk.size()))
      spanOutsideInput = true;
    if (expectedForward == nullptr) {
      forwardedCopy.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      return;
    }
    if (forwardedPos + bytes.size() > expectedForward->size() ||
        std::memcmp(expectedForward->data() + forwardedPos, bytes.data(), bytes.size()) != 0)
      forwardMismatch = true;
    forwardedPos += bytes.size();
  }

  bool onMessage(char type, Bytes body) {
    messages.emplace_back(type,
                          std::string(reinterpret_cast<const char*>(body.data()), body.size()));
    return type != stopAfter;
  }

  ScanResult feed(Scanner& s, Bytes chunk) {
    feedChunk = chunk;
    return s.feed(chunk, *this);
  }
};

struct TestStream {
  std::string bytes;
  std::string forwarded;                                // what must come out
  std::vector<std::pair<char, std::string>> delivered;  // what onMessage must see
  std::map<char, Disposition> dispositions;
  std::vector<size_t> ends;  // offset just after each message
};

TestStream makeStream(bool withLarge) {
  TestStream t;
  t.dispositions = {{'T', Disposition::Inspect}, {'Z', Disposition::Inspect},
                    {'S', Disposition::Collect}, {'c', Disposition::Collect},
                    {'N', Disposition::Swallow}, {'n', Disposition::Swallow}};
  std::string large(100 * 1024 + 7, '\0');
  for (size_t i = 0; i < large.size(); ++i) large[i] = char((i * 131) ^ (i >> 8));
  std::vector<std::pair<char, std::string>> msgs = {
      {'1', ""},                                            // Forward, empty body
      {'T', std::string("\0\1row\0", 6)},                   // Inspect
      {'S', "application_name"},                            // Collect
      {'c', ""},                                            // Collect, empty
      {'N', "notice body"},                                 // Swallow
      {'n', ""},                                            // Swallow, empty
      {'D', withLarge ? large : std::string("small row")},  // Forward (the DataRow flood)
      {'T', ""},                                            // Inspect, empty
      {'C', "SELECT 1"},                                    // Forward
      {'Z', "I"},                                           // Inspect
  };
  for (auto& [type, body] : msgs) {
    std::string m = message(type, body);
    t.bytes += m;
    t.ends.push_back(t.bytes.size());
    auto it = t.dispositions.find(type);
    Disposition d = it == t.dispositions.end() ? Disposition::Forward : it->second;
    if (d == Disposition::Forward || d == Disposition::Inspect) t.forwarded += m;
    if (d == Disposition::Inspect || d == Disposition::Collect)
      t.delivered.emplace_back(type, body);
  }
  return t;
}

// Feeds `chunks` (boundaries into t.bytes) and checks the complete outcome.
void checkRun(const TestStream& t, const std::vector<size_t>& cuts) {
  Scanner scanner;
  TestVisitor v;
  v.dispositions = t.dispositions;
  v.expectedForward = &t.forwarded;
  size_t prev = 0;
  for (size_t i = 0; i <= cuts.size(); ++i) {
    size_t end = i < cuts.size() ? cuts[i] : t.bytes.size();
    ScanResult r = v.feed(scanner, asBytes(std::string_view(t.bytes).substr(prev, end - prev)));
    REQUIRE(r.status == ScanStatus::Ok);
    REQUIRE(r.consumed == end - prev);
    prev = end;
  }
  REQUIRE(scanner.atBoundary());
  REQUIRE_FALSE(v.forwardMismatch);
  REQUIRE_FALSE(v.spanOutsideInput);
  REQUIRE(v.forwardedPos == t.forwarded.size());
  REQUIRE(v.messages == t.delivered);
  REQUIRE(v.headers.size() == t.ends.size());
}

}  // namespace

TEST_CASE("Scanner: whole stream", "[protocol]") {
  TestStream t = makeStream(true);
  checkRun(t, {});
}

TEST_CASE("Scanner: split at every offset into two feeds", "[protocol]") {
  TestStream t = makeStream(true);
  for (size_t cut = 0; cut <= t.bytes.size(); ++cut) checkRun(t, {cut});
}

TEST_CASE("Scanner: byte by byte", "[protocol]") {
  TestStream t = makeStream(true);
  std::vector<size_t> cuts;
  for (size_t i = 1; i < t.bytes.size(); ++i) cuts.push_back(i);
  checkRun(t, cuts);
}

TEST_CASE("Scanner: forwarded bytes concatenate to exactly the expected stream", "[protocol]") {
  // The same check as above but by collecting, with random chunking and the small stream.
  TestStream t = makeStream(false);
  std::mt19937 rng(7);
  for (int run = 0; run < 500; ++run) {
    Scanner scanner;
    TestVisitor v;
    v.dispositions = t.dispositions;
    size_t pos = 0;
    while (pos < t.bytes.size()) {
      size_t n = std::min<size_t>(1 + rng() % 12, t.bytes.size() - pos);
      ScanResult r = v.feed(scanner, asBytes(std::string_view(t.bytes).substr(pos, n)));
      REQUIRE(r.status == ScanStatus::Ok);
      REQUIRE(r.consumed == n);
      pos += n;
    }
    REQUIRE(v.forwardedCopy == t.forwarded);
    REQUIRE(v.messages == t.delivered);
    REQUIRE_FALSE(v.spanOutsideInput);
  }
}

TEST_CASE("Scanner: onMessage returning false stops after that message", "[protocol]") {
  TestStream t = makeStream(true);
  // 'S' is the third message (index 2), Collect.
  for (size_t cut : {size_t(0), size_t(3), t.ends[1] + 2, t.ends[2] - 1, t.ends[2], t.ends[5]}) {
    INFO("first feed ends at " << cut);
    Scanner scanner;
    TestVisitor v;
    v.dispositions = t.dispositions;
    v.expectedForward = &t.forwarded;
    v.stopAfter = 'S';
    std::string_view all(t.bytes);
    size_t pos = 0;
    bool stopped = false;
    for (size_t end : {cut, t.bytes.size()}) {
      while (pos < end) {
        ScanResult r = v.feed(scanner, asBytes(all.substr(pos, end - pos)));
        if (r.status == ScanStatus::Stopped) {
          REQUIRE_FALSE(stopped);
          stopped = true;
          REQUIRE(pos + r.consumed == t.ends[2]);  // right after the 'S' message
          REQUIRE(scanner.atBoundary());
          REQUIRE(v.messages.back().first == 'S');
          REQUIRE(v.messages.size() == 2);
        } else {
          REQUIRE(r.status == ScanStatus::Ok);
          REQUIRE(r.consumed == end - pos);
        }
        pos += r.consumed;  // resume with the rest
      }
    }
    REQUIRE(stopped);
    REQUIRE_FALSE(v.forwardMismatch);
    REQUIRE(v.forwardedPos == t.forwarded.size());
    REQUIRE(v.messages == t.delivered);
  }
}

TEST_CASE("Scanner: invalid lengths", "[protocol]") {
  auto header = [](char type, uint32_t len) {
    std::string h(1, type);
    for (int s = 24; s >= 0; s -= 8) h.push_back(char(len >> s));
    return h;
  };
  for (uint32_t len : {0u, 3u, kMaxMessageLength + 1, 0xffffffffu}) {
    std::string stream = message('C', "ok") + header('D', len) + "rest";
    std::string_view all(stream);
    INFO("length " << len);
    // Whole, and with the bad header split across two feeds.
    for (size_t cut : {stream.size(), size_t(9), size_t(11)}) {
      Scanner scanner;
      TestVisitor v;
      ScanResult r = v.feed(scanner, asBytes(all.substr(0, cut)));
      if (cut < 12) {
        REQUIRE(r.status == ScanStatus::Ok);
        r = v.feed(scanner, asBytes(all.substr(cut)));
        REQUIRE(r.status == ScanStatus::Invalid);
        REQUIRE(cut + r.consumed == 12);
      } else {
        REQUIRE(r.status == ScanStatus::Invalid);
        REQUIRE(r.consumed == 12);  // through the offending header
      }
      REQUIRE(v.forwardedCopy == message('C', "ok"));
    }
  }
  SECTION("a body larger than maxCollect") {
    Scanner scanner(8);
    TestVisitor v;
    v.dispositions = {{'S', Disposition::Collect}, {'T', Disposition::Inspect}};
    std::string ok = message('S', "12345678");
    REQUIRE(v.feed(scanner, asBytes(ok)).status == ScanStatus::Ok);
    REQUIRE(v.messages.size() == 1);
    REQUIRE(v.feed(scanner, asBytes(message('T', "123456789"))).status == ScanStatus::Invalid);
    Scanner other(8);
    REQUIRE(v.feed(other, asBytes(message('D', std::string(100, 'x')))).status == ScanStatus::Ok);
  }
  SECTION("reset after Invalid makes the scanner usable again") {
    Scanner scanner;
    TestVisitor v;
    REQUIRE(v.feed(scanner, asBytes(header('D', 2))).status == ScanStatus::Invalid);
    scanner.reset();
    REQUIRE(scanner.atBoundary());
    REQUIRE(v.feed(scanner, asBytes(message('C', "x"))).status == ScanStatus::Ok);
    REQUIRE(scanner.atBoundary());
  }
}

TEST_CASE("Scanner: random garbage never crashes", "[protocol]") {
  std::mt19937 rng(12345);
  const Disposition all[] = {Disposition::Forward, Disposition::Inspect, Disposition::Swallow,
                             Disposition::Collect};
  std::vector<uint8_t> buf;
  for (int iter = 0; iter < 5000; ++iter) {
    Scanner scanner(uint32_t(rng() % 4 == 0 ? 64 : kMaxMessageLength));
    TestVisitor v;
    for (int c = 0; c < 256; c += 1 + int(rng() % 16)) v.dispositions[char(c)] = all[rng() % 4];
    v.stopAfter = char(rng() % 256);
    buf.resize(rng() % 200);
    for (auto& b : buf) b = uint8_t(rng());
    // Sometimes small plausible lengths so that messages actually complete.
    for (size_t at = 0; at + 5 <= buf.size(); at += 5 + rng() % 20)
      if (rng() % 2)
        buf[at + 1] = buf[at + 2] = buf[at + 3] = 0, buf[at + 4] = uint8_t(4 + rng() % 16);
    size_t pos = 0;
    while (pos < buf.size()) {
      size_t n = std::min<size_t>(1 + rng() % 40, buf.size() - pos);
      ScanResult r = v.feed(scanner, Bytes(buf.data() + pos, n));
      REQUIRE(r.consumed <= n);
      if (r.status == ScanStatus::Invalid) break;
      if (r.status == ScanStatus::Ok) REQUIRE(r.consumed == n);
      pos += r.consumed;
    }
    REQUIRE_FALSE(v.spanOutsideInput);
    REQUIRE(v.forwardedCopy.size() <= buf.size());
  }
}

TEST_CASE("Scanner: a large collected body's buffer is given back, a small one's kept",
          "[protocol]") {
  Scanner scanner(1u << 20);
  TestVisitor v;
  v.dispositions['Q'] = Disposition::Collect;
  std::string small = message('Q', std::string(1000, 's'));
  v.feedChunk = asBytes(small);
  REQUIRE(scanner.feed(asBytes(small), v).status == ScanStatus::Ok);
  size_t kept = scanner.heldCapacity();
  CHECK(kept >= 1000);  // reused by the next message: no allocation per message
  CHECK(kept <= kKeptCapacity);

  std::string large = message('Q', std::string(200 * 1024, 'l'));
  v.feedChunk = asBytes(large);
  REQUIRE(scanner.feed(asBytes(large), v).status == ScanStatus::Ok);
  REQUIRE(v.messages.size() == 2);
  CHECK(v.messages[1].second.size() == 200 * 1024);  // delivered whole first
  CHECK(scanner.heldCapacity() <= kKeptCapacity);     // then not kept while the peer idles

  std::string held(300 * 1024, 'x');
  held.clear();
  releaseIfLarge(held);
  CHECK(held.capacity() <= kKeptCapacity);
  std::string modest(100, 'y');
  modest.clear();
  size_t before = modest.capacity();
  releaseIfLarge(modest);
  CHECK(modest.capacity() == before);
}
