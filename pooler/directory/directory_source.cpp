#include "pooler/directory/directory_source.h"

#include <fmt/format.h>

#include "pooler/net/uv_handle.h"

#include <algorithm>

namespace shardpool::pooler {

namespace {

using namespace std::chrono_literals;

constexpr std::chrono::milliseconds kConnectTimeout = 10s;
// A query that sends nothing for this long has failed (a full read restarts it with each row).
constexpr std::chrono::milliseconds kQueryTimeout = 60s;
constexpr std::chrono::milliseconds kFirstRetry = 1s;
constexpr std::chrono::milliseconds kMaxRetry = 30s;
constexpr size_t kDetailedBadRows = 3;

// libpq's message on one line: "...failed: Connection refused Is the server running...".
std::string oneLine(const char* text) {
  std::string s;
  for (const char* p = text ? text : ""; *p; ++p) {
    bool space = *p == '\n' || *p == '\t' || *p == ' ';
    if (space && (s.empty() || s.back() == ' ')) continue;
    s.push_back(space ? ' ' : *p);
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s.empty() ? "connection failed" : s;
}

// "MyChannel" -> "\"MyChannel\"": the channel is taken as written, as pg_notify() takes it.
std::string quoteIdentifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

DirectorySource::DirectorySource(uv_loop_t* loop, std::string database,
                                 config::DirectorySource source,
                                 std::vector<std::string> shardNames, Hooks hooks)
    : loop_(loop),
      database_(std::move(database)),
      source_(std::move(source)),
      reader_(std::move(shardNames)),
      hooks_(std::move(hooks)) {}

DirectorySource::~DirectorySource() {
  stop();
}

void DirectorySource::stop() {
  stopped_ = true;
  disconnect();
  closeAndDelete(timeout_);
  closeAndDelete(schedule_);
}

uv_timer_t* DirectorySource::newTimer() {
  auto* t = new uv_timer_t;
  uv_timer_init(loop_, t);
  t->data = this;
  return t;
}

void DirectorySource::reload() {
  forced_ = true;
  begin();
}

// A check now, or after the running one (or the map being built) when busy.
void DirectorySource::begin() {
  if (stopped_) return;
  if (building_) {
    pending_ = true;
    return;
  }
  switch (state_) {
    case State::Disconnected:
      if (schedule_) uv_timer_stop(schedule_);
      connect();  // then LISTEN, then the check
      return;
    case State::Idle:
      if (schedule_) uv_timer_stop(schedule_);
      startCheck();
      return;
    case State::Connecting:
    case State::Listening:
    case State::Checking:
    case State::Loading:
      pending_ = true;
      return;
  }
}

void DirectorySource::startCheck() {
  pending_ = false;  // this check answers every request made so far
  if (!fingerprints_) {
    startLoad();
    return;
  }
  if (send(fmt::format("SELECT pg_catalog.count(*), pg_catalog.sum(pg_catalog.hashtext("
                       "ctid::text || xmin::text)) FROM {}",
                       source_.table),
           false))
    state_ = State::Checking;
}

void DirectorySource::startLoad() {
  forced_ = false;  // a NOTIFY from now on asks for another read
  rows_.clear();
  columnsChecked_ = false;
  badRows_ = 0;
  badRowMessages_.clear();
  if (send(fmt::format("SELECT key_from, key_to, shard FROM {}", source_.table), true))
    state_ = State::Loading;
}

// A check ended without a new map to build: the next one follows now or after the interval.
void DirectorySource::settled() {
  if (pending_) {
    begin();
    return;
  }
  if (source_.refreshInterval.count() > 0) schedule(source_.refreshInterval);
}

void DirectorySource::connect() {
  const char* keywords[] = {"fallback_application_name", "dbname", nullptr};
  const char* values[] = {"shardpool_directory", source_.conninfo.c_str(), nullptr};
  conn_ = PQconnectStartParams(keywords, values, 1);
  if (!conn_ || PQstatus(conn_) == CONNECTION_BAD) {
    fail(conn_ ? oneLine(PQerrorMessage(conn_)) : "out of memory");
    return;
  }
  state_ = State::Connecting;
  armTimeout(kConnectTimeout);
  watch(UV_WRITABLE);
}

void DirectorySource::armTimeout(std::chrono::milliseconds after) {
  if (!timeout_) timeout_ = newTimer();
  uv_timer_start(timeout_, onTimeout, static_cast<uint64_t>(after.count()), 0);
}

void DirectorySource::schedule(std::chrono::milliseconds after) {
  if (stopped_) return;
  if (!schedule_) schedule_ = newTimer();
  uv_timer_start(schedule_, onSchedule, static_cast<uint64_t>(after.count()), 0);
}

void DirectorySource::onSchedule(uv_timer_t* t) {
  if (auto* self = static_cast<DirectorySource*>(t->data)) self->begin();
}

void DirectorySource::onTimeout(uv_timer_t* t) {
  auto* self = static_cast<DirectorySource*>(t->data);
  if (!self) return;
  switch (self->state_) {
    case State::Connecting:
      self->fail("connect timed out");
      return;
    case State::Listening:
    case State::Checking:
    case State::Loading:
      self->fail("query timed out");
      return;
    case State::Disconnected:
    case State::Idle:
      return;
  }
}

void DirectorySource::watch(int events) {
  int fd = PQsocket(conn_);
  if (fd < 0) {
    fail("no socket");
    return;
  }
  if (poll_ && fd != pollFd_) closeAndDelete(poll_);
  if (!poll_) {
    poll_ = new uv_poll_t;
    if (uv_poll_init_socket(loop_, poll_, fd) != 0) {
      delete poll_;
      poll_ = nullptr;
      fail("cannot watch the socket");
      return;
    }
    poll_->data = this;
    pollFd_ = fd;
  }
  uv_poll_start(poll_, events, onPoll);
}

void DirectorySource::onPoll(uv_poll_t* p, int status, int events) {
  auto* self = static_cast<DirectorySource*>(p->data);
  if (!self) return;
  if (status < 0) {
    if (self->state_ == State::Connecting) {
      self->step(UV_READABLE | UV_WRITABLE);  // libpq says best what went wrong
      return;
    }
    self->fail(fmt::format("socket error: {}", uv_strerror(status)));
    return;
  }
  self->step(events);
}

void DirectorySource::step(int events) {
  switch (state_) {
    case State::Connecting:
      switch (PQconnectPoll(conn_)) {
        case PGRES_POLLING_OK:
          PQsetnonblocking(conn_, 1);
          if (!source_.notifyChannel.empty()) {
            if (send("LISTEN " + quoteIdentifier(source_.notifyChannel), false))
              state_ = State::Listening;
            return;
          }
          state_ = State::Idle;
          watch(UV_READABLE);
          startCheck();
          return;
        case PGRES_POLLING_READING:
          watch(UV_READABLE);
          return;
        case PGRES_POLLING_WRITING:
          watch(UV_WRITABLE);
          return;
        case PGRES_POLLING_FAILED:
        default:
          fail(oneLine(PQerrorMessage(conn_)));
          return;
      }
    case State::Listening:
    case State::Checking:
    case State::Loading:
      if ((events & UV_WRITABLE) && PQflush(conn_) < 0) {
        fail(oneLine(PQerrorMessage(conn_)));
        return;
      }
      if (events & UV_READABLE) readResults();
      return;
    case State::Idle:
      // Notifications, or the server going away.
      if (!PQconsumeInput(conn_)) {
        fail(oneLine(PQerrorMessage(conn_)));
        return;
      }
      drainNotifications();
      return;
    case State::Disconnected:
      return;
  }
}

bool DirectorySource::send(const std::string& sql, bool singleRow) {
  queryError_.clear();
  if (!PQsendQuery(conn_, sql.c_str())) {
    fail(oneLine(PQerrorMessage(conn_)));
    return false;
  }
  if (singleRow) PQsetSingleRowMode(conn_);
  armTimeout(kQueryTimeout);
  int more = PQflush(conn_);
  if (more < 0) {
    fail(oneLine(PQerrorMessage(conn_)));
    return false;
  }
  watch(more ? UV_READABLE | UV_WRITABLE : UV_READABLE);
  return poll_ != nullptr;
}

void DirectorySource::drainNotifications() {
  bool any = false;
  while (PGnotify* n = PQnotifies(conn_)) {
    PQfreemem(n);
    any = true;
  }
  if (!any) return;
  forced_ = true;
  begin();  // now when idle, else after the running check
}

void DirectorySource::readResults() {
  if (!PQconsumeInput(conn_)) {
    fail(oneLine(PQerrorMessage(conn_)));
    return;
  }
  if (state_ == State::Loading) armTimeout(kQueryTimeout);  // rows are still coming
  while (!PQisBusy(conn_)) {
    PGresult* r = PQgetResult(conn_);
    if (!r) {
      finishQuery();
      break;
    }
    handleResult(r);
    PQclear(r);
  }
  if (conn_) drainNotifications();
}

void DirectorySource::handleResult(PGresult* r) {
  ExecStatusType st = PQresultStatus(r);
  if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR) {
    if (queryError_.empty()) {
      const char* code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
      queryError_ = primary ? fmt::format("{} ({})", primary, code ? code : "no SQLSTATE")
                            : oneLine(PQresultErrorMessage(r));
      // The fingerprint needs ctid and xmin: a view has neither (42703 undefined_column).
      if (state_ == State::Checking && code && std::string_view(code) == "42703")
        queryError_ = "42703";
    }
    return;
  }
  if (state_ == State::Checking && st == PGRES_TUPLES_OK && PQntuples(r) == 1) {
    readingPrint_ = fmt::format("{}/{}", PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
    return;
  }
  if (state_ != State::Loading || (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK)) return;
  if (!columnsChecked_) {
    columnsChecked_ = true;
    if (PQnfields(r) != 3) {
      queryError_ = "expected the columns key_from, key_to, shard";
      return;
    }
    std::string problem = reader_.setColumns(PQftype(r, 0), PQftype(r, 1), PQftype(r, 2));
    if (!problem.empty()) queryError_ = fmt::format("table {}: {}", source_.table, problem);
  }
  if (!queryError_.empty()) return;
  for (int i = 0; i < PQntuples(r); ++i) {
    auto value = [&](int col) { return PQgetisnull(r, i, col) ? nullptr : PQgetvalue(r, i, col); };
    config::DirectoryEntry entry;
    std::string error;
    if (reader_.read(value(0), value(1), value(2), entry, error)) {
      if (badRows_ == 0) rows_.push_back(std::move(entry));
      continue;
    }
    if (badRows_++ < kDetailedBadRows) badRowMessages_.push_back(std::move(error));
    rows_.clear();
  }
}

void DirectorySource::finishQuery() {
  if (timeout_) uv_timer_stop(timeout_);
  std::string error = std::move(queryError_);
  queryError_.clear();
  switch (state_) {
    case State::Listening:
      if (!error.empty()) {
        fail(fmt::format("LISTEN failed: {}", error));
        return;
      }
      state_ = State::Idle;
      watch(UV_READABLE);
      startCheck();
      return;
    case State::Checking:
      if (error == "42703") {
        fingerprints_ = false;  // read in full each time
        startLoad();
        return;
      }
      if (!error.empty()) {
        fail(error);
        return;
      }
      if (forced_ || (readingPrint_ != loadedPrint_ && readingPrint_ != refusedPrint_)) {
        startLoad();
        return;
      }
      state_ = State::Idle;
      watch(UV_READABLE);
      backoff_ = {};
      if (readingPrint_ == loadedPrint_)
        hooks_.unchanged();
      else
        hooks_.failed(refusedError_);  // still the rows that were refused
      settled();
      return;
    case State::Loading: {
      if (!error.empty()) {
        fail(error);
        return;
      }
      state_ = State::Idle;
      watch(UV_READABLE);
      backoff_ = {};
      if (badRows_ > 0) {
        refusedPrint_ = readingPrint_;
        refusedError_ = fmt::format("table {}: {} bad row(s): {}{}", source_.table, badRows_,
                                    fmt::join(badRowMessages_, "; "),
                                    badRows_ > badRowMessages_.size() ? "; ..." : "");
        badRowMessages_.clear();
        hooks_.failed(refusedError_);
        settled();
        return;
      }
      building_ = true;
      std::vector<config::DirectoryEntry> rows = std::move(rows_);
      rows_ = {};
      hooks_.loaded(std::move(rows));
      return;
    }
    case State::Disconnected:
    case State::Connecting:
    case State::Idle:
      return;
  }
}

void DirectorySource::built(bool ok, const std::string& error) {
  if (stopped_ || !building_) return;
  building_ = false;
  if (ok) {
    loadedPrint_ = readingPrint_;
    refusedPrint_.clear();
    refusedError_.clear();
  } else {
    refusedPrint_ = readingPrint_;
    refusedError_ = error;
  }
  if (state_ == State::Disconnected) return;  // the connection broke meanwhile: a retry is due
  settled();
}

void DirectorySource::fail(const std::string& why) {
  if (stopped_) return;
  disconnect();
  rows_ = {};
  backoff_ = backoff_.count() == 0 ? kFirstRetry : std::min(backoff_ * 2, kMaxRetry);
  hooks_.failed(why);
  schedule(backoff_);
}

void DirectorySource::disconnect() {
  closeAndDelete(poll_);
  pollFd_ = -1;
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
  if (timeout_) uv_timer_stop(timeout_);
  state_ = State::Disconnected;
}

}  // namespace shardpool::pooler
