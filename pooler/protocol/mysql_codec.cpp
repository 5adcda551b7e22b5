// MySQL packet framing, sequence ids, and the Reader/Writer primitives.
#include "pooler/protocol/mysql_codec.h"

#include <cstring>

namespace shardpool::protocol::mysql {

namespace {

uint32_t loadU24(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16);
}

void storeHeader(char* p, uint32_t length, uint8_t seq) {
  p[0] = char(uint8_t(length));
  p[1] = char(uint8_t(length >> 8));
  p[2] = char(uint8_t(length >> 16));
  p[3] = char(seq);
}

}  // namespace

// ---- Framing ----

PacketFrame framePacket(Bytes data) {
  PacketFrame f;
  if (data.size() < kHeaderSize) {
    f.status = FrameStatus::NeedMore;
    f.need = kHeaderSize - data.size();
    return f;
  }
  f.length = loadU24(data.data());
  f.sequenceId = data[3];
  f.totalSize = kHeaderSize + size_t(f.length);
  if (data.size() < f.totalSize) {
    f.status = FrameStatus::NeedMore;
    f.need = f.totalSize - data.size();
    return f;
  }
  f.status = FrameStatus::Ok;
  f.payload = data.subspan(kHeaderSize, f.length);
  return f;
}

MessageFrame frameMessage(Bytes data, size_t maxPayload) {
  MessageFrame m;
  size_t pos = 0;
  size_t payload = 0;
  for (;;) {
    PacketFrame p = framePacket(data.subspan(pos));
    bool haveHeader = p.status == FrameStatus::Ok || p.totalSize != 0;
    if (haveHeader) {
      if (m.packets == 0) {
        m.firstSequenceId = p.sequenceId;
      } else if (p.sequenceId != uint8_t(m.lastSequenceId + 1)) {
        m.status = FrameStatus::Invalid;
        return m;
      }
      if (p.length > maxPayload - payload) {
        m.status = FrameStatus::Invalid;
        return m;
      }
    }
    if (p.status == FrameStatus::NeedMore) {
      m.status = FrameStatus::NeedMore;
      m.need = p.need;
      m.packets = 0;
      return m;
    }
    m.lastSequenceId = p.sequenceId;
    ++m.packets;
    payload += p.length;
    pos += p.totalSize;
    if (m.packets == 1) m.payload = p.payload;
    if (!p.continued()) break;
  }
  m.status = FrameStatus::Ok;
  m.payloadSize = payload;
  m.totalSize = pos;
  if (m.packets != 1) m.payload = {};
  return m;
}

bool appendPayload(Bytes message, std::string& out) {
  MessageFrame m = frameMessage(message);
  if (m.status != FrameStatus::Ok || m.totalSize != message.size()) return false;
  out.reserve(out.size() + m.payloadSize);
  size_t pos = 0;
  while (pos < message.size()) {
    PacketFrame p = framePacket(message.subspan(pos));
    out.append(reinterpret_cast<const char*>(p.payload.data()), p.payload.size());
    pos += p.totalSize;
  }
  return true;
}

bool SequenceTracker::accept(uint8_t sequenceId) {
  if (sequenceId != next_) return false;
  ++next_;
  return true;
}

size_t lenencSize(uint64_t v) {
  if (v < 0xFB) return 1;
  if (v <= 0xFFFF) return 3;
  if (v <= 0xFFFFFF) return 4;
  return 9;
}

// ---- Reader ----

bool Reader::has(size_t n) {
  if (remaining() < n) {
    ok_ = false;
    return false;
  }
  return true;
}

uint64_t Reader::loadLe(size_t n) {
  if (!has(n)) return 0;
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t(data_[pos_ + i]) << (8 * i);
  pos_ += n;
  return v;
}

uint8_t Reader::u8() {
  return uint8_t(loadLe(1));
}
uint16_t Reader::u16() {
  return uint16_t(loadLe(2));
}
uint32_t Reader::u24() {
  return uint32_t(loadLe(3));
}
uint32_t Reader::u32() {
  return uint32_t(loadLe(4));
}
uint64_t Reader::u48() {
  return loadLe(6);
}
uint64_t Reader::u64() {
  return loadLe(8);
}

std::optional<uint64_t> Reader::lenencNullable() {
  if (!has(1)) return 0;
  uint8_t first = data_[pos_++];
  if (first < 0xFB) return first;
  switch (first) {
    case 0xFB:
      return std::nullopt;
    case 0xFC:
      return loadLe(2);
    case 0xFD:
      return loadLe(3);
    case 0xFE:
      return loadLe(8);
    default:
      ok_ = false;  // 0xFF: not a length-encoded integer
      return 0;
  }
}

uint64_t Reader::lenenc() {
  std::optional<uint64_t> v = lenencNullable();
  if (!v) {
    ok_ = false;
    return 0;
  }
  return ok_ ? *v : 0;
}

std::string_view Reader::lenencString() {
  uint64_t n = lenenc();
  if (!ok_) return {};
  if (n > remaining()) {
    ok_ = false;
    return {};
  }
  return string(size_t(n));
}

std::optional<std::string_view> Reader::lenencStringNullable() {
  std::optional<uint64_t> n = lenencNullable();
  if (!ok_) return std::string_view();
  if (!n) return std::nullopt;
  if (*n > remaining()) {
    ok_ = false;
    return std::string_view();
  }
  return string(size_t(*n));
}

