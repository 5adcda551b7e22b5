// The MySQL engine end to end: the mariadb CLI through shardpool's mysql_listen_port against
// the fixture's MariaDB primary, compared with the same CLI connected directly; logins refused
// as MariaDB refuses them; a backend that is down; several clients over fewer servers in
// session pooling, each getting a fresh session.
#include <catch2/catch.hpp>

#include <string>

#include "integration/harness.h"
#include "integration/mariadb_client.h"

using namespace shardpool::integration;

namespace {

// shardpool in front of the primary's sp_db for sp_app, with `extra` keys in [general].
std::string mysqlConfig(uint16_t backendPort, const std::string& extra = "") {
  const auto& primary = mariadbPrimary();
  return "[general]\nlisten_addr = \"127.0.0.1\"\nlisten_port = @LISTEN_PORT@\n"
         "mysql_listen_port = @MYSQL_LISTEN_PORT@\nlog_level = \"info\"\n" +
         extra + "\n[databases.sp_db]\nprotocol = \"mysql\"\nhost = \"127.0.0.1\"\nport = " +
         std::to_string(backendPort) + "\n\n[users.sp_app]\npassword = \"" +
         primary.value("SP_APP_PASSWORD") + "\"\n";
}

MariaDbCli appVia(uint16_t port) {
  return MariaDbCli(port, "sp_app", mariadbPrimary().value("SP_APP_PASSWORD"));
}

}  // namespace

TEST_CASE("mysql engine: the mariadb CLI through shardpool prints what it prints directly",
          "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  Proxy proxy(mysqlConfig(primary.port()));
  // Each script runs once directly and once through shardpool, on a table of its own (@T@).
  std::string t = "it_engine_" + uniqueSuffix();
  std::string direct = t + "_direct", proxied = t + "_proxied";
  // Each script runs in one session: results, NULLs, warnings, errors (an error ends the
  // script, as directly), several result sets, the schema, user variables, transactions, a
  // 100 kB value.
  const std::vector<std::string> scripts = {
      "SELECT 1, 'two', NULL, 3.5, DATABASE()",
      "CREATE TABLE @T@ (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO @T@ VALUES (1, 'one'), "
      "(2, NULL), (3, 'three'); SELECT * FROM @T@ ORDER BY id",
      "SET @x = 41; SELECT @x + 1; SELECT COUNT(*) FROM @T@ WHERE v IS NULL",
      "BEGIN; UPDATE @T@ SET v = 'uno' WHERE id = 1; SELECT v FROM @T@ WHERE id = 1; ROLLBACK; "
      "SELECT v FROM @T@ WHERE id = 1",
      "SELECT CAST('abc' AS INT); SHOW WARNINGS",
      "INSERT INTO @T@ VALUES (1, 'again')",
      "SELECT * FROM @T@_missing",
      "SELECT REPEAT('x', 100000) = REPEAT('x', 100000), LENGTH(REPEAT('y', 70000)), "
      "REPEAT('z', 100000)",
      "USE sp_db; SELECT DATABASE()",
      "DROP TABLE @T@",
  };
  auto with = [](std::string text, const std::string& table) {
    for (size_t p; (p = text.find("@T@")) != std::string::npos;) text.replace(p, 3, table);
    return text;
  };
  auto same = [&](const std::string& text) {
    std::string out = text;
    for (size_t p; (p = out.find(direct)) != std::string::npos;)
      out.replace(p, direct.size(), proxied);
    return out;
  };
  for (const auto& sql : scripts) {
    INFO(sql);
    CommandResult d = appVia(primary.port()).run(with(sql, direct));
    CommandResult p = appVia(proxy.mysqlPort()).run(with(sql, proxied));
    CHECK(p.exitCode == d.exitCode);
    CHECK(p.out == same(d.out));
    MyError de = myErrorFromText(d.err), pe = myErrorFromText(p.err);
    CHECK(pe.code == de.code);
    CHECK(pe.sqlstate == de.sqlstate);
    CHECK(pe.message == same(de.message));
  }
  CHECK_FALSE(contains(proxy.log(), "BUG:"));
}

