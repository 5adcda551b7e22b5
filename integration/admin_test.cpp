// The admin console: who may log in, PgBouncer's SHOW tables with values that match what the
// clients did, and the commands that change pools (PAUSE/RESUME, RECONNECT/WAIT_CLOSE, KILL,
// DISABLE/ENABLE, SHUTDOWN).
#include <catch2/catch.hpp>

#include <algorithm>
#include <thread>

#include "integration/admin_util.h"

using namespace shardpool::integration;

namespace {

bool hasColumns(const std::vector<std::string>& have, std::initializer_list<const char*> want) {
  for (const char* w : want) {
    if (std::find(have.begin(), have.end(), w) == have.end()) {
      UNSCOPED_INFO("missing column " << w);
      return false;
    }
  }
  return true;
}

// SHOW STATS: PgBouncer 1.18's columns in its order, then ours.
const std::vector<std::string> kStatsColumns = {"database",
                                                "total_xact_count",
                                                "total_query_count",
                                                "total_received",
                                                "total_sent",
                                                "total_xact_time",
                                                "total_query_time",
                                                "total_wait_time",
                                                "avg_xact_count",
                                                "avg_query_count",
                                                "avg_recv",
                                                "avg_sent",
                                                "avg_xact_time",
                                                "avg_query_time",
                                                "avg_wait_time",
                                                "total_server_assignment_count",
                                                "avg_server_assignment_count"};
// SHOW STATS_TOTALS and SHOW STATS_AVERAGES.
const std::vector<std::string> kStatsHalfColumns = {
    "database",  "xact_count", "query_count", "bytes_received",         "bytes_sent",
    "xact_time", "query_time", "wait_time",   "server_assignment_count"};

std::string firstError(std::vector<ResultPtr>& results) {
  for (auto& r : results)
    if (r && PQresultStatus(r.get()) == PGRES_FATAL_ERROR) return errorFrom(r.get()).message;
  return {};
}

}  // namespace

TEST_CASE("admin console: only admin and stats users get in, stats users may only SHOW",
          "[integration][admin]") {
  Proxy proxy(consoleConfig());
  Conn other(proxy.conninfo("sp_scram", "scram_pass", "shardpool"));
  REQUIRE_FALSE(other.ok());
  CHECK(other.connectError().sqlstate == "28000");
  CHECK(contains(other.connectError().message, "admin console"));

  Conn wrongPassword(proxy.conninfo("sp_admin", "nope", "pgbouncer"));
  REQUIRE_FALSE(wrongPassword.ok());
  CHECK(wrongPassword.connectError().sqlstate == "28P01");

  Conn stats = consoleConn(proxy, "sp_md5", "md5_pass", "pgbouncer");
  REQUIRE(stats.ok());
  CHECK(showRows(stats, "SHOW VERSION").at(0).at("version").rfind("shardpool ", 0) == 0);
  PgError e = stats.expectError("PAUSE");
  CHECK(e.sqlstate == "42501");
  // A refused or unknown command is an error, not a disconnect.
  e = stats.expectError("FROBNICATE");
  CHECK(e.sqlstate == "42601");
  CHECK(contains(e.message, "SHOW HELP"));
  CHECK(stats.expectError("SHOW NOTHING").sqlstate == "42601");
  CHECK(!showRows(stats, "show help;").empty());

  // The extended protocol is refused with an error; the session goes on.
  ResultPtr prep(PQprepare(stats.get(), "s1", "SHOW POOLS", 0, nullptr));
  CHECK(PQresultStatus(prep.get()) == PGRES_FATAL_ERROR);
  CHECK(errorFrom(prep.get()).sqlstate == "0A000");
  CHECK(!showRows(stats, "SHOW LISTS").empty());
}

