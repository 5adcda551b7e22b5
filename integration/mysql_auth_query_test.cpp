// auth_query on a MySQL database (pooler/mysql/client_lookup.cpp): users that are not in
// [users] log in with the password MariaDB knows for them, looked up in mysql.user as
// auth_user; the proven SHA1 stage then logs the pool in to MariaDB as that user.
#include <catch2/catch.hpp>

#include <future>
#include <string>
#include <vector>

#include "integration/harness.h"
#include "integration/mariadb_client.h"

using namespace shardpool::integration;

namespace {

// A MariaDB user of the test's own, dropped at the end.
struct TempMysqlUser {
  MariaDbCli admin;
  std::string name;
  TempMysqlUser(MariaDbCli a, std::string n, const std::string& password)
      : admin(std::move(a)), name(std::move(n)) {
    for (const char* host : {"%", "127.0.0.1"})
      admin.run("CREATE USER '" + name + "'@'" + host + "' IDENTIFIED BY '" + password +
                "'; GRANT SELECT ON sp_db.* TO '" + name + "'@'" + host + "'");
  }
  void setPassword(const std::string& password) {
    for (const char* host : {"%", "127.0.0.1"})
      admin.run("ALTER USER '" + name + "'@'" + host + "' IDENTIFIED BY '" + password + "'");
  }
  ~TempMysqlUser() {
    admin.run("DROP USER IF EXISTS '" + name + "'@'%', '" + name + "'@'127.0.0.1'");
  }
};

}  // namespace

TEST_CASE("mysql auth_query: users not in [users] log in with the password MariaDB has for them",
          "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  MariaDbCli admin(primary.port(), "sp_admin", primary.value("SP_ADMIN_PASSWORD"));
  TempMysqlUser user(admin, "sp_lookup_" + uniqueSuffix(), "first_pw");
  Proxy proxy("[general]\nlisten_addr = \"127.0.0.1\"\nlisten_port = @LISTEN_PORT@\n"
              "mysql_listen_port = @MYSQL_LISTEN_PORT@\nlog_level = \"debug\"\n"
              "pool_mode = \"transaction\"\ndefault_pool_size = 2\n"
              "auth_query_cache_ttl = \"1h\"\n\n"
              "[databases.sp_db]\nprotocol = \"mysql\"\nhost = \"127.0.0.1\"\nport = " +
              std::to_string(primary.port()) +
              "\nauth_user = \"sp_admin\"\n\n[users.sp_admin]\npassword = \"" +
              primary.value("SP_ADMIN_PASSWORD") + "\"\n");
  auto as = [&](const std::string& password) {
    return MariaDbCli(proxy.mysqlPort(), user.name, password);
  };
  INFO(proxy.log());
  // Its own MariaDB user on the server, through transaction pooling.
  CHECK(as("first_pw").scalar("SELECT CURRENT_USER()") == user.name + "@127.0.0.1");
  // Several logins at once: one lookup answers them all, each gets its server.
  std::vector<std::future<std::string>> logins;
  for (int i = 0; i < 5; ++i)
    logins.push_back(std::async(std::launch::async, [&, i] {
      return as("first_pw").scalar("SELECT " + std::to_string(i) + " + 1");
    }));
  for (int i = 0; i < 5; ++i) CHECK(logins[static_cast<size_t>(i)].get() == std::to_string(i + 1));
  // A wrong password and a user MariaDB does not have fail alike, as MariaDB's 1045.
  MyError wrong = as("nope").expectError("SELECT 1");
  CHECK(wrong.code == 1045);
  MyError unknown =
      MariaDbCli(proxy.mysqlPort(), "sp_nobody_" + uniqueSuffix(), "x").expectError("SELECT 1");
  CHECK(unknown.code == 1045);
  CHECK(contains(unknown.message, "Access denied for user"));
  CHECK(proxy.logShows("looking the password up with auth_query as \"sp_admin\""));

  // A changed password: the cached hash fails the first login with the new one, which looks
  // the user up again for the next. (A failed login forgets the cached hash, so the user is
  // logged in, and its hash cached, once more first.)
  CHECK(as("first_pw").scalar("SELECT 6") == "6");
  user.setPassword("second_pw");
  MyError stale = as("second_pw").expectError("SELECT 1");
  CHECK(stale.code == 1045);
  CHECK(as("second_pw").scalar("SELECT 7") == "7");
  CHECK(as("first_pw").expectError("SELECT 1").code == 1045);
}