TEST_CASE("mysql engine: wrong passwords, unknown users and databases are refused as MariaDB does",
          "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  Proxy proxy(mysqlConfig(primary.port()));
  MyError wrong =
      MariaDbCli(proxy.mysqlPort(), "sp_app", "not_the_password").expectError("SELECT 1");
  MyError direct = MariaDbCli(primary.port(), "sp_app", "not_the_password").expectError("SELECT 1");
  CHECK(wrong.code == 1045);
  CHECK(wrong.sqlstate == "28000");
  CHECK(wrong.message == direct.message);
  MyError unknown = MariaDbCli(proxy.mysqlPort(), "nobody", "x").expectError("SELECT 1");
  CHECK(unknown.code == 1045);
  CHECK(contains(unknown.message, "Access denied for user 'nobody'@'127.0.0.1'"));
  MyError noDb =
      MariaDbCli(proxy.mysqlPort(), "sp_app", primary.value("SP_APP_PASSWORD"), "no_such_db")
          .expectError("SELECT 1");
  CHECK(noDb.code == 1049);
  CHECK(noDb.sqlstate == "42000");
  CHECK(noDb.message == "Unknown database 'no_such_db'");
  // Nothing was opened for them, and the proxy serves the next client.
  CHECK(appVia(proxy.mysqlPort()).scalar("SELECT 7") == "7");
  CHECK_FALSE(contains(proxy.log(), "BUG:"));
}

TEST_CASE("mysql engine: a backend that is down is a clear error, not a hang",
          "[integration][mysql]") {
  Proxy proxy(mysqlConfig(freePort()));
  auto started = Clock::now();
  MyError e = appVia(proxy.mysqlPort()).expectError("SELECT 1", 20s);
  CHECK(Clock::now() - started < 10s);
  CHECK(e.code == 1105);
  CHECK(e.sqlstate == "HY000");
  CHECK(contains(e.message, "could not connect to 127.0.0.1"));
  CHECK(proxy.logShows("server connect failed"));
}

TEST_CASE("mysql engine: session pooling serves 6 clients over 2 servers, each session fresh",
          "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  MariaDbCli admin(primary.port(), "sp_admin", primary.value("SP_ADMIN_PASSWORD"));
  // A user of its own: the connections counted below are this test's, whatever runs beside it.
  std::string user = "sp_s6_" + uniqueSuffix();
  admin.run("CREATE USER '" + user + "'@'%' IDENTIFIED BY 'pw6'; CREATE USER '" + user +
            "'@'127.0.0.1' IDENTIFIED BY 'pw6'; GRANT ALL ON sp_db.* TO '" + user +
            "'@'%'; GRANT ALL ON sp_db.* TO '" + user + "'@'127.0.0.1'");
  struct DropUser {
    MariaDbCli& admin;
    std::string user;
    ~DropUser() {
      admin.run("DROP USER IF EXISTS '" + user + "'@'%'; DROP USER IF EXISTS '" + user +
                "'@'127.0.0.1'");
    }
  } dropUser{admin, user};
  Proxy proxy("[general]\nlisten_addr = \"127.0.0.1\"\nlisten_port = @LISTEN_PORT@\n"
              "mysql_listen_port = @MYSQL_LISTEN_PORT@\nlog_level = \"info\"\n"
              "default_pool_size = 2\n\n[databases.sp_db]\nprotocol = \"mysql\"\n"
              "host = \"127.0.0.1\"\nport = " +
              std::to_string(primary.port()) + "\n\n[users." + user + "]\npassword = \"pw6\"\n");
  std::string script;
  // Each client must not see what the one before it on the same server left (user variable,
  // session setting; a temporary table would make its CREATE fail), then leaves its own behind.
  for (int i = 0; i < 6; ++i) {
    script += "mariadb --no-defaults -h 127.0.0.1 -P " + std::to_string(proxy.mysqlPort()) +
              " -u " + user + " -p\"$PW\" -D sp_db -B -N -e \"SELECT @left, @@session.sql_mode = "
              "@@global.sql_mode; SET @left = " +
              std::to_string(i) +
              "; SET SESSION sql_mode = 'ANSI'; "
              "CREATE TEMPORARY TABLE tmp_left (x INT); SELECT SLEEP(0.3)\" > out" +
              std::to_string(i) + " 2>&1 &\n";
  }
  // While they run, the primary sees two connections of the user.
  script += "sleep 0.5; mariadb --no-defaults -h 127.0.0.1 -P " + std::to_string(primary.port()) +
            " -u sp_admin -p\"$ADMIN_PW\" -B -N -e \"SELECT COUNT(*) FROM "
            "information_schema.PROCESSLIST WHERE USER = '" + user + "'\" > during\n";
  script += "wait\ncat out0 out1 out2 out3 out4 out5 during\n";
  TempDir dir;
  CommandResult r = runShell(
      "cd " + dir.path() + "\n" + script,
      {{"PW", "pw6"}, {"ADMIN_PW", primary.value("SP_ADMIN_PASSWORD")}},
      60s);
  INFO(r.all());
  CHECK(r.exitCode == 0);
  std::string expected;
  for (int i = 0; i < 6; ++i) expected += "NULL\t1\n0\n";
  CHECK(r.out == expected + "2\n");
  // The two servers stay pooled once the clients are gone.
  CHECK(admin.scalar("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '" + user +
                     "'") == "2");
  CHECK_FALSE(contains(proxy.log(), "BUG:"));
}

