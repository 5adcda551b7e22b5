// MySQL transaction pooling, differentially: integration/drivers/mysql_pooling.py runs one
// workload over 6 connections of a real driver (PyMySQL, and MySQLdb on libmariadb), directly
// against the fixture's MariaDB and through shardpool in transaction pooling with 2 servers;
// every line must be the same, the proxied run must have used at most 2 backends, and every
// pinned client must have stayed on its server (the PyMySQL run also sends
// COM_RESET_CONNECTION). integration/drivers/mysql_node.js does the same for binary prepared
// statements with node's mysql2 and mariadb connectors (npm, the "node" fixture). The CLI cases cover a client whose character set is not the servers'
// and a reused server that carries nothing of its previous client.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

#include "integration/admin_util.h"
#include "integration/harness.h"
#include "integration/mariadb_client.h"

using namespace shardpool::integration;

namespace {

std::string poolingConfig(uint16_t backendPort, const std::string& extra = "") {
  const auto& primary = mariadbPrimary();
  return "[general]\nlisten_addr = \"127.0.0.1\"\nlisten_port = @LISTEN_PORT@\n"
         "mysql_listen_port = @MYSQL_LISTEN_PORT@\nlog_level = \"info\"\n"
         "pool_mode = \"transaction\"\ndefault_pool_size = 2\nquery_wait_timeout = \"20s\"\n" +
         extra + "\n[databases.sp_db]\nprotocol = \"mysql\"\nhost = \"127.0.0.1\"\nport = " +
         std::to_string(backendPort) + "\n\n[users.sp_app]\npassword = \"" +
         primary.value("SP_APP_PASSWORD") + "\"\n";
}

MariaDbCli admin() {
  const auto& primary = mariadbPrimary();
  return MariaDbCli(primary.port(), "sp_admin", primary.value("SP_ADMIN_PASSWORD"));
}

MariaDbCli appVia(uint16_t port) {
  return MariaDbCli(port, "sp_app", mariadbPrimary().value("SP_APP_PASSWORD"));
}

// A database of its own that sp_app may USE (dropped at the end).
struct TempSchema {
  std::string name = "sp_pool_" + uniqueSuffix();
  TempSchema() {
    admin().run("CREATE DATABASE " + name + "; GRANT ALL ON " + name +
                ".* TO 'sp_app'@'%'; GRANT ALL ON " + name + ".* TO 'sp_app'@'127.0.0.1'");
  }
  ~TempSchema() { admin().run("DROP DATABASE IF EXISTS " + name); }
  // The [databases] section that serves it through shardpool.
  std::string databaseSection(uint16_t port) const {
    return "\n[databases." + name + "]\nprotocol = \"mysql\"\nhost = \"127.0.0.1\"\nport = " +
           std::to_string(port) + "\n";
  }
};

// The two runs printed the same; else `diff -u` of them goes to stdout (ctest shows it).
bool sameOutput(const std::string& label, const CommandResult& direct,
                const CommandResult& proxied) {
  if (proxied.out == direct.out) return true;
  TempDir dir;
  auto diff = runCommand({"diff", "-u", "--label", "MariaDB directly", "--label",
                          "through shardpool", dir.write("direct", direct.out),
                          dir.write("proxied", proxied.out)},
                         {}, 10s);
  std::printf("---- %s: direct vs shardpool ----\n%s----\n", label.c_str(), diff.out.c_str());
  std::fflush(stdout);
  return false;
}

// integration/drivers/<script> PORT PASSWORD, run directly against the primary and through
// `proxy`: the direct run must succeed; the proxied one must too, and print the same. Returns
// both for the test's own checks.
struct DirectAndProxied {
  CommandResult direct, proxied;
};
DirectAndProxied runBoth(const Proxy& proxy, const std::string& script, Ms timeout = 60s) {
  const auto& primary = mariadbPrimary();
  auto run = [&](uint16_t port) {
    return runCommand({"/usr/bin/python3", sourceDir() + "/integration/drivers/" + script,
                       std::to_string(port), primary.value("SP_APP_PASSWORD")},
                      {}, timeout);
  };
  DirectAndProxied r{run(primary.port()), {}};
  INFO("directly:\n" << r.direct.all());
  REQUIRE(r.direct.exitCode == 0);
  r.proxied = run(proxy.mysqlPort());
  INFO("through shardpool:\n" << r.proxied.all() << proxy.log());
  CHECK(r.proxied.exitCode == 0);
  CHECK(sameOutput(script, r.direct, r.proxied));
  return r;
}

// The "backends=N" a driver program prints last on stderr (distinct CONNECTION_ID()s); -1 without.
int backendsSeen(const std::string& err) {
  size_t at = err.rfind("backends=");
  return at == std::string::npos ? -1 : std::atoi(err.c_str() + at + 9);
}

void runDriver(const std::string& driver) {
  auto probe = runCommand({"/usr/bin/python3", "-c",
                           std::string("import ") + (driver == "pymysql" ? "pymysql" : "MySQLdb")},
                          {}, 30s);
  if (probe.exitCode != 0)
    FAIL(driver << " is not installed (python3-pymysql / python3-mysqldb, "
                   "scripts/install-deps.sh): "
                << probe.all());
  const auto& primary = mariadbPrimary();
  TempSchema schema;
  std::string table = "pool_" + driver + "_" + uniqueSuffix();
  auto env = [&](uint16_t port) {
    return std::map<std::string, std::string>{
        {"MYSQL_HOST", "127.0.0.1"},
        {"MYSQL_PORT", std::to_string(port)},
        {"MYSQL_USER", "sp_app"},
        {"MYSQL_PASSWORD", primary.value("SP_APP_PASSWORD")},
        {"MYSQL_DATABASE", "sp_db"},
        {"MYSQL_DATABASE2", schema.name},
        {"TABLE", table}};
  };
  std::vector<std::string> argv = {"/usr/bin/python3",
                                   sourceDir() + "/integration/drivers/mysql_pooling.py", driver};
  auto direct = runCommand(argv, env(primary.port()), 60s);
  INFO(driver << " directly:\n" << direct.all());
  REQUIRE(direct.exitCode == 0);
  REQUIRE(contains(direct.out, "\ndone\n"));

  Proxy proxy(poolingConfig(primary.port()));
  auto proxied = runCommand(argv, env(proxy.mysqlPort()), 60s);
  INFO(driver << " through shardpool:\n" << proxied.all() << "\nshardpool's log:\n"
              << proxy.log());
  CHECK(proxied.exitCode == 0);
  CHECK(sameOutput(driver, direct, proxied));
  // Multiplexed: 6 + 5 connections on at most the pool's 2 servers (a sequential workload may
  // well need only one at a time); each pinned client stayed on its own.
  int seen = backendsSeen(proxied.err);
  CHECK(seen >= 1);
  CHECK(seen <= 2);
  CHECK(backendsSeen(direct.err) == 11);
  CHECK(contains(proxied.err, "pinned=user variable True\n"));
  CHECK_FALSE(contains(proxied.err, " False\n"));
  CHECK(contains(proxy.log(), "pinned to its server until it leaves: a user variable"));
  CHECK(contains(proxy.log(), "pinned to its server until it leaves: a temporary table"));
  CHECK_FALSE(contains(proxy.log(), "BUG:"));
}

// node's mysql2 (binary prepared statements) or mariadb (prepared statements pipelined with
// their first execute, and pipelining), from the "node" fixture: integration/drivers/mysql_node.js
// directly and through transaction pooling with 2 servers.
void runNode(const std::string& driver, size_t maxPrepared = 200) {
  std::string nodeDir = std::getenv("SHARDPOOL_IT_NODE_DIR") ? std::getenv("SHARDPOOL_IT_NODE_DIR")
                                                             : "/tmp/shardpool-it-node";
  const auto& primary = mariadbPrimary();
  std::string table = "node_" + driver + "_" + uniqueSuffix();
  auto env = [&](uint16_t port) {
    return std::map<std::string, std::string>{
        {"MYSQL_HOST", "127.0.0.1"},
        {"MYSQL_PORT", std::to_string(port)},
        {"MYSQL_USER", "sp_app"},
        {"MYSQL_PASSWORD", primary.value("SP_APP_PASSWORD")},
        {"MYSQL_DATABASE", "sp_db"},
        {"TABLE", table},
        {"NODE_PATH", nodeDir + "/node_modules"}};
  };
  std::vector<std::string> argv = {"node", sourceDir() + "/integration/drivers/mysql_node.js",
                                   driver};
  auto direct = runCommand(argv, env(primary.port()), 60s);
  INFO(driver << " directly:\n" << direct.all());
  REQUIRE(direct.exitCode == 0);
  REQUIRE(contains(direct.out, "\ndone: \n"));

  // sp_app may use the admin console (over PostgreSQL's protocol) to SHOW SERVERS.
  Proxy proxy(poolingConfig(primary.port(),
                            "admin_users = [\"sp_app\"]\nmax_prepared_statements = " +
                                std::to_string(maxPrepared)));
  auto proxied = runCommand(argv, env(proxy.mysqlPort()), 60s);
  INFO(driver << " through shardpool:\n" << proxied.all() << "\nshardpool's log:\n"
              << proxy.log());
  CHECK(proxied.exitCode == 0);
  CHECK(sameOutput(driver, direct, proxied));
  int seen = backendsSeen(proxied.err);
  CHECK(seen >= 1);
  CHECK(seen <= 2);
  CHECK(backendsSeen(direct.err) == 6);
  // Statements each server holds (SHOW SERVERS) stay within max_prepared_statements.
  Conn console = consoleConn(proxy, "sp_app", primary.value("SP_APP_PASSWORD"));
  auto servers = showRows(console, "SHOW SERVERS");
  REQUIRE(servers.size() == 2);
  size_t cap = maxPrepared;
  for (const auto& row : servers) {
    INFO(row.at("prepared_statements"));
    CHECK(std::stoul(row.at("prepared_statements")) >= 1);
    CHECK(std::stoul(row.at("prepared_statements")) <= cap);
  }
  CHECK_FALSE(contains(proxy.log(), "pinned to its server"));
  CHECK_FALSE(contains(proxy.log(), "BUG:"));
}

}  // namespace

