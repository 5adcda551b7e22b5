// PostgreSQL v3 wire codec: framing, startup packets, message readers and writers.
// Pure: bytes in, messages out. No I/O, no libuv.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shardpool::protocol::pg {

using Bytes = std::span<const uint8_t>;

constexpr uint32_t kProtocolV3 = 3u << 16;
constexpr uint32_t kCancelRequestCode = (1234u << 16) | 5678u;
constexpr uint32_t kSslRequestCode = (1234u << 16) | 5679u;
constexpr uint32_t kGssEncRequestCode = (1234u << 16) | 5680u;
constexpr uint32_t kMaxStartupLength = 10000;        // as the server enforces
constexpr uint32_t kMaxMessageLength = 1u << 30;     // length field sanity bound

enum class FrameStatus { Ok, NeedMore, Invalid };

// A framed message: `length` counts the 4-byte length field and the body but not the type byte.
struct Frame {
  FrameStatus status = FrameStatus::NeedMore;
  char type = 0;          // 0 for startup-phase packets, which have no type byte
  uint32_t length = 0;    // value of the length field
  size_t totalSize = 0;   // bytes the whole message occupies in the stream
  size_t need = 0;        // with NeedMore: bytes still missing for the whole message (>= 1)
  Bytes body;             // with Ok: the bytes after the length field
};

// Startup phase: int32 length (including itself) then body. Never consumes a partial packet.
Frame frameStartup(Bytes data);
// Regular message: type byte, int32 length, body.
Frame frameMessage(Bytes data);

enum class StartupKind { Startup, SslRequest, GssEncRequest, CancelRequest };

struct StartupPacket {
  StartupKind kind = StartupKind::Startup;
  uint32_t protocol = 0;
  std::vector<std::pair<std::string, std::string>> params;  // in order; "user", "database", ...
  uint32_t cancelPid = 0;
  uint32_t cancelKey = 0;
  std::string_view param(std::string_view name) const;  // the last one; "" when absent
};

// Decodes the body of a framed startup packet (Frame::body). nullopt with a reason on bad input
// (unknown protocol code, missing terminator, odd parameter list, missing "user").
struct StartupResult {
  std::optional<StartupPacket> packet;
  std::string error;
};
StartupResult decodeStartup(Bytes body);

// Reads fields from a message body; any overrun sets a sticky failure and returns zero values.
class Reader {
 public:
  explicit Reader(Bytes body) : data_(body) {}
  uint8_t u8();
  int16_t i16();
  int32_t i32();
  std::string_view cstring();  // without the terminator
  Bytes bytes(size_t n);
  Bytes rest();
  size_t remaining() const { return ok_ ? data_.size() - pos_ : 0; }
  bool ok() const { return ok_; }

 private:
  Bytes data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// Builds messages into a growing buffer: start(type) / put... / finish() patches the length.
// Misuse (put outside a message, nested start, oversize) sets a sticky failure flag.
class Writer {
 public:
  void start(char type);   // type 0: startup-phase packet without a type byte
  void u8(uint8_t v);
  void i16(int16_t v);
  void i32(int32_t v);
  void cstring(std::string_view s);
  void bytes(Bytes b);
  void bytes(std::string_view b);
  void finish();
  bool failed() const { return failed_; }
  const std::string& data() const { return buf_; }
  std::string take();
  void clear();

 private:
  bool canPut(size_t n);  // open and within kMaxMessageLength; sets failed_ otherwise