TEST_CASE("mysql engine: a PostgreSQL client naming a MySQL database is refused, not paired",
          "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  Proxy proxy(mysqlConfig(primary.port()));
  Conn c(proxy.conninfo("sp_app", primary.value("SP_APP_PASSWORD"), "sp_db") +
         " sslmode=disable");
  PgError e = c.ok() ? c.expectError("SELECT 1", 10s) : c.connectError();
  INFO(e.sqlstate << " " << e.message);
  CHECK(e.sqlstate == "3D000");
  CHECK(contains(e.message, "database \"sp_db\" is a mysql database"));
  // The MySQL side is untouched by it.
  CHECK(appVia(proxy.mysqlPort()).scalar("SELECT 1") == "1");
}

TEST_CASE("mysql engine: client TLS: the CLI and PyMySQL log in over TLS, with require, a client "
          "without it gets MySQL's 3159",
          "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  for (std::string mode : {"prefer", "require"}) {
    INFO("client_tls_sslmode = " << mode);
    Proxy proxy(mysqlConfig(primary.port(), "client_tls_sslmode = \"" + mode +
                                                "\"\nclient_tls_cert_file = \"" +
                                                testCert("server.crt") +
                                                "\"\nclient_tls_key_file = \"" +
                                                testCert("server.key") + "\""));
    auto cli = [&](const std::vector<std::string>& tls) {
      std::vector<std::string> argv = {"mariadb", "--no-defaults", "-h", "127.0.0.1", "-P",
                                       std::to_string(proxy.mysqlPort()), "-u", "sp_app",
                                       "-p" + primary.value("SP_APP_PASSWORD")};
      argv.insert(argv.end(), tls.begin(), tls.end());
      argv.insert(argv.end(), {"sp_db", "-e", "status; SELECT 1 + 1"});
      return runCommand(argv, {}, 30s);
    };
    auto withTls = cli({"--ssl", "--ssl-ca=" + testCert("ca.crt"), "--ssl-verify-server-cert"});
    INFO(withTls.all() << proxy.log());
    CHECK(withTls.exitCode == 0);
    CHECK(contains(withTls.out, "Cipher in use is TLS_"));
    CHECK(contains(withTls.out, "\n2\n"));
    auto python = runCommand(
        {"/usr/bin/python3", "-c",
         "import pymysql, sys\n"
         "c = pymysql.connect(host='127.0.0.1', port=int(sys.argv[1]), user='sp_app', "
         "password=sys.argv[2], database='sp_db', ssl={'ca': sys.argv[3]})\n"
         "cur = c.cursor()\ncur.execute('SELECT 40 + 2')\n"
         "print(cur.fetchall()[0][0], c._sock.version())\n",
         std::to_string(proxy.mysqlPort()), primary.value("SP_APP_PASSWORD"),
         testCert("ca.crt")},
        {}, 30s);
    INFO(python.all());
    CHECK(python.exitCode == 0);
    CHECK(contains(python.out, "42 TLSv1."));
    // A ClientHello in the same segment as the SSLRequest is the start of the handshake.
    auto pipelined = runCommand({"/usr/bin/python3",
                                 sourceDir() + "/integration/drivers/mysql_tls_pipelined.py",
                                 std::to_string(proxy.mysqlPort()),
                                 primary.value("SP_APP_PASSWORD"), testCert("ca.crt")},
                                {}, 30s);
    INFO(pipelined.all());
    CHECK(pipelined.exitCode == 0);
    CHECK(contains(pipelined.out, "ok TLSv1.3 inside\n"));
    auto clear = cli({"--skip-ssl"});
    INFO(clear.all());
    if (mode == "require") {
      CHECK(clear.exitCode != 0);
      CHECK(myErrorFromText(clear.err).code == 3159);
    } else {
      CHECK(clear.exitCode == 0);
      CHECK(contains(clear.out, "\n2\n"));
    }
  }
}