TEST_CASE("mysql pooling: node mysql2's prepared statements through transaction pooling",
          "[integration][mysql]") {
  runNode("mysql2");
}

TEST_CASE("mysql pooling: node mysql2 with max_prepared_statements = 2 (servers close the oldest)",
          "[integration][mysql]") {
  runNode("mysql2", 2);
}

TEST_CASE("mysql pooling: node mariadb connector's pipelined prepares through transaction pooling",
          "[integration][mysql]") {
  runNode("mariadb");
}

TEST_CASE("mysql pooling: PyMySQL through transaction pooling matches MariaDB directly",
          "[integration][mysql]") {
  runDriver("pymysql");
}

TEST_CASE("mysql pooling: MySQLdb through transaction pooling matches MariaDB directly",
          "[integration][mysql]") {
  runDriver("mysqldb");
}

TEST_CASE("mysql pooling: a reused server carries nothing of its previous client",
          "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  // One server: every client gets the same one, one after the other.
  Proxy proxy(poolingConfig(primary.port(), "max_db_connections = 1"));
  auto cli = appVia(proxy.mysqlPort());
  std::string first = cli.scalar("SELECT CONNECTION_ID()");
  // A client leaves with variables, a user variable, a temporary table, an open
  // transaction and autocommit off behind it.
  cli.run("SET time_zone = '+07:00'; SET sql_mode = 'ANSI'; SET @left = 'behind'; "
          "CREATE TEMPORARY TABLE left_behind (a INT); SET autocommit = 0; "
          "INSERT INTO left_behind VALUES (1)");
  cli.run("SET SESSION wait_timeout = 77; BEGIN; SELECT 1");
  auto rows = cli.query(
      "SELECT CONNECTION_ID(), @@time_zone, @@sql_mode = @@GLOBAL.sql_mode, @left IS NULL, "
      "@@autocommit, @@wait_timeout = @@GLOBAL.wait_timeout");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0] == MyRow{first, "SYSTEM", "1", "1", "1", "1"});
  // The same server (the only one), without the temporary table.
  CHECK(cli.expectError("SELECT CONNECTION_ID() = " + first + " FROM left_behind").code == 1146);
  CHECK(cli.scalar("SELECT CONNECTION_ID()") == first);
}

