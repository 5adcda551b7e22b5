// PostgreSQL v3 framing, startup packets, and the Reader/Writer primitives.
// Builders and decoders for individual message types live in pg_messages.cpp.
#include "pooler/protocol/pg_codec.h"

#include <cstring>

#include <fmt/format.h>

namespace shardpool::protocol::pg {

namespace {

uint32_t loadU32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

void storeU32(char* p, uint32_t v) {
  p[0] = char(uint8_t(v >> 24));
  p[1] = char(uint8_t(v >> 16));
  p[2] = char(uint8_t(v >> 8));
  p[3] = char(uint8_t(v));
}

Frame needMore(size_t have, size_t want) {
  Frame f;
  f.status = FrameStatus::NeedMore;
  f.need = want - have;
  return f;
}

Frame invalid(char type, uint32_t length) {
  Frame f;
  f.status = FrameStatus::Invalid;
  f.type = type;
  f.length = length;
  return f;
}

}  // namespace

// ---- Framing ----

Frame frameStartup(Bytes data) {
  if (data.size() < 4) return needMore(data.size(), 4);
  uint32_t length = loadU32(data.data());
  if (length < 8 || length > kMaxStartupLength) return invalid(0, length);
  if (data.size() < length) {
    Frame f = needMore(data.size(), length);
    f.length = length;
    f.totalSize = length;
    return f;
  }
  Frame f;
  f.status = FrameStatus::Ok;
  f.length = length;
  f.totalSize = length;
  f.body = data.subspan(4, length - 4);
  return f;
}

Frame frameMessage(Bytes data) {
  if (data.size() < 5) return needMore(data.size(), 5);
  char type = char(data[0]);
  uint32_t length = loadU32(data.data() + 1);
  if (length < 4 || length > kMaxMessageLength) return invalid(type, length);
  size_t total = size_t(length) + 1;
  if (data.size() < total) {
    Frame f = needMore(data.size(), total);
    f.type = type;
    f.length = length;
    f.totalSize = total;
    return f;
  }
  Frame f;
  f.status = FrameStatus::Ok;
  f.type = type;
  f.length = length;
  f.totalSize = total;
  f.body = data.subspan(5, length - 4);
  return f;
}

// ---- Startup packets ----

std::string_view StartupPacket::param(std::string_view name) const {
  // A name given twice: the last one counts, as PostgreSQL reads it.
  for (auto it = params.rbegin(); it != params.rend(); ++it)
    if (it->first == name) return it->second;
  return {};
}

StartupResult decodeStartup(Bytes body) {
  StartupResult result;
  Reader r(body);
  uint32_t code = uint32_t(r.i32());
  if (!r.ok()) {
    result.error = "startup packet too short";
    return result;
  }
  StartupPacket packet;
  packet.protocol = code;

  switch (code) {
    case kSslRequestCode:
    case kGssEncRequestCode:
      if (body.size() != 4) {
        result.error =
            fmt::format("{} packet has invalid length {}",
                        code == kSslRequestCode ? "SSLRequest" : "GSSENCRequest", body.size() + 4);
        return result;
      }
      packet.kind = code == kSslRequestCode ? StartupKind::SslRequest : StartupKind::GssEncRequest;
      result.packet = std::move(packet);
      return result;
    case kCancelRequestCode:
      if (body.size() != 12) {
        result.error = fmt::format("CancelRequest packet has invalid length {}", body.size() + 4);
        return result;
      }
      packet.kind = StartupKind::CancelRequest;
      packet.cancelPid = uint32_t(r.i32());
      packet.cancelKey = uint32_t(r.i32());
      result.packet = std::move(packet);
      return result;
    default:
      break;
  }

  if ((code >> 16) != 3) {
    result.error = fmt::format("unsupported frontend protocol {}.{}", code >> 16, code & 0xffffu);
    return result;
  }

  // Protocol 3.x: name/value pairs, then a terminating empty name as the last byte. A minor
  // version above 0 is accepted and recorded; negotiating it down is the session's business.
  packet.kind = StartupKind::Startup;
  for (;;) {
    std::string_view name = r.cstring();
    if (!r.ok()) {
      result.error = "invalid startup packet layout: missing terminator";
      return result;
    }
    if (name.empty()) break;
    std::string_view value = r.cstring();
    if (!r.ok()) {
      result.error =
          fmt::format("invalid startup packet layout: parameter \"{}\" has no value", name);
      return result;
    }
    packet.params.emplace_back(std::string(name), std::string(value));
  }
  if (r.remaining() != 0) {
    result.error = "invalid startup packet layout: expected terminator as last byte";
    return result;
  }
  if (packet.param("user").empty()) {
    result.error = "startup packet has no user";
    return result;
  }
  result.packet = std::move(packet);
  return result;
}

// ---- Reader ----

uint8_t Reader::u8() {
  if (remaining() < 1) {
    ok_ = false;
    return 0;
  }
  return data_[pos_++];
}

int16_t Reader::i16() {
  if (remaining() < 2) {
    ok_ = false;
    return 0;
  }
  uint16_t v = uint16_t((uint16_t(data_[pos_]) << 8) | uint16_t(data_[pos_ + 1]));
  pos_ += 2;
  return int16_t(v);
}

int32_t Reader::i32() {
  if (remaining() < 4) {
    ok_ = false;
    return 0;
  }
  uint32_t v = loadU32(data_.data() + pos_);
  pos_ += 4;
  return int32_t(v);
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

Bytes Reader::bytes(size_t n) {
  if (remaining() < n || !ok_) {
    ok_ = false;
    return {};
  }
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

void Writer::start(char type) {
  if (open_) {
    failed_ = true;
    return;
  }
  if (type != 0) buf_.push_back(type);
  msgStart_ = buf_.size();
  buf_.append(4, '\0');
  open_ = true;
}

// Every put goes through here: refuses to write outside a message or past kMaxMessageLength
// (checked before appending, so an oversize put never grows the buffer).
bool Writer::canPut(size_t n) {
  if (!open_) {
    failed_ = true;
    return false;
  }
  size_t length = buf_.size() - msgStart_;
  if (n > kMaxMessageLength - length) {
    failed_ = true;
    return false;
  }
  return true;
}

void Writer::u8(uint8_t v) {
  if (canPut(1)) buf_.push_back(char(v));
}

void Writer::i16(int16_t v) {
  if (!canPut(2)) return;
  uint16_t u = uint16_t(v);
  buf_.push_back(char(uint8_t(u >> 8)));
  buf_.push_back(char(uint8_t(u)));
}

void Writer::i32(int32_t v) {
  if (!canPut(4)) return;
  char tmp[4];
  storeU32(tmp, uint32_t(v));
  buf_.append(tmp, 4);
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

void Writer::bytes(Bytes b) {
  if (canPut(b.size())) buf_.append(reinterpret_cast<const char*>(b.data()), b.size());
}

void Writer::bytes(std::string_view b) {
  if (canPut(b.size())) buf_.append(b);
}

void Writer::finish() {
  if (!open_) {
    failed_ = true;
    return;
  }
  open_ = false;
  size_t length = buf_.size() - msgStart_;
  if (length > kMaxMessageLength) {
    failed_ = true;
    return;
  }
  storeU32(buf_.data() + msgStart_, uint32_t(length));
}

// Hands over the buffer and resets the writer completely (failure flag included): check
// failed() before take().
std::string Writer::take() {
  std::string out = std::move(buf_);
  clear();
  return out;
}

void Writer::clear() {
  buf_.clear();
  msgStart_ = 0;
  open_ = false;
  failed_ = false;
}

}  // namespace shardpool::protocol::pg

namespace shardpool::protocol::pg {

std::optional<std::vector<std::optional<std::string>>> decodeDataRow(Bytes body) {
  Reader r(body);
  int16_t n = r.i16();
  if (!r.ok() || n < 0) return std::nullopt;
  std::vector<std::optional<std::string>> values;
  values.reserve(static_cast<size_t>(n));
  for (int16_t i = 0; i < n; ++i) {
    int32_t len = r.i32();
    if (!r.ok()) return std::nullopt;
    if (len < 0) {
      values.emplace_back();
      continue;
    }
    Bytes b = r.bytes(static_cast<size_t>(len));
    if (!r.ok()) return std::nullopt;
    values.emplace_back(std::string(reinterpret_cast<const char*>(b.data()), b.size()));
  }
  if (r.remaining() != 0) return std::nullopt;
  return values;
}

}  // namespace shardpool::protocol::pg
