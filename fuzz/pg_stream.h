// A PostgreSQL message stream (frontend or backend, after the startup packet) read two ways: with
// frameMessage() over the whole input, and with the streaming Scanner fed in pieces under
// dispositions chosen by the input. Both must find the same messages, the Scanner must forward
// exactly the bytes of the messages it passes, and both must stop at the same bad length.
// Each whole message is then handed to `onMessage(type, body)` for the decoders.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "pooler/protocol/pg_codec.h"
#include "pooler/protocol/pg_scanner.h"

namespace shardpool::fuzz {

namespace pg = protocol::pg;

struct FramedMessage {
  char type;
  pg::Bytes body;
  pg::Bytes raw;  // type byte, length and body
};

class StreamCheck {
 public:
  // `control`: two bytes of the input that pick chunk sizes, dispositions, stops and the
  // collect limit; `stream`: the messages.
  StreamCheck(uint8_t control0, uint8_t control1, pg::Bytes stream)
      : stream_(stream),
        chunk_(1 + control0 % 23),
        salt_(control0 / 23),
        stopEvery_(control1 % 5),
        maxCollect_(control1 & 0x80 ? uint32_t(control1 & 0x3f) * 7 : pg::kMaxMessageLength) {}

  template <class OnMessage>
  void run(OnMessage&& onMessage) {
    frameAll();
    scanInPieces();
    compare();
    for (const FramedMessage& m : messages_) onMessage(m.type, m.body);
  }

 private:
  pg::Disposition disposition(char type) const {
    return pg::Disposition((uint8_t(type) + salt_) % 4);
  }
  static bool collects(pg::Disposition d) {
    return d == pg::Disposition::Inspect || d == pg::Disposition::Collect;
  }
  static bool passes(pg::Disposition d) {
    return d == pg::Disposition::Forward || d == pg::Disposition::Inspect;
  }

  // The reference: frameMessage() over the whole stream.
  void frameAll() {
    pg::Bytes rest = stream_;
    for (;;) {
      pg::Frame f = pg::frameMessage(rest);
      if (f.status == pg::FrameStatus::Ok) {
        FUZZ_CHECK(f.totalSize == size_t(f.length) + 1 && f.totalSize <= rest.size());
        FUZZ_CHECK(f.body.size() == f.length - 4 && f.body.data() == rest.data() + 5);
        FUZZ_CHECK(f.type == char(rest[0]));
        messages_.push_back({f.type, f.body, rest.subspan(0, f.totalSize)});
        rest = rest.subspan(f.totalSize);
        continue;
      }
      if (f.status == pg::FrameStatus::Invalid) {
        FUZZ_CHECK(rest.size() >= 5);
        badLength_ = true;
      } else {
        FUZZ_CHECK(f.need >= 1);
        if (rest.size() >= 5) FUZZ_CHECK(rest.size() + f.need == f.totalSize);
      }
      tail_ = rest;
      return;
    }
  }

  struct Visitor {
    StreamCheck* self;
    std::string forwarded;
    std::vector<std::pair<char, std::string>> collected;
    size_t delivered = 0;

    pg::Disposition onHeader(char type, uint32_t) { return self->disposition(type); }
    void onForward(pg::Bytes bytes, bool) {
      forwarded.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    }
    bool onMessage(char type, pg::Bytes body) {
      collected.emplace_back(type, std::string(asText(body)));
      ++delivered;
      return self->stopEvery_ == 0 || delivered % self->stopEvery_ != 0;
    }
  };

  void scanInPieces() {
    pg::Scanner scanner(maxCollect_);
    Visitor v{this, {}, {}, 0};
    size_t pos = 0;
    while (pos < stream_.size() && !scanInvalid_) {
      pg::Bytes piece = stream_.subspan(pos, std::min(chunk_, stream_.size() - pos));
      size_t used = 0;
      while (used < piece.size()) {
        pg::ScanResult r = scanner.feed(piece.subspan(used), v);
        FUZZ_CHECK(r.consumed <= piece.size() - used);
        used += r.consumed;
        if (r.status == pg::ScanStatus::Invalid) {
          scanInvalid_ = true;
          break;
        }
        if (r.status == pg::ScanStatus::Ok) FUZZ_CHECK(used == piece.size());
      }
      pos += piece.size();
    }
    forwarded_ = std::move(v.forwarded);
    collected_ = std::move(v.collected);
    scannerAtBoundary_ = scanner.atBoundary();
  }

  void compare() {
    // What the scanner should have seen: every whole message up to the first one it must
    // refuse (a body over maxCollect to collect), then the tail.
    std::string forwarded;
    std::vector<std::pair<char, std::string>> collected;
    bool refused = false;
    for (const FramedMessage& m : messages_) {
      pg::Disposition d = disposition(m.type);
      if (collects(d) && m.body.size() > maxCollect_) {
        refused = true;
        break;
      }
      if (passes(d)) forwarded.append(asText(m.raw));
      if (collects(d)) collected.emplace_back(m.type, std::string(asText(m.body)));
    }
    if (!refused && !badLength_ && tail_.size() >= 5) {
      pg::Frame f = pg::frameMessage(tail_);
      pg::Disposition d = disposition(f.type);
      if (collects(d) && f.length - 4 > maxCollect_)
        refused = true;
      else if (passes(d))
        forwarded.append(asText(tail_));
    }
    FUZZ_CHECK(scanInvalid_ == (refused || badLength_));
    FUZZ_CHECK(forwarded_ == forwarded);
    FUZZ_CHECK(collected_ == collected);
    if (!scanInvalid_) FUZZ_CHECK(scannerAtBoundary_ == tail_.empty());
  }

  pg::Bytes stream_;
  size_t chunk_;
  unsigned salt_;
  size_t stopEvery_;
  uint32_t maxCollect_;

  std::vector<FramedMessage> messages_;
  pg::Bytes tail_;  // after the last whole message: a partial one, or one with a bad length
  bool badLength_ = false;

  std::string forwarded_;
  std::vector<std::pair<char, std::string>> collected_;
  bool scanInvalid_ = false;
  bool scannerAtBoundary_ = true;
};

}  // namespace shardpool::fuzz
