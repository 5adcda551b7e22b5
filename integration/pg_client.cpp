// Harness: libpq helpers, errors with SQLSTATEs, admin queries on the test cluster.
#include <libpq-fe.h>
#include <poll.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <regex>
#include <thread>

#include "integration/harness.h"
#include "integration/harness_util.h"

namespace shardpool::integration {

using detail::fail;
using detail::remainingMs;

namespace {

std::string withDefaults(const std::string& conninfo) {
  std::string info = conninfo;
  if (info.find("sslmode") == std::string::npos) info += " sslmode=disable";
  if (info.find("gssencmode") == std::string::npos) info += " gssencmode=disable";
  return info;
}

}  // namespace

PgError errorFrom(const PGresult* res) {
  PgError e;
  if (!res) return e;
  if (const char* s = PQresultErrorField(res, PG_DIAG_SQLSTATE)) e.sqlstate = s;
  if (const char* m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)) {
    e.message = m;
  } else {
    e.message = PQresultErrorMessage(res);
  }
  return e;
}

PgError errorFromText(std::string_view text) {
  static const std::regex re(R"((FATAL|ERROR|PANIC):  ([0-9A-Z]{5}): ([^\n]*))");
  PgError e;
  std::string s(text);
  std::smatch m;
  if (std::regex_search(s, m, re)) {
    e.sqlstate = m[2];
    e.message = m[3];
  } else {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    e.message = s;
  }
  return e;
}

