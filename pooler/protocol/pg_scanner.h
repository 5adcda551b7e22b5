// Streaming framer for the data path ("frame, then decide"): fed arbitrary chunks of a PostgreSQL
// message stream, it asks the visitor what to do with each message as soon as its header is
// complete, passes forwarded bytes through without copying, and collects only the bodies the
// visitor asked to see. Pure: no I/O.
#pragma once

#include <algorithm>
#include <cstring>
#include <string>

#include "pooler/protocol/pg_codec.h"

namespace shardpool::protocol::pg {

// The capacity a collected body or a held byte buffer keeps once it is done with: a burst above it
// goes back to the allocator, so that a connection that once carried a large message does not
// keep that much memory while it idles.
inline constexpr size_t kKeptCapacity = 16 * 1024;
inline void releaseIfLarge(std::string& buffer) {
  if (buffer.empty() && buffer.capacity() > kKeptCapacity) std::string().swap(buffer);
}

enum class Disposition : uint8_t {
  Forward,  // pass the bytes through untouched
  Inspect,  // pass through, and deliver the whole body to onMessage
  Swallow,  // drop the bytes
  Collect,  // drop the bytes, deliver the whole body to onMessage
};

enum class ScanStatus { Ok, Stopped, Invalid };

struct ScanResult {
  ScanStatus status = ScanStatus::Ok;
  size_t consumed = 0;  // bytes of the input taken (all of it unless Stopped or Invalid)
};

// Visitor requirements:
//   Disposition onHeader(char type, uint32_t length);
//   void onForward(Bytes bytes, bool inInput);  // inInput=false: scanner scratch, copy it now
//   bool onMessage(char type, Bytes body);      // false: stop after this message
class Scanner {
 public:
  explicit Scanner(uint32_t maxCollect = kMaxMessageLength) : maxCollect_(maxCollect) {}

  template <class Visitor>
  ScanResult feed(Bytes data, Visitor& v) {
    size_t pos = 0;
    while (pos < data.size()) {
      if (remaining_ == 0 && !inBody_) {
        // Header phase: gather 5 bytes, possibly across feeds.
        size_t take = std::min<size_t>(5 - hdrLen_, data.size() - pos);
        std::memcpy(hdr_ + hdrLen_, data.data() + pos, take);
        size_t hdrStartInInput = pos;
        bool headerWasSplit = hdrLen_ > 0;
        hdrLen_ = static_cast<uint8_t>(hdrLen_ + take);
        pos += take;
        if (hdrLen_ < 5) break;
        uint32_t len = (uint32_t(hdr_[1]) << 24) | (uint32_t(hdr_[2]) << 16) |
                       (uint32_t(hdr_[3]) << 8) | uint32_t(hdr_[4]);
        if (len < 4 || len > kMaxMessageLength) return {ScanStatus::Invalid, pos};
        type_ = char(hdr_[0]);
        disp_ = v.onHeader(type_, len);
        hdrLen_ = 0;
        remaining_ = len - 4;
        inBody_ = true;
        bool collect = disp_ == Disposition::Inspect || disp_ == Disposition::Collect;
        if (collect && remaining_ > maxCollect_) return {ScanStatus::Invalid, pos};
        body_.clear();
        if (passes()) {
          if (headerWasSplit)
            v.onForward(Bytes(hdr_, 5), false);
          else
            v.onForward(data.subspan(hdrStartInInput, 5), true);
        }
      }
      if (inBody_) {
        size_t take = std::min<size_t>(remaining_, data.size() - pos);
        if (take > 0) {
          Bytes part = data.subspan(pos, take);
          if (passes()) v.onForward(part, true);
          if (disp_ == Disposition::Inspect || disp_ == Disposition::Collect)
            body_.append(reinterpret_cast<const char*>(part.data()), part.size());
          pos += take;
          remaining_ -= uint32_t(take);
        }
        if (remaining_ == 0) {
          inBody_ = false;
          if (disp_ == Disposition::Inspect || disp_ == Disposition::Collect) {
            Bytes body(reinterpret_cast<const uint8_t*>(body_.data()), body_.size());
            if (!v.onMessage(type_, body)) return {ScanStatus::Stopped, pos};
            if (body_.capacity() > kKeptCapacity) std::string().swap(body_);
          }
        }
      }
    }
    return {ScanStatus::Ok, pos};
  }

  void setMaxCollect(uint32_t maxCollect) { maxCollect_ = maxCollect; }

  // True between messages: no partial header or body pending.
  bool atBoundary() const { return hdrLen_ == 0 && !inBody_; }
  size_t heldCapacity() const { return body_.capacity(); }  // for tests
  void reset() {
    hdrLen_ = 0;
    remaining_ = 0;
    inBody_ = false;
    body_.clear();
    releaseIfLarge(body_);
  }

 private:
  bool passes() const { return disp_ == Disposition::Forward || disp_ == Disposition::Inspect; }

  std::string body_;
  uint32_t maxCollect_;
  uint32_t remaining_ = 0;
  uint8_t hdr_[5] = {};
  uint8_t hdrLen_ = 0;  // bytes of hdr_ read so far (at most 5)
  bool inBody_ = false;
  char type_ = 0;
  Disposition disp_ = Disposition::Forward;
};

}  // namespace shardpool::protocol::pg
