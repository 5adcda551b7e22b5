// connect_query: run on every new server connection after its login, before any client uses
// it. What it sets is what a client sees as its session's defaults, whoever used the server
// before; a failing connect_query fails the waiting client with its error instead of a hang.
#include <catch2/catch.hpp>

#include "integration/harness.h"

using namespace shardpool::integration;

namespace {

// Reported (IntervalStyle), unreported (search_path) and custom (myapp.tenant) settings.
const std::string kConnectQuery =
    "connect_query = \"SET IntervalStyle = iso_8601; SET search_path = cq_schema, public; "
    "SELECT pg_catalog.set_config('myapp.tenant', 'acme', false)\"";

std::string configWith(const std::string& generalExtra) {
  return generalSection(generalExtra) +
         clusterDatabase("sp_db", kConnectQuery + "\npool_size = 1") +
         userSection("sp_scram", "scram_pass");
}

// tenant | search_path | IntervalStyle, as the client sees them.
std::string settings(Conn& c) {
  return c.scalar(
      "SELECT current_setting('myapp.tenant', true) || '|' || current_setting('search_path') || "
      "'|' || current_setting('IntervalStyle')");
}

const std::string kDefaults = "acme|cq_schema, public|iso_8601";

}  // namespace

TEST_CASE("connect_query: its settings are every client's defaults in transaction pooling",
          "[integration][connect_query]") {
  Proxy proxy(configWith("pool_mode = \"transaction\""));
  Conn a(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(a.ok());
  CHECK(settings(a) == kDefaults);
  CHECK(std::string(PQparameterStatus(a.get(), "IntervalStyle")) == "iso_8601");
  std::string pid = a.scalar("SELECT pg_backend_pid()");

  a.query("SET myapp.tenant = 'other'");
  a.query("SET search_path = public");
  a.query("SET IntervalStyle = sql_standard");
  CHECK(settings(a) == "other|public|sql_standard");

  // One server (pool_size 1): b gets the server a changed, with connect_query's values.
  Conn b(proxy.conninfo("sp_scram", "scram_pass"));  // a login answered from the pool's cache
  REQUIRE(b.ok());
  CHECK(std::string(PQparameterStatus(b.get(), "IntervalStyle")) == "iso_8601");
  CHECK(b.scalar("SELECT pg_backend_pid()") == pid);
  CHECK(settings(b) == kDefaults);
  CHECK(settings(a) == "other|public|sql_standard");

  // RESET goes where it goes on a dedicated connection: to the server's default.
  a.query("RESET myapp.tenant");
  CHECK(settings(a) == "|public|sql_standard");
  a.query("RESET ALL");
  CHECK(settings(a) == "|\"$user\", public|postgres");
  CHECK(settings(b) == kDefaults);
  CHECK(b.scalar("SELECT pg_backend_pid()") == pid);
}

TEST_CASE("connect_query: runs again after the reset query in session pooling",
          "[integration][connect_query]") {
  Proxy proxy(configWith(""));  // session pooling, server_reset_query DISCARD ALL
  std::string pid;
  {
    Conn a(proxy.conninfo("sp_scram", "scram_pass"));
    REQUIRE(a.ok());
    CHECK(settings(a) == kDefaults);
    pid = a.scalar("SELECT pg_backend_pid()");
    a.query("SET myapp.tenant = 'other'; SET search_path = public");
  }
  // The same server (pool_size 1), after DISCARD ALL undid everything connect_query set.
  Conn b(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(b.ok());
  CHECK(b.scalar("SELECT pg_backend_pid()") == pid);
  CHECK(settings(b) == kDefaults);
}

TEST_CASE("connect_query: a failing one closes the server and fails the client with its error",
          "[integration][connect_query]") {
  Proxy proxy(generalSection("pool_mode = \"transaction\"") +
              clusterDatabase("sp_db", "connect_query = \"SELECT no_such_function_cq()\"") +
              userSection("sp_scram", "scram_pass"));
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto start = Clock::now();
    Conn a(proxy.conninfo("sp_scram", "scram_pass"));
    if (a.ok()) {
      PgError e = a.expectError("SELECT 1", 10s);
      CHECK(contains(e.message, "connect_query failed"));
      CHECK(contains(e.message, "no_such_function_cq"));
    } else {
      CHECK(contains(a.connectError().message, "connect_query failed"));
      CHECK(contains(a.connectError().message, "no_such_function_cq"));
      CHECK(a.connectError().sqlstate == "42883");  // the server's: undefined_function
    }
    CHECK(Clock::now() - start < 5s);
  }
  CHECK(contains(proxy.log(), "server connection failed: connect_query failed"));
}
