// Streaming framer for the MySQL data path ("frame, then decide"): fed arbitrary chunks of a
// packet stream, it asks the visitor what to do with each packet as soon as its header and first
// payload byte are there (what ResultTracker and a command dispatcher decide on), passes
// forwarded bytes through without copying them (a 16 MiB row is never buffered), and collects
// only the payloads the visitor asked to see. Pure: no I/O.
#pragma once

#include <algorithm>
#include <cstring>
#include <string>

#include "pooler/protocol/mysql_codec.h"

namespace shardpool::protocol::mysql {

enum class Disposition {
  Forward,  // pass the bytes through untouched
  Inspect,  // pass through, and deliver the whole payload to onPayload
  Swallow,  // drop the bytes
  Collect,  // drop the bytes, deliver the whole payload to onPayload
};

enum class ScanStatus { Ok, Stopped, Invalid };

struct ScanResult {
  ScanStatus status = ScanStatus::Ok;
  size_t consumed = 0;  // bytes of the input taken (all of it unless Stopped or Invalid)
};

// What is known of a packet when the visitor decides.
struct PacketHead {
  uint32_t length = 0;
  uint8_t sequenceId = 0;
  uint8_t firstByte = 0;      // 0 for an empty payload
  bool continuation = false;  // the previous packet was 0xFFFFFF bytes: this one continues it
};

// Visitor requirements:
//   Disposition onPacket(const PacketHead& head);
//   void onForward(Bytes bytes, bool inInput);  // inInput=false: scanner scratch, copy it now
//   bool onPayload(const PacketHead& head, Bytes payload);  // false: stop after this packet
// Inspect/Collect deliver each physical packet's payload; a multi-packet message arrives as its
// packets (head.continuation tells them apart).
class PacketScanner {
 public:
  explicit PacketScanner(uint32_t maxCollect = kMaxPacketPayload) : maxCollect_(maxCollect) {}

  template <class Visitor>
  ScanResult feed(Bytes data, Visitor& v) {
    size_t pos = 0;
    while (pos < data.size()) {
      if (!inBody_) {
        // Header phase: the 4-byte header and, for a non-empty packet, the first payload byte,
        // possibly across feeds.
        const bool wasSplit = hdrLen_ > 0;
        const size_t startInInput = pos;
        size_t want = hdrLen_ < kHeaderSize ? kHeaderSize - hdrLen_ : 0;
        size_t take = std::min(want, data.size() - pos);
        std::memcpy(hdr_ + hdrLen_, data.data() + pos, take);
        hdrLen_ += take;
        pos += take;
        if (hdrLen_ < kHeaderSize) break;
        const uint32_t length = lengthOf();
        if (length > 0 && hdrLen_ == kHeaderSize) {
          if (pos == data.size()) break;  // wait for the first payload byte
          hdr_[hdrLen_++] = data[pos++];
        }
        head_.length = length;
        head_.sequenceId = hdr_[3];
        head_.firstByte = length > 0 ? hdr_[kHeaderSize] : 0;
        head_.continuation = continued_;
        continued_ = length == kMaxPacketPayload;
        disp_ = v.onPacket(head_);
        const bool collect = disp_ == Disposition::Inspect || disp_ == Disposition::Collect;
        if (collect && length > maxCollect_) return {ScanStatus::Invalid, pos};
        body_.clear();
        if (passes()) {
          if (wasSplit)
            v.onForward(Bytes(hdr_, hdrLen_), false);
          else
            v.onForward(data.subspan(startInInput, hdrLen_), true);
        }
        if (collect && length > 0) body_.push_back(char(head_.firstByte));
        remaining_ = length > 0 ? length - 1 : 0;
        hdrLen_ = 0;
        inBody_ = true;
      }
      // Body phase.
      size_t take = std::min<size_t>(remaining_, data.size() - pos);
      if (take > 0) {
        Bytes part = data.subspan(pos, take);
        if (passes()) v.onForward(part, true);
        if (disp_ == Disposition::Inspect || disp_ == Disposition::Collect)
          body_.append(reinterpret_cast<const char*>(part.data()), part.size());
        pos += take;
        remaining_ -= uint32_t(take);
      }
      if (remaining_ > 0) break;
      inBody_ = false;
      if (disp_ == Disposition::Inspect || disp_ == Disposition::Collect) {
        if (!v.onPayload(head_, asBytes(body_))) return {ScanStatus::Stopped, pos};
      }
    }
    return {ScanStatus::Ok, pos};
  }

  // True between packets: no partial header or payload pending.
  bool atBoundary() const { return hdrLen_ == 0 && !inBody_; }
  // True between logical messages: at a boundary and not inside a multi-packet message.
  bool atMessageBoundary() const { return atBoundary() && !continued_; }
  void setMaxCollect(uint32_t maxCollect) { maxCollect_ = maxCollect; }
  void reset() {
    hdrLen_ = 0;
    remaining_ = 0;
    inBody_ = false;
    continued_ = false;
    body_.clear();
  }

 private:
  uint32_t lengthOf() const {
    return uint32_t(hdr_[0]) | (uint32_t(hdr_[1]) << 8) | (uint32_t(hdr_[2]) << 16);
  }
  bool passes() const { return disp_ == Disposition::Forward || disp_ == Disposition::Inspect; }

  uint32_t maxCollect_;
  uint8_t hdr_[kHeaderSize + 1] = {};
  size_t hdrLen_ = 0;
  uint32_t remaining_ = 0;
  bool inBody_ = false;
  bool continued_ = false;
  PacketHead head_;
  Disposition disp_ = Disposition::Forward;
  std::string body_;
};

}  // namespace shardpool::protocol::mysql
