// Command packets: decoders for routing, builders for what shardpool sends itself.
#include "pooler/protocol/mysql_commands.h"

#include <limits>

namespace shardpool::protocol::mysql {

namespace {

constexpr size_t kStmtIdCommandSize = 5;  // command byte + 4-byte statement id

// The payload after the command byte when it is `expected`; nullopt otherwise.
std::optional<Bytes> body(Bytes payload, Command expected) {
  if (payload.empty() || payload[0] != uint8_t(expected)) return std::nullopt;
  return payload.subspan(1);
}

bool carriesStatementId(uint8_t command) {
  switch (Command(command)) {
    case Command::StmtExecute:
    case Command::StmtClose:
    case Command::StmtReset:
    case Command::StmtSendLongData:
    case Command::StmtFetch:
      return true;
    default:
      return false;
  }
}

enum class Encoding { Fixed, LengthByte, Lenenc, None, Unknown };

// How a parameter of this type is encoded in COM_STMT_EXECUTE; `size` for Fixed.
Encoding encodingOf(FieldType t, size_t& size) {
  switch (t) {
    case FieldType::Tiny:
      size = 1;
      return Encoding::Fixed;
    case FieldType::Short:
    case FieldType::Year:
      size = 2;
      return Encoding::Fixed;
    case FieldType::Long:
    case FieldType::Int24:
    case FieldType::Float:
      size = 4;
      return Encoding::Fixed;
    case FieldType::LongLong:
    case FieldType::Double:
      size = 8;
      return Encoding::Fixed;
    case FieldType::Null:
      return Encoding::None;
    case FieldType::Date:
    case FieldType::DateTime:
    case FieldType::Timestamp:
    case FieldType::Time:
      return Encoding::LengthByte;
    case FieldType::Decimal:
    case FieldType::NewDecimal:
    case FieldType::VarChar:
    case FieldType::Bit:
    case FieldType::Json:
    case FieldType::Enum:
    case FieldType::Set:
    case FieldType::TinyBlob:
    case FieldType::MediumBlob:
    case FieldType::LongBlob:
    case FieldType::Blob:
    case FieldType::VarString:
    case FieldType::String:
    case FieldType::Geometry:
      return Encoding::Lenenc;
    case FieldType::NewDate:
    case FieldType::Timestamp2:
    case FieldType::DateTime2:
    case FieldType::Time2:
      return Encoding::Unknown;  // server-internal types: no client sends them
  }
  return Encoding::Unknown;
}

bool isIntegerType(FieldType t) {
  return t == FieldType::Tiny || t == FieldType::Short || t == FieldType::Year ||
         t == FieldType::Long || t == FieldType::Int24 || t == FieldType::LongLong;
}

uint64_t loadLe(Bytes b) {
  uint64_t v = 0;
  for (size_t i = 0; i < b.size(); ++i) v |= uint64_t(b[i]) << (8 * i);
  return v;
}

// A plain decimal integer: optional sign, then 1-20 digits. Magnitude in `mag`.
bool parseDecimal(std::string_view s, bool& negative, uint64_t& mag) {
  negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return false;
  mag = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = uint64_t(c - '0');
    if (mag > (std::numeric_limits<uint64_t>::max() - d) / 10) return false;
    mag = mag * 10 + d;
  }
  return true;
}

}  // namespace

std::optional<Command> commandOf(Bytes payload) {
  if (payload.empty()) return std::nullopt;
  return Command(payload[0]);
}

// ---- Text commands ----

std::optional<std::string_view> decodeQuery(Bytes payload) {
  auto b = body(payload, Command::Query);
  if (!b) return std::nullopt;
  return asText(*b);
}

std::optional<std::string_view> decodeInitDb(Bytes payload) {
  auto b = body(payload, Command::InitDb);
  if (!b) return std::nullopt;
  return asText(*b);
}

std::optional<std::string_view> decodeStmtPrepare(Bytes payload) {
  auto b = body(payload, Command::StmtPrepare);
  if (!b) return std::nullopt;
  return asText(*b);
}

std::optional<uint16_t> decodeSetOption(Bytes payload) {
  auto b = body(payload, Command::SetOption);
  if (!b || b->size() != 2) return std::nullopt;
  return uint16_t(loadLe(*b));
}

