// Failover of a MySQL-protocol database: a MariaDB primary and its replica started by the test
// (scripts/mariadb-cluster.sh start / replica, semi-synchronous replication so that what the
// primary acknowledged reached the replica), shardpool in front with health checks and
// auto_promote. The primary is killed (SIGKILL) under sysbench and a writer that records every
// acknowledged insert; the writes must go on through the promoted replica, none lost.
#include <catch2/catch.hpp>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "integration/admin_util.h"
#include "integration/mariadb_client.h"

using namespace shardpool::integration;

namespace {

template <class Pred>
bool eventually(Pred done, Ms timeout) {
  auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(100ms);
  }
  return true;
}

std::string failoverConfig(const MariaDbCluster& primary, const MariaDbCluster& replica,
                           bool autoPromote = true) {
  return "[general]\nlisten_addr = \"127.0.0.1\"\nlisten_port = @LISTEN_PORT@\n"
         "mysql_listen_port = @MYSQL_LISTEN_PORT@\nlog_level = \"info\"\n"
         "pool_mode = \"transaction\"\ndefault_pool_size = 6\nquery_wait_timeout = \"30s\"\n"
         "admin_users = [\"sp_console\"]\nhealth_check_interval = \"200ms\"\n"
         "health_check_failures = 2\nfailover_wait_timeout = \"20s\"\nauto_promote = " +
         std::string(autoPromote ? "true" : "false") + "\n\n"
         "[databases.sp_db]\nprotocol = \"mysql\"\nhost = \"127.0.0.1\"\nport = " +
         std::to_string(primary.port()) + "\nuser = \"sp_admin\"\npassword = \"" +
         primary.value("SP_ADMIN_PASSWORD") + "\"\nreplicas = [ { host = \"127.0.0.1\", port = " +
         std::to_string(replica.port()) + " } ]\n\n[users.sp_app]\npassword = \"" + primary.value("SP_APP_PASSWORD") + "\"\n" +
         "[users.sp_console]\npassword = \"console_pass\"\n";
}

std::string writeTarget(Conn& console) {
  for (const auto& row : showRows(console, "SHOW BACKENDS"))
    if (row.at("write_target") == "1") return row.at("backend");
  return {};
}

// "after=N errors=N lost=N" -> the value of `key`.
long field(const std::string& line, const std::string& key) {
  size_t at = line.find(key + "=");
  if (at == std::string::npos) throw std::runtime_error("no " + key + " in: " + line);
  return std::stol(line.substr(at + key.size() + 1));
}

}  // namespace

