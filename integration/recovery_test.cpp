// A backend that dies under a client (terminated, crashed, failed over) costs the client at most
// its transaction, never its connection to shardpool: the reply it waited for is an error, a
// transaction it had open is aborted until it rolls back, and its next statement runs on
// another server.
#include <catch2/catch.hpp>

#include <thread>

#include "integration/admin_util.h"

using namespace shardpool::integration;

namespace {

void terminate(const std::string& pid) {
  Conn admin = adminConn();
  admin.query("SELECT pg_terminate_backend(" + pid + ")");
  REQUIRE(backendGone(pid));
}

}  // namespace

TEST_CASE("recovery: a query running when its backend dies fails, the connection stays",
          "[integration][recovery]") {
  Proxy proxy(standardConfig("pool_mode = \"transaction\""));
  Conn c(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(c.ok());
  std::string pid = c.scalar("SELECT pg_backend_pid()");
  REQUIRE(PQsendQuery(c.get(), "SELECT pg_sleep(5)"));
  std::this_thread::sleep_for(300ms);
  terminate(pid);
  auto results = c.collect(5s);
  REQUIRE(!results.empty());
  REQUIRE(results.back());
  bool failed = false;
  for (auto& r : results)
    if (r && PQresultStatus(r.get()) == PGRES_FATAL_ERROR) failed = true;
  CHECK(failed);
  REQUIRE(PQstatus(c.get()) == CONNECTION_OK);
  CHECK(c.scalar("SELECT 'next query on another server'") == "next query on another server");
  CHECK(c.scalar("SELECT pg_backend_pid()") != pid);
}

TEST_CASE("recovery: an open transaction is aborted until ROLLBACK, then work goes on",
          "[integration][recovery]") {
  Proxy proxy(standardConfig("pool_mode = \"transaction\""));
  Conn c(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(c.ok());
  c.query("BEGIN");
  std::string pid = c.scalar("SELECT pg_backend_pid()");
  terminate(pid);
  // The first statement sees the server's own error (downgraded from FATAL), later ones
  // shardpool's "transaction is aborted".
  c.expectError("SELECT 1");
  PgError e = c.expectError("SELECT 2");
  CHECK(e.sqlstate == "25P02");
  CHECK(contains(e.message, "ROLLBACK"));
  CHECK(PQtransactionStatus(c.get()) == PQTRANS_INERROR);
  c.query("ROLLBACK");
  CHECK(PQtransactionStatus(c.get()) == PQTRANS_IDLE);
  CHECK(c.scalar("SELECT 3") == "3");

  // The same with the extended protocol, ended by COMMIT (reported as ROLLBACK).
  c.query("BEGIN");
  pid = c.scalar("SELECT pg_backend_pid()");
  terminate(pid);
  c.expectError("SELECT 1");
  const char* values[] = {"7"};
  ResultPtr r(PQexecParams(c.get(), "SELECT $1::int", 1, nullptr, values, nullptr, nullptr, 0));
  CHECK(PQresultStatus(r.get()) == PGRES_FATAL_ERROR);
  CHECK(errorFrom(r.get()).sqlstate == "25P02");
  ResultPtr commit(PQexecParams(c.get(), "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 0));
  CHECK(PQresultStatus(commit.get()) == PGRES_COMMAND_OK);
  CHECK(std::string(PQcmdStatus(commit.get())) == "ROLLBACK");
  ResultPtr after(PQexecParams(c.get(), "SELECT $1::int", 1, nullptr, values, nullptr, nullptr, 0));
  REQUIRE(PQresultStatus(after.get()) == PGRES_TUPLES_OK);
  CHECK(std::string(PQgetvalue(after.get(), 0, 0)) == "7");
}

TEST_CASE("recovery: a session-mode client idle when its backend dies gets a new one",
          "[integration][recovery]") {
  Proxy proxy(standardConfig());  // session pooling
  Conn c(proxy.conninfo("sp_scram", "scram_pass") + " application_name=survivor");
  REQUIRE(c.ok());
  std::string pid = c.scalar("SELECT pg_backend_pid()");
  terminate(pid);
  std::this_thread::sleep_for(200ms);
  // The server's goodbye arrives as an ERROR notice-like result, or not at all; either way the
  // next query runs on a new backend with the client's settings re-applied.
  std::string next;
  for (int i = 0; i < 2 && next.empty(); ++i) {
    try {
      next = c.scalar("SELECT pg_backend_pid()");
    } catch (const std::exception&) {
    }
  }
  REQUIRE(PQstatus(c.get()) == CONNECTION_OK);
  CHECK(!next.empty());
  CHECK(next != pid);
  CHECK(c.scalar("SHOW application_name") == "survivor");
}