std::string_view Reader::cstring() {
  size_t n = remaining();
  if (n == 0) {
    ok_ = false;
    return {};
  }
  const uint8_t* start = data_.data() + pos_;
  const void* nul = std::memchr(start, 0, n);
  if (nul == nullptr) {
    ok_ = false;
    return {};
  }
  size_t len = size_t(static_cast<const uint8_t*>(nul) - start);
  pos_ += len + 1;
  return {reinterpret_cast<const char*>(start), len};
}

std::string_view Reader::string(size_t n) {
  return asText(bytes(n));
}

std::string_view Reader::restString() {
  return asText(rest());
}

Bytes Reader::bytes(size_t n) {
  if (!has(n)) return {};
  Bytes out = data_.subspan(pos_, n);
  pos_ += n;
  return out;
}

Bytes Reader::rest() {
  if (!ok_) return {};
  Bytes out = data_.subspan(pos_);
  pos_ = data_.size();
  return out;
}

// ---- Writer ----

void Writer::start(uint8_t sequenceId) {
  if (open_) {
    failed_ = true;
    return;
  }
  msgStart_ = buf_.size();
  buf_.append(kHeaderSize, '\0');
  seq_ = sequenceId;
  open_ = true;
}

bool Writer::canPut(size_t n) {
  if (!open_) {
    failed_ = true;
    return false;
  }
  if (n > maxPayload_ - payloadSize()) {
    failed_ = true;
    return false;
  }
  return true;
}

void Writer::putLe(uint64_t v, size_t n) {
  if (!canPut(n)) return;
  char tmp[8];
  for (size_t i = 0; i < n; ++i) tmp[i] = char(uint8_t(v >> (8 * i)));
  buf_.append(tmp, n);
}

void Writer::u8(uint8_t v) {
  putLe(v, 1);
}
void Writer::u16(uint16_t v) {
  putLe(v, 2);
}
void Writer::u24(uint32_t v) {
  if (v > 0xFFFFFF) {
    failed_ = true;
    return;
  }
  putLe(v, 3);
}
void Writer::u32(uint32_t v) {
  putLe(v, 4);
}
void Writer::u48(uint64_t v) {
  if (v >> 48) {
    failed_ = true;
    return;
  }
  putLe(v, 6);
}
void Writer::u64(uint64_t v) {
  putLe(v, 8);
}

void Writer::lenenc(uint64_t v) {
  if (v < 0xFB) {
    putLe(v, 1);
  } else if (v <= 0xFFFF) {
    u8(0xFC);
    putLe(v, 2);
  } else if (v <= 0xFFFFFF) {
    u8(0xFD);
    putLe(v, 3);
  } else {
    u8(0xFE);
    putLe(v, 8);
  }
}

void Writer::lenencNull() {
  u8(0xFB);
}

void Writer::lenencString(std::string_view s) {
  if (!canPut(lenencSize(s.size()) + s.size())) return;
  lenenc(s.size());
  buf_.append(s);
}

void Writer::lenencString(Bytes b) {
  lenencString(asText(b));
}

void Writer::cstring(std::string_view s) {
  // An embedded NUL would silently truncate the string on the peer's side.
  if (s.find('\0') != std::string_view::npos) {
    failed_ = true;
    return;
  }
  if (!canPut(s.size() + 1)) return;
  buf_.append(s);
  buf_.push_back('\0');
}

void Writer::bytes(std::string_view b) {
  if (canPut(b.size())) buf_.append(b);
}

void Writer::bytes(Bytes b) {
  bytes(asText(b));
}

void Writer::zeros(size_t n) {
  if (canPut(n)) buf_.append(n, '\0');
}

// Splits in place: the payload is moved back chunk by chunk (last first, so nothing is
// overwritten before it moves) to make room for a header before each chunk.
uint8_t Writer::finish() {
  if (!open_) {
    failed_ = true;
    return seq_;
  }
  open_ = false;
  const size_t payload = buf_.size() - msgStart_ - kHeaderSize;
  const size_t chunk = kMaxPacketPayload;
  const size_t packets = payload / chunk + 1;
  if (packets > 1) {
    buf_.resize(buf_.size() + (packets - 1) * kHeaderSize);
    char* base = buf_.data() + msgStart_;
    for (size_t k = packets - 1; k > 0; --k) {
      size_t len = k == packets - 1 ? payload - k * chunk : chunk;
      std::memmove(base + k * (chunk + kHeaderSize) + kHeaderSize, base + kHeaderSize + k * chunk,
                   len);
    }
  }
  char* base = buf_.data() + msgStart_;
  for (size_t k = 0; k < packets; ++k) {
    size_t len = k == packets - 1 ? payload - k * chunk : chunk;
    storeHeader(base + k * (chunk + kHeaderSize), uint32_t(len), seq_++);
  }
  return seq_;
}

uint8_t Writer::packet(uint8_t sequenceId, Bytes payload) {
  start(sequenceId);
  bytes(payload);
  return finish();
}

std::string Writer::take() {
  std::string out = std::move(buf_);
  clear();
  return out;
}

void Writer::clear() {
  buf_.clear();
  msgStart_ = 0;
  seq_ = 0;
  open_ = false;
  failed_ = false;
}

}  // namespace shardpool::protocol::mysql