TEST_CASE("mysql engine: caching_sha2_password from real clients: PyMySQL, the CLI, node mysql2",
          "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  std::string password = primary.value("SP_APP_PASSWORD");
  MariaDbCli admin(primary.port(), "sp_admin", primary.value("SP_ADMIN_PASSWORD"));
  // The same user with mysql.user's SHA1 form in [users]: the fast path cannot check it.
  std::string hashed = admin.scalar("SELECT PASSWORD('" + password + "')");
  auto python = [&](uint16_t port, bool tls) {
    return runCommand(
        {"/usr/bin/python3", "-c",
         "import pymysql, sys\n"
         "kw = {'ssl': {'ca': sys.argv[3]}} if sys.argv[4] == '1' else {}\n"
         "c = pymysql.connect(host='127.0.0.1', port=int(sys.argv[1]), user='sp_app', "
         "password=sys.argv[2], database='sp_db', **kw)\n"
         "cur = c.cursor()\ncur.execute('SELECT 6 * 7')\n"
         "print(cur.fetchall()[0][0], c._auth_plugin_name)\n",
         std::to_string(port), password, testCert("ca.crt"), tls ? "1" : "0"},
        {}, 30s);
  };
  std::string tls = "client_tls_sslmode = \"prefer\"\nclient_tls_cert_file = \"" +
                    testCert("server.crt") + "\"\nclient_tls_key_file = \"" +
                    testCert("server.key") + "\"\n";
  SECTION("plaintext in [users]: the fast path") {
    Proxy proxy(mysqlConfig(primary.port(), "mysql_default_auth = \"caching_sha2_password\""));
    auto r = python(proxy.mysqlPort(), false);
    INFO(r.all() << proxy.log());
    CHECK(r.out == "42 caching_sha2_password\n");
    auto cli = appVia(proxy.mysqlPort()).scalar("SELECT 'cli'");
    CHECK(cli == "cli");
    auto node = runCommand(
        {"node", "-e",
         "const m = require('mysql2/promise');"
         "(async () => { const c = await m.createConnection({host: '127.0.0.1', port: " +
             std::to_string(proxy.mysqlPort()) + ", user: 'sp_app', password: process.argv[1], "
             "database: 'sp_db'}); const [r] = await c.query('SELECT 6 * 7 AS x');"
             "console.log(r[0].x); await c.end(); })().catch(e => { console.log(e.message); "
             "process.exit(1); })",
         password},
        {{"NODE_PATH", std::string(std::getenv("SHARDPOOL_IT_NODE_DIR")
                                       ? std::getenv("SHARDPOOL_IT_NODE_DIR")
                                       : "/tmp/shardpool-it-node") +
                           "/node_modules"}},
        30s);
    INFO(node.all());
    CHECK(node.out == "42\n");
    // A wrong password is still MariaDB's ERR 1045.
    auto wrong = MariaDbCli(proxy.mysqlPort(), "sp_app", "wrong").expectError("SELECT 1");
    CHECK(wrong.code == 1045);
  }
  SECTION("mysql.user's hash in [users]: full authentication over TLS, else a switch") {
    std::string config = "[general]\nlisten_addr = \"127.0.0.1\"\nlisten_port = @LISTEN_PORT@\n"
                         "mysql_listen_port = @MYSQL_LISTEN_PORT@\n"
                         "mysql_default_auth = \"caching_sha2_password\"\n" +
                         tls + "\n[databases.sp_db]\nprotocol = \"mysql\"\nhost = \"127.0.0.1\"\n"
                         "port = " + std::to_string(primary.port()) +
                         "\n\n[users.sp_app]\npassword = \"" + hashed + "\"\n";
    Proxy proxy(config);
    auto overTls = python(proxy.mysqlPort(), true);
    INFO(overTls.all() << proxy.log());
    CHECK(overTls.out == "42 caching_sha2_password\n");
    auto clear = python(proxy.mysqlPort(), false);
    INFO(clear.all());
    CHECK(contains(clear.out, "42 "));  // switched to mysql_native_password (PyMySQL keeps
                                        // the first plugin's name)
    CHECK(contains(proxy.log(), "login accepted"));
  }
}