TEST_CASE("mysql pooling: a client's own character set follows it from server to server",
          "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  Proxy proxy(poolingConfig(primary.port()));
  // Logged in with latin1 (the servers log in with utf8mb4): it keeps latin1 on whichever
  // server runs its statements, as directly.
  auto latin = [&](uint16_t port) {
    return runCommand({"mariadb", "--no-defaults", "--default-character-set=latin1", "-h",
                       "127.0.0.1", "-P", std::to_string(port), "-u", "sp_app",
                       "-p" + primary.value("SP_APP_PASSWORD"), "-N", "-B", "sp_db", "-e",
                       "SELECT @@character_set_client, @@collation_connection; DO 1; "
                       "SELECT @@character_set_results, LENGTH('\xe9')"},
                      {}, 30s);
  };
  auto direct = latin(primary.port());
  auto proxied = latin(proxy.mysqlPort());
  INFO(proxied.all() << proxy.log());
  CHECK(direct.exitCode == 0);
  CHECK(proxied.exitCode == 0);
  CHECK(sameOutput("latin1 client", direct, proxied));
  CHECK(contains(direct.out, "latin1\tlatin1_swedish_ci\n"));
}

TEST_CASE("mysql pooling: sysbench oltp_read_write, 8 threads over 2 servers, prepared and not",
          "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  TempSchema schema;
  auto sysbench = [&](uint16_t port, const std::string& command,
                      const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {"sysbench", "oltp_read_write", "--mysql-host=127.0.0.1",
                                     "--mysql-port=" + std::to_string(port), "--mysql-user=sp_app",
                                     "--mysql-password=" + primary.value("SP_APP_PASSWORD"),
                                     "--mysql-db=" + schema.name, "--tables=2",
                                     "--table-size=500"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(command);
    return runCommand(argv, {}, 60s);
  };
  auto prepared = sysbench(primary.port(), "prepare", {});
  REQUIRE(prepared.exitCode == 0);
  Proxy proxy(poolingConfig(primary.port()) + schema.databaseSection(primary.port()));
  for (std::string mode : {"auto", "disable"}) {
    INFO("--db-ps-mode=" << mode);
    auto run = sysbench(proxy.mysqlPort(), "run",
                        {"--threads=8", "--time=3", "--db-ps-mode=" + mode,
                         "--mysql-ignore-errors=1213,1205"});  // deadlocks, as directly
    INFO(run.all() << proxy.log());
    CHECK(run.exitCode == 0);
    CHECK(contains(run.out, "transactions:"));
    CHECK_FALSE(contains(run.out, "transactions:                        0 "));
    CHECK_FALSE(contains(run.all(), "FATAL"));
    // Every transaction deletes a row and inserts it again: the tables keep their size.
    for (std::string t : {"sbtest1", "sbtest2"})
      CHECK(appVia(primary.port()).scalar("SELECT COUNT(*) FROM " + schema.name + "." + t) ==
            "500");
  }
  CHECK_FALSE(contains(proxy.log(), "BUG:"));
  CHECK_FALSE(contains(proxy.log(), "pinned"));
}

TEST_CASE("mysql pooling: the mariadb CLI and PyMySQL share a server, each with its own "
          "multi-statement setting",
          "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  // One server: both clients must get it. The CLI logs in with CLIENT_MULTI_STATEMENTS,
  // PyMySQL (by default) without: COM_SET_OPTION switches the server for each.
  Proxy proxy(poolingConfig(primary.port(), "max_db_connections = 1"));
  auto cli = appVia(proxy.mysqlPort());
  std::string pyScript =
      "import pymysql, sys\n"
      "c = pymysql.connect(host='127.0.0.1', port=int(sys.argv[1]), user='sp_app', "
      "password=sys.argv[2], database='sp_db', autocommit=True)\n"
      "cur = c.cursor()\n"
      "try:\n"
      "    cur.execute('SELECT 1; SELECT 2')\n"
      "    print('multi', cur.fetchall())\n"
      "except Exception as e:\n"
      "    print('multi refused', e.args[0])\n"
      "cur.execute('SELECT CONNECTION_ID()')\n"
      "print('backend', cur.fetchall()[0][0])\n";
  auto python = [&](uint16_t port) {
    return runCommand({"/usr/bin/python3", "-c", pyScript, std::to_string(port),
                       primary.value("SP_APP_PASSWORD")},
                      {}, 30s);
  };
  auto direct = python(primary.port());
  REQUIRE(direct.exitCode == 0);
  CHECK(contains(direct.out, "multi refused 1064\n"));
  for (int round = 0; round < 2; ++round) {
    INFO("round " << round << "\n" << proxy.log());
    CHECK(cli.query("SELECT 1; SELECT 2") == std::vector<MyRow>{{"1"}, {"2"}});
    std::string server = cli.scalar("SELECT CONNECTION_ID()");
    auto proxied = python(proxy.mysqlPort());
    INFO(proxied.all());
    CHECK(proxied.exitCode == 0);
    CHECK(contains(proxied.out, "multi refused 1064\n"));
    CHECK(contains(proxied.out, "backend " + server + "\n"));
  }
  CHECK_FALSE(contains(proxy.log(), "differ from its client's"));
}

TEST_CASE("mysql pooling: idle_transaction_timeout ends a client that holds a server in a "
          "transaction, client_idle_timeout an idle one",
          "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  Proxy proxy(poolingConfig(primary.port(), "max_db_connections = 1\n"
                                            "idle_transaction_timeout = \"1s\"\n"
                                            "client_idle_timeout = \"3s\""));
  std::string script =
      "import pymysql, sys, time\n"
      "def conn():\n"
      "    return pymysql.connect(host='127.0.0.1', port=int(sys.argv[1]), user='sp_app', "
      "password=sys.argv[2], database='sp_db', autocommit=True)\n"
      "a = conn()\n"
      "a.cursor().execute('BEGIN')\n"
      "t = time.time()\n"
      "b = conn()\n"
      "cur = b.cursor()\n"
      "cur.execute('SELECT 1')\n"  // waits for the one server, freed by the timeout
      "print('b got the server after', round(time.time() - t))\n"
      "try:\n"
      "    a.cursor().execute('SELECT 1')\n"
      "    print('a still there')\n"
      "except Exception as e:\n"
      "    print('a ended', e.args[0])\n"
      "# A raw connection reads the ERR itself: 4031, before the connection closes.\n"
      "sys.path.insert(0, sys.argv[3])\n"
      "import mysql_bad_input as raw\n"
      "raw.PORT, raw.PASSWORD = int(sys.argv[1]), sys.argv[2].encode()\n"
      "s = raw.connect()\n"
      "raw.login(s)\n"
      "raw.query(s, 'BEGIN')\n"
      "s.settimeout(5)\n"
      "print('raw', raw.outcome(s), raw.outcome(s))\n"
      "time.sleep(4.5)\n"
      "try:\n"
      "    cur.execute('SELECT 1')\n"
      "    print('b still there')\n"
      "except Exception as e:\n"
      "    print('b ended', e.args[0])\n";
  auto r = runCommand({"/usr/bin/python3", "-c", script, std::to_string(proxy.mysqlPort()),
                       primary.value("SP_APP_PASSWORD"), sourceDir() + "/integration/drivers"},
                      {}, 30s);
  INFO(r.all() << proxy.log());
  CHECK(r.exitCode == 0);
  CHECK(contains(r.out, "raw ERR 4031 closed\n"));
  CHECK((contains(r.out, "b got the server after 1\n") ||
         contains(r.out, "b got the server after 2\n")));
  // The ERR 4031 comes with sequence id 0, before the client's next command: PyMySQL reads
  // such a packet as CR_SERVER_LOST (2013), as it does MySQL 8's own.
  CHECK(contains(r.out, "a ended 2013\n"));
  CHECK(contains(r.out, "b ended 2013\n"));
  CHECK(proxy.logShows("idle_transaction_timeout"));
  CHECK(proxy.logShows("client_idle_timeout"));
}