TEST_CASE("mysql auth_query: an auth_user that cannot log in fails the lookup clearly",
          "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  Proxy proxy("[general]\nlisten_addr = \"127.0.0.1\"\nlisten_port = @LISTEN_PORT@\n"
              "mysql_listen_port = @MYSQL_LISTEN_PORT@\nlog_level = \"info\"\n"
              "pool_mode = \"transaction\"\n\n"
              "[databases.sp_db]\nprotocol = \"mysql\"\nhost = \"127.0.0.1\"\nport = " +
              std::to_string(primary.port()) +
              "\nauth_user = \"sp_admin\"\n\n[users.sp_admin]\npassword = \"wrong\"\n");
  MyError e = MariaDbCli(proxy.mysqlPort(), "sp_app", primary.value("SP_APP_PASSWORD"))
                  .expectError("SELECT 1");
  INFO(proxy.log());
  CHECK(e.code == 1045);
  CHECK(contains(e.message, "password lookup failed for user 'sp_app'"));
  CHECK(proxy.logShows("password lookup (auth_query) failed: login refused"));
}

TEST_CASE("mysql auth_query and KILL run over TLS when the database's pools do",
          "[integration][mysql]") {
  // auth_user may log in over TLS only (REQUIRE SSL), to the mysql schema (auth_dbname): the
  // lookup works only through TLS. The
  // KILL's side connection logs in with the looked-up user's proven stage under sslmode
  // verify-full: a KILL that did not reach the server would leave the SLEEP running.
  const auto& primary = mariadbPrimary();
  REQUIRE(primary.value("MYSQL_SSL") == "1");
  MariaDbCli admin(primary.port(), "sp_admin", primary.value("SP_ADMIN_PASSWORD"));
  const std::string lookup = "sp_tls_lookup_" + uniqueSuffix();
  for (const char* host : {"%", "127.0.0.1"})
    admin.run("CREATE USER '" + lookup + "'@'" + host +
              "' IDENTIFIED BY 'tls_pw' REQUIRE SSL; GRANT SELECT ON mysql.* TO '" + lookup +
              "'@'" + host + "'");
  struct Drop {
    MariaDbCli& admin;
    std::string user;
    ~Drop() { admin.run("DROP USER IF EXISTS '" + user + "'@'%', '" + user + "'@'127.0.0.1'"); }
  } drop{admin, lookup};
  Proxy proxy("[general]\nlisten_addr = \"127.0.0.1\"\nlisten_port = @LISTEN_PORT@\n"
              "mysql_listen_port = @MYSQL_LISTEN_PORT@\nlog_level = \"info\"\n"
              "pool_mode = \"transaction\"\ndefault_pool_size = 2\n\n"
              "[databases.sp_db]\nprotocol = \"mysql\"\nhost = \"127.0.0.1\"\nport = " +
              std::to_string(primary.port()) + "\nsslmode = \"verify-full\"\nsslrootcert = \"" +
              testCert("ca.crt") + "\"\nauth_user = \"" + lookup +
              "\"\nauth_dbname = \"mysql\"\n\n[users." + lookup +
              "]\npassword = \"tls_pw\"\n");
  std::string script =
      "import pymysql, sys, threading, time\n"
      "def conn():\n"
      "    return pymysql.connect(host='127.0.0.1', port=int(sys.argv[1]), user='sp_app', "
      "password=sys.argv[2], database='sp_db', autocommit=True)\n"
      "a, b = conn(), conn()\n"
      "cur = a.cursor()\n"
      "cur.execute(\"SHOW SESSION STATUS LIKE 'Ssl_version'\")\n"
      "print('server TLS', cur.fetchall()[0][1].startswith('TLSv1.'))\n"
      "threading.Timer(0.5, lambda: b.cursor().execute('KILL QUERY %d' % a.thread_id())).start()\n"
      "t = time.time()\n"
      "try:\n"
      "    cur.execute('SELECT SLEEP(20)')\n"
      "    print('slept', cur.fetchall())\n"
      "except pymysql.MySQLError as e:\n"
      "    print('killed', e.args[0], 'in time' if time.time() - t < 5 else 'slow')\n";
  auto r = runCommand({"/usr/bin/python3", "-c", script, std::to_string(proxy.mysqlPort()),
                       primary.value("SP_APP_PASSWORD")},
                      {}, 60s);
  INFO(r.all() << proxy.log());
  CHECK(r.exitCode == 0);
  CHECK(contains(r.out, "server TLS True\n"));
  CHECK(contains(r.out, "killed 1317 in time\n"));
  CHECK(proxy.logShows("KILL QUERY"));
}