TEST_CASE("admin console: SHOW tables have PgBouncer's columns and count real traffic",
          "[integration][admin]") {
  Proxy proxy(consoleConfig("pool_mode = \"transaction\"\ndefault_pool_size = 3"));
  Conn console = consoleConn(proxy);
  REQUIRE(console.ok());

  CHECK(hasColumns(
      showColumns(console, "SHOW POOLS"),
      {"database", "user", "cl_active", "cl_waiting", "cl_active_cancel_req",
       "cl_waiting_cancel_req", "sv_active", "sv_active_cancel", "sv_being_canceled", "sv_idle",
       "sv_used", "sv_tested", "sv_login", "maxwait", "maxwait_us", "pool_mode"}));
  // PgBouncer 1.18's columns in its order (as its console returns them), then ours.
  CHECK(showColumns(console, "SHOW STATS") == kStatsColumns);
  CHECK(showColumns(console, "SHOW STATS_TOTALS") == kStatsHalfColumns);
  CHECK(showColumns(console, "SHOW STATS_AVERAGES") == kStatsHalfColumns);
  CHECK(hasColumns(showColumns(console, "SHOW CLIENTS"),
                   {"type", "user", "database", "state", "addr", "port", "local_addr", "local_port",
                    "connect_time", "request_time", "wait", "wait_us", "close_needed", "ptr",
                    "link", "remote_pid", "tls", "application_name"}));
  CHECK(hasColumns(showColumns(console, "SHOW SERVERS"),
                   {"type", "user", "database", "state", "addr", "port", "remote_pid", "link"}));
  CHECK(hasColumns(showColumns(console, "SHOW DATABASES"),
                   {"name", "host", "port", "database", "force_user", "pool_size", "min_pool_size",
                    "reserve_pool", "pool_mode", "max_connections", "current_connections", "paused",
                    "disabled"}));
  CHECK(hasColumns(showColumns(console, "SHOW CONFIG"), {"key", "value", "default", "changeable"}));
  CHECK(hasColumns(showColumns(console, "SHOW LISTS"), {"list", "items"}));
  CHECK(hasColumns(showColumns(console, "SHOW USERS"), {"name", "pool_mode"}));

  const int kQueries = 25;
  Conn app(proxy.conninfo("sp_scram", "scram_pass") + " application_name=admin_it_app");
  REQUIRE(app.ok());
  NamedRow before = findRow(showRows(console, "SHOW STATS_TOTALS"), "database", "sp_db");
  for (int i = 0; i < kQueries; ++i)
    CHECK(app.scalar("SELECT " + std::to_string(i)) == std::to_string(i));

  // STATS_TOTALS moves by what the client did: one transaction and one query per statement,
  // bytes both ways, time in them; SHOW STATS's total_* are the same counters.
  NamedRow after = findRow(showRows(console, "SHOW STATS_TOTALS"), "database", "sp_db");
  CHECK(num(after, "xact_count") - num(before, "xact_count") == kQueries);
  CHECK(num(after, "query_count") - num(before, "query_count") == kQueries);
  CHECK(num(after, "server_assignment_count") - num(before, "server_assignment_count") == kQueries);
  // Each Query message is at least 14 bytes: 'Q', its length, "SELECT n" and a NUL.
  CHECK(num(after, "bytes_received") - num(before, "bytes_received") >= kQueries * 14);
  CHECK(num(after, "bytes_sent") > num(before, "bytes_sent"));
  CHECK(num(after, "xact_time") > num(before, "xact_time"));
  CHECK(num(after, "query_time") > num(before, "query_time"));
  CHECK(num(after, "wait_time") >= num(before, "wait_time"));
  NamedRow all = findRow(showRows(console, "SHOW STATS"), "database", "sp_db");
  for (const char* n : {"xact_count", "query_count", "xact_time", "query_time", "wait_time",
                        "server_assignment_count"})
    CHECK(num(all, std::string("total_") + n) == num(after, n));
  CHECK(num(all, "total_received") == num(after, "bytes_received"));
  CHECK(num(all, "total_sent") == num(after, "bytes_sent"));
  app.query("BEGIN");
  std::string pid = app.scalar("SELECT pg_backend_pid()");
  app.query("SELECT 1");

  // Stats are per database and count every transaction and query that went through.
  NamedRow stats = findRow(showRows(console, "SHOW STATS"), "database", "sp_db");
  CHECK(num(stats, "total_xact_count") >= kQueries);
  CHECK(num(stats, "total_query_count") >= kQueries + 3);
  CHECK(num(stats, "total_received") > 0);
  CHECK(num(stats, "total_sent") > 0);
  CHECK(num(stats, "total_query_time") > 0);

  // The client inside a transaction holds a server: one active client, one active server whose
  // remote_pid is the backend the client sees, linked to each other.
  NamedRow pool = findRow(showRows(console, "SHOW POOLS"), "user", "sp_scram");
  CHECK(pool.at("database") == "sp_db");
  CHECK(num(pool, "cl_active") == 1);
  CHECK(num(pool, "sv_active") == 1);
  CHECK(pool.at("pool_mode") == "transaction");
  NamedRow server = findRow(showRows(console, "SHOW SERVERS"), "remote_pid", pid);
  CHECK(server.at("state") == "active");
  NamedRow client = findRow(showRows(console, "SHOW CLIENTS"), "application_name", "admin_it_app");
  CHECK(client.at("user") == "sp_scram");
  CHECK(client.at("state") == "active");
  CHECK(client.at("link") == server.at("ptr"));
  CHECK(server.at("link") == client.at("ptr"));
  CHECK(client.at("addr") == "127.0.0.1");
  CHECK(std::stoi(client.at("local_port")) == proxy.port());

  app.query("COMMIT");
  pool = findRow(showRows(console, "SHOW POOLS"), "user", "sp_scram");
  CHECK(num(pool, "sv_active") == 0);
  CHECK(num(pool, "sv_idle") == 1);

  NamedRow db = findRow(showRows(console, "SHOW DATABASES"), "name", "sp_db");
  CHECK(num(db, "pool_size") == 3);
  CHECK(num(db, "current_connections") == 1);
  NamedRow poolSize = findRow(showRows(console, "SHOW CONFIG"), "key", "default_pool_size");
  CHECK(poolSize.at("value") == "3");
  CHECK(poolSize.at("default") == "20");
  NamedRow lists = findRow(showRows(console, "SHOW LISTS"), "list", "pools");
  CHECK(num(lists, "items") == 1);
}