TEST_CASE("mysql pooling: malformed and hostile input gets what MariaDB answers, and the pool "
          "goes on",
          "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  // integration/drivers/mysql_bad_input.py: raw connections, one case each, directly and
  // through shardpool (one server, so each case meets the server the one before used).
  Proxy proxy(poolingConfig(primary.port(), "max_db_connections = 1"));
  auto [direct, proxied] = runBoth(proxy, "mysql_bad_input.py", 90s);
  CHECK(contains(proxied.out, "afterwards: OK\ndone\n"));
  CHECK_FALSE(contains(proxied.out, "hang"));
  CHECK_FALSE(contains(proxy.log(), "BUG:"));
}

TEST_CASE("mysql pooling: Django's ORM on MySQLdb: migrate, then 6 threads of transactional CRUD "
          "over 2 servers",
          "[integration][mysql]") {
  auto probe = runCommand({"/usr/bin/python3", "-c", "import django, MySQLdb"}, {}, 30s);
  if (probe.exitCode != 0)
    FAIL("Django or MySQLdb is not installed (python3-django, python3-mysqldb: "
         "scripts/install-deps.sh): "
         << probe.all());
  const auto& primary = mariadbPrimary();
  TempSchema direct, proxied;
  auto run = [&](uint16_t port, const std::string& database) {
    return runCommand({"/usr/bin/python3", sourceDir() + "/integration/drivers/mysql_django.py"},
                      {{"MYSQL_HOST", "127.0.0.1"},
                       {"MYSQL_PORT", std::to_string(port)},
                       {"MYSQL_USER", "sp_app"},
                       {"MYSQL_PASSWORD", primary.value("SP_APP_PASSWORD")},
                       {"MYSQL_DATABASE", database}},
                      90s);
  };
  auto d = run(primary.port(), direct.name);
  INFO("directly:\n" << d.all());
  REQUIRE(d.exitCode == 0);
  REQUIRE(contains(d.out, "counter: 60\n"));
  Proxy proxy(poolingConfig(primary.port()) + proxied.databaseSection(primary.port()));
  auto p = run(proxy.mysqlPort(), proxied.name);
  INFO("through shardpool:\n" << p.all() << proxy.log());
  CHECK(p.exitCode == 0);
  CHECK(sameOutput("django", d, p));
  CHECK_FALSE(contains(proxy.log(), "pinned"));
  CHECK_FALSE(contains(proxy.log(), "BUG:"));
}