Conn::Conn(const std::string& conninfo, Ms timeout) {
  auto start = Clock::now();
  auto deadline = start + timeout;
  std::string info = withDefaults(conninfo);
  conn_.reset(PQconnectStart(info.c_str()));
  if (!conn_) throw fail("PQconnectStart: out of memory");
  PQsetErrorVerbosity(conn_.get(), PQERRORS_VERBOSE);
  if (PQstatus(conn_.get()) == CONNECTION_BAD) {
    connectError_ = errorFromText(PQerrorMessage(conn_.get()));
    connectTime_ = std::chrono::duration_cast<Ms>(Clock::now() - start);
    return;
  }
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  for (;;) {
    if (st == PGRES_POLLING_OK || st == PGRES_POLLING_FAILED) break;
    pollfd p{PQsocket(conn_.get()),
             static_cast<short>(st == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
    int r = ::poll(&p, 1, remainingMs(deadline));
    if (r == 0) {
      connectError_.message =
          "timeout: connection not established within " + std::to_string(timeout.count()) + " ms";
      conn_.reset();
      break;
    }
    if (r < 0 && errno != EINTR) {
      connectError_.message = std::string("poll: ") + std::strerror(errno);
      conn_.reset();
      break;
    }
    st = PQconnectPoll(conn_.get());
  }
  if (st == PGRES_POLLING_FAILED && conn_) {
    connectError_ = errorFromText(PQerrorMessage(conn_.get()));
  }
  connectTime_ = std::chrono::duration_cast<Ms>(Clock::now() - start);
}

bool Conn::waitReadable(Ms timeout) const {
  if (!conn_) return false;
  auto deadline = Clock::now() + timeout;
  for (;;) {
    pollfd p{PQsocket(conn_.get()), POLLIN, 0};
    int r = ::poll(&p, 1, remainingMs(deadline));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

std::vector<ResultPtr> Conn::collect(Ms timeout) {
  std::vector<ResultPtr> out;
  auto deadline = Clock::now() + timeout;
  for (;;) {
    while (PQisBusy(conn_.get())) {
      if (!waitReadable(Ms(remainingMs(deadline)))) {
        out.emplace_back(nullptr);  // timeout
        return out;
      }
      if (!PQconsumeInput(conn_.get())) break;  // connection lost: PQgetResult reports it
    }
    PGresult* r = PQgetResult(conn_.get());
    if (!r) return out;
    ExecStatusType st = PQresultStatus(r);
    out.emplace_back(r);
    if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) return out;
  }
}

std::vector<ResultPtr> Conn::exec(const std::string& sql, Ms timeout) {
  if (!ok()) throw fail("exec on a connection that is not open: " + connectError_.message);
  if (!PQsendQuery(conn_.get(), sql.c_str())) {
    std::vector<ResultPtr> out;
    out.emplace_back(PQmakeEmptyPGresult(conn_.get(), PGRES_FATAL_ERROR));
    return out;
  }
  return collect(timeout);
}

Rows Conn::query(const std::string& sql, Ms timeout) {
  auto results = exec(sql, timeout);
  if (results.empty()) throw fail("no result for: " + sql);
  if (!results.back())
    throw fail("timeout after " + std::to_string(timeout.count()) + " ms: " + sql);
  for (auto& r : results) {
    auto st = PQresultStatus(r.get());
    if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE) {
      auto e = errorFrom(r.get());
      std::string text = e.message.empty() ? PQerrorMessage(conn_.get()) : e.message;
      throw fail("query failed [" + e.sqlstate + "] " + text + " -- " + sql);
    }
  }
  Rows rows;
  const PGresult* res = results.back().get();
  for (int i = 0; i < PQntuples(res); ++i) {
    Row row;
    for (int j = 0; j < PQnfields(res); ++j) {
      if (PQgetisnull(res, i, j)) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(std::string(PQgetvalue(res, i, j), PQgetlength(res, i, j)));
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string Conn::scalar(const std::string& sql, Ms timeout) {
  auto rows = query(sql, timeout);
  if (rows.empty() || rows[0].empty() || !rows[0][0]) throw fail("no value from: " + sql);
  return *rows[0][0];
}

PgError Conn::expectError(const std::string& sql, Ms timeout) {
  auto results = exec(sql, timeout);
  if (!results.empty() && !results.back()) {
    throw fail("timeout after " + std::to_string(timeout.count()) + " ms: " + sql);
  }
  for (auto& r : results) {
    auto st = PQresultStatus(r.get());
    if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE) {
      auto e = errorFrom(r.get());
      if (e.sqlstate.empty()) e = errorFromText(PQerrorMessage(conn_.get()));
      return e;
    }
  }
  if (PQstatus(conn_.get()) == CONNECTION_BAD) return errorFromText(PQerrorMessage(conn_.get()));
  throw fail("expected an error, but it succeeded: " + sql);
}

std::string directConninfo(const std::string& user, const std::string& password,
                           const std::string& dbname) {
  std::string info = "host=127.0.0.1 port=" + std::to_string(pgPort()) + " dbname=" + dbname +
                     " user=" + user + " application_name=shardpool_it_direct";
  if (!password.empty()) info += " password=" + password;
  return info;
}

Conn adminConn() {
  Conn c(directConninfo("sp_admin", clusterValue("SP_ADMIN_PASSWORD")));
  if (!c.ok())
    throw fail("admin connection to the test cluster failed: " + c.connectError().message);
  return c;
}

int backendCount(const std::string& user) {
  Conn admin = adminConn();
  std::string u = user;
  const char* params[1] = {u.c_str()};
  ResultPtr r(PQexecParams(admin.get(),
                           "SELECT count(*) FROM pg_stat_activity WHERE usename = $1 "
                           "AND backend_type = 'client backend'",
                           1, nullptr, params, nullptr, nullptr, 0));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
    throw fail("backendCount: " + errorFrom(r.get()).message);
  }
  return std::atoi(PQgetvalue(r.get(), 0, 0));
}

TempRole::TempRole(const std::string& prefix, const std::string& password)
    : name_(prefix + "_" + uniqueSuffix()), password_(password) {
  Conn admin = adminConn();
  admin.query("CREATE ROLE " + name_ + " LOGIN PASSWORD '" + password_ + "'");
}

TempRole::~TempRole() {
  try {
    Conn admin = adminConn();
    for (int i = 0; i < 50; ++i) {
      admin.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '" +
                 name_ + "'");
      auto res = admin.exec("DROP OWNED BY " + name_ + "; DROP ROLE IF EXISTS " + name_);
      bool failed = false;
      for (auto& r : res) {
        if (!r || PQresultStatus(r.get()) == PGRES_FATAL_ERROR) failed = true;
      }
      if (!failed) return;
      std::this_thread::sleep_for(100ms);
    }
  } catch (...) {
    // Best effort: a leftover role in a throwaway cluster is harmless.
  }
}
}  // namespace shardpool::integration
