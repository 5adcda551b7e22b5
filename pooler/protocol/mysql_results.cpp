// Response packets: OK, session-state entries, ERR, EOF, metadata, rows, prepare OK.
#include "pooler/protocol/mysql_results.h"

namespace shardpool::protocol::mysql {

namespace {

constexpr size_t kColumnFixedLength = 0x0C;
constexpr size_t kStmtPrepareOkMinLength = 10;  // through the reserved byte; warnings follow

void appendLenenc(std::string& out, uint64_t v) {
  if (v < 0xFB) {
    out.push_back(char(v));
    return;
  }
  size_t width = v <= 0xFFFF ? 2 : v <= 0xFFFFFF ? 3 : 8;
  out.push_back(char(width == 2 ? 0xFC : width == 3 ? 0xFD : 0xFE));
  for (size_t i = 0; i < width; ++i) out.push_back(char(uint8_t(v >> (8 * i))));
}

void appendLenencString(std::string& out, std::string_view s) {
  appendLenenc(out, s.size());
  out.append(s);
}

}  // namespace

// ---- OK ----

std::optional<OkPacket> decodeOk(Bytes payload, Capabilities caps) {
  Reader r(payload);
  OkPacket ok;
  ok.header = r.u8();
  if (!r.ok() || (ok.header != kOkHeader && ok.header != kEofHeader)) return std::nullopt;
  ok.affectedRows = r.lenenc();
  ok.lastInsertId = r.lenenc();
  if (caps & kClientProtocol41) {
    ok.statusFlags = r.u16();
    ok.warnings = r.u16();
  } else if (caps & kClientTransactions) {
    ok.statusFlags = r.u16();
  }
  if (!r.ok()) return std::nullopt;
  if (caps & kClientSessionTrack) {
    // The server leaves the info out when it is empty and no state changed.
    if (!r.atEnd()) ok.info = r.lenencString();
    if ((ok.statusFlags & kServerSessionStateChanged) && !r.atEnd())
      ok.sessionState = asBytes(r.lenencString());
    if (!r.atEnd()) return std::nullopt;
  } else {
    ok.info = r.restString();
  }
  if (!r.ok()) return std::nullopt;
  return ok;
}

void putOk(Writer& w, uint8_t sequenceId, const OkPacket& ok, Capabilities caps) {
  uint16_t status = ok.statusFlags;
  const bool track = (caps & kClientSessionTrack) != 0;
  if (track && !ok.sessionState.empty()) status |= kServerSessionStateChanged;
  w.start(sequenceId);
  w.u8(ok.header == kEofHeader ? kEofHeader : kOkHeader);
  w.lenenc(ok.affectedRows);
  w.lenenc(ok.lastInsertId);
  if (caps & kClientProtocol41) {
    w.u16(status);
    w.u16(ok.warnings);
  } else if (caps & kClientTransactions) {
    w.u16(status);
  }
  if (track) {
    if (!ok.info.empty() || (status & kServerSessionStateChanged)) w.lenencString(ok.info);
    if (status & kServerSessionStateChanged) w.lenencString(ok.sessionState);
  } else {
    w.bytes(ok.info);
  }
  w.finish();
}

// ---- Session state ----

bool SessionStateReader::next(SessionStateChange& out) {
  if (!reader_.ok() || reader_.atEnd()) return false;
  out = SessionStateChange{};
  out.type = SessionTrackType(reader_.u8());
  out.data = asBytes(reader_.lenencString());
  if (!reader_.ok()) return false;
  Reader d(out.data);
  switch (out.type) {
    case SessionTrackType::SystemVariables:
      out.name = d.lenencString();
      out.value = d.lenencString();
      break;
    case SessionTrackType::StateChange:
      out.value = d.restString();  // "1" itself, without a length of its own
      break;
    case SessionTrackType::Schema:
    case SessionTrackType::TransactionCharacteristics:
    case SessionTrackType::TransactionState:
      out.value = d.lenencString();
      break;
    case SessionTrackType::Gtids:
      out.gtidEncoding = d.u8();
      out.value = d.lenencString();
      break;
    default:
      return true;  // unknown type: `data` only
  }
  if (!d.atEnd()) {
    reader_.fail();
    return false;
  }
  return true;
}

std::optional<std::vector<SessionStateChange>> decodeSessionState(Bytes entries) {
  std::vector<SessionStateChange> out;
  SessionStateReader r(entries);
  SessionStateChange change;
  while (r.next(change)) out.push_back(change);
  if (!r.ok()) return std::nullopt;
  return out;
}

std::string encodeSessionState(std::span<const SessionStateChange> changes) {
  std::string out;
  std::string data;
  for (const SessionStateChange& c : changes) {
    data.clear();
    switch (c.type) {
      case SessionTrackType::SystemVariables:
        appendLenencString(data, c.name);
        appendLenencString(data, c.value);
        break;
      case SessionTrackType::StateChange:
        data.assign(c.value);
        break;
      case SessionTrackType::Schema:
      case SessionTrackType::TransactionCharacteristics:
      case SessionTrackType::TransactionState:
        appendLenencString(data, c.value);
        break;
      case SessionTrackType::Gtids:
        data.push_back(char(c.gtidEncoding));
        appendLenencString(data, c.value);
        break;
      default:
        data.assign(asText(c.data));
        break;
    }
    out.push_back(char(c.type));
    appendLenencString(out, data);
  }
  return out;
}

// ---- ERR ----

std::optional<ErrPacket> decodeErr(Bytes payload) {
  Reader r(payload);
  if (r.u8() != kErrHeader || !r.ok()) return std::nullopt;
  ErrPacket err;
  err.code = r.u16();
  if (!r.ok()) return std::nullopt;
  if (err.code != kProgressReportCode && r.peek() == '#' && r.remaining() >= 6) {
    r.skip(1);
    err.sqlState = r.string(5);
  }
  err.message = r.restString();
  return err;
}

void putErr(Writer& w, uint8_t sequenceId, const ErrPacket& err, Capabilities caps) {
  std::string_view state = err.sqlState.empty() ? std::string_view("HY000") : err.sqlState;
  if (state.size() != 5) {
    w.fail();
    return;
  }
  w.start(sequenceId);
  w.u8(kErrHeader);
  w.u16(err.code);
  if (caps & kClientProtocol41) {
    w.u8('#');
    w.bytes(state);
  }
  w.bytes(err.message);
  w.finish();
}

// ---- EOF ----

bool isEof(Bytes payload) {
  return !payload.empty() && payload[0] == kEofHeader && payload.size() < kEofMaxLength;
}

std::optional<EofPacket> decodeEof(Bytes payload) {
  if (!isEof(payload)) return std::nullopt;
  EofPacket eof;
  if (payload.size() == 1) return eof;  // pre-4.1
  Reader r(payload.subspan(1));
  eof.warnings = r.u16();
  eof.statusFlags = r.u16();
  if (!r.atEnd()) return std::nullopt;
  return eof;
}

void putEof(Writer& w, uint8_t sequenceId, const EofPacket& eof) {
  w.start(sequenceId);
  w.u8(kEofHeader);
  w.u16(eof.warnings);
  w.u16(eof.statusFlags);
  w.finish();
}

void putResultSetEnd(Writer& w, uint8_t sequenceId, uint16_t statusFlags, uint16_t warnings,
                     Capabilities caps) {
  if (caps & kClientDeprecateEof) {
    OkPacket ok;
    ok.header = kEofHeader;
    ok.statusFlags = statusFlags;
    ok.warnings = warnings;
    putOk(w, sequenceId, ok, caps);
  } else {
    putEof(w, sequenceId, EofPacket{warnings, statusFlags});
  }
}

// ---- Metadata and rows ----

std::optional<ColumnCount> decodeColumnCount(Bytes payload, Capabilities caps) {
  Reader r(payload);
  ColumnCount out;
  out.count = r.lenenc();
  if (caps & kMariaDbClientCacheMetadata) {
    uint8_t follows = r.u8();
    if (follows > 1) return std::nullopt;
    out.metadataFollows = follows == 1;
  }
  if (!r.atEnd() || out.count == 0) return std::nullopt;
  return out;
}

void putColumnCount(Writer& w, uint8_t sequenceId, uint64_t count, Capabilities caps,
                    bool metadataFollows) {
  w.start(sequenceId);
  w.lenenc(count);
  if (caps & kMariaDbClientCacheMetadata) w.u8(metadataFollows ? 1 : 0);
  w.finish();
}

std::optional<ColumnDefinition> decodeColumnDefinition(Bytes payload, Capabilities caps) {
  Reader r(payload);
  ColumnDefinition c;
  c.catalog = r.lenencString();
  c.schema = r.lenencString();
  c.table = r.lenencString();
  c.orgTable = r.lenencString();
  c.name = r.lenencString();
  c.orgName = r.lenencString();
  if (caps & kMariaDbClientExtendedMetadata) c.extendedTypeInfo = asBytes(r.lenencString());
  uint64_t fixed = r.lenenc();
  if (!r.ok() || fixed < kColumnFixedLength || fixed > r.remaining()) return std::nullopt;
  c.characterSet = r.u16();
  c.columnLength = r.u32();
  c.type = FieldType(r.u8());
  c.flags = r.u16();
  c.decimals = r.u8();
  r.skip(size_t(fixed) - 10);  // filler
  if (!r.ok()) return std::nullopt;
  if (!r.atEnd()) {
    c.hasDefault = true;
    c.defaultValue = r.lenencStringNullable();
    if (!r.atEnd()) return std::nullopt;
  }
  return c;
}

void putColumnDefinition(Writer& w, uint8_t sequenceId, const ColumnDefinition& c,
                         Capabilities caps) {
  w.start(sequenceId);
  w.lenencString(c.catalog);
  w.lenencString(c.schema);
  w.lenencString(c.table);
  w.lenencString(c.orgTable);
  w.lenencString(c.name);
  w.lenencString(c.orgName);
  if (caps & kMariaDbClientExtendedMetadata) w.lenencString(c.extendedTypeInfo);
  w.lenenc(kColumnFixedLength);
  w.u16(c.characterSet);
  w.u32(c.columnLength);
  w.u8(uint8_t(c.type));
  w.u16(c.flags);
  w.u8(c.decimals);
  w.zeros(2);
  if (c.hasDefault) {
    if (c.defaultValue)
      w.lenencString(*c.defaultValue);
    else
      w.lenencNull();
  }
  w.finish();
}

void putTextRow(Writer& w, uint8_t sequenceId,
                std::span<const std::optional<std::string_view>> values) {
  w.start(sequenceId);
  for (const auto& v : values) {
    if (v)
      w.lenencString(*v);
    else
      w.lenencNull();
  }
  w.finish();
}

bool decodeTextRow(Bytes payload, std::vector<std::optional<std::string_view>>& out) {
  out.clear();
  Reader r(payload);
  while (!r.atEnd()) {
    std::optional<std::string_view> v = r.lenencStringNullable();
    if (!r.ok()) return false;
    out.push_back(v);
  }
  return r.ok();
}

// ---- COM_STMT_PREPARE OK ----

std::optional<StmtPrepareOk> decodeStmtPrepareOk(Bytes payload) {
  if (payload.size() < kStmtPrepareOkMinLength || payload[0] != kOkHeader) return std::nullopt;
  Reader r(payload.subspan(1));
  StmtPrepareOk ok;
  ok.statementId = r.u32();
  ok.numColumns = r.u16();
  ok.numParams = r.u16();
  r.skip(1);  // reserved
  if (r.remaining() >= 2) ok.warnings = r.u16();
  // A MySQL 8 metadata_follows byte may follow (only with OPTIONAL_RESULTSET_METADATA).
  if (!r.ok()) return std::nullopt;
  return ok;
}

void putStmtPrepareOk(Writer& w, uint8_t sequenceId, const StmtPrepareOk& ok) {
  w.start(sequenceId);
  w.u8(kOkHeader);
  w.u32(ok.statementId);
  w.u16(ok.numColumns);
  w.u16(ok.numParams);
  w.u8(0);
  w.u16(ok.warnings);
  w.finish();
}

// ---- LOCAL INFILE ----

std::optional<std::string_view> decodeLocalInfileRequest(Bytes payload) {
  if (payload.empty() || payload[0] != kLocalInfileHeader) return std::nullopt;
  return asText(payload.subspan(1));
}

void putLocalInfileRequest(Writer& w, uint8_t sequenceId, std::string_view fileName) {
  w.start(sequenceId);
  w.u8(kLocalInfileHeader);
  w.bytes(fileName);
  w.finish();
}

}  // namespace shardpool::protocol::mysql