TEST_CASE("admin console: STATS_AVERAGES are rates over the last stats period (15 s)",
          "[integration][admin]") {
  Proxy proxy(consoleConfig("pool_mode = \"transaction\""));
  Conn console = consoleConn(proxy);
  REQUIRE(console.ok());
  Conn app(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(app.ok());
  const int kQueries = 60;  // 4 per second over the first 15 s period
  for (int i = 0; i < kQueries; ++i) CHECK(app.scalar("SELECT 1") == "1");

  // The first period closes 15 s after start; until then the averages are 0.
  NamedRow avg;
  auto deadline = Clock::now() + 25s;
  do {
    avg = findRow(showRows(console, "SHOW STATS_AVERAGES"), "database", "sp_db");
    if (num(avg, "xact_count") > 0) break;
    std::this_thread::sleep_for(250ms);
  } while (Clock::now() < deadline);
  // Per second over a period of a little more than 15 s, rounded down: 3 or 4.
  for (const char* n : {"xact_count", "query_count", "server_assignment_count"}) {
    INFO(n);
    CHECK(num(avg, n) >= kQueries / 15 - 1);
    CHECK(num(avg, n) <= kQueries / 15);
  }
  CHECK(num(avg, "bytes_received") > 0);
  CHECK(num(avg, "bytes_sent") > 0);
  CHECK(num(avg, "xact_time") > 0);   // microseconds per transaction
  CHECK(num(avg, "query_time") > 0);  // and per query
  CHECK(num(avg, "wait_time") >= 0);
}

TEST_CASE("admin console: PAUSE waits for open transactions, queues clients until RESUME",
          "[integration][admin]") {
  Proxy proxy(consoleConfig("pool_mode = \"transaction\""));
  Conn console = consoleConn(proxy);
  REQUIRE(console.ok());
  Conn a(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(a.ok());
  a.query("BEGIN");
  std::string pid = a.scalar("SELECT pg_backend_pid()");

  REQUIRE(PQsendQuery(console.get(), "PAUSE sp_db"));
  CHECK_FALSE(finishedWithin(console, 700ms));  // a transaction still holds a server
  a.query("COMMIT");
  REQUIRE(finishedWithin(console, 5s));
  auto results = console.collect(1s);
  CHECK(firstError(results).empty());
  CHECK(backendGone(pid, 1s));  // PAUSE closed the pool's servers

  // While paused, a query waits (the client stays connected).
  REQUIRE(PQsendQuery(a.get(), "SELECT 42"));
  CHECK_FALSE(finishedWithin(a, 700ms));
  NamedRow pool = findRow(showRows(console, "SHOW POOLS"), "user", "sp_scram");
  CHECK(num(pool, "cl_waiting") == 1);
  CHECK(num(pool, "paused") == 1);
  console.query("RESUME sp_db");
  REQUIRE(finishedWithin(a, 5s));
  auto answer = a.collect(1s);
  REQUIRE(!answer.empty());
  REQUIRE(answer.front());
  CHECK(std::string(PQgetvalue(answer.front().get(), 0, 0)) == "42");
  CHECK(console.expectError("RESUME sp_db").sqlstate == "55000");  // not paused any more
  CHECK(console.expectError("PAUSE nosuchdb").sqlstate == "3D000");
}

TEST_CASE("admin console: RECONNECT replaces servers, WAIT_CLOSE waits until the old ones are gone",
          "[integration][admin]") {
  Proxy proxy(consoleConfig());  // session pooling: a client keeps its server
  Conn console = consoleConn(proxy);
  Conn a(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(a.ok());
  std::string oldPid = a.scalar("SELECT pg_backend_pid()");

  console.query("RECONNECT sp_db");
  CHECK(findRow(showRows(console, "SHOW SERVERS"), "remote_pid", oldPid).at("close_needed") == "1");
  REQUIRE(PQsendQuery(console.get(), "WAIT_CLOSE sp_db"));
  CHECK_FALSE(finishedWithin(console, 700ms));           // the client still uses its server
  CHECK(a.scalar("SELECT pg_backend_pid()") == oldPid);  // and keeps working
  a.close();
  REQUIRE(finishedWithin(console, 5s));
  auto results = console.collect(1s);
  CHECK(firstError(results).empty());
  CHECK(backendGone(oldPid, 1s));

  Conn b(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(b.ok());
  CHECK(b.scalar("SELECT pg_backend_pid()") != oldPid);
}

TEST_CASE("admin console: KILL drops a database's clients, DISABLE refuses new ones",
          "[integration][admin]") {
  Proxy proxy(consoleConfig("pool_mode = \"transaction\""));
  Conn console = consoleConn(proxy);
  Conn a(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(a.ok());
  CHECK(a.scalar("SELECT 1") == "1");
  a.query("BEGIN");
  std::string pid = a.scalar("SELECT pg_backend_pid()");
  a.query("COMMIT");

  console.query("DISABLE sp_db");
  Conn refused(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.connectError().sqlstate == "57P03");
  CHECK(a.scalar("SELECT 2") == "2");  // connected clients are not affected
  CHECK(num(findRow(showRows(console, "SHOW DATABASES"), "name", "sp_db"), "disabled") == 1);
  console.query("ENABLE sp_db");
  Conn allowed(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(allowed.ok());
  allowed.close();

  console.query("KILL sp_db");
  CHECK(droppedWithin(a, "SELECT 3"));
  CHECK(backendGone(pid));
  // KILL leaves the database paused: RESUME lets clients in again.
  console.query("RESUME sp_db");
  Conn again(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(again.ok());
  CHECK(again.scalar("SELECT 4") == "4");
}

TEST_CASE("admin console: SHUTDOWN WAIT_FOR_CLIENTS serves connected clients, then exits",
          "[integration][admin]") {
  Proxy proxy(consoleConfig());
  Conn a(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(a.ok());
  a.query("BEGIN");
  {
    Conn console = consoleConn(proxy);
    console.query("SHUTDOWN WAIT_FOR_CLIENTS");
  }
  std::this_thread::sleep_for(300ms);
  Conn late(proxy.conninfo("sp_scram", "scram_pass"), 3s);
  CHECK_FALSE(late.ok());
  CHECK(proxy.running());
  CHECK(a.scalar("SELECT 5") == "5");
  a.query("COMMIT");
  CHECK(a.scalar("SELECT 6") == "6");  // idle clients are not pushed out
  CHECK_FALSE(proxy.waitExit(500ms).has_value());
  a.close();
  auto status = proxy.waitExit(5s);
  REQUIRE(status.has_value());
  CHECK(*status == 0);
}

TEST_CASE("admin console: SHUTDOWN exits at once", "[integration][admin]") {
  Proxy proxy(consoleConfig());
  Conn console = consoleConn(proxy);
  console.exec("SHUTDOWN", 5s);
  auto status = proxy.waitExit(5s);
  REQUIRE(status.has_value());
  CHECK(*status == 0);
}

TEST_CASE("admin console: KILL_CLIENT disconnects one client by its id", "[integration][admin]") {
  Proxy proxy(consoleConfig());
  Conn console = consoleConn(proxy);
  Conn victim(proxy.conninfo("sp_scram", "scram_pass") + " application_name=kill_me");
  Conn bystander(proxy.conninfo("sp_scram", "scram_pass") + " application_name=keep_me");
  REQUIRE(victim.ok());
  REQUIRE(bystander.ok());
  std::string id =
      findRow(showRows(console, "SHOW CLIENTS"), "application_name", "kill_me").at("id");
  console.query("KILL_CLIENT " + id);
  CHECK(droppedWithin(victim, "SELECT 1"));
  CHECK(bystander.scalar("SELECT 'alive'") == "alive");
  CHECK(console.expectError("KILL_CLIENT abc").sqlstate == "22023");
}

TEST_CASE("admin console: SET on a database key resizes its pool", "[integration][admin]") {
  Proxy proxy(consoleConfig());
  Conn console = consoleConn(proxy);
  console.query("SET databases.sp_db.pool_size = 7");
  CHECK(num(findRow(showRows(console, "SHOW DATABASES"), "name", "sp_db"), "pool_size") == 7);
  PgError e = console.expectError("SET databases.nosuch.pool_size = 7");
  CHECK(contains(e.message, "nosuch"));
}

TEST_CASE("admin console: SET takes every setting PgBouncer's SET takes", "[integration][admin]") {
  // PgBouncer's SET changes every setting its config table does not mark CF_NO_RELOAD. shardpool
  // applies those it has, and keeps the others (no effect) so that SHOW CONFIG shows them.
  struct Set {
    std::string key;
    std::string value;  // as typed after '='
    std::string shown;  // SHOW CONFIG's value afterwards
  };
  const std::vector<Set> sets = {
      {"admin_users", "'sp_admin'", "sp_admin"},
      {"application_name_add_host", "1", "1"},
      {"auth_dbname", "'postgres'", "postgres"},
      {"auth_file", "'/etc/pgbouncer/userlist.txt'", "/etc/pgbouncer/userlist.txt"},
      {"auth_hba_file", "''", ""},
      {"auth_ident_file", "''", ""},
      {"auth_ldap_options", "''", ""},
      {"auth_query", "'SELECT usename, passwd FROM pg_shadow WHERE usename=$1'",
       "SELECT usename, passwd FROM pg_shadow WHERE usename=$1"},
      {"auth_type", "'md5'", "md5"},
      {"auth_user", "'pgbouncer'", "pgbouncer"},
      {"autodb_idle_timeout", "3600", "3600s"},
      {"cancel_wait_timeout", "10", "10s"},
      {"client_idle_timeout", "0", "0s"},
      {"client_login_timeout", "60", "60s"},
      {"client_tls13_ciphers", "''", ""},
      {"client_tls_ciphers", "'default'", "default"},
      {"client_tls_dheparams", "'auto'", "auto"},
      {"client_tls_ecdhcurve", "'auto'", "auto"},
      {"client_tls_protocols", "'secure'", "secure"},
      {"conffile", "'/etc/pgbouncer/pgbouncer.ini'", "/etc/pgbouncer/pgbouncer.ini"},
      {"default_pool_size", "20", "20"},
      {"dns_max_ttl", "15", "15s"},
      {"dns_nxdomain_ttl", "15", "15s"},
      {"dns_zone_check_period", "0", "0s"},
      {"idle_transaction_timeout", "0", "0s"},
      {"ignore_startup_parameters", "'extra_float_digits'", "extra_float_digits"},
      {"log_connections", "1", "1"},
      {"log_disconnections", "1", "1"},
      {"log_pooler_errors", "1", "1"},
      {"log_stats", "0", "0"},
      {"logfile", "''", ""},
      {"max_client_conn", "100", "100"},
      {"max_db_client_connections", "0", "0"},
      {"max_db_connections", "0", "0"},
      {"max_packet_size", "2147483647", "2147483647"},
      {"max_prepared_statements", "100", "100"},
      {"max_user_client_connections", "0", "0"},
      {"max_user_connections", "0", "0"},
      {"min_pool_size", "0", "0"},
      {"peer_id", "0", "0"},
      {"pool_mode", "'transaction'", "transaction"},
      {"query_timeout", "0", "0s"},
      {"query_wait_notify", "5", "5"},
      {"query_wait_timeout", "120", "120s"},
      {"reserve_pool_size", "0", "0"},
      {"reserve_pool_timeout", "5", "5s"},
      {"sbuf_loopcnt", "5", "5"},
      {"scram_iterations", "4096", "4096"},
      {"server_check_delay", "30", "30s"},
      {"server_check_query", "'select 1'", "select 1"},
      {"server_connect_timeout", "15", "15s"},
      {"server_fast_close", "1", "1"},
      {"server_idle_timeout", "600", "600s"},
      {"server_lifetime", "3600", "3600s"},
      {"server_login_retry", "5", "5s"},
      {"server_reset_query", "'DISCARD ALL'", "DISCARD ALL"},
      {"server_reset_query_always", "0", "0"},
      {"server_round_robin", "1", "1"},
      {"server_tls13_ciphers", "''", ""},
      {"server_tls_ca_file", "''", ""},
      {"server_tls_cert_file", "''", ""},
      {"server_tls_ciphers", "'default'", "default"},
      {"server_tls_key_file", "''", ""},
      {"server_tls_protocols", "'secure'", "secure"},
      {"server_tls_sslmode", "'disable'", "disable"},
      {"stats_period", "60", "60"},
      {"stats_users", "'sp_md5'", "sp_md5"},
      {"suspend_timeout", "10", "10s"},
      {"syslog", "0", "0"},
      {"syslog_facility", "'daemon'", "daemon"},
      {"syslog_ident", "'pgbouncer'", "pgbouncer"},
      {"tcp_defer_accept", "1", "1"},
      {"tcp_keepalive", "1", "1"},
      {"tcp_keepcnt", "0", "0"},
      {"tcp_keepidle", "0", "0"},
      {"tcp_keepintvl", "0", "0"},
      {"tcp_socket_buffer", "0", "0"},
      {"tcp_user_timeout", "0", "0"},
      {"transaction_timeout", "0", "0s"},
      {"verbose", "1", "1"},
  };
  Proxy proxy(consoleConfig());
  Conn console = consoleConn(proxy);
  REQUIRE(console.ok());
  for (const Set& s : sets) {
    std::string sql = "SET " + s.key + " = " + s.value;
    INFO(sql);
    auto results = console.exec(sql, 10s);
    REQUIRE_FALSE(results.empty());
    REQUIRE(results.back());
    INFO(errorFrom(results.back().get()).message);
    CHECK(PQresultStatus(results.back().get()) == PGRES_COMMAND_OK);
  }
  std::map<std::string, std::string> shown;
  for (auto& row : showRows(console, "SHOW CONFIG")) shown[row.at("key")] = row.at("value");
  for (const Set& s : sets) {
    INFO(s.key);
    REQUIRE(shown.count(s.key) == 1);
    CHECK(shown.at(s.key) == s.shown);
  }
  // Applied where shardpool has the setting: verbose is log_level, pool_mode took effect.
  CHECK(shown.at("log_level") == "debug");
  Conn client(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(client.ok());
  CHECK(client.scalar("select 1") == "1");
  CHECK(showRows(console, "SHOW POOLS").at(0).at("pool_mode") == "transaction");
  // Kept, with no effect, and said so.
  CHECK(contains(proxy.log(), "PgBouncer's server_fast_close is accepted but has no effect"));

  // Client TLS changes online too, as in PgBouncer (tls_test.cpp has the rest); a mode whose
  // files are missing is refused with the keys it needs.
  console.query("SET client_tls_sslmode = 'disable'");
  PgError e = console.expectError("SET client_tls_sslmode = 'require'");
  CHECK(contains(e.message, "client_tls_cert_file"));
}