TEST_CASE("mysql pooling: a backend that dies and comes back: pooled clients go on, a pinned one "
          "is told",
          "[integration][mysql]") {
  // A MariaDB of its own (the fixture's serves the other tests).
  TempDir dir;
  std::string cluster = sourceDir() + "/scripts/mariadb-cluster.sh";
  std::string data = dir.path() + "/db";
  auto started = runCommand({cluster, "start", data}, {}, 120s);
  REQUIRE(started.exitCode == 0);
  struct Stop {
    std::string cluster, data;
    ~Stop() { runCommand({cluster, "stop", data}, {}, 60s); }
  } stop{cluster, data};
  uint16_t port = 0;
  std::istringstream lines(started.out);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("MYSQL_PORT=", 0) == 0) port = static_cast<uint16_t>(std::stoi(line.substr(11)));
  REQUIRE(port != 0);
  Proxy proxy(poolingConfig(port));
  std::string script =
      "import pymysql, subprocess, sys, time\n"
      "def conn():\n"
      "    return pymysql.connect(host='127.0.0.1', port=int(sys.argv[1]), user='sp_app', "
      "password='app_pass', database='sp_db', autocommit=True)\n"
      "def q(c, sql):\n"
      "    cur = c.cursor()\n"
      "    cur.execute(sql)\n"
      "    return cur.fetchall()\n"
      "pooled, pinned = conn(), conn()\n"
      "print('before', q(pooled, 'SELECT 1'), q(pinned, 'SET @v = 1'))\n"
      "subprocess.run([sys.argv[2], 'crash', sys.argv[3]], check=True, capture_output=True)\n"
      "try:\n"
      "    q(pooled, 'SELECT 2')\n"
      "    print('pooled answered while the server was down')\n"
      "except Exception as e:\n"
      "    print('pooled, server down:', e.args[0])\n"
      "subprocess.run([sys.argv[2], 'restart', sys.argv[3]], check=True, capture_output=True)\n"
      "try:\n"
      "    q(pinned, 'SELECT @v')\n"
      "    print('pinned answered?!')\n"
      "except Exception as e:\n"
      "    print('pinned:', e.args[0])\n"
      "fresh = conn()\n"
      "print('fresh', q(fresh, 'SELECT 3'))\n"
      "try:\n"
      "    print('pooled again', q(pooled, 'SELECT 4'))\n"
      "except Exception as e:\n"
      "    print('pooled was closed:', e.args[0])\n";
  auto r = runCommand({"/usr/bin/python3", "-c", script, std::to_string(proxy.mysqlPort()),
                       cluster, data},
                      {}, 120s);
  INFO(r.all() << proxy.log());
  CHECK(r.exitCode == 0);
  CHECK(contains(r.out, "before ((1,),) ()\n"));
  // While the server is down: a clear error, not a hang. 1105 when shardpool saw the pooled
  // server's connection close first (a new connect then fails), 2013 when the statement went
  // to it before (the connection lost under the statement, as a direct client sees it).
  CHECK((contains(r.out, "pooled, server down: 1105\n") ||
         contains(r.out, "pooled, server down: 2013\n")));
  CHECK(contains(r.out, "pinned: 2013\n"));  // its session is gone with the server
  CHECK(contains(r.out, "fresh ((3,),)\n"));
  CHECK_FALSE(contains(proxy.log(), "BUG:"));
}