TEST_CASE("mysql engine: TLS towards MySQL servers: verify-full, a wrong CA, a server without it",
          "[integration][mysql]") {
  const auto& primary = mariadbPrimary();  // serves TLS (the fixture's certificates)
  const auto& replica = mariadbReplica();  // does not
  REQUIRE(primary.value("MYSQL_SSL") == "1");
  // mysqlConfig ends with the [users] section: the database keys go before it.
  auto withDbKeys = [](std::string text, const std::string& keys) {
    size_t users = text.find("\n[users.");
    text.insert(users, "\n" + keys);
    return text;
  };
  {
    Proxy proxy(withDbKeys(mysqlConfig(primary.port()),
                           "sslmode = \"verify-full\"\nsslrootcert = \"" + testCert("ca.crt") +
                               "\""));
    auto rows = appVia(proxy.mysqlPort()).query("SHOW SESSION STATUS LIKE 'Ssl_version'");
    REQUIRE(rows.size() == 1);
    CHECK(rows[0][1].rfind("TLSv1.", 0) == 0);
  }
  {
    Proxy proxy(withDbKeys(mysqlConfig(primary.port()),
                           "sslmode = \"verify-full\"\nsslrootcert = \"" +
                               testCert("wrong-ca.crt") + "\""));
    MyError e = appVia(proxy.mysqlPort()).expectError("SELECT 1");
    INFO(e.message << proxy.log());
    CHECK(e.code == 1105);
    CHECK(contains(e.message, "TLS with the server failed"));
  }
  {
    Proxy proxy(withDbKeys(mysqlConfig(replica.port()), "sslmode = \"require\""));
    MyError e = appVia(proxy.mysqlPort()).expectError("SELECT 1");
    INFO(e.message << proxy.log());
    CHECK(e.code == 1105);
    CHECK(contains(e.message, "does not offer TLS, which its sslmode requires"));
  }
  {
    Proxy proxy(withDbKeys(mysqlConfig(replica.port()), "sslmode = \"prefer\""));
    auto rows = appVia(proxy.mysqlPort()).query("SHOW SESSION STATUS LIKE 'Ssl_version'");
    REQUIRE(rows.size() == 1);
    CHECK((rows[0].size() < 2 || rows[0][1].empty()));  // no TLS: an empty Ssl_version
  }
}

