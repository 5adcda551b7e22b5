// Builders and decoders for the PostgreSQL v3 messages shardpool creates or inspects.
// Decoders take a message body (Frame::body) and are strict: trailing bytes are an error.
#include "pooler/protocol/pg_codec.h"

namespace shardpool::protocol::pg {

// ---- Builders ----

namespace {

void putNoticeFields(Writer& w, std::string_view severity, std::string_view sqlstate,
                     std::string_view message, std::string_view detail, std::string_view hint) {
  w.u8('S');
  w.cstring(severity);
  w.u8('V');  // non-localized severity (9.6+); shardpool never localizes, so it is the same
  w.cstring(severity);
  w.u8('C');
  w.cstring(sqlstate);
  w.u8('M');
  w.cstring(message);
  if (!detail.empty()) {
    w.u8('D');
    w.cstring(detail);
  }
  if (!hint.empty()) {
    w.u8('H');
    w.cstring(hint);
  }
  w.u8(0);
}

void putAuth(Writer& w, AuthCode code) {
  w.start('R');
  w.i32(int32_t(code));
}

}  // namespace

void putErrorResponse(Writer& w, std::string_view severity, std::string_view sqlstate,
                      std::string_view message, std::string_view detail, std::string_view hint) {
  w.start('E');
  putNoticeFields(w, severity, sqlstate, message, detail, hint);
  w.finish();
}

void putNoticeResponse(Writer& w, std::string_view sqlstate, std::string_view message) {
  w.start('N');
  putNoticeFields(w, "NOTICE", sqlstate, message, {}, {});
  w.finish();
}

void putAuthOk(Writer& w) {
  putAuth(w, AuthCode::Ok);
  w.finish();
}

void putAuthCleartext(Writer& w) {
  putAuth(w, AuthCode::CleartextPassword);
  w.finish();
}

void putAuthMd5(Writer& w, const uint8_t salt[4]) {
  putAuth(w, AuthCode::Md5Password);
  w.bytes(Bytes(salt, 4));
  w.finish();
}

void putAuthSasl(Writer& w, const std::vector<std::string_view>& mechanisms) {
  putAuth(w, AuthCode::Sasl);
  for (std::string_view m : mechanisms) {
    if (!m.empty()) w.cstring(m);  // an empty name would end the list early
  }
  w.u8(0);
  w.finish();
}

void putAuthSaslContinue(Writer& w, std::string_view data) {
  putAuth(w, AuthCode::SaslContinue);
  w.bytes(data);
  w.finish();
}

void putAuthSaslFinal(Writer& w, std::string_view data) {
  putAuth(w, AuthCode::SaslFinal);
  w.bytes(data);
  w.finish();
}

void putParameterStatus(Writer& w, std::string_view name, std::string_view value) {
  w.start('S');
  w.cstring(name);
  w.cstring(value);
  w.finish();
}

void putBackendKeyData(Writer& w, uint32_t pid, uint32_t key) {
  w.start('K');
  w.i32(int32_t(pid));
  w.i32(int32_t(key));
  w.finish();
}

void putReadyForQuery(Writer& w, char status) {
  w.start('Z');
  w.u8(uint8_t(status));
  w.finish();
}

void putStartup(Writer& w, const std::vector<std::pair<std::string, std::string>>& params) {
  w.start(0);
  w.i32(int32_t(kProtocolV3));
  for (const auto& [name, value] : params) {
    w.cstring(name);
    w.cstring(value);
  }
  w.u8(0);
  w.finish();
}

void putSslRequest(Writer& w) {
  w.start(0);
  w.i32(int32_t(kSslRequestCode));
  w.finish();
}

void putCancelRequest(Writer& w, uint32_t pid, uint32_t key) {
  w.start(0);
  w.i32(int32_t(kCancelRequestCode));
  w.i32(int32_t(pid));
  w.i32(int32_t(key));
  w.finish();
}

void putPasswordMessage(Writer& w, std::string_view password) {
  w.start('p');
  w.cstring(password);
  w.finish();
}

void putSaslInitialResponse(Writer& w, std::string_view mechanism, std::string_view data) {
  w.start('p');
  w.cstring(mechanism);
  // Always the real length (0 for empty data): shardpool only speaks SCRAM, whose client-first
  // message is never empty. The decoder also accepts libpq's -1 for "no initial response".
  w.i32(int32_t(data.size()));
  w.bytes(data);
  w.finish();
}

void putSaslResponse(Writer& w, std::string_view data) {
  w.start('p');
  w.bytes(data);
  w.finish();
}

void putQuery(Writer& w, std::string_view sql) {
  w.start('Q');
  w.cstring(sql);
  w.finish();
}

namespace {
// Whether the error was raised by shardpool (its schema field names kRaisedErrorSchema).
bool raisedByShardpool(Bytes body) {
  Reader r(body);
  for (;;) {
    uint8_t field = r.u8();
    if (!r.ok() || field == 0) return false;
    std::string_view value = r.cstring();
    if (!r.ok()) return false;
    if (field == 's' && value == kRaisedErrorSchema) return true;
  }
}
}  // namespace

std::optional<std::string> downgradedErrorFields(Bytes body, std::string_view messagePrefix) {
  bool raised = raisedByShardpool(body);
  Reader r(body);
  std::string out;
  for (;;) {
    uint8_t field = r.u8();
    if (!r.ok()) return std::nullopt;
    if (field == 0) break;
    std::string_view value = r.cstring();
    if (!r.ok()) return std::nullopt;
    if ((field == 'S' || field == 'V') && (value == "FATAL" || value == "PANIC")) value = "ERROR";
    if (raised && (field == 'W' || field == 's' || field == 'q' || field == 'p')) continue;
    out.push_back(static_cast<char>(field));
    if (field == 'M') out.append(messagePrefix);
    out.append(value);
    out.push_back('\0');
  }
  if (r.remaining() != 0) return std::nullopt;
  out.push_back('\0');
  return out;
}

void putErrorDowngraded(Writer& w, Bytes body) {
  w.start('E');
  if (auto fields = downgradedErrorFields(body))
    w.bytes(std::string_view(*fields));
  else
    w.bytes(body);
  w.finish();
}

void putRowDescription(Writer& w, std::span<const ColumnDesc> columns) {
  w.start('T');
  w.i16(static_cast<int16_t>(columns.size()));
  for (const ColumnDesc& c : columns) {
    w.cstring(c.name);
    w.i32(0);  // table oid
    w.i16(0);  // column number
    w.i32(static_cast<int32_t>(c.typeOid));
    w.i16(c.typeOid == 20 ? 8 : -1);  // type size
    w.i32(-1);                         // type modifier
    w.i16(0);                          // text format
  }
  w.finish();
}

void putDataRow(Writer& w, std::span<const std::optional<std::string>> values) {
  w.start('D');
  w.i16(static_cast<int16_t>(values.size()));
  for (const auto& v : values) {
    if (!v) {
      w.i32(-1);
      continue;
    }
    w.i32(static_cast<int32_t>(v->size()));
    w.bytes(std::string_view(*v));
  }
  w.finish();
}

void putCommandComplete(Writer& w, std::string_view tag) {
  w.start('C');
  w.cstring(tag);
  w.finish();
}

void putEmptyQueryResponse(Writer& w) {
  w.start('I');
  w.finish();
}

void putTerminate(Writer& w) {
  w.start('X');
  w.finish();
}

// ---- Decoders ----

std::optional<ErrorFields> decodeErrorResponse(Bytes body) {
  Reader r(body);
  ErrorFields out;
  bool haveV = false;
  for (;;) {
    uint8_t code = r.u8();
    if (!r.ok()) return std::nullopt;  // missing terminator
    if (code == 0) break;
    std::string_view value = r.cstring();
    if (!r.ok()) return std::nullopt;
    switch (code) {
      case 'S':
        if (!haveV) out.severity = value;  // localized; 'V' wins when present
        break;
      case 'V':
        out.severity = value;
        haveV = true;
        break;
      case 'C':
        out.sqlstate = value;
        break;
      case 'M':
        out.message = value;
        break;
      case 'D':
        out.detail = value;
        break;
      case 'H':
        out.hint = value;
        break;
      default:
        break;  // position, where, schema, file, line, ...: not needed
    }
  }
  if (r.remaining() != 0) return std::nullopt;
  return out;
}

std::optional<ParameterStatus> decodeParameterStatus(Bytes body) {
  Reader r(body);
  ParameterStatus out;
  out.name = r.cstring();
  out.value = r.cstring();
  if (!r.ok() || r.remaining() != 0) return std::nullopt;
  return out;
}

std::optional<BackendKeyData> decodeBackendKeyData(Bytes body) {
  if (body.size() != 8) return std::nullopt;
  Reader r(body);
  BackendKeyData out;
  out.pid = uint32_t(r.i32());
  out.key = uint32_t(r.i32());
  return out;
}

std::optional<char> decodeReadyForQuery(Bytes body) {
  if (body.size() != 1) return std::nullopt;
  char status = char(body[0]);
  if (status != 'I' && status != 'T' && status != 'E') return std::nullopt;
  return status;
}

// Codes shardpool does not implement (GSS, SSPI, ...) are returned as-is so the caller can name
// them in its error; the ones it knows are checked for their fixed data size.
std::optional<AuthRequest> decodeAuthentication(Bytes body) {
  Reader r(body);
  int32_t code = r.i32();
  if (!r.ok()) return std::nullopt;
  AuthRequest out;
  out.code = AuthCode(code);
  out.data = r.rest();
  switch (out.code) {
    case AuthCode::Ok:
    case AuthCode::CleartextPassword:
      if (!out.data.empty()) return std::nullopt;
      break;
    case AuthCode::Md5Password:
      if (out.data.size() != 4) return std::nullopt;
      break;
    case AuthCode::Sasl:
    case AuthCode::SaslContinue:
    case AuthCode::SaslFinal:
      break;
  }
  return out;
}

// Empty on a malformed list (a name without its terminator).
std::vector<std::string_view> decodeSaslMechanisms(Bytes data) {
  std::vector<std::string_view> out;
  Reader r(data);
  for (;;) {
    std::string_view name = r.cstring();
    if (!r.ok()) return {};
    if (name.empty()) break;
    out.push_back(name);
  }
  return out;
}

std::optional<std::string_view> decodePasswordMessage(Bytes body) {
  Reader r(body);
  std::string_view password = r.cstring();
  if (!r.ok() || r.remaining() != 0) return std::nullopt;
  return password;
}

std::optional<SaslInitialResponse> decodeSaslInitialResponse(Bytes body) {
  Reader r(body);
  SaslInitialResponse out;
  out.mechanism = r.cstring();
  int32_t len = r.i32();
  if (!r.ok()) return std::nullopt;
  if (len == -1) {
    if (r.remaining() != 0) return std::nullopt;
    return out;  // no initial response
  }
  if (len < 0 || size_t(len) != r.remaining()) return std::nullopt;
  Bytes data = r.bytes(size_t(len));
  out.data = {reinterpret_cast<const char*>(data.data()), data.size()};
  return out;
}

}  // namespace shardpool::protocol::pg