TEST_CASE("mysql pooling: query_timeout stops a statement that runs too long (ERR 3024), the "
          "client and the pool go on",
          "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  Proxy proxy(poolingConfig(primary.port(), "query_timeout = \"1s\""));
  std::string script =
      "import pymysql, sys, time\n"
      "def conn():\n"
      "    return pymysql.connect(host='127.0.0.1', port=int(sys.argv[1]), user='sp_app', "
      "password=sys.argv[2], database='sp_db', autocommit=True)\n"
      "c = conn()\n"
      "t = time.time()\n"
      "try:\n"
      "    c.cursor().execute('SELECT SLEEP(5)')\n"
      "    print('slept')\n"
      "except Exception as e:\n"
      "    print('ended', e.args[0], 'after', round(time.time() - t))\n"
      "cur = c.cursor()\n"
      "cur.execute('SELECT 8')\n"
      "print('same connection', cur.fetchall()[0][0])\n"
      "d = conn()\n"
      "cur = d.cursor()\n"
      "cur.execute('SELECT SLEEP(0.2), 7')\n"
      "print('next', cur.fetchall()[0][1])\n";
  auto r = runCommand({"/usr/bin/python3", "-c", script, std::to_string(proxy.mysqlPort()),
                       primary.value("SP_APP_PASSWORD")},
                      {}, 30s);
  INFO(r.all() << proxy.log());
  CHECK(r.exitCode == 0);
  CHECK((contains(r.out, "ended 3024 after 1\n") || contains(r.out, "ended 3024 after 2\n")));
  CHECK(contains(r.out, "same connection 8\n"));  // KILL QUERY stopped it; the session goes on
  CHECK(contains(r.out, "next 7\n"));
  CHECK(proxy.logShows("query_timeout (1.0 s) expired: KILL QUERY"));
}

