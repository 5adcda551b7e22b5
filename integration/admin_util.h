// Helpers for tests of the admin console: a config with admin and stats users, a console
// connection, and SHOW results as rows of named columns.
#pragma once

#include <libpq-fe.h>

#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "integration/harness.h"

namespace shardpool::integration {

// standardConfig + sp_admin as admin user and sp_md5 as stats user (both also [users]).
inline std::string consoleConfig(const std::string& generalExtra = "") {
  return generalSection("admin_users = [\"sp_admin\"]\nstats_users = \"sp_md5\"\n" + generalExtra) +
         clusterDatabase() + userSection("sp_scram", "scram_pass") +
         userSection("sp_admin", "admin_pass") + userSection("sp_md5", "md5_pass");
}

inline Conn consoleConn(const Proxy& proxy, const std::string& user = "sp_admin",
                        const std::string& password = "admin_pass",
                        const std::string& db = "shardpool") {
  return Conn(proxy.conninfo(user, password, db));
}

using NamedRow = std::map<std::string, std::string>;

// Runs a SHOW (or any row-returning command) and names each value by its column.
inline std::vector<NamedRow> showRows(Conn& c, const std::string& command) {
  auto results = c.exec(command, 20s);
  if (results.empty() || !results.back()) throw std::runtime_error("no result for " + command);
  const PGresult* r = results.back().get();
  if (PQresultStatus(r) != PGRES_TUPLES_OK)
    throw std::runtime_error(command + " failed: " + errorFrom(r).message);
  std::vector<NamedRow> rows;
  for (int i = 0; i < PQntuples(r); ++i) {
    NamedRow row;
    for (int j = 0; j < PQnfields(r); ++j)
      row[PQfname(r, j)] = PQgetisnull(r, i, j) ? std::string() : PQgetvalue(r, i, j);
    rows.push_back(std::move(row));
  }
  return rows;
}

inline std::vector<std::string> showColumns(Conn& c, const std::string& command) {
  auto results = c.exec(command, 20s);
  if (results.empty() || !results.back()) throw std::runtime_error("no result for " + command);
  std::vector<std::string> names;
  for (int j = 0; j < PQnfields(results.back().get()); ++j)
    names.emplace_back(PQfname(results.back().get(), j));
  return names;
}

// The row of SHOW POOLS / STATS / DATABASES whose `key` column equals `value`.
inline NamedRow findRow(const std::vector<NamedRow>& rows, const std::string& key,
                        const std::string& value) {
  for (const auto& r : rows)
    if (auto it = r.find(key); it != r.end() && it->second == value) return r;
  throw std::runtime_error("no row with " + key + " = " + value);
}

inline long num(const NamedRow& row, const std::string& column) {
  auto it = row.find(column);
  if (it == row.end()) throw std::runtime_error("no column " + column);
  return std::stol(it->second);
}

// True when an earlier PQsendQuery has a complete result within `wait`.
inline bool finishedWithin(Conn& c, Ms wait) {
  auto deadline = Clock::now() + wait;
  while (Clock::now() < deadline) {
    PQconsumeInput(c.get());
    if (!PQisBusy(c.get())) return true;
    c.waitReadable(50ms);
  }
  PQconsumeInput(c.get());
  return !PQisBusy(c.get());
}

// Runs `sql` on `c` until the connection is dropped or the query fails (a KILL arriving), up to
// about 20 tries 100 ms apart; true when it was dropped.
inline bool droppedWithin(Conn& c, const std::string& sql) {
  for (int i = 0; i < 20; ++i) {
    auto r = c.exec(sql, 3s);
    if (PQstatus(c.get()) == CONNECTION_BAD ||
        (!r.empty() && r.back() && PQresultStatus(r.back().get()) == PGRES_FATAL_ERROR))
      return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

// Waits (up to `timeout`) until backend `pid` has left pg_stat_activity.
inline bool backendGone(const std::string& pid, Ms timeout = 5s) {
  Conn admin = adminConn();
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (admin.scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid) == "0")
      return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

}  // namespace shardpool::integration
