#include "pooler/health/mysql_probe_exchange.h"

#include <fmt/format.h>

#include <charconv>

#include "pooler/protocol/mysql_commands.h"
#include "pooler/protocol/mysql_results.h"

namespace shardpool::pooler::health {

namespace my = protocol::mysql;

namespace {

// How long a promotion waits for a replica to apply what it received, in seconds.
constexpr int kApplyWaitSeconds = 20;

constexpr const char* kMariaDbProbe = "SELECT @@global.read_only, @@global.gtid_current_pos";
constexpr const char* kMysqlProbe =
    "SELECT @@global.read_only OR @@global.super_read_only, @@global.gtid_executed";

// Promotion steps; nullptr is the wait for what was received to be applied.
constexpr const char* kMariaDbPromote[] = {"STOP SLAVE IO_THREAD", "SHOW SLAVE STATUS", nullptr,
                                           "STOP SLAVE",           "RESET SLAVE ALL",
                                           "SET GLOBAL read_only = 0"};
constexpr const char* kMysqlPromote[] = {"STOP REPLICA IO_THREAD",
                                         "SHOW REPLICA STATUS",
                                         nullptr,
                                         "STOP REPLICA",
                                         "RESET REPLICA ALL",
                                         "SET GLOBAL super_read_only = 0",
                                         "SET GLOBAL read_only = 0"};
constexpr size_t kStatusStep = 1;
constexpr size_t kWaitStep = 2;

bool parseNumber(std::string_view s, uint64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\r' ||
                        s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' ||
                        s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// GTID text goes into a string literal: only the characters GTIDs are made of.
bool gtidText(std::string_view s) {
  for (char c : s) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-' || c == ':' || c == ',' || c == ' ' || c == '\n' || c == '\r' ||
              c == '\t';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

uint64_t gtidPosition(std::string_view text) {
  uint64_t total = 0;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (item.empty()) continue;
    size_t colon = item.find(':');
    if (colon == std::string_view::npos) {
      // MariaDB: domain-server-seq.
      size_t last = item.rfind('-');
      uint64_t seq = 0;
      if (last != std::string_view::npos && parseNumber(item.substr(last + 1), seq)) total += seq;
      continue;
    }
    // MySQL: uuid(:tag)?:a-b:c ... (a tag is not a number: its interval list follows).
    std::string_view rest = item.substr(colon + 1);
    while (!rest.empty()) {
      size_t next = rest.find(':');
      std::string_view interval = rest.substr(0, next);
      rest = next == std::string_view::npos ? std::string_view() : rest.substr(next + 1);
      size_t dash = interval.find('-');
      uint64_t a = 0, b = 0;
      if (dash == std::string_view::npos) {
        if (parseNumber(interval, a)) total += 1;
      } else if (parseNumber(interval.substr(0, dash), a) &&
                 parseNumber(interval.substr(dash + 1), b) && b >= a) {
        total += b - a + 1;
      }
    }
  }
  return total;
}

MysqlProbeExchange::MysqlProbeExchange(std::string user, std::string password,
                                       std::string database, bool wantTls, bool requireTls) {
  login_.emplace(std::move(user), std::move(password), std::move(database));
  login_->useTls(wantTls, requireTls);
}

MysqlProbeExchange::Status MysqlProbeExchange::fail(std::string why) {
  error_ = std::move(why);
  return Status::Failed;
}

void MysqlProbeExchange::again(Goal goal, my::Writer& out) {
  goal_ = goal;
  step_ = 0;
  waitFor_.clear();
  result_ = ProbeResult{};
  sendStatement(out);
}

std::optional<std::string> MysqlProbeExchange::nextStatement() {
  if (goal_ == Goal::Probe)
    return step_ == 0 ? std::optional<std::string>(mariadb_ ? kMariaDbProbe : kMysqlProbe)
                      : std::nullopt;
  const size_t count = mariadb_ ? std::size(kMariaDbPromote) : std::size(kMysqlPromote);
  while (step_ < count) {
    const char* sql = mariadb_ ? kMariaDbPromote[step_] : kMysqlPromote[step_];
    if (sql) return std::string(sql);
    if (!waitFor_.empty())
      return fmt::format("SELECT {}('{}', {})",
                         mariadb_ ? "MASTER_GTID_WAIT" : "WAIT_FOR_EXECUTED_GTID_SET", waitFor_,
                         kApplyWaitSeconds);
    ++step_;  // nothing received: nothing to wait for
  }
  return std::nullopt;
}

void MysqlProbeExchange::sendStatement(my::Writer& out) {
  std::optional<std::string> sql = nextStatement();
  statement_ = sql.value_or("");
  read_ = Read::Header;
  columnNames_.clear();
  firstRow_.reset();
  if (sql) my::putQuery(out, *sql);
}

std::optional<std::string> MysqlProbeExchange::column(std::string_view name) const {
  if (!firstRow_) return std::nullopt;
  for (size_t i = 0; i < columnNames_.size() && i < firstRow_->size(); ++i)
    if (columnNames_[i] == name) return (*firstRow_)[i];
  return std::nullopt;
}

MysqlProbeExchange::Status MysqlProbeExchange::statementDone(my::Writer& out) {
  auto value = [this](size_t i) -> std::optional<std::string> {
    if (!firstRow_ || i >= firstRow_->size()) return std::nullopt;
    return (*firstRow_)[i];
  };
  if (goal_ == Goal::Probe) {
    std::optional<std::string> readOnly = value(0);
    if (!readOnly) return fail(fmt::format("no answer to {}", statement_));
    result_.inRecovery = *readOnly != "0";
    result_.walPosition = gtidPosition(value(1).value_or(""));
    result_.ok = true;
    return Status::Done;
  }
  if (step_ == kStatusStep) {
    std::string raw = column(mariadb_ ? "Gtid_IO_Pos" : "Retrieved_Gtid_Set").value_or("");
    std::string pos(trim(raw));
    if (!gtidText(pos)) return fail(fmt::format("unexpected GTID position \"{}\"", pos));
    waitFor_ = pos;
  } else if (step_ == kWaitStep) {
    if (value(0).value_or("") != "0")
      return fail(fmt::format("the replica did not apply the transactions it received ({}) "
                              "within {} s",
                              waitFor_, kApplyWaitSeconds));
  }
  ++step_;
  sendStatement(out);
  if (statement_.empty()) {
    result_.ok = true;
    return Status::Done;
  }
  return Status::Continue;
}

MysqlProbeExchange::Status MysqlProbeExchange::onPacket(my::Bytes payload, uint8_t sequenceId,
                                                        my::Writer& out) {
  if (login_) {
    switch (login_->onPacket(payload, sequenceId, out)) {
      case MysqlServerLogin::Status::Continue:
        return Status::Continue;
      case MysqlServerLogin::Status::StartTls:
        return Status::StartTls;
      case MysqlServerLogin::Status::Failed:
        return fail(login_->errorCode() ? fmt::format("login refused: {} ({})", login_->error(),
                                                      login_->errorCode())
                                        : fmt::format("login failed: {}", login_->error()));
      case MysqlServerLogin::Status::Done:
        break;
    }
    capabilities_ = login_->capabilities();
    mariadb_ = login_->serverVersion().find("MariaDB") != std::string::npos;
    login_.reset();
    again(goal_, out);
    return Status::Continue;
  }
  if (statement_.empty()) return fail("the server spoke out of turn");
  if (payload.empty()) return fail("an empty packet");
  const uint8_t first = payload[0];
  if (first == 0xFF) {
    std::optional<my::ErrPacket> err = my::decodeErr(payload);
    return fail(err ? fmt::format("{}: ERROR {} ({}): {}", statement_, err->code, err->sqlState,
                                  err->message)
                    : fmt::format("{}: a malformed error packet", statement_));
  }
  switch (read_) {
    case Read::Header: {
      if (first == 0x00) return statementDone(out);  // OK: no result set
      if (first == 0xFB) return fail("the server asked for a local file");
      std::optional<my::ColumnCount> count = my::decodeColumnCount(payload, capabilities_);
      if (!count || count->count > 4096) return fail("a malformed result set header");
      columnsLeft_ = count->count;
      read_ = Read::Columns;
      return Status::Continue;
    }
    case Read::Columns: {
      std::optional<my::ColumnDefinition> def =
          my::decodeColumnDefinition(payload, capabilities_);
      if (!def) return fail("a malformed column definition");
      columnNames_.emplace_back(def->name);
      if (--columnsLeft_ == 0)
        read_ = (capabilities_ & my::kClientDeprecateEof) ? Read::Rows : Read::ColumnsEof;
      return Status::Continue;
    }
    case Read::ColumnsEof:
      if (!my::isEof(payload)) return fail("no EOF after the column definitions");
      read_ = Read::Rows;
      return Status::Continue;
    case Read::Rows: {
      if (first == 0xFE && payload.size() < 0xFFFFFF) return statementDone(out);
      std::vector<std::optional<std::string_view>> row;
      if (!my::decodeTextRow(payload, row)) return fail("a malformed row");
      if (!firstRow_) {
        firstRow_.emplace();
        for (const auto& v : row)
          firstRow_->push_back(v ? std::optional<std::string>(std::string(*v)) : std::nullopt);
      }
      return Status::Continue;
    }
  }
  return fail("unreachable");
}

}  // namespace shardpool::pooler::health
