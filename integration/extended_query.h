// Test helper: libpq extended-protocol calls (PQsendPrepare / PQsendQueryPrepared) that never
// wait longer than a timeout, so a proxy that stops answering fails the test instead of hanging.
#pragma once

#include <libpq-fe.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "integration/harness.h"

namespace shardpool::integration {

inline bool succeeded(const PGresult* r) {
  auto st = PQresultStatus(r);
  return r && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK);
}

// The first error among the results of one call, else the last result; throws on a timeout.
inline ResultPtr firstErrorOrLast(std::vector<ResultPtr> results, const std::string& what,
                                  Ms timeout) {
  if (!results.empty() && !results.back()) {
    throw std::runtime_error("timeout after " + std::to_string(timeout.count()) + " ms: " + what);
  }
  if (results.empty()) throw std::runtime_error("no result for: " + what);
  for (auto& r : results) {
    auto st = PQresultStatus(r.get());
    if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE) return std::move(r);
  }
  return std::move(results.back());
}

// SQLSTATE and message of a failed call (falling back to the connection's error text, which
// holds the SQLSTATE in verbose mode when the connection was lost).
inline PgError errorOf(const Conn& c, const PGresult* r) {
  PgError e = errorFrom(r);
  if (e.sqlstate.empty() && c.get()) {
    PgError t = errorFromText(PQerrorMessage(c.get()));
    if (!t.sqlstate.empty() || e.message.empty()) e = t;
  }
  return e;
}

// "TUPLES_OK" / "FATAL_ERROR [42P05] message" for INFO lines.
inline std::string describe(const Conn& c, const PGresult* r) {
  std::string s = PQresStatus(PQresultStatus(r));
  if (!succeeded(r)) {
    auto e = errorOf(c, r);
    s += " [" + e.sqlstate + "] " + e.message;
  }
  return s;
}

inline ResultPtr prepare(Conn& c, const std::string& name, const std::string& sql,
                         Ms timeout = 10s) {
  if (!PQsendPrepare(c.get(), name.c_str(), sql.c_str(), 0, nullptr)) {
    return ResultPtr(PQmakeEmptyPGresult(c.get(), PGRES_FATAL_ERROR));
  }
  return firstErrorOrLast(c.collect(timeout), "PQprepare " + name + ": " + sql, timeout);
}

inline ResultPtr execPrepared(Conn& c, const std::string& name,
                              const std::vector<std::string>& params, Ms timeout = 10s) {
  std::vector<const char*> values;
  for (auto& p : params) values.push_back(p.c_str());
  if (!PQsendQueryPrepared(c.get(), name.c_str(), static_cast<int>(values.size()), values.data(),
                           nullptr, nullptr, 0)) {
    return ResultPtr(PQmakeEmptyPGresult(c.get(), PGRES_FATAL_ERROR));
  }
  return firstErrorOrLast(c.collect(timeout), "PQexecPrepared " + name, timeout);
}

// An unnamed extended-protocol query (PQexecParams), text parameters, types inferred.
inline ResultPtr execParams(Conn& c, const std::string& sql, const std::vector<std::string>& params,
                            Ms timeout = 10s) {
  std::vector<const char*> values;
  for (auto& p : params) values.push_back(p.c_str());
  if (!PQsendQueryParams(c.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                         values.data(), nullptr, nullptr, 0)) {
    return ResultPtr(PQmakeEmptyPGresult(c.get(), PGRES_FATAL_ERROR));
  }
  return firstErrorOrLast(c.collect(timeout), "PQexecParams: " + sql, timeout);
}

// First column of the first row ("" when there is none).
inline std::string firstValue(const PGresult* r) {
  if (!r || PQntuples(r) < 1 || PQnfields(r) < 1) return "";
  return PQgetvalue(r, 0, 0);
}

}  // namespace shardpool::integration