TEST_CASE("mysql failover: SIGKILL of the primary under sysbench and writers, auto_promote, "
          "no acknowledged write lost",
          "[integration][mysql][failover]") {
  MariaDbCluster primary;
  MariaDbCluster replica(&primary);
  // Semi-synchronous (AFTER_SYNC): a commit is acknowledged once the replica has it.
  primary.admin().query(
      "SET GLOBAL rpl_semi_sync_master_enabled = ON; "
      "SET GLOBAL rpl_semi_sync_master_wait_point = 'AFTER_SYNC'; "
      "SET GLOBAL rpl_semi_sync_master_timeout = 600000");
  replica.admin().query(
      "SET GLOBAL rpl_semi_sync_slave_enabled = ON; STOP SLAVE IO_THREAD; START SLAVE IO_THREAD");
  REQUIRE(eventually(
      [&] {
        auto rows = primary.admin().query("SHOW STATUS LIKE 'Rpl_semi_sync_master_clients'");
        return !rows.empty() && rows[0].at(1) == "1";
      },
      20s));
  primary.admin().query("CREATE TABLE acks (id BIGINT PRIMARY KEY)");
  auto sysbench = [&](uint16_t port, const std::string& user, const std::string& password,
                      const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {"sysbench",          "oltp_write_only",
                                     "--mysql-host=127.0.0.1",
                                     "--mysql-port=" + std::to_string(port),
                                     "--mysql-user=" + user,  "--mysql-password=" + password,
                                     "--mysql-db=sp_db",      "--tables=1",
                                     "--table-size=1000"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return runCommand(argv, {}, 90s);
  };
  auto prepared = sysbench(primary.port(), "sp_admin", primary.value("SP_ADMIN_PASSWORD"),
                           {"prepare"});
  REQUIRE(prepared.exitCode == 0);
  REQUIRE(eventually(
      [&] { return replica.admin().scalar("SELECT COUNT(*) FROM sbtest1") == "1000"; }, 30s));

  Proxy proxy(failoverConfig(primary, replica));
  Conn console(proxy.conninfo("sp_console", "console_pass", "shardpool"));
  REQUIRE(console.ok());
  const std::string primaryAddr = "127.0.0.1:" + std::to_string(primary.port());
  const std::string replicaAddr = "127.0.0.1:" + std::to_string(replica.port());
  REQUIRE(eventually([&] { return writeTarget(console) == primaryAddr; }, 10s));

  TempDir tmp;
  const std::string marker = tmp.path() + "/crashed";
  const int kWriters = 4;
  CommandResult writes, bench;
  std::thread writer([&] {
    writes = runCommand({"/usr/bin/python3", sourceDir() + "/integration/drivers/mysql_writer.py",
                         std::to_string(proxy.mysqlPort()), "sp_app", primary.value("SP_APP_PASSWORD"), "sp_db",
                         std::to_string(kWriters), "16", marker},
                        {}, 90s);
  });
  std::thread load([&] {
    bench = sysbench(proxy.mysqlPort(), "sp_app", primary.value("SP_APP_PASSWORD"),
                     {"--threads=4", "--time=16", "--report-interval=1",
                      "--mysql-ignore-errors=all", "run"});
  });
  std::this_thread::sleep_for(4s);
  std::ofstream(marker) << "crashed\n";
  primary.run("crash");
  writer.join();
  load.join();

  INFO("writer:\n" << writes.all() << "\nsysbench:\n" << bench.all() << "\nshardpool's log:\n"
                   << proxy.log());
  REQUIRE(writes.exitCode == 0);
  std::istringstream lines(writes.out);
  std::string counts, ids;
  std::getline(lines, counts);
  std::getline(lines, ids);
  CHECK(field(counts, "after") >= 50);  // writes went on after the crash
  CHECK(field(counts, "lost") == 0);    // no writer's connection was dropped
  CHECK(field(counts, "errors") <= 2 * kWriters);  // only statements in flight failed
  // sysbench ran through it: transactions after the failover (the last reports show some).
  CHECK(bench.exitCode == 0);
  CHECK_FALSE(contains(bench.out, "transactions:                        0 "));
  size_t lastReport = bench.out.rfind("] thds:");
  REQUIRE(lastReport != std::string::npos);
  CHECK_FALSE(contains(bench.out.substr(lastReport, 40), "tps: 0.00"));

  CHECK(writeTarget(console) == replicaAddr);
  bool promoted = false;
  for (const auto& e : showRows(console, "SHOW EVENTS"))
    promoted = promoted || contains(e.at("event"), "promoting");
  CHECK(promoted);
  CHECK(replica.admin().scalar("SELECT @@global.read_only") == "0");

  // Every acknowledged insert is on the promoted replica.
  REQUIRE_FALSE(ids.empty());
  long acked = 0, present = 0;
  for (size_t from = 0; from < ids.size();) {
    // In batches of 2,000 ids: one command-line argument holds at most 128 KiB.
    size_t to = from;
    for (int n = 0; n < 2000 && to != std::string::npos; ++n) to = ids.find(',', to + 1);
    std::string batch = ids.substr(from, to == std::string::npos ? std::string::npos : to - from);
    acked += std::count(batch.begin(), batch.end(), ',') + 1;
    present += std::stol(
        replica.admin().scalar("SELECT COUNT(*) FROM acks WHERE id IN (" + batch + ")"));
    from = to == std::string::npos ? ids.size() : to + 1;
  }
  CHECK(acked > 100);
  CHECK(present == acked);
  CHECK_FALSE(contains(proxy.log(), "BUG:"));
}

TEST_CASE("mysql failover: an external promotion is followed and the old primary is fenced",
          "[integration][mysql][failover]") {
  MariaDbCluster primary;
  MariaDbCluster replica(&primary);
  Proxy proxy(failoverConfig(primary, replica, false));
  Conn console(proxy.conninfo("sp_console", "console_pass", "shardpool"));
  REQUIRE(console.ok());
  MariaDbCli app(proxy.mysqlPort(), "sp_app", primary.value("SP_APP_PASSWORD"));
  CHECK(app.scalar("SELECT @@port") == std::to_string(primary.port()));

  primary.run("crash");
  std::this_thread::sleep_for(1s);
  // No primary and no auto_promote: a client waits for one.
  CommandResult waited;
  auto started = Clock::now();
  std::thread client([&] { waited = app.run("SELECT @@port", 30s); });
  std::this_thread::sleep_for(1500ms);
  replica.run("promote");
  client.join();
  INFO(waited.all() << proxy.log());
  CHECK(waited.exitCode == 0);
  CHECK(contains(waited.out, std::to_string(replica.port())));
  CHECK(Clock::now() - started >= 1500ms);
  CHECK(writeTarget(console) == "127.0.0.1:" + std::to_string(replica.port()));

  // The old primary comes back writable: it must not take writes.
  primary.run("restart");
  REQUIRE(eventually(
      [&] {
        for (const auto& row : showRows(console, "SHOW BACKENDS"))
          if (row.at("backend") == "127.0.0.1:" + std::to_string(primary.port()))
            return row.at("state") == "fenced";
        return false;
      },
      10s));
  CHECK(writeTarget(console) == "127.0.0.1:" + std::to_string(replica.port()));
  CHECK(app.scalar("SELECT @@port") == std::to_string(replica.port()));
}

namespace {

// The fixture's primary, with its replica (or `replicas` as given) and read_from.
std::string readFromConfig(const std::string& readFrom, const std::string& replicas) {
  const auto& primary = mariadbPrimary();
  return "[general]\nlisten_addr = \"127.0.0.1\"\nlisten_port = @LISTEN_PORT@\n"
         "mysql_listen_port = @MYSQL_LISTEN_PORT@\nlog_level = \"info\"\n"
         "pool_mode = \"transaction\"\ndefault_pool_size = 2\nhealth_check_interval = 0\n\n"
         "[databases.sp_db]\nprotocol = \"mysql\"\nhost = \"127.0.0.1\"\nport = " +
         std::to_string(primary.port()) + "\nread_from = \"" + readFrom + "\"\nreplicas = " +
         replicas + "\n\n[users.sp_app]\npassword = \"" + primary.value("SP_APP_PASSWORD") +
         "\"\n";
}

std::string replicaList(uint16_t port) {
  return "[ { host = \"127.0.0.1\", port = " + std::to_string(port) + " } ]";
}

}  // namespace

TEST_CASE("mysql read_from replicas: lone reads on the replica, writes, transactions and pinned "
          "sessions on the primary",
          "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  const auto& replica = mariadbReplica();
  const std::string p = std::to_string(primary.port()), r = std::to_string(replica.port());
  Proxy proxy(readFromConfig("replicas", replicaList(replica.port())));
  MariaDbCli app(proxy.mysqlPort(), "sp_app", primary.value("SP_APP_PASSWORD"));
  // One client, one statement after the other: each read alone goes to the replica.
  auto rows = app.query(
      "SELECT @@port; "
      "SELECT @@port, @@read_only FROM DUAL; "
      "BEGIN; SELECT @@port; COMMIT; "
      "SELECT @@port FROM DUAL FOR UPDATE; "
      "SELECT @@port, LAST_INSERT_ID(); "
      "SELECT @@port; "
      "SET @pinned = 1; SELECT @@port");
  INFO(proxy.log());
  REQUIRE(rows.size() == 7);
  CHECK(rows[0].at(0) == r);
  CHECK(rows[1].at(0) == r);
  CHECK(rows[1].at(1) == "1");
  CHECK(rows[2].at(0) == p);  // inside a transaction
  CHECK(rows[3].at(0) == p);  // FOR UPDATE
  CHECK(rows[4].at(0) == p);  // a session function: the server of the client's last insert
  CHECK(rows[5].at(0) == r);
  CHECK(rows[6].at(0) == p);  // a user variable pins the client to the primary
}

TEST_CASE("mysql read_from any: reads take turns between the primary and the replica, an "
          "unreachable replica sends them to the primary",
          "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  const auto& replica = mariadbReplica();
  const std::string p = std::to_string(primary.port()), r = std::to_string(replica.port());
  {
    Proxy proxy(readFromConfig("any", replicaList(replica.port())));
    MariaDbCli app(proxy.mysqlPort(), "sp_app", primary.value("SP_APP_PASSWORD"));
    auto rows = app.query("SELECT @@port; SELECT @@port; SELECT @@port; SELECT @@port");
    REQUIRE(rows.size() == 4);
    std::set<std::string> seen;
    for (const auto& row : rows) seen.insert(row.at(0));
    CHECK(seen == std::set<std::string>{p, r});
  }
  {
    // Port 1: nothing listens there.
    Proxy proxy(readFromConfig("replicas", replicaList(1)));
    MariaDbCli app(proxy.mysqlPort(), "sp_app", primary.value("SP_APP_PASSWORD"));
    auto rows = app.query("SELECT @@port; SELECT @@port");
    INFO(proxy.log());
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].at(0) == p);
    CHECK(rows[1].at(0) == p);
    CHECK(proxy.logShows("reading from the primary", 5s));
  }
}