// ---- Statement ids ----

std::optional<uint32_t> decodeStmtClose(Bytes payload) {
  auto b = body(payload, Command::StmtClose);
  if (!b || b->size() != 4) return std::nullopt;
  return uint32_t(loadLe(*b));
}

std::optional<uint32_t> decodeStmtReset(Bytes payload) {
  auto b = body(payload, Command::StmtReset);
  if (!b || b->size() != 4) return std::nullopt;
  return uint32_t(loadLe(*b));
}

std::optional<StmtSendLongData> decodeStmtSendLongData(Bytes payload) {
  auto b = body(payload, Command::StmtSendLongData);
  if (!b) return std::nullopt;
  Reader r(*b);
  StmtSendLongData out;
  out.statementId = r.u32();
  out.paramId = r.u16();
  out.data = r.rest();
  if (!r.ok()) return std::nullopt;
  return out;
}

std::optional<StmtFetch> decodeStmtFetch(Bytes payload) {
  auto b = body(payload, Command::StmtFetch);
  if (!b || b->size() != 8) return std::nullopt;
  Reader r(*b);
  StmtFetch out;
  out.statementId = r.u32();
  out.numRows = r.u32();
  return out;
}

bool rewriteStatementId(std::span<uint8_t> payload, uint32_t statementId) {
  if (payload.size() < kStmtIdCommandSize || !carriesStatementId(payload[0])) return false;
  for (size_t i = 0; i < 4; ++i) payload[1 + i] = uint8_t(statementId >> (8 * i));
  return true;
}

std::optional<uint32_t> statementIdOf(Bytes payload) {
  if (payload.size() < kStmtIdCommandSize || !carriesStatementId(payload[0])) return std::nullopt;
  return uint32_t(loadLe(payload.subspan(1, 4)));
}

// ---- COM_STMT_EXECUTE ----

std::optional<StmtExecute> decodeStmtExecute(Bytes payload, uint16_t numParams) {
  auto b = body(payload, Command::StmtExecute);
  if (!b) return std::nullopt;
  Reader r(*b);
  StmtExecute e;
  e.statementId = r.u32();
  e.flags = r.u8();
  e.iterationCount = r.u32();
  e.numParams = numParams;
  if (!r.ok()) return std::nullopt;
  if (numParams > 0) {
    e.nullBitmap = r.bytes((size_t(numParams) + 7) / 8);
    uint8_t bound = r.u8();
    if (!r.ok() || bound > 1) return std::nullopt;
    e.newParamsBound = bound == 1;
    if (e.newParamsBound) e.paramTypes = r.bytes(size_t(numParams) * 2);
  }
  e.values = r.rest();
  if (!r.ok()) return std::nullopt;
  return e;
}

ParamStatus decodeParamValues(const StmtExecute& e, std::span<ParamValue> out, Bytes previousTypes,
                              std::span<const uint8_t> longData) {
  const size_t n = e.numParams;
  if (out.size() < n) return ParamStatus::Malformed;
  Bytes types = e.newParamsBound ? e.paramTypes : previousTypes;
  if (n > 0 && types.size() != n * 2) return ParamStatus::NoTypes;
  Reader r(e.values);
  for (size_t i = 0; i < n; ++i) {
    ParamValue& v = out[i];
    v = ParamValue{};
    v.type = FieldType(types[2 * i]);
    v.isUnsigned = (types[2 * i + 1] & 0x80) != 0;
    v.isNull = e.isNull(uint16_t(i));
    if (v.isNull || (i < longData.size() && longData[i] != 0)) continue;
    size_t size = 0;
    switch (encodingOf(v.type, size)) {
      case Encoding::Fixed:
        v.raw = r.bytes(size);
        break;
      case Encoding::LengthByte:
        v.raw = r.bytes(r.u8());
        break;
      case Encoding::Lenenc:
        v.raw = asBytes(r.lenencString());
        break;
      case Encoding::None:
        break;
      case Encoding::Unknown:
        return ParamStatus::UnsupportedType;
    }
    if (!r.ok()) return ParamStatus::Malformed;
  }
  // Bytes after the last value are ignored, as MySQL and MariaDB ignore them.
  return ParamStatus::Ok;
}

