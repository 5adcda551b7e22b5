// The response state machine: which server packet ends a command's response.
#include "pooler/protocol/mysql_result_tracker.h"

#include <algorithm>

#include "pooler/protocol/mysql_handshake.h"

namespace shardpool::protocol::mysql {

namespace {

// More columns than any server allows (MySQL and MariaDB stop at 4096): a desynchronised stream.
constexpr uint64_t kMaxColumns = 0xFFFF;

}  // namespace

void ResultTracker::reset(State s) {
  state_ = s;
  binary_ = false;
  cursor_ = false;
  allowInfile_ = false;
  continued_ = false;
  remaining_ = 0;
  statusSeen_ = false;
  hasOk_ = false;
  ok_ = OkPacket{};
  hasErr_ = false;
  errCode_ = 0;
  errStateLen_ = 0;
  errMessage_ = {};
  prepare_ = StmtPrepareOk{};
  resultSets_ = 0;
  rows_ = 0;
}

TrackStatus ResultTracker::begin(Bytes commandPayload) {
  if (commandPayload.empty()) {
    reset(State::Idle);
    return TrackStatus::Invalid;
  }
  uint8_t flags = commandPayload.size() > 5 ? commandPayload[5] : 0;
  return begin(Command(commandPayload[0]), flags);
}

TrackStatus ResultTracker::begin(Command command, uint8_t executeFlags) {
  switch (command) {
    case Command::Quit:
    case Command::StmtClose:
    case Command::StmtSendLongData:
      reset(State::Idle);
      return TrackStatus::Done;
    case Command::Query:
    case Command::ProcessInfo:
      reset(State::ResultStart);
      allowInfile_ = command == Command::Query;
      return TrackStatus::More;
    case Command::StmtExecute:
      reset(State::ResultStart);
      binary_ = true;
      cursor_ = (executeFlags &
                 (kCursorTypeReadOnly | kCursorTypeForUpdate | kCursorTypeScrollable)) != 0;
      return TrackStatus::More;
    case Command::StmtFetch:
      reset(State::Rows);
      binary_ = true;
      return TrackStatus::More;
    case Command::StmtPrepare:
      reset(State::PrepareStart);
      return TrackStatus::More;
    case Command::FieldList:
      reset(State::FieldList);
      return TrackStatus::More;
    case Command::Statistics:
      reset(State::Statistics);
      return TrackStatus::More;
    case Command::ChangeUser:
      reset(State::Auth);
      return TrackStatus::More;
    case Command::BinlogDump:
    case Command::BinlogDumpGtid:
    case Command::TableDump:
    case Command::Clone:
    case Command::StmtBulkExecute:
      reset(State::Idle);
      return TrackStatus::Unsupported;
    case Command::Sleep:
    case Command::InitDb:
    case Command::CreateDb:
    case Command::DropDb:
    case Command::Refresh:
    case Command::Shutdown:
    case Command::Connect:
    case Command::ProcessKill:
    case Command::Debug:
    case Command::Ping:
    case Command::Time:
    case Command::DelayedInsert:
    case Command::ConnectOut:
    case Command::RegisterSlave:
    case Command::StmtReset:
    case Command::SetOption:
    case Command::Daemon:
    case Command::ResetConnection:
      reset(State::Single);
      return TrackStatus::More;
  }
  // A command byte the servers do not know: they answer with one ERR.
  reset(State::Single);
  return TrackStatus::More;
}

void ResultTracker::beginAuth() {
  reset(State::Auth);
}

// 0xFE ends a result set when the packet is too short to be a row: a text row that starts with
// 0xFE holds a value of 2^24 bytes or more, so its first packet is 0xFFFFFF bytes long. Without
// DEPRECATE_EOF the end is an EOF (under 9 bytes); with it, an OK that may carry info and
// session state, so anything under 0xFFFFFF bytes.
bool ResultTracker::isTerminator(uint32_t length, uint8_t first) const {
  if (first != kEofHeader) return false;
  if (caps_ & kClientDeprecateEof) return length < kMaxPacketPayload;
  return length < kEofMaxLength;
}

bool ResultTracker::needsWhole(uint32_t length, uint8_t first) const {
  if (continued_) return false;
  switch (state_) {
    case State::Columns:
    case State::Params:
    case State::PrepColumns:
    case State::Statistics:
      return first == kErrHeader;
    case State::Rows:
    case State::FieldList:
      return first == kErrHeader || isTerminator(length, first);
    case State::Idle:
    case State::ResultStart:
    case State::ColumnsEof:
    case State::PrepareStart:
    case State::ParamsEof:
    case State::PrepColumnsEof:
    case State::Single:
    case State::Auth:
      return true;
  }
  return true;
}

bool ResultTracker::wantsPayload(uint32_t length, uint8_t firstByte) const {
  return length > 0 && needsWhole(length, firstByte);
}

TrackResult ResultTracker::onPacket(uint32_t length, Bytes payload) {
  if (payload.size() > length) return {TrackStatus::Invalid, PacketKind::None};
  if (length > 0 && payload.empty()) return {TrackStatus::NeedPayload, PacketKind::None};
  if (length > 0 && needsWhole(length, payload[0]) && payload.size() != length)
    return {TrackStatus::NeedPayload, PacketKind::None};
  if (state_ == State::Idle) return {TrackStatus::Invalid, PacketKind::None};

  const bool wasContinued = continued_;
  continued_ = length == kMaxPacketPayload;
  if (wasContinued) return {TrackStatus::More, PacketKind::Continuation};
  TrackResult r = handle(length, payload);
  if (r.status == TrackStatus::Invalid || r.status == TrackStatus::Done) {
    if (r.status == TrackStatus::Invalid) state_ = State::Idle;
    // A finished response cannot be continued.
    if (continued_) {
      continued_ = false;
      state_ = State::Idle;
      return {TrackStatus::Invalid, r.kind};
    }
  }
  return r;
}

TrackResult ResultTracker::finishWith(PacketKind kind) {
  state_ = State::Idle;
  return {TrackStatus::Done, kind};
}

TrackResult ResultTracker::onErr(Bytes payload) {
  std::optional<ErrPacket> err = decodeErr(payload);
  if (!err) return {TrackStatus::Invalid, PacketKind::Err};
  if (err->code == kProgressReportCode && (caps_ & kMariaDbClientProgress))
    return {TrackStatus::More, PacketKind::Progress};
  hasErr_ = true;
  errCode_ = err->code;
  errStateLen_ = std::min(err->sqlState.size(), sizeof(errState_));
  std::copy_n(err->sqlState.data(), errStateLen_, errState_);
  errMessage_ = err->message;
  return finishWith(PacketKind::Err);
}

// An OK (header 0x00, or 0xFE ending a result set with DEPRECATE_EOF). `chain`: more results
// may follow it.
TrackResult ResultTracker::onOk(Bytes payload, PacketKind kind, bool chain) {
  std::optional<OkPacket> ok = decodeOk(payload, caps_);
  if (!ok) return {TrackStatus::Invalid, kind};
  ok_ = *ok;
  hasOk_ = true;
  status_ = ok->statusFlags;
  statusSeen_ = true;
  if (chain && (ok->statusFlags & kServerMoreResultsExists)) {
    state_ = State::ResultStart;
    return {TrackStatus::More, kind};
  }
  return finishWith(kind);
}

// EOF or 0xFE OK ending a result set's rows (or a cursor's metadata).
TrackResult ResultTracker::onResultEnd(Bytes payload) {
  ++resultSets_;
  if (caps_ & kClientDeprecateEof) return onOk(payload, PacketKind::Eof, true);
  std::optional<EofPacket> eof = decodeEof(payload);
  if (!eof) return {TrackStatus::Invalid, PacketKind::Eof};
  status_ = eof->statusFlags;
  statusSeen_ = true;
  if (eof->statusFlags & kServerMoreResultsExists) {
    state_ = State::ResultStart;
    return {TrackStatus::More, PacketKind::Eof};
  }
  return finishWith(PacketKind::Eof);
}

// An EOF that closes a list of definitions (never sent with DEPRECATE_EOF) or answers a
// command: its status flags are taken.
bool ResultTracker::takeEof(Bytes payload) {
  std::optional<EofPacket> eof = decodeEof(payload);
  if (!eof) return false;
  status_ = eof->statusFlags;
  statusSeen_ = true;
  return true;
}

// After a prepared statement's parameter definitions (and their EOF): its columns, or the end.
TrackResult ResultTracker::afterParams(PacketKind kind) {
  if (prepare_.numColumns == 0) return finishWith(kind);
  state_ = State::PrepColumns;
  remaining_ = prepare_.numColumns;
  return {TrackStatus::More, kind};
}

TrackResult ResultTracker::handle(uint32_t length, Bytes payload) {
  const uint8_t first = length > 0 ? payload[0] : 0;
  if (length == 0) return {TrackStatus::Invalid, PacketKind::None};  // no packet here is empty
  const bool deprecateEof = (caps_ & kClientDeprecateEof) != 0;

  switch (state_) {
    case State::Idle:
      return {TrackStatus::Invalid, PacketKind::None};

    case State::ResultStart: {
      if (first == kOkHeader) return onOk(payload, PacketKind::Ok, true);
      if (first == kErrHeader) return onErr(payload);
      if (first == kLocalInfileHeader && allowInfile_) {
        // The client sends the file and an empty packet; the server then answers OK or ERR,
        // which may announce more results.
        state_ = State::ResultStart;
        return {TrackStatus::WaitClient, PacketKind::LocalInfile};
      }
      std::optional<ColumnCount> count = decodeColumnCount(payload, caps_);
      if (!count || count->count > kMaxColumns)
        return {TrackStatus::Invalid, PacketKind::ColumnCount};
      remaining_ = uint32_t(count->count);
      if (count->metadataFollows)
        state_ = State::Columns;
      else  // MariaDB's metadata cache: the client already has the definitions
        state_ = deprecateEof ? State::Rows : State::ColumnsEof;
      return {TrackStatus::More, PacketKind::ColumnCount};
    }

    case State::Columns:
      if (first == kErrHeader) return onErr(payload);
      if (--remaining_ == 0) state_ = deprecateEof ? State::Rows : State::ColumnsEof;
      return {TrackStatus::More, PacketKind::ColumnDefinition};

    case State::ColumnsEof:
      if (first == kErrHeader) return onErr(payload);
      if (!takeEof(payload)) return {TrackStatus::Invalid, PacketKind::Eof};
      // An opened cursor: the rows come with COM_STMT_FETCH.
      if (binary_ && cursor_ && (status_ & kServerStatusCursorExists)) {
        ++resultSets_;
        return finishWith(PacketKind::Eof);
      }
      state_ = State::Rows;
      return {TrackStatus::More, PacketKind::Eof};

    case State::Rows:
      if (first == kErrHeader) return onErr(payload);
      if (isTerminator(length, first)) return onResultEnd(payload);
      if (binary_ && first != kOkHeader) return {TrackStatus::Invalid, PacketKind::Row};
      ++rows_;
      return {TrackStatus::More, PacketKind::Row};

    case State::PrepareStart: {
      if (first == kErrHeader) return onErr(payload);
      std::optional<StmtPrepareOk> ok = decodeStmtPrepareOk(payload);
      if (!ok) return {TrackStatus::Invalid, PacketKind::StmtPrepareOk};
      prepare_ = *ok;
      if (ok->numParams > 0) {
        state_ = State::Params;
        remaining_ = ok->numParams;
        return {TrackStatus::More, PacketKind::StmtPrepareOk};
      }
      if (ok->numColumns > 0) {
        state_ = State::PrepColumns;
        remaining_ = ok->numColumns;
        return {TrackStatus::More, PacketKind::StmtPrepareOk};
      }
      return finishWith(PacketKind::StmtPrepareOk);
    }

    case State::Params:
      if (first == kErrHeader) return onErr(payload);
      if (--remaining_ > 0) return {TrackStatus::More, PacketKind::ColumnDefinition};
      if (!deprecateEof) {
        state_ = State::ParamsEof;
        return {TrackStatus::More, PacketKind::ColumnDefinition};
      }
      return afterParams(PacketKind::ColumnDefinition);

    case State::ParamsEof:
      if (first == kErrHeader) return onErr(payload);
      if (!takeEof(payload)) return {TrackStatus::Invalid, PacketKind::Eof};
      return afterParams(PacketKind::Eof);

    case State::PrepColumns:
      if (first == kErrHeader) return onErr(payload);
      if (--remaining_ > 0) return {TrackStatus::More, PacketKind::ColumnDefinition};
      if (!deprecateEof) {
        state_ = State::PrepColumnsEof;
        return {TrackStatus::More, PacketKind::ColumnDefinition};
      }
      return finishWith(PacketKind::ColumnDefinition);

    case State::PrepColumnsEof:
      if (first == kErrHeader) return onErr(payload);
      if (!takeEof(payload)) return {TrackStatus::Invalid, PacketKind::Eof};
      return finishWith(PacketKind::Eof);

    case State::FieldList:
      if (first == kErrHeader) return onErr(payload);
      if (isTerminator(length, first)) {
        if (deprecateEof) return onOk(payload, PacketKind::Eof, false);
        if (!takeEof(payload)) return {TrackStatus::Invalid, PacketKind::Eof};
        return finishWith(PacketKind::Eof);
      }
      return {TrackStatus::More, PacketKind::ColumnDefinition};

    case State::Single:
      if (first == kOkHeader) return onOk(payload, PacketKind::Ok, false);
      if (first == kErrHeader) return onErr(payload);
      if (first == kEofHeader && length < kMaxPacketPayload) {
        // COM_SET_OPTION and COM_DEBUG answer with an EOF (a 0xFE OK with DEPRECATE_EOF).
        if (deprecateEof) return onOk(payload, PacketKind::Eof, false);
        if (!takeEof(payload)) return {TrackStatus::Invalid, PacketKind::Eof};
        return finishWith(PacketKind::Eof);
      }
      return {TrackStatus::Invalid, PacketKind::None};

    case State::Statistics:
      if (first == kErrHeader) return onErr(payload);
      return finishWith(PacketKind::Statistics);

    case State::Auth:
      if (first == kOkHeader) return onOk(payload, PacketKind::Ok, false);
      if (first == kErrHeader) return onErr(payload);
      if (first == kEofHeader) {
        if (!decodeAuthSwitchRequest(payload))
          return {TrackStatus::Invalid, PacketKind::AuthSwitch};
        return {TrackStatus::WaitClient, PacketKind::AuthSwitch};
      }
      if (first == kAuthMoreDataHeader) {
        // caching_sha2_password's fast-auth success is followed by the server's OK; any other
        // data (full-auth request, public key, another plugin's challenge) waits for the client.
        if (isFastAuthSuccess(payload)) return {TrackStatus::More, PacketKind::AuthMoreData};
        return {TrackStatus::WaitClient, PacketKind::AuthMoreData};
      }
      return {TrackStatus::Invalid, PacketKind::None};
  }
  return {TrackStatus::Invalid, PacketKind::None};
}

}  // namespace shardpool::protocol::mysql