  std::string buf_;
  size_t msgStart_ = 0;
  bool open_ = false;
  bool failed_ = false;
};

// Authentication request codes (the int32 after 'R').
enum class AuthCode : int32_t {
  Ok = 0,
  CleartextPassword = 3,
  Md5Password = 5,
  Sasl = 10,
  SaslContinue = 11,
  SaslFinal = 12,
};

// ---- Builders: append one complete message to a Writer ----
void putErrorResponse(Writer& w, std::string_view severity, std::string_view sqlstate,
                      std::string_view message, std::string_view detail = {},
                      std::string_view hint = {});
void putNoticeResponse(Writer& w, std::string_view sqlstate, std::string_view message);
void putAuthOk(Writer& w);
void putAuthCleartext(Writer& w);
void putAuthMd5(Writer& w, const uint8_t salt[4]);
void putAuthSasl(Writer& w, const std::vector<std::string_view>& mechanisms);
void putAuthSaslContinue(Writer& w, std::string_view data);
void putAuthSaslFinal(Writer& w, std::string_view data);
void putParameterStatus(Writer& w, std::string_view name, std::string_view value);
void putBackendKeyData(Writer& w, uint32_t pid, uint32_t key);
void putReadyForQuery(Writer& w, char status);
void putStartup(Writer& w, const std::vector<std::pair<std::string, std::string>>& params);
void putSslRequest(Writer& w);
void putCancelRequest(Writer& w, uint32_t pid, uint32_t key);
void putPasswordMessage(Writer& w, std::string_view password);
void putSaslInitialResponse(Writer& w, std::string_view mechanism, std::string_view data);
void putSaslResponse(Writer& w, std::string_view data);
void putQuery(Writer& w, std::string_view sql);
void putTerminate(Writer& w);
// Query results built by shardpool itself (the admin console): text-format columns.
struct ColumnDesc {
  std::string_view name;
  uint32_t typeOid;  // 25 text, 20 int8, ...
};
void putRowDescription(Writer& w, std::span<const ColumnDesc> columns);
void putDataRow(Writer& w, std::span<const std::optional<std::string>> values);
void putCommandComplete(Writer& w, std::string_view tag);
void putEmptyQueryResponse(Writer& w);

// ---- Decoders for message bodies shardpool inspects ----
struct ErrorFields {
  std::string severity;
  std::string sqlstate;
  std::string message;
  std::string detail;
  std::string hint;
};
std::optional<ErrorFields> decodeErrorResponse(Bytes body);  // also NoticeResponse
// An error shardpool raises on a server itself (a DO block put in place of a statement it
// refuses) names this schema; downgradedErrorFields then drops it, with the CONTEXT, internal
// query and internal position fields that would only show how the error was raised.
constexpr std::string_view kRaisedErrorSchema = "shardpool$refusal";
// The fields of an ErrorResponse body, every one kept in order, with a FATAL or PANIC severity
// turned into ERROR and `messagePrefix` put before the message; nullopt when the body is
// malformed.
std::optional<std::string> downgradedErrorFields(Bytes body, std::string_view messagePrefix = {});
// An ErrorResponse re-encoded that way, so that a server that ends its session does not end the
// client's session with shardpool. A malformed body is copied as it is.
void putErrorDowngraded(Writer& w, Bytes body);

struct ParameterStatus {
  std::string_view name;
  std::string_view value;
};
std::optional<ParameterStatus> decodeParameterStatus(Bytes body);

struct BackendKeyData {
  uint32_t pid = 0;
  uint32_t key = 0;
};
std::optional<BackendKeyData> decodeBackendKeyData(Bytes body);

// ReadyForQuery status byte: 'I' idle, 'T' in transaction, 'E' failed transaction.
std::optional<char> decodeReadyForQuery(Bytes body);
// DataRow: each column's text (nullopt for NULL); nullopt when malformed.
std::optional<std::vector<std::optional<std::string>>> decodeDataRow(Bytes body);

struct AuthRequest {
  AuthCode code = AuthCode::Ok;
  Bytes data;  // md5: 4-byte salt; SASL: mechanism list; SASLContinue/Final: server data
};
std::optional<AuthRequest> decodeAuthentication(Bytes body);
// Mechanism names from an AuthenticationSASL body's data.
std::vector<std::string_view> decodeSaslMechanisms(Bytes data);

// Client 'p' message: interpretation depends on what the server asked for.
std::optional<std::string_view> decodePasswordMessage(Bytes body);
struct SaslInitialResponse {
  std::string_view mechanism;
  std::string_view data;
};
std::optional<SaslInitialResponse> decodeSaslInitialResponse(Bytes body);

}  // namespace shardpool::protocol::pg