TEST_CASE("mysql pooling: an open cursor keeps its client on its server until the last row",
          "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  // One worker: a released server is the next one handed out.
  Proxy proxy(poolingConfig(primary.port(), "workers = 1"));
  auto [direct, proxied] = runBoth(proxy, "mysql_cursor.py", 60s);
  REQUIRE(contains(direct.out, "cursor open True"));
}

TEST_CASE("mysql pooling: a client that executes without binding gets its own parameter types, "
          "not those another client bound on the shared server statement",
          "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  // One server: both clients' statements are the same server statement.
  Proxy proxy(poolingConfig(primary.port(), "max_db_connections = 1"));
  runBoth(proxy, "mysql_rebind.py", 60s);
}

TEST_CASE("mysql pooling: SIGHUP raises the pool size for a MySQL client already waiting, "
          "dropping nobody",
          "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  Proxy proxy(poolingConfig(primary.port(), "max_db_connections = 1"));
  TempDir dir;
  std::string bigger = dir.write(
      "bigger.toml", substitute(poolingConfig(primary.port(), "max_db_connections = 2"),
                                proxy.port(), proxy.mysqlPort()));
  std::string script =
      "import os, pymysql, shutil, signal, sys, threading, time\n"
      "def conn():\n"
      "    return pymysql.connect(host='127.0.0.1', port=int(sys.argv[1]), user='sp_app', "
      "password=sys.argv[2], database='sp_db', autocommit=True)\n"
      "a, b = conn(), conn()\n"
      "ca = a.cursor()\n"
      "ca.execute('BEGIN')\n"
      "ca.execute('SELECT 1')\n"
      "out = []\n"
      "def run_b():\n"
      "    cb = b.cursor()\n"
      "    cb.execute(\"SELECT 'b ran'\")\n"
      "    out.append(cb.fetchall()[0][0])\n"
      "t = threading.Thread(target=run_b)\n"
      "t.start()\n"
      "time.sleep(0.7)\n"
      "print('b waits for the only server:', not out)\n"
      "shutil.copyfile(sys.argv[4], sys.argv[5])\n"
      "os.kill(int(sys.argv[3]), signal.SIGHUP)\n"
      "t.join(5)\n"
      "print('after SIGHUP:', out)\n"
      "ca.execute('SELECT 2')\n"
      "print('a still in its transaction:', ca.fetchall()[0][0])\n"
      "ca.execute('COMMIT')\n";
  auto r = runCommand({"/usr/bin/python3", "-c", script, std::to_string(proxy.mysqlPort()),
                       primary.value("SP_APP_PASSWORD"), std::to_string(proxy.pid()), bigger,
                       proxy.configPath()},
                      {}, 30s);
  INFO(r.all() << proxy.log());
  CHECK(r.exitCode == 0);
  CHECK(r.out ==
        "b waits for the only server: True\nafter SIGHUP: ['b ran']\n"
        "a still in its transaction: 2\n");
  CHECK(proxy.logShows("SIGHUP: configuration reloaded"));
}

