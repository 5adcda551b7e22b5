// Test helper: libpq pipeline mode (PQenterPipelineMode and friends, libpq 14+) on a non-blocking
// connection whose every wait has a deadline, so a proxy that stops answering fails the test
// instead of hanging it. Results are turned into one line each so that a whole pipeline can be
// compared with its expected sequence in a single assertion.
#pragma once

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <string>
#include <vector>

#include "integration/harness.h"

namespace shardpool::integration {

// "TUPLES_OK <first value>" ("TUPLES_OK" alone with no rows), "COMMAND_OK", "FATAL_ERROR
// <SQLSTATE>" (libpq's text instead when there is no SQLSTATE), "PIPELINE_ABORTED",
// "PIPELINE_SYNC", ...
inline std::string pipelineLine(const PGresult* r) {
  ExecStatusType st = PQresultStatus(r);
  std::string s = PQresStatus(st);
  if (s.rfind("PGRES_", 0) == 0) s.erase(0, 6);
  if (st == PGRES_TUPLES_OK && PQntuples(r) > 0 && PQnfields(r) > 0) {
    s += " " + std::string(PQgetisnull(r, 0, 0) ? "NULL" : PQgetvalue(r, 0, 0));
  }
  if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR || st == PGRES_BAD_RESPONSE) {
    PgError e = errorFrom(r);
    s += e.sqlstate.empty() ? " (no SQLSTATE) " + e.message : " " + e.sqlstate;
  }
  return s;
}

class Pipeline {
 public:
  // Puts `c` into pipeline mode and non-blocking mode; ok() says whether that worked.
  explicit Pipeline(Conn& c) : c_(c) {
    entered_ = c_.ok() && PQsetnonblocking(c_.get(), 1) == 0 && PQenterPipelineMode(c_.get()) == 1;
  }
  ~Pipeline() { exit(); }
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  bool ok() const { return entered_; }
  std::string error() const { return PQerrorMessage(c_.get()); }

  // Queue one message sequence each; true when libpq accepted it.
  bool query(const std::string& sql, const std::vector<std::string>& params = {}) {
    auto v = values(params);
    return PQsendQueryParams(c_.get(), sql.c_str(), static_cast<int>(v.size()), nullptr, v.data(),
                             nullptr, nullptr, 0) == 1;
  }
  bool prepare(const std::string& name, const std::string& sql) {
    return PQsendPrepare(c_.get(), name.c_str(), sql.c_str(), 0, nullptr) == 1;
  }
  bool execPrepared(const std::string& name, const std::vector<std::string>& params = {}) {
    auto v = values(params);
    return PQsendQueryPrepared(c_.get(), name.c_str(), static_cast<int>(v.size()), v.data(),
                               nullptr, nullptr, 0) == 1;
  }
  bool sync() { return PQpipelineSync(c_.get()) == 1; }
  bool flushRequest() { return PQsendFlushRequest(c_.get()) == 1; }

  // Sends everything libpq has buffered (reading input meanwhile, so neither side can block the
  // other); false on an error or after `timeout`.
  bool flush(Ms timeout = 10s) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      int r = PQflush(c_.get());
      if (r == 0) return true;
      if (r < 0) return false;
      short ev = waitSocket(POLLIN | POLLOUT, deadline);
      if (ev == 0) return false;
      if ((ev & POLLIN) && !PQconsumeInput(c_.get())) return false;
    }
  }

  // The next result of the pipeline. nullptr after `timeout`, when the connection failed, or when
  // nothing is outstanding; `why` then says which.
  ResultPtr next(Ms timeout, std::string* why = nullptr) {
    auto deadline = Clock::now() + timeout;
    auto failed = [&](std::string text) {
      if (why) *why = std::move(text);
      return ResultPtr();
    };
    if (!flush(timeout)) return failed("flush failed or timed out: " + error());
    int nulls = 0;
    for (;;) {
      while (PQisBusy(c_.get())) {
        short ev = waitSocket(POLLIN, deadline);
        if (ev == 0) {
          return failed("TIMEOUT after " + std::to_string(timeout.count()) +
                        " ms waiting for a result");
        }
        if (!PQconsumeInput(c_.get())) break;  // lost: PQgetResult reports it
      }
      if (PGresult* r = PQgetResult(c_.get())) return ResultPtr(r);
      // One NULL ends each query's results; a second in a row means nothing is outstanding.
      if (++nulls >= 2) {
        return failed(PQstatus(c_.get()) == CONNECTION_BAD ? "connection lost: " + error()
                                                           : "no result outstanding");
      }
    }
  }

  // Lines (see pipelineLine) for every result up to and including the `syncs`-th PIPELINE_SYNC.
  // A line starting with "ERROR:" (timeout, lost connection, nothing outstanding) ends the list
  // early, so comparing with the expected lines shows exactly where the pipeline went wrong.
  std::vector<std::string> readSyncs(int syncs = 1, Ms timeout = 10s) {
    std::vector<std::string> lines;
    auto deadline = Clock::now() + timeout;
    while (syncs > 0) {
      std::string why;
      auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now());
      ResultPtr r = next(left < Ms(0) ? Ms(0) : left, &why);
      if (!r) {
        lines.push_back("ERROR: " + why);
        break;
      }
      if (PQresultStatus(r.get()) == PGRES_PIPELINE_SYNC) --syncs;
      lines.push_back(pipelineLine(r.get()));
    }
    return lines;
  }

  // Leaves pipeline mode (every result must have been read) and non-blocking mode.
  bool exit() {
    if (!entered_) return true;
    if (!c_.get() || PQexitPipelineMode(c_.get()) != 1) return false;
    entered_ = false;
    return PQsetnonblocking(c_.get(), 0) == 0;
  }

 private:
  static std::vector<const char*> values(const std::vector<std::string>& params) {
    std::vector<const char*> v;
    for (auto& p : params) v.push_back(p.c_str());
    return v;
  }

  // poll() on the connection's socket until `deadline`; the events seen, 0 on timeout or error.
  short waitSocket(short events, Clock::time_point deadline) const {
    for (;;) {
      auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now()).count();
      pollfd p{PQsocket(c_.get()), events, 0};
      int r = ::poll(&p, 1, left <= 0 ? 0 : static_cast<int>(left));
      if (r > 0) return p.revents ? p.revents : events;
      if (r == 0 || errno != EINTR) return 0;
    }
  }

  Conn& c_;
  bool entered_ = false;
};

// Expected lines for queries answering `values` in order, then one PIPELINE_SYNC.
inline std::vector<std::string> tuplesThenSync(const std::vector<std::string>& values) {
  std::vector<std::string> lines;
  for (auto& v : values) lines.push_back("TUPLES_OK " + v);
  lines.push_back("PIPELINE_SYNC");
  return lines;
}

}  // namespace shardpool::integration