TEST_CASE("mysql host list: a host that cannot be reached is skipped", "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  // Port 1: nothing listens there. Round robin starts new servers on either host.
  Proxy proxy("[general]\nlisten_addr = \"127.0.0.1\"\nlisten_port = @LISTEN_PORT@\n"
              "mysql_listen_port = @MYSQL_LISTEN_PORT@\nlog_level = \"info\"\n"
              "pool_mode = \"transaction\"\ndefault_pool_size = 2\n\n"
              "[databases.sp_db]\nprotocol = \"mysql\"\nhost = \"127.0.0.1,127.0.0.1\"\n"
              "port = \"1," +
              std::to_string(primary.port()) + "\"\n\n[users.sp_app]\npassword = \"" +
              primary.value("SP_APP_PASSWORD") + "\"\n");
  for (int i = 0; i < 3; ++i) {
    MariaDbCli app(proxy.mysqlPort(), "sp_app", primary.value("SP_APP_PASSWORD"));
    CHECK(app.scalar("SELECT @@port") == std::to_string(primary.port()));
  }
  INFO(proxy.log());
  CHECK(proxy.logShows("trying the next host of the list", 5s));
}

TEST_CASE("mysql health checks run over TLS when the database's pools do", "[integration][mysql]") {
  // The pools' user may log in over TLS only (REQUIRE SSL): a probe without TLS would be
  // refused and the primary counted down. The fixture's replica serves no TLS: its probe fails
  // with verify-full, as a pool's connect would.
  const auto& primary = mariadbPrimary();
  const auto& replica = mariadbReplica();
  REQUIRE(primary.value("MYSQL_SSL") == "1");
  MariaDbCli admin(primary.port(), "sp_admin", primary.value("SP_ADMIN_PASSWORD"));
  const std::string user = "sp_tls_" + uniqueSuffix();
  admin.run("CREATE USER '" + user + "'@'%' IDENTIFIED BY 'tls_pass' REQUIRE SSL; CREATE USER '" +
            user + "'@'127.0.0.1' IDENTIFIED BY 'tls_pass' REQUIRE SSL; GRANT SELECT ON *.* TO '" +
            user + "'@'%'; GRANT SELECT ON *.* TO '" + user + "'@'127.0.0.1'");
  struct Drop {
    MariaDbCli& admin;
    std::string user;
    ~Drop() { admin.run("DROP USER IF EXISTS '" + user + "'@'%', '" + user + "'@'127.0.0.1'"); }
  } drop{admin, user};
  const std::string p = "127.0.0.1:" + std::to_string(primary.port());
  const std::string r = "127.0.0.1:" + std::to_string(replica.port());
  Proxy proxy(
      "[general]\nlisten_addr = \"127.0.0.1\"\nlisten_port = @LISTEN_PORT@\n"
      "mysql_listen_port = @MYSQL_LISTEN_PORT@\nlog_level = \"info\"\n"
      "pool_mode = \"transaction\"\ndefault_pool_size = 2\nadmin_users = [\"sp_console\"]\n"
      "health_check_interval = \"200ms\"\n\n"
      "[databases.sp_db]\nprotocol = \"mysql\"\nhost = \"127.0.0.1\"\nport = " +
      std::to_string(primary.port()) + "\nuser = \"" + user +
      "\"\npassword = \"tls_pass\"\nsslmode = \"verify-full\"\nsslrootcert = \"" +
      testCert("ca.crt") + "\"\nreplicas = [ { host = \"127.0.0.1\", port = " +
      std::to_string(replica.port()) + " } ]\n\n[users.sp_app]\npassword = \"" +
      primary.value("SP_APP_PASSWORD") + "\"\n[users.sp_console]\npassword = \"console_pass\"\n");
  Conn console(proxy.conninfo("sp_console", "console_pass", "shardpool"));
  auto backend = [&](const std::string& addr) {
    for (const auto& row : showRows(console, "SHOW BACKENDS"))
      if (row.at("backend") == addr) return row;
    return NamedRow{};
  };
  bool probed = eventually(
      [&] {
        NamedRow pr = backend(p), rr = backend(r);
        return !pr.empty() && !rr.empty() && pr.at("role") == "primary" &&
               rr.at("state") == "down";
      },
      10s);
  NamedRow pr = backend(p), rr = backend(r);
  INFO("primary: " << (pr.empty() ? "-" : pr.at("state") + " / " + pr.at("last_error"))
                   << "\nreplica: " << (rr.empty() ? "-" : rr.at("state") + " / " + rr.at("last_error"))
                   << "\n" << proxy.log());
  REQUIRE(probed);
  CHECK(pr.at("state") == "up");
  CHECK(pr.at("write_target") == "1");
  CHECK(contains(rr.at("last_error"), "TLS"));
  MariaDbCli app(proxy.mysqlPort(), "sp_app", primary.value("SP_APP_PASSWORD"));
  CHECK(app.scalar("SELECT @@port") == std::to_string(primary.port()));
}
