// MySQL/MariaDB protocol constants: capability flags, server status flags, commands, column
// types and flags, session-state tracker types.
#pragma once

#include <cstdint>
#include <string_view>

namespace shardpool::protocol::mysql {

// ---- Capability flags ----
// 64 bits: the lower 32 are MySQL's capability flags; the upper 32 are MariaDB's extended
// capabilities, sent in the greeting's and the handshake response's reserved bytes when the
// CLIENT_MYSQL (kClientLongPassword) bit is clear.
using Capabilities = uint64_t;

constexpr Capabilities kClientLongPassword = 1u << 0;  // MariaDB: CLIENT_MYSQL
constexpr Capabilities kClientMysql = kClientLongPassword;
constexpr Capabilities kClientFoundRows = 1u << 1;
constexpr Capabilities kClientLongFlag = 1u << 2;
constexpr Capabilities kClientConnectWithDb = 1u << 3;
constexpr Capabilities kClientNoSchema = 1u << 4;
constexpr Capabilities kClientCompress = 1u << 5;
constexpr Capabilities kClientOdbc = 1u << 6;
constexpr Capabilities kClientLocalFiles = 1u << 7;
constexpr Capabilities kClientIgnoreSpace = 1u << 8;
constexpr Capabilities kClientProtocol41 = 1u << 9;
constexpr Capabilities kClientInteractive = 1u << 10;
constexpr Capabilities kClientSsl = 1u << 11;
constexpr Capabilities kClientIgnoreSigpipe = 1u << 12;
constexpr Capabilities kClientTransactions = 1u << 13;
constexpr Capabilities kClientReserved = 1u << 14;
constexpr Capabilities kClientSecureConnection = 1u << 15;
constexpr Capabilities kClientMultiStatements = 1u << 16;
constexpr Capabilities kClientMultiResults = 1u << 17;
constexpr Capabilities kClientPsMultiResults = 1u << 18;
constexpr Capabilities kClientPluginAuth = 1u << 19;
constexpr Capabilities kClientConnectAttrs = 1u << 20;
constexpr Capabilities kClientPluginAuthLenencClientData = 1u << 21;
constexpr Capabilities kClientCanHandleExpiredPasswords = 1u << 22;
constexpr Capabilities kClientSessionTrack = 1u << 23;
constexpr Capabilities kClientDeprecateEof = 1u << 24;
constexpr Capabilities kClientOptionalResultsetMetadata = 1u << 25;
constexpr Capabilities kClientZstdCompression = 1u << 26;
constexpr Capabilities kClientQueryAttributes = 1u << 27;
constexpr Capabilities kClientMultiFactorAuthentication = 1u << 28;
constexpr Capabilities kClientCapabilityExtension = 1u << 29;
constexpr Capabilities kClientSslVerifyServerCert = 1u << 30;
constexpr Capabilities kClientRememberOptions = 1u << 31;
// MariaDB extended capabilities.
constexpr Capabilities kMariaDbClientProgress = Capabilities(1) << 32;
constexpr Capabilities kMariaDbClientComMulti = Capabilities(1) << 33;
constexpr Capabilities kMariaDbClientStmtBulkOperations = Capabilities(1) << 34;
constexpr Capabilities kMariaDbClientExtendedMetadata = Capabilities(1) << 35;
constexpr Capabilities kMariaDbClientCacheMetadata = Capabilities(1) << 36;
constexpr Capabilities kMariaDbClientBulkUnitResults = Capabilities(1) << 37;

// ---- Server status flags (OK and EOF packets, the greeting) ----
constexpr uint16_t kServerStatusInTrans = 0x0001;
constexpr uint16_t kServerStatusAutocommit = 0x0002;
constexpr uint16_t kServerMoreResultsExists = 0x0008;
constexpr uint16_t kServerQueryNoGoodIndexUsed = 0x0010;
constexpr uint16_t kServerQueryNoIndexUsed = 0x0020;
constexpr uint16_t kServerStatusCursorExists = 0x0040;
constexpr uint16_t kServerStatusLastRowSent = 0x0080;
constexpr uint16_t kServerStatusDbDropped = 0x0100;
constexpr uint16_t kServerStatusNoBackslashEscapes = 0x0200;
constexpr uint16_t kServerStatusMetadataChanged = 0x0400;
constexpr uint16_t kServerQueryWasSlow = 0x0800;
constexpr uint16_t kServerPsOutParams = 0x1000;
constexpr uint16_t kServerStatusInTransReadonly = 0x2000;
constexpr uint16_t kServerSessionStateChanged = 0x4000;

// ---- Packet header bytes ----
constexpr uint8_t kOkHeader = 0x00;
constexpr uint8_t kAuthMoreDataHeader = 0x01;
constexpr uint8_t kLocalInfileHeader = 0xFB;
constexpr uint8_t kEofHeader = 0xFE;  // also AuthSwitchRequest, and OK with DEPRECATE_EOF
constexpr uint8_t kErrHeader = 0xFF;
// An EOF packet is 0xFE with a payload shorter than this.
constexpr uint32_t kEofMaxLength = 9;

// ---- Commands (first payload byte of a client packet) ----
enum class Command : uint8_t {
  Sleep = 0x00,
  Quit = 0x01,
  InitDb = 0x02,
  Query = 0x03,
  FieldList = 0x04,
  CreateDb = 0x05,
  DropDb = 0x06,
  Refresh = 0x07,
  Shutdown = 0x08,
  Statistics = 0x09,
  ProcessInfo = 0x0A,
  Connect = 0x0B,
  ProcessKill = 0x0C,
  Debug = 0x0D,
  Ping = 0x0E,
  Time = 0x0F,
  DelayedInsert = 0x10,
  ChangeUser = 0x11,
  BinlogDump = 0x12,
  TableDump = 0x13,
  ConnectOut = 0x14,
  RegisterSlave = 0x15,
  StmtPrepare = 0x16,
  StmtExecute = 0x17,
  StmtSendLongData = 0x18,
  StmtClose = 0x19,
  StmtReset = 0x1A,
  SetOption = 0x1B,
  StmtFetch = 0x1C,
  Daemon = 0x1D,
  BinlogDumpGtid = 0x1E,
  ResetConnection = 0x1F,
  Clone = 0x20,
  StmtBulkExecute = 0xFA,  // MariaDB
};

// COM_SET_OPTION values.
constexpr uint16_t kOptionMultiStatementsOn = 0;
constexpr uint16_t kOptionMultiStatementsOff = 1;

// COM_STMT_EXECUTE flags.
constexpr uint8_t kCursorTypeNoCursor = 0x00;
constexpr uint8_t kCursorTypeReadOnly = 0x01;
constexpr uint8_t kCursorTypeForUpdate = 0x02;
constexpr uint8_t kCursorTypeScrollable = 0x04;
constexpr uint8_t kParameterCountAvailable = 0x08;

// ---- Column types ----
enum class FieldType : uint8_t {
  Decimal = 0x00,
  Tiny = 0x01,
  Short = 0x02,
  Long = 0x03,
  Float = 0x04,
  Double = 0x05,
  Null = 0x06,
  Timestamp = 0x07,
  LongLong = 0x08,
  Int24 = 0x09,
  Date = 0x0A,
  Time = 0x0B,
  DateTime = 0x0C,
  Year = 0x0D,
  NewDate = 0x0E,
  VarChar = 0x0F,
  Bit = 0x10,
  Timestamp2 = 0x11,
  DateTime2 = 0x12,
  Time2 = 0x13,
  Json = 0xF5,
  NewDecimal = 0xF6,
  Enum = 0xF7,
  Set = 0xF8,
  TinyBlob = 0xF9,
  MediumBlob = 0xFA,
  LongBlob = 0xFB,
  Blob = 0xFC,
  VarString = 0xFD,
  String = 0xFE,
  Geometry = 0xFF,
};

// Column definition flags.
constexpr uint16_t kNotNullFlag = 0x0001;
constexpr uint16_t kPriKeyFlag = 0x0002;
constexpr uint16_t kUniqueKeyFlag = 0x0004;
constexpr uint16_t kMultipleKeyFlag = 0x0008;
constexpr uint16_t kBlobFlag = 0x0010;
constexpr uint16_t kUnsignedFlag = 0x0020;
constexpr uint16_t kZerofillFlag = 0x0040;
constexpr uint16_t kBinaryFlag = 0x0080;
constexpr uint16_t kEnumFlag = 0x0100;
constexpr uint16_t kAutoIncrementFlag = 0x0200;
constexpr uint16_t kTimestampFlag = 0x0400;
constexpr uint16_t kSetFlag = 0x0800;
constexpr uint16_t kNoDefaultValueFlag = 0x1000;
constexpr uint16_t kOnUpdateNowFlag = 0x2000;
constexpr uint16_t kNumFlag = 0x8000;

// ---- Session-state tracker entry types (OK packet with SESSION_TRACK) ----
enum class SessionTrackType : uint8_t {
  SystemVariables = 0,
  Schema = 1,
  StateChange = 2,
  Gtids = 3,
  TransactionCharacteristics = 4,
  TransactionState = 5,
};

// ---- Authentication plugin names ----
constexpr std::string_view kNativePasswordPlugin = "mysql_native_password";
constexpr std::string_view kCachingSha2Plugin = "caching_sha2_password";
constexpr std::string_view kSha256PasswordPlugin = "sha256_password";
constexpr std::string_view kClearPasswordPlugin = "mysql_clear_password";
constexpr std::string_view kEd25519Plugin = "client_ed25519";

// Character set / collation ids commonly used in greetings and handshake responses.
constexpr uint8_t kCollationUtf8mb4GeneralCi = 45;
constexpr uint8_t kCollationUtf8GeneralCi = 33;
constexpr uint8_t kCollationBinary = 63;

}  // namespace shardpool::protocol::mysql