TEST_CASE("mysql pooling: session pooling: a client whose server is killed loses its connection, "
          "as directly",
          "[integration][mysql]") {
  // The client's session lived on that server: it is not moved to another one silently.
  const auto& primary = mariadbPrimary();
  std::string config = poolingConfig(primary.port());
  const std::string mode = "pool_mode = \"transaction\"";
  config.replace(config.find(mode), mode.size(), "pool_mode = \"session\"");
  Proxy proxy(config);
  std::string script =
      "import pymysql, sys, time\n"
      "def conn(port, user, password):\n"
      "    return pymysql.connect(host='127.0.0.1', port=port, user=user, password=password, "
      "database='sp_db', autocommit=True)\n"
      "def q(c, sql):\n"
      "    cur = c.cursor()\n"
      "    cur.execute(sql)\n"
      "    return cur.fetchall()\n"
      "port, direct = int(sys.argv[1]), int(sys.argv[2])\n"
      "c = conn(port, 'sp_app', sys.argv[3])\n"
      "print('before', q(c, 'SELECT 1'))\n"
      "server = q(c, 'SELECT CONNECTION_ID()')[0][0]\n"
      "admin = conn(direct, 'sp_admin', sys.argv[4])\n"
      "admin.cursor().execute('KILL %d' % server)\n"
      "time.sleep(0.5)\n"
      "for sql in ('SELECT 2', 'SELECT 3'):\n"
      "    try:\n"
      "        print('answered', q(c, sql))\n"
      "    except pymysql.MySQLError as e:\n"
      "        code = e.args[0] if e.args else 0\n"
      "        print('lost' if code in (2006, 2013) else 'closed' if code == 0 else code)\n"
      "print('a new connection', q(conn(port, 'sp_app', sys.argv[3]), 'SELECT 4'))\n";
  auto run = [&](uint16_t port) {
    return runCommand({"/usr/bin/python3", "-c", script, std::to_string(port),
                       std::to_string(primary.port()), primary.value("SP_APP_PASSWORD"),
                       primary.value("SP_ADMIN_PASSWORD")},
                      {}, 60s);
  };
  auto direct = run(primary.port());
  INFO("directly:\n" << direct.all());
  REQUIRE(direct.exitCode == 0);
  REQUIRE(contains(direct.out, "before ((1,),)\nlost\n"));
  auto proxied = run(proxy.mysqlPort());
  INFO("through shardpool:\n" << proxied.all() << proxy.log());
  CHECK(proxied.exitCode == 0);
  CHECK(proxied.out == direct.out);
}

TEST_CASE("mysql pooling: query_timeout ends the client when its KILL QUERY cannot be sent",
          "[integration][mysql]") {
  // The pool's user may hold one connection (MAX_USER_CONNECTIONS 1): the KILL's own
  // connection is refused, the statement runs on, and another query_timeout later the client
  // and its server are closed, as PgBouncer's query_timeout does.
  const auto& primary = mariadbPrimary();
  MariaDbCli admin(primary.port(), "sp_admin", primary.value("SP_ADMIN_PASSWORD"));
  const std::string user = "sp_one_" + uniqueSuffix();
  for (const char* host : {"%", "127.0.0.1"})
    admin.run("CREATE USER '" + user + "'@'" + host +
              "' IDENTIFIED BY 'one_pw' WITH MAX_USER_CONNECTIONS 1; GRANT SELECT ON sp_db.* TO '" +
              user + "'@'" + host + "'");
  struct Drop {
    MariaDbCli& admin;
    std::string user;
    ~Drop() { admin.run("DROP USER IF EXISTS '" + user + "'@'%', '" + user + "'@'127.0.0.1'"); }
  } drop{admin, user};
  std::string config = poolingConfig(primary.port(), "query_timeout = \"1s\"");
  config.insert(config.find("\n\n[users.sp_app]"),
                "\nuser = \"" + user + "\"\npassword = \"one_pw\"\npool_size = 1");
  Proxy proxy(config);
  std::string script =
      "import pymysql, sys, time\n"
      "c = pymysql.connect(host='127.0.0.1', port=int(sys.argv[1]), user='sp_app', "
      "password=sys.argv[2], database='sp_db', autocommit=True)\n"
      "t = time.time()\n"
      "try:\n"
      "    c.cursor().execute('SELECT SLEEP(4)')\n"
      "    print('slept')\n"
      "except pymysql.MySQLError as e:\n"
      "    print('ended', e.args[0], 'after', round(time.time() - t))\n"
      "try:\n"
      "    c.cursor().execute('SELECT 1')\n"
      "    print('same connection answered')\n"
      "except pymysql.MySQLError as e:\n"
      "    print('closed')\n";
  auto r = runCommand({"/usr/bin/python3", "-c", script, std::to_string(proxy.mysqlPort()),
                       primary.value("SP_APP_PASSWORD")},
                      {}, 30s);
  INFO(r.all() << proxy.log());
  CHECK(r.exitCode == 0);
  CHECK((contains(r.out, "ended 3024 after 2\n") || contains(r.out, "ended 3024 after 3\n")));
  CHECK(contains(r.out, "closed\n"));
  CHECK(proxy.logShows("KILL QUERY"));
}