std::optional<int64_t> ParamValue::asInt64() const {
  if (isNull) return std::nullopt;
  if (isIntegerType(type)) {
    uint64_t u = loadLe(raw);
    if (isUnsigned) {
      if (u > uint64_t(std::numeric_limits<int64_t>::max())) return std::nullopt;
      return int64_t(u);
    }
    // Sign-extend from the value's width.
    unsigned bits = unsigned(raw.size() * 8);
    if (bits == 0) return std::nullopt;
    if (bits < 64 && (u & (uint64_t(1) << (bits - 1)))) u |= ~uint64_t(0) << bits;
    return int64_t(u);
  }
  std::optional<std::string_view> s = asString();
  if (!s) return std::nullopt;
  bool negative = false;
  uint64_t mag = 0;
  if (!parseDecimal(*s, negative, mag)) return std::nullopt;
  if (negative) {
    if (mag > uint64_t(std::numeric_limits<int64_t>::max()) + 1) return std::nullopt;
    return int64_t(0 - mag);
  }
  if (mag > uint64_t(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return int64_t(mag);
}

std::optional<uint64_t> ParamValue::asUint64() const {
  if (isNull) return std::nullopt;
  if (isIntegerType(type)) {
    if (isUnsigned) return loadLe(raw);
    std::optional<int64_t> v = asInt64();
    if (!v || *v < 0) return std::nullopt;
    return uint64_t(*v);
  }
  std::optional<std::string_view> s = asString();
  if (!s) return std::nullopt;
  bool negative = false;
  uint64_t mag = 0;
  if (!parseDecimal(*s, negative, mag) || (negative && mag != 0)) return std::nullopt;
  return mag;
}

std::optional<std::string_view> ParamValue::asString() const {
  size_t size = 0;
  if (isNull || encodingOf(type, size) != Encoding::Lenenc) return std::nullopt;
  return asText(raw);
}

void putStmtExecute(Writer& w, const StmtExecute& e) {
  const size_t n = e.numParams;
  if (n > 0 &&
      (e.nullBitmap.size() != (n + 7) / 8 || (e.newParamsBound && e.paramTypes.size() != n * 2))) {
    w.fail();
    return;
  }
  w.start(0);
  w.u8(uint8_t(Command::StmtExecute));
  w.u32(e.statementId);
  w.u8(e.flags);
  w.u32(e.iterationCount);
  if (n > 0) {
    w.bytes(e.nullBitmap);
    w.u8(e.newParamsBound ? 1 : 0);
    if (e.newParamsBound) w.bytes(e.paramTypes);
  }
  w.bytes(e.values);
  w.finish();
}

void putStmtExecute(Writer& w, uint32_t statementId, uint8_t flags,
                    std::span<const ParamValue> params, bool sendTypes) {
  if (params.size() > 0xFFFF) {
    w.fail();
    return;
  }
  w.start(0);
  w.u8(uint8_t(Command::StmtExecute));
  w.u32(statementId);
  w.u8(flags);
  w.u32(1);
  if (!params.empty()) {
    for (size_t byte = 0; byte < (params.size() + 7) / 8; ++byte) {
      uint8_t bits = 0;
      for (size_t i = byte * 8; i < params.size() && i < byte * 8 + 8; ++i)
        if (params[i].isNull) bits |= uint8_t(1u << (i % 8));
      w.u8(bits);
    }
    w.u8(sendTypes ? 1 : 0);
    if (sendTypes) {
      for (const ParamValue& p : params) {
        w.u8(uint8_t(p.type));
        w.u8(p.isUnsigned ? 0x80 : 0);
      }
    }
    for (const ParamValue& p : params) {
      if (p.isNull) continue;
      size_t size = 0;
      switch (encodingOf(p.type, size)) {
        case Encoding::Fixed:
          if (p.raw.size() != size) w.fail();
          w.bytes(p.raw);
          break;
        case Encoding::LengthByte:
          if (p.raw.size() > 0xFF) w.fail();
          w.u8(uint8_t(p.raw.size()));
          w.bytes(p.raw);
          break;
        case Encoding::Lenenc:
          w.lenencString(p.raw);
          break;
        case Encoding::None:
          break;
        case Encoding::Unknown:
          w.fail();
          break;
      }
    }
  }
  w.finish();
}

// ---- COM_CHANGE_USER ----

std::optional<ChangeUser> decodeChangeUser(Bytes payload, Capabilities caps) {
  auto b = body(payload, Command::ChangeUser);
  if (!b) return std::nullopt;
  Reader r(*b);
  ChangeUser c;
  c.username = r.cstring();
  if (caps & kClientSecureConnection)
    c.authResponse = r.bytes(r.u8());
  else
    c.authResponse = asBytes(r.cstring());
  c.database = r.cstring();
  if (!r.ok()) return std::nullopt;
  if (!r.atEnd()) {
    c.hasCharacterSet = true;
    c.characterSet = r.u16();
    if ((caps & kClientPluginAuth) && !r.atEnd()) c.authPluginName = r.cstring();
    if ((caps & kClientConnectAttrs) && !r.atEnd()) {
      uint64_t len = r.lenenc();
      if (!r.ok() || len > r.remaining()) return std::nullopt;
      c.connectAttributes = r.bytes(size_t(len));
    }
    if (!r.ok() || !r.atEnd()) return std::nullopt;
  }
  return c;
}

void putChangeUser(Writer& w, const ChangeUser& c, Capabilities caps) {
  w.start(0);
  w.u8(uint8_t(Command::ChangeUser));
  w.cstring(c.username);
  if (caps & kClientSecureConnection) {
    if (c.authResponse.size() > 0xFF) w.fail();
    w.u8(uint8_t(c.authResponse.size()));
    w.bytes(c.authResponse);
  } else {
    w.cstring(asText(c.authResponse));
  }
  w.cstring(c.database);
  if (c.hasCharacterSet) {
    w.u16(c.characterSet);
    if (caps & kClientPluginAuth) w.cstring(c.authPluginName);
    if (caps & kClientConnectAttrs) w.lenencString(c.connectAttributes);
  }
  w.finish();
}

// ---- Builders ----

namespace {

void putTextCommand(Writer& w, Command c, std::string_view text) {
  w.start(0);
  w.u8(uint8_t(c));
  w.bytes(text);
  w.finish();
}

void putIdCommand(Writer& w, Command c, uint32_t statementId) {
  w.start(0);
  w.u8(uint8_t(c));
  w.u32(statementId);
  w.finish();
}

void putBareCommand(Writer& w, Command c) {
  w.start(0);
  w.u8(uint8_t(c));
  w.finish();
}

}  // namespace

void putQuery(Writer& w, std::string_view sql) {
  putTextCommand(w, Command::Query, sql);
}
void putInitDb(Writer& w, std::string_view schema) {
  putTextCommand(w, Command::InitDb, schema);
}
void putStmtPrepare(Writer& w, std::string_view sql) {
  putTextCommand(w, Command::StmtPrepare, sql);
}
void putStmtClose(Writer& w, uint32_t statementId) {
  putIdCommand(w, Command::StmtClose, statementId);
}
void putStmtReset(Writer& w, uint32_t statementId) {
  putIdCommand(w, Command::StmtReset, statementId);
}

void putStmtFetch(Writer& w, uint32_t statementId, uint32_t numRows) {
  w.start(0);
  w.u8(uint8_t(Command::StmtFetch));
  w.u32(statementId);
  w.u32(numRows);
  w.finish();
}

void putStmtSendLongData(Writer& w, uint32_t statementId, uint16_t paramId, Bytes data) {
  w.start(0);
  w.u8(uint8_t(Command::StmtSendLongData));
  w.u32(statementId);
  w.u16(paramId);
  w.bytes(data);
  w.finish();
}

void putSetOption(Writer& w, uint16_t option) {
  w.start(0);
  w.u8(uint8_t(Command::SetOption));
  w.u16(option);
  w.finish();
}

void putPing(Writer& w) {
  putBareCommand(w, Command::Ping);
}
void putQuit(Writer& w) {
  putBareCommand(w, Command::Quit);
}
void putResetConnection(Writer& w) {
  putBareCommand(w, Command::ResetConnection);
}

}  // namespace shardpool::protocol::mysql