TEST_CASE("mysql engine: statements and rows over 16 MiB (split packets) through transaction "
          "pooling",
          "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  Proxy proxy(mysqlConfig(primary.port(), "pool_mode = \"transaction\""));
  TempDir dir;
  // A 17 MB statement (several packets from the client) whose answer holds a 17 MB value
  // (several packets from the server), printed by the CLI; directly and through shardpool.
  std::string sql = dir.write("big.sql", "SELECT LENGTH('" + std::string(17'000'000, 'q') +
                                             "'), REPEAT('y', 17000000) AS big, 'end';\n");
  auto run = [&](uint16_t port) {
    return runShell("mariadb --no-defaults --max-allowed-packet=64M -h 127.0.0.1 -P " +
                        std::to_string(port) + " -u sp_app -p\"$PW\" -N -B sp_db < " + sql +
                        " > " + dir.path() + "/out.txt && cd " + dir.path() +
                        " && wc -c < out.txt && md5sum < out.txt && cut -c1-9 out.txt",
                    {{"PW", primary.value("SP_APP_PASSWORD")}}, 60s);
  };
  auto direct = run(primary.port());
  INFO(direct.all());
  REQUIRE(direct.exitCode == 0);
  CHECK(contains(direct.out, "17000000\t"));
  auto proxied = run(proxy.mysqlPort());
  INFO(proxied.all() << proxy.log());
  CHECK(proxied.exitCode == 0);
  CHECK(proxied.out == direct.out);
}

TEST_CASE("mysql engine: sidecar mode from a mysql:// URL", "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  Proxy proxy("", {"--listen", "127.0.0.1:@MYSQL_LISTEN_PORT@", "--backend",
                   "mysql://sp_app:" + primary.value("SP_APP_PASSWORD") + "@127.0.0.1:" +
                       std::to_string(primary.port()) + "/sp_db",
                   "--set", "general.listen_port=@LISTEN_PORT@", "--pool-mode", "transaction"});
  auto cli = appVia(proxy.mysqlPort());
  CHECK(cli.scalar("SELECT CONCAT(CURRENT_USER(), ' ', DATABASE())") == "sp_app@127.0.0.1 sp_db");
  CHECK(MariaDbCli(proxy.mysqlPort(), "sp_app", "wrong").expectError("SELECT 1").code == 1045);
}

TEST_CASE("mysql engine: client_tls_sslmode verify-ca needs a MySQL client's certificate",
          "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  Proxy proxy(mysqlConfig(primary.port(),
                          "client_tls_sslmode = \"verify-ca\"\nclient_tls_cert_file = \"" +
                              testCert("server.crt") + "\"\nclient_tls_key_file = \"" +
                              testCert("server.key") + "\"\nclient_tls_ca_file = \"" +
                              testCert("ca.crt") + "\""));
  auto cli = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {"mariadb", "--no-defaults", "-h", "127.0.0.1", "-P",
                                     std::to_string(proxy.mysqlPort()), "-u", "sp_app",
                                     "-p" + primary.value("SP_APP_PASSWORD"), "--ssl",
                                     "--ssl-ca=" + testCert("ca.crt")};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.end(), {"sp_db", "-N", "-B", "-e", "SELECT 1 + 1"});
    return runCommand(argv, {}, 30s);
  };
  auto withCert = cli({"--ssl-cert=" + testCert("client-sp_scram.crt"),
                       "--ssl-key=" + testCert("client-sp_scram.key")});
  INFO(withCert.all() << proxy.log());
  CHECK(withCert.exitCode == 0);
  CHECK(withCert.out == "2\n");
  auto without = cli({});
  INFO(without.all());
  CHECK(without.exitCode != 0);
  CHECK_FALSE(contains(without.out, "2"));
}
