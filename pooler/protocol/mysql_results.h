// MySQL/MariaDB response packets: OK (with session-state tracking), ERR, EOF, result-set
// metadata (column count, Column Definition 41), text rows, the COM_STMT_PREPARE OK and the
// LOCAL INFILE request. Decoders take one logical payload and return views into it; builders
// append one complete packet to a Writer with the given sequence id. Telling which packet is
// which within a command's response is ResultTracker's job (mysql_result_tracker.h).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pooler/protocol/mysql_codec.h"
#include "pooler/protocol/mysql_constants.h"

namespace shardpool::protocol::mysql {

// ---- OK ----
struct OkPacket {
  uint8_t header = kOkHeader;  // 0x00, or 0xFE for a result set's end with DEPRECATE_EOF
  uint64_t affectedRows = 0;
  uint64_t lastInsertId = 0;
  uint16_t statusFlags = 0;
  uint16_t warnings = 0;
  std::string_view info;
  // With SESSION_TRACK and kServerSessionStateChanged: the session-state entries as sent (read
  // them with SessionStateReader or decodeSessionState()).
  Bytes sessionState;
};
// The payload as laid out for the capabilities negotiated on the connection (PROTOCOL_41,
// TRANSACTIONS, SESSION_TRACK). Accepts header 0x00 or 0xFE; nullopt when malformed.
std::optional<OkPacket> decodeOk(Bytes payload, Capabilities caps);
// Writes ok as laid out for `caps`. With SESSION_TRACK and a non-empty sessionState,
// kServerSessionStateChanged is set in the flags written.
void putOk(Writer& w, uint8_t sequenceId, const OkPacket& ok, Capabilities caps);

// ---- Session-state tracking (the OK packet's state-change entries) ----
struct SessionStateChange {
  SessionTrackType type = SessionTrackType::SystemVariables;
  std::string_view name;  // SystemVariables: the variable's name
  // SystemVariables: the variable's value; Schema: the new default schema; StateChange: "1"
  // (the entry's whole data, not length-encoded, as MySQL and MariaDB send it);
  // Gtids: the GTID set; TransactionCharacteristics: the statements that recreate them;
  // TransactionState: the 8-character state (e.g. "T_______").
  std::string_view value;
  uint8_t gtidEncoding = 0;  // Gtids: the encoding specification byte
  Bytes data;                // the entry's data as sent (all that is known of an unknown type)
};
// Reads the entries one by one without allocating.
class SessionStateReader {
 public:
  explicit SessionStateReader(Bytes entries) : reader_(entries) {}
  // The next entry; false at the end and on a malformed entry (then ok() is false).
  bool next(SessionStateChange& out);
  bool ok() const { return reader_.ok(); }

 private:
  Reader reader_;
};
std::optional<std::vector<SessionStateChange>> decodeSessionState(Bytes entries);
// The encoding of `changes` for OkPacket::sessionState (name/value/gtidEncoding by type; `data`
// verbatim for types this codec does not know).
std::string encodeSessionState(std::span<const SessionStateChange> changes);

// ---- ERR ----
constexpr uint16_t kProgressReportCode = 0xFFFF;  // MariaDB progress report in an ERR packet
struct ErrPacket {
  uint16_t code = 0;
  std::string_view sqlState;  // 5 characters; empty when the server sent no '#' marker
  std::string_view message;
};
std::optional<ErrPacket> decodeErr(Bytes payload);
// With PROTOCOL_41 the SQL state is written after '#' ("HY000" when empty; anything but 5
// characters fails the Writer).
void putErr(Writer& w, uint8_t sequenceId, const ErrPacket& err, Capabilities caps);

// ---- EOF ----
struct EofPacket {
  uint16_t warnings = 0;
  uint16_t statusFlags = 0;
};
// An EOF is 0xFE with a payload shorter than 9 bytes (a 0xFE packet of 9 bytes or more is a row
// or, with DEPRECATE_EOF, an OK). The pre-4.1 one-byte EOF decodes with zero fields.
bool isEof(Bytes payload);
std::optional<EofPacket> decodeEof(Bytes payload);
void putEof(Writer& w, uint8_t sequenceId, const EofPacket& eof);

// The end of a result set: EOF, or OK with header 0xFE when DEPRECATE_EOF was negotiated. Writes
// the one `caps` calls for.
void putResultSetEnd(Writer& w, uint8_t sequenceId, uint16_t statusFlags, uint16_t warnings,
                     Capabilities caps);

// ---- Result-set metadata and rows ----
// The first packet of a result set: the column count (a length-encoded integer, 1..4096 in
// practice) and, when MariaDB's CACHE_METADATA was negotiated, one byte saying whether the
// column definitions follow (0: the client reuses those it cached). nullopt for a count of 0 or
// NULL, or for trailing bytes.
struct ColumnCount {
  uint64_t count = 0;
  bool metadataFollows = true;
};
std::optional<ColumnCount> decodeColumnCount(Bytes payload, Capabilities caps);
void putColumnCount(Writer& w, uint8_t sequenceId, uint64_t count, Capabilities caps = 0,
                    bool metadataFollows = true);

struct ColumnDefinition {
  std::string_view catalog = "def";
  std::string_view schema;
  std::string_view table;
  std::string_view orgTable;
  std::string_view name;
  std::string_view orgName;
  uint16_t characterSet = kCollationUtf8mb4GeneralCi;
  uint32_t columnLength = 0;
  FieldType type = FieldType::VarString;
  uint16_t flags = 0;
  uint8_t decimals = 0;
  // With MariaDB's EXTENDED_METADATA: the extended type information (entries of a type byte
  // and a length-encoded string: 0 the type name, 1 the format), as sent.
  Bytes extendedTypeInfo;
  // COM_FIELD_LIST only: the column's default value after the fixed fields.
  bool hasDefault = false;
  std::optional<std::string_view> defaultValue;  // nullopt: NULL
};
// caps: the negotiated capabilities (kMariaDbClientExtendedMetadata adds a field).
std::optional<ColumnDefinition> decodeColumnDefinition(Bytes payload, Capabilities caps = 0);
void putColumnDefinition(Writer& w, uint8_t sequenceId, const ColumnDefinition& c,
                         Capabilities caps = 0);

// A text-protocol row (shardpool's own result sets); nullopt values are SQL NULL.
void putTextRow(Writer& w, uint8_t sequenceId,
                std::span<const std::optional<std::string_view>> values);
// Splits a text row into its values; nullopt when malformed. `out` is cleared first.
bool decodeTextRow(Bytes payload, std::vector<std::optional<std::string_view>>& out);

// ---- COM_STMT_PREPARE's OK ----
struct StmtPrepareOk {
  uint32_t statementId = 0;
  uint16_t numColumns = 0;
  uint16_t numParams = 0;
  uint16_t warnings = 0;
};
std::optional<StmtPrepareOk> decodeStmtPrepareOk(Bytes payload);
void putStmtPrepareOk(Writer& w, uint8_t sequenceId, const StmtPrepareOk& ok);

// ---- LOCAL INFILE request (0xFB and the file name) ----
std::optional<std::string_view> decodeLocalInfileRequest(Bytes payload);
void putLocalInfileRequest(Writer& w, uint8_t sequenceId, std::string_view fileName);

}  // namespace shardpool::protocol::mysql
