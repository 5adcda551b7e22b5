// Follows a server's response to one client command, packet by packet, and says when it is
// complete: the piece of the MySQL protocol that tells where one response ends, so a pooler can
// hand the server connection back (or not: statusFlags() shows an open transaction).
//
// Feed it every physical packet the server sends after the command, in order. For most packets
// (rows, column definitions, continuation packets) the header and the first payload byte are
// enough; the tracker asks for the whole payload (TrackStatus::NeedPayload, or wantsPayload()
// beforehand) only for the small packets it reads: OK, ERR, EOF, the column count, the prepare
// OK. Rows are never parsed, nothing is allocated. Pure: no I/O.
#pragma once

#include <cstdint>

#include "pooler/protocol/mysql_codec.h"
#include "pooler/protocol/mysql_constants.h"
#include "pooler/protocol/mysql_results.h"

namespace shardpool::protocol::mysql {

enum class TrackStatus {
  More,         // the response goes on: feed the next server packet
  WaitClient,   // the server now waits for the client (LOCAL INFILE contents, an auth reply);
                // relay the client's packets, then feed the server's again
  Done,         // the response is complete; statusFlags() is final
  NeedPayload,  // feed this packet again with its whole payload (nothing was consumed)
  Invalid,      // a packet that cannot occur here: the connection is out of step
  Unsupported,  // (from begin) a command whose response this tracker cannot follow
};

enum class PacketKind {
  None,
  Ok,
  Err,
  Eof,       // an EOF packet, or the 0xFE OK that ends a result set with DEPRECATE_EOF
  Progress,  // MariaDB progress report (0xFF with code 0xFFFF)
  ColumnCount,
  ColumnDefinition,  // also COM_STMT_PREPARE's parameter definitions and COM_FIELD_LIST's columns
  Row,
  Continuation,  // a packet continuing the previous 0xFFFFFF-byte one
  LocalInfile,   // LOCAL INFILE request: the client sends the file next
  StmtPrepareOk,
  AuthSwitch,
  AuthMoreData,
  Statistics,  // COM_STATISTICS' text
};

struct TrackResult {
  TrackStatus status = TrackStatus::Invalid;
  PacketKind kind = PacketKind::None;
};

class ResultTracker {
 public:
  // caps: the capabilities negotiated with the server (DEPRECATE_EOF, SESSION_TRACK,
  // PROTOCOL_41 and MariaDB's PROGRESS and CACHE_METADATA change what it sends). MySQL's
  // OPTIONAL_RESULTSET_METADATA and QUERY_ATTRIBUTES are not followed: shardpool never
  // negotiates them.
  explicit ResultTracker(Capabilities caps = 0) : caps_(caps) {}
  void setCapabilities(Capabilities caps) { caps_ = caps; }
  Capabilities capabilities() const { return caps_; }

  // A command was sent (its first packet's payload). More when a response follows; Done for
  // commands the server never answers (COM_QUIT, COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA);
  // Unsupported for replication, clone and bulk commands; Invalid for an empty payload.
  TrackStatus begin(Bytes commandPayload);
  // The same from the command byte; `executeFlags` are COM_STMT_EXECUTE's cursor flags.
  TrackStatus begin(Command command, uint8_t executeFlags = 0);
  // The authentication exchange after a HandshakeResponse: OK, ERR, AuthSwitchRequest,
  // AuthMoreData until OK or ERR. (COM_CHANGE_USER starts the same exchange.)
  void beginAuth();

  // Whether onPacket() needs the whole payload of a packet with this length and first byte.
  bool wantsPayload(uint32_t length, uint8_t firstByte) const;
  // One physical packet: `payload` is its whole payload, or (when wantsPayload() is false) any
  // prefix holding at least the first byte of a non-empty payload.
  TrackResult onPacket(uint32_t length, Bytes payload);

  bool done() const { return state_ == State::Idle; }

  // The server status flags from the latest OK or EOF (kept across commands; an ERR does not
  // carry them). setStatusFlags() seeds them, from the greeting for instance.
  uint16_t statusFlags() const { return status_; }
  void setStatusFlags(uint16_t flags) { status_ = flags; }
  bool inTransaction() const { return (status_ & kServerStatusInTrans) != 0; }
  // True when this response carried status flags (an OK or EOF was seen).
  bool statusSeen() const { return statusSeen_; }

  // The latest OK of this response (with PacketKind::Ok or the DEPRECATE_EOF kind Eof): its
  // info and sessionState are views into the payload that was fed, valid while it is.
  bool hasOk() const { return hasOk_; }
  const OkPacket& lastOk() const { return ok_; }
  // The ERR that ended this response, if any (the message is a view, as for lastOk()).
  bool hasError() const { return hasErr_; }
  uint16_t errorCode() const { return errCode_; }
  std::string_view errorSqlState() const { return {errState_, errStateLen_}; }
  std::string_view errorMessage() const { return errMessage_; }
  // COM_STMT_PREPARE's OK.
  const StmtPrepareOk& prepareOk() const { return prepare_; }
  // Result sets ended and rows seen in this response.
  uint32_t resultSets() const { return resultSets_; }
  uint64_t rows() const { return rows_; }

 private:
  enum class State {
    Idle,          // no response expected
    ResultStart,   // OK | ERR | LOCAL INFILE | column count
    Columns,       // column definitions of a result set
    ColumnsEof,    // the EOF after them (without DEPRECATE_EOF)
    Rows,          // rows until EOF / 0xFE OK (or ERR)
    PrepareStart,  // COM_STMT_PREPARE: OK | ERR
    Params,        // parameter definitions
    ParamsEof,
    PrepColumns,  // column definitions of a prepared statement
    PrepColumnsEof,
    FieldList,   // COM_FIELD_LIST: column definitions until EOF
    Single,      // one OK | ERR | EOF
    Statistics,  // one text packet (or ERR)
    Auth,        // OK | ERR | AuthSwitchRequest | AuthMoreData
  };

  void reset(State s);
  bool isTerminator(uint32_t length, uint8_t first) const;
  bool needsWhole(uint32_t length, uint8_t first) const;
  TrackResult finishWith(PacketKind kind);
  TrackResult onErr(Bytes payload);
  TrackResult onOk(Bytes payload, PacketKind kind, bool chain);
  TrackResult onResultEnd(Bytes payload);
  bool takeEof(Bytes payload);
  TrackResult afterParams(PacketKind kind);
  TrackResult handle(uint32_t length, Bytes payload);

  Capabilities caps_;
  State state_ = State::Idle;
  bool binary_ = false;       // binary rows (COM_STMT_EXECUTE, COM_STMT_FETCH)
  bool cursor_ = false;       // COM_STMT_EXECUTE asked for a cursor
  bool allowInfile_ = false;  // COM_QUERY
  bool continued_ = false;    // the previous packet was 0xFFFFFF bytes long
  uint32_t remaining_ = 0;    // definitions left in Columns / Params / PrepColumns
  uint16_t status_ = 0;
  bool statusSeen_ = false;
  bool hasOk_ = false;
  OkPacket ok_;
  bool hasErr_ = false;
  uint16_t errCode_ = 0;
  char errState_[5] = {};
  size_t errStateLen_ = 0;
  std::string_view errMessage_;
  StmtPrepareOk prepare_;
  uint32_t resultSets_ = 0;
  uint64_t rows_ = 0;
};

}  // namespace shardpool::protocol::mysql
