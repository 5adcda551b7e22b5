// MySQL/MariaDB command packets (client -> server, sequence id 0): decoders for the fields
// shardpool routes on, and builders for the commands shardpool sends itself. Decoders take the
// command's whole logical payload, command byte included, and return views into it; they are
// strict about lengths and never read past the end.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "pooler/protocol/mysql_codec.h"
#include "pooler/protocol/mysql_constants.h"

namespace shardpool::protocol::mysql {

// The command byte; nullopt for an empty payload. Unknown values are returned as they are.
std::optional<Command> commandOf(Bytes payload);

// ---- Text commands ----
// COM_QUERY's statement text. shardpool never offers QUERY_ATTRIBUTES, so no parameter count
// precedes the text.
std::optional<std::string_view> decodeQuery(Bytes payload);
std::optional<std::string_view> decodeInitDb(Bytes payload);       // the schema name
std::optional<std::string_view> decodeStmtPrepare(Bytes payload);  // the statement text
std::optional<uint16_t> decodeSetOption(Bytes payload);            // kOptionMultiStatements*

// ---- Prepared statements: ids ----
std::optional<uint32_t> decodeStmtClose(Bytes payload);
std::optional<uint32_t> decodeStmtReset(Bytes payload);
struct StmtSendLongData {
  uint32_t statementId = 0;
  uint16_t paramId = 0;
  Bytes data;
};
std::optional<StmtSendLongData> decodeStmtSendLongData(Bytes payload);
struct StmtFetch {
  uint32_t statementId = 0;
  uint32_t numRows = 0;
};
std::optional<StmtFetch> decodeStmtFetch(Bytes payload);
// Overwrites the statement id of a COM_STMT_EXECUTE, CLOSE, RESET, SEND_LONG_DATA or FETCH
// payload in place (the first packet's payload is enough: the id is in bytes 1-4). False when
// the payload is not one of those commands.
bool rewriteStatementId(std::span<uint8_t> payload, uint32_t statementId);
// The statement id of any of those commands, without decoding the rest.
std::optional<uint32_t> statementIdOf(Bytes payload);

// ---- COM_STMT_EXECUTE ----
struct StmtExecute {
  uint32_t statementId = 0;
  uint8_t flags = 0;  // kCursorType*
  uint32_t iterationCount = 1;
  uint16_t numParams = 0;  // from the statement's prepare, not from the packet
  Bytes nullBitmap;        // (numParams + 7) / 8 bytes; bit i set: parameter i is NULL
  bool newParamsBound = false;
  Bytes paramTypes;  // with newParamsBound: 2 bytes per parameter (type, 0x80 = unsigned)
  Bytes values;      // the values of the non-NULL parameters, as sent
  bool isNull(uint16_t i) const {
    return i < numParams && size_t(i / 8) < nullBitmap.size() &&
           (nullBitmap[i / 8] & (1u << (i % 8))) != 0;
  }
};
// numParams: the parameter count the server returned for the statement's COM_STMT_PREPARE (the
// packet does not carry it).
std::optional<StmtExecute> decodeStmtExecute(Bytes payload, uint16_t numParams);

// One parameter's value, in the binary protocol's encoding.
struct ParamValue {
  FieldType type = FieldType::Null;
  bool isUnsigned = false;
  bool isNull = false;
  // The value: the little-endian bytes of a number (1/2/4/8 bytes by type), the content of a
  // string/decimal/blob (without its length prefix), or the bytes of a date/time (without
  // their length byte).
  Bytes raw;
  // Integer types, and strings holding a plain decimal integer ("42", "-7"); nullopt otherwise
  // (NULL, other types, out of range).
  std::optional<int64_t> asInt64() const;
  std::optional<uint64_t> asUint64() const;
  // String-like types (strings, blobs, decimals, enums, sets, JSON, bit); nullopt otherwise.
  std::optional<std::string_view> asString() const;
};

enum class ParamStatus {
  Ok,
  NoTypes,          // newParamsBound is 0 and no previous types were given
  Malformed,        // a value runs past the end (bytes left after the last are ignored)
  UnsupportedType,  // a type whose encoding is not known: the values after it cannot be read
};
// Reads every parameter into out[0..numParams) (out must hold numParams). Types come from the
// packet when it binds new ones, otherwise from `previousTypes` (the 2-byte-per-parameter types
// the client last sent for this statement). `longData[i]` nonzero: parameter i was sent with
// COM_STMT_SEND_LONG_DATA and has no value in the packet.
[[nodiscard]] ParamStatus decodeParamValues(const StmtExecute& e, std::span<ParamValue> out,
                                            Bytes previousTypes = {},
                                            std::span<const uint8_t> longData = {});

// Re-encodes a decoded (possibly re-targeted) COM_STMT_EXECUTE.
void putStmtExecute(Writer& w, const StmtExecute& e);
// Builds a COM_STMT_EXECUTE from typed values (raw as ParamValue describes). sendTypes: bind
// the types (new_params_bound_flag = 1).
void putStmtExecute(Writer& w, uint32_t statementId, uint8_t flags,
                    std::span<const ParamValue> params, bool sendTypes = true);

// ---- COM_CHANGE_USER ----
struct ChangeUser {
  std::string_view username;
  Bytes authResponse;
  std::string_view database;
  bool hasCharacterSet = false;  // the fields below follow only when the client sent them
  uint16_t characterSet = 0;
  std::string_view authPluginName;  // with PLUGIN_AUTH
  Bytes connectAttributes;          // with CONNECT_ATTRS, as HandshakeResponse::connectAttributes
};
// caps: the capabilities the client negotiated on this connection.
std::optional<ChangeUser> decodeChangeUser(Bytes payload, Capabilities caps);
void putChangeUser(Writer& w, const ChangeUser& c, Capabilities caps);

// ---- Builders for the commands shardpool sends (sequence id 0) ----
void putQuery(Writer& w, std::string_view sql);
void putInitDb(Writer& w, std::string_view schema);
void putStmtPrepare(Writer& w, std::string_view sql);
void putStmtClose(Writer& w, uint32_t statementId);
void putStmtReset(Writer& w, uint32_t statementId);
void putStmtFetch(Writer& w, uint32_t statementId, uint32_t numRows);
void putStmtSendLongData(Writer& w, uint32_t statementId, uint16_t paramId, Bytes data);
void putSetOption(Writer& w, uint16_t option);
void putPing(Writer& w);
void putQuit(Writer& w);
void putResetConnection(Writer& w);

}  // namespace shardpool::protocol::mysql
