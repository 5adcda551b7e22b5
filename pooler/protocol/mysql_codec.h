// MySQL/MariaDB client/server protocol: packet framing, sequence ids, and the Reader/Writer
// primitives (fixed-width little-endian integers, length-encoded integers and strings).
// Pure: bytes in, messages out. No I/O, no libuv.
//
// A packet is a 4-byte header (3-byte little-endian payload length, 1-byte sequence id) and its
// payload. A logical message longer than 0xFFFFFF bytes is sent as packets of exactly 0xFFFFFF
// bytes followed by a shorter one; a message whose size is a multiple of 0xFFFFFF ends with an
// empty packet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace shardpool::protocol::mysql {

using Bytes = std::span<const uint8_t>;

constexpr size_t kHeaderSize = 4;
constexpr uint32_t kMaxPacketPayload = 0xFFFFFF;  // a payload this long is continued
// Sanity bound on a logical message: the largest max_allowed_packet either server accepts (1 GiB).
constexpr size_t kMaxMessageLength = size_t(1) << 30;

enum class FrameStatus { Ok, NeedMore, Invalid };

// One physical packet.
struct PacketFrame {
  FrameStatus status = FrameStatus::NeedMore;
  uint32_t length = 0;  // payload length from the header
  uint8_t sequenceId = 0;
  size_t totalSize = 0;  // header + payload (known once the header is complete)
  size_t need = 0;       // with NeedMore: bytes still missing for this packet (>= 1)
  Bytes payload;         // with Ok
  // This packet's payload is continued by the next packet (same logical message).
  bool continued() const { return length == kMaxPacketPayload; }
};

// Frames one packet at the start of `data`. Never Invalid: every 3-byte length is legal.
PacketFrame framePacket(Bytes data);

// One logical message: one or more packets with consecutive sequence ids.
struct MessageFrame {
  FrameStatus status = FrameStatus::NeedMore;
  uint8_t firstSequenceId = 0;
  uint8_t lastSequenceId = 0;
  size_t packets = 0;      // with Ok: packets the message spans
  size_t payloadSize = 0;  // with Ok: sum of the payloads
  size_t totalSize = 0;    // with Ok: bytes the whole message occupies in the stream
  size_t need = 0;         // with NeedMore: at least this many more bytes are needed (>= 1)
  // With Ok and packets == 1: the payload, a view into the input. Empty otherwise: use
  // appendPayload() to reassemble a multi-packet message.
  Bytes payload;
  bool contiguous() const { return packets == 1; }
};

// Frames one logical message at the start of `data`. Invalid when its sequence ids are not
// consecutive or its payload would exceed `maxPayload`.
MessageFrame frameMessage(Bytes data, size_t maxPayload = kMaxMessageLength);

// Appends the payloads of the message that occupies `message` (MessageFrame::totalSize bytes of
// the stream) to `out`, dropping the headers. False (and `out` unchanged) when `message` is not
// exactly one well-formed logical message.
bool appendPayload(Bytes message, std::string& out);

// Sequence ids within one command exchange: the command (or the greeting) is 0 and every packet
// in either direction takes the next id, wrapping at 256.
class SequenceTracker {
 public:
  // A new exchange: the next packet carries `next` (0 for a client command).
  void reset(uint8_t next = 0) { next_ = next; }
  // An incoming packet: true and advances when it carries the expected id.
  [[nodiscard]] bool accept(uint8_t sequenceId);
  // An outgoing packet: the id to put in its header; advances.
  uint8_t take() { return next_++; }
  uint8_t next() const { return next_; }

 private:
  uint8_t next_ = 0;
};

// Number of bytes lenenc(v) occupies: 1, 3, 4 or 9.
size_t lenencSize(uint64_t v);

// Reads fields from a payload; any overrun or invalid encoding sets a sticky failure and returns
// zero values (empty views).
class Reader {
 public:
  explicit Reader(Bytes payload) : data_(payload) {}
  uint8_t u8();
  uint16_t u16();
  uint32_t u24();
  uint32_t u32();
  uint64_t u48();
  uint64_t u64();
  // Length-encoded integer. 0xFB (NULL) and 0xFF are failures here.
  uint64_t lenenc();
  // Length-encoded integer where NULL (0xFB) is allowed: nullopt for NULL. 0xFF is a failure.
  std::optional<uint64_t> lenencNullable();
  std::string_view lenencString();                         // NULL is a failure
  std::optional<std::string_view> lenencStringNullable();  // nullopt for NULL
  std::string_view cstring();                              // NUL-terminated, without the terminator
  std::string_view string(size_t n);
  std::string_view restString();
  Bytes bytes(size_t n);
  Bytes rest();
  void skip(size_t n) { (void)bytes(n); }
  // The next byte without consuming it; 0 (no failure) at the end.
  uint8_t peek() const { return remaining() > 0 ? data_[pos_] : 0; }
  size_t remaining() const { return ok_ ? data_.size() - pos_ : 0; }
  size_t position() const { return pos_; }
  bool atEnd() const { return ok_ && pos_ == data_.size(); }
  bool ok() const { return ok_; }
  void fail() { ok_ = false; }

 private:
  bool has(size_t n);  // sets the failure when fewer than n bytes remain
  uint64_t loadLe(size_t n);

  Bytes data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// Builds packets into a growing buffer: start(sequenceId) / put... / finish(). finish() writes
// the header and, for a payload of 0xFFFFFF bytes or more, splits it into packets of 0xFFFFFF
// bytes (ending with a shorter, possibly empty, one) with consecutive sequence ids.
// Misuse (put outside a message, nested start, a payload over kMaxMessageLength, an embedded NUL
// in a cstring) sets a sticky failure flag.
class Writer {
 public:
  explicit Writer(size_t maxPayload = kMaxMessageLength) : maxPayload_(maxPayload) {}
  void start(uint8_t sequenceId);
  void u8(uint8_t v);
  void u16(uint16_t v);
  void u24(uint32_t v);
  void u32(uint32_t v);
  void u48(uint64_t v);
  void u64(uint64_t v);
  void lenenc(uint64_t v);
  void lenencNull();  // 0xFB
  void lenencString(std::string_view s);
  void lenencString(Bytes b);
  void cstring(std::string_view s);
  void bytes(std::string_view b);
  void bytes(Bytes b);
  void zeros(size_t n);
  // Ends the message; returns the sequence id that follows its last packet.
  uint8_t finish();
  // Size of the payload written so far in the open message.
  size_t payloadSize() const { return open_ ? buf_.size() - msgStart_ - kHeaderSize : 0; }
  // Writes `payload` as one complete message (split as finish() does).
  uint8_t packet(uint8_t sequenceId, Bytes payload);
  bool failed() const { return failed_; }
  void fail() { failed_ = true; }  // for builders that find their input unencodable
  const std::string& data() const { return buf_; }
  Bytes bytesView() const { return {reinterpret_cast<const uint8_t*>(buf_.data()), buf_.size()}; }
  std::string take();
  void clear();

 private:
  bool canPut(size_t n);  // open and within maxPayload_; sets failed_ otherwise
  void putLe(uint64_t v, size_t n);

  std::string buf_;
  size_t msgStart_ = 0;
  size_t maxPayload_;
  uint8_t seq_ = 0;
  bool open_ = false;
  bool failed_ = false;
};

inline Bytes asBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view asText(Bytes b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace shardpool::protocol::mysql
