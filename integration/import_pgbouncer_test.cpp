// `shardpool import-pgbouncer`: a pgbouncer.ini + userlist.txt written at run time for the test
// cluster is converted, the result runs as a real shardpool, and libpq logs in through it with
// passwords (md5 auth, as the ini says; plain and md5-hashed userlist entries).
#include <catch2/catch.hpp>

#include <libpq-fe.h>

#include <string>

#include "integration/harness.h"

using namespace shardpool::integration;

namespace {

// "md5" + md5(password + user), as PgBouncer's userlist and pg_authid store it.
std::string md5Stored(const std::string& user, const std::string& password) {
  char* hashed = PQencryptPassword(password.c_str(), user.c_str());
  REQUIRE(hashed != nullptr);
  std::string out(hashed);
  PQfreemem(hashed);
  return out;
}

// Lines 14 and 16 have no equivalent in shardpool; line 15 is the clients' unix socket.
constexpr const char* kIni = R"(; written by integration/import_pgbouncer_test.cpp
[databases]
sp_db = host=127.0.0.1 port=@PGPORT@ dbname=sp_db
forced = host=127.0.0.1 port=@PGPORT@ dbname=sp_db user=sp_md5

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = @INI_PORT@
auth_type = md5
auth_file = userlist.txt
pool_mode = transaction
default_pool_size = 4
admin_users = sp_scram
logfile = /var/log/pgbouncer/pgbouncer.log
unix_socket_dir = @UNIX_DIR@
tcp_keepalive = 1
)";

std::string pgbouncerIni(uint16_t listenPort, const std::string& unixDir) {
  std::string text = substitute(kIni, 0);
  for (auto [name, value] :
       {std::pair<std::string_view, std::string>{"@INI_PORT@", std::to_string(listenPort)},
        {"@UNIX_DIR@", unixDir}}) {
    size_t at = text.find(name);
    REQUIRE(at != std::string::npos);
    text.replace(at, name.size(), value);
  }
  return text;
}

}  // namespace

TEST_CASE("import-pgbouncer: the converted config serves libpq clients with passwords",
          "[integration][import-pgbouncer]") {
  TempDir dir;
  uint16_t iniPort = freePort();
  std::string ini = dir.write("pgbouncer.ini", pgbouncerIni(iniPort, dir.path()));
  dir.write("userlist.txt", "\"sp_scram\" \"scram_pass\"\n\"sp_md5\" \"" +
                                md5Stored("sp_md5", "md5_pass") + "\"\n");
  std::string out = dir.path() + "/shardpool.toml";

  // auth_file is found next to the ini, whatever the working directory.
  auto r = runCommand({shardpoolBin(), "import-pgbouncer", ini, "-o", out}, {}, 20s);
  INFO(r.all());
  REQUIRE(r.exitCode == 0);
  CHECK(r.out.empty());  // the config went to the file, the notes to stderr
  CHECK(contains(r.err, ini + ":14: logfile: no equivalent in shardpool"));
  CHECK(contains(r.err, ini + ":16: tcp_keepalive: no equivalent in shardpool"));
  CHECK(contains(r.err, "wrote " + out + " (2 database(s), 2 user(s), 2 note(s))"));

  std::string toml = readFile(out);
  INFO(toml);
  CHECK(contains(toml, "listen_port = " + std::to_string(iniPort)));
  CHECK(contains(toml, "#   " + ini + ":14: logfile:"));

  // The ini's port was free a moment ago; the harness waits on a port it picked itself.
  Proxy proxy(toml, {"--set", "general.listen_port=@LISTEN_PORT@"});

  // sp_scram: plain password in the userlist, md5 towards the client, SCRAM to the server.
  Conn scram(proxy.conninfo("sp_scram", "scram_pass"));
  INFO(scram.connectError().sqlstate << " " << scram.connectError().message);
  REQUIRE(scram.ok());
  CHECK(scram.scalar("select current_user") == "sp_scram");
  CHECK(scram.scalar("select 20 + 22") == "42");
  // PgBouncer's unix socket, where psql -h DIR finds it.
  Conn unixClient("host=" + dir.path() + " port=" + std::to_string(proxy.port()) +
                  " dbname=sp_db user=sp_scram password=scram_pass");
  REQUIRE(unixClient.ok());
  CHECK(unixClient.scalar("select 1") == "1");

  // sp_md5: an md5 hash in the userlist checks the client and logs in to the server.
  Conn md5(proxy.conninfo("sp_md5", "md5_pass"));
  INFO(md5.connectError().sqlstate << " " << md5.connectError().message);
  REQUIRE(md5.ok());
  CHECK(md5.scalar("select current_user") == "sp_md5");

  // A database with a forced user takes that user's password from the userlist.
  Conn forced(proxy.conninfo("sp_scram", "scram_pass", "forced"));
  INFO(forced.connectError().sqlstate << " " << forced.connectError().message);
  REQUIRE(forced.ok());
  CHECK(forced.scalar("select current_user") == "sp_md5");
  CHECK(forced.scalar("select current_database()") == "sp_db");

  // Wrong passwords and unknown users are refused.
  Conn wrong(proxy.conninfo("sp_scram", "not_the_password"));
  CHECK_FALSE(wrong.ok());
  CHECK(wrong.connectError().sqlstate == "28P01");
  Conn stranger(proxy.conninfo("sp_clear", "clear_pass"));
  CHECK_FALSE(stranger.ok());
}

TEST_CASE("import-pgbouncer: stdout, userlist argument and exit codes",
          "[integration][import-pgbouncer]") {
  TempDir dir;
  std::string ini =
      dir.write("pgbouncer.ini",
                "[databases]\napp = host=127.0.0.1 port=5432\n[pgbouncer]\nlisten_addr = *\n"
                "auth_type = scram-sha-256\nauth_file = /nonexistent/userlist.txt\n");
  std::string userlist = dir.write("users.txt", "\"alice\" \"secret\"\n");

  auto r = runCommand({shardpoolBin(), "import-pgbouncer", ini, userlist}, {}, 20s);
  INFO(r.all());
  REQUIRE(r.exitCode == 0);
  CHECK(
      contains(r.out, "# shardpool configuration generated by `shardpool import-pgbouncer` from " +
                          ini + " and " + userlist));
  CHECK(contains(r.out, "[users.alice]"));
  CHECK(contains(r.out, "listen_addr = '0.0.0.0'"));
  CHECK(contains(r.err, ini + ":4: listen_addr: \"*\""));
  CHECK_FALSE(contains(r.err, "/nonexistent"));  // the given userlist wins over auth_file

  // Without the userlist argument, the unreadable auth_file is a note, not a failure.
  auto noList = runCommand({shardpoolBin(), "import-pgbouncer", ini}, {}, 20s);
  INFO(noList.all());
  CHECK(noList.exitCode == 0);
  CHECK(contains(noList.err, ini + ":6: auth_file: cannot read \"/nonexistent/userlist.txt\""));

  struct Failure {
    std::vector<std::string> args;
    int exitCode;
    std::string message;
  };
  std::string notIni = dir.write("notes.txt", "hello\n");
  const Failure failures[] = {
      {{}, 2, "no pgbouncer.ini given"},
      {{ini, userlist, "third"}, 2, "unexpected argument \"third\""},
      {{ini, "--frobnicate"}, 2, "unknown option \"--frobnicate\""},
      {{ini, "-o"}, 2, "-o needs a file"},
      {{dir.path() + "/missing.ini"}, 1, "cannot read " + dir.path() + "/missing.ini"},
      {{ini, dir.path() + "/missing.txt"}, 1, "cannot read " + dir.path() + "/missing.txt"},
      {{notIni}, 1, "not a PgBouncer configuration"},
      {{ini, "-o", dir.path() + "/no/such/dir/out.toml"}, 1, "cannot write"},
  };
  for (const auto& f : failures) {
    std::vector<std::string> argv{shardpoolBin(), "import-pgbouncer"};
    argv.insert(argv.end(), f.args.begin(), f.args.end());
    auto failed = runCommand(argv, {}, 20s);
    INFO(failed.all());
    CHECK(failed.exitCode == f.exitCode);
    CHECK(contains(failed.err, f.message));
  }

  auto help = runCommand({shardpoolBin(), "--help"}, {}, 20s);
  CHECK(
      contains(help.out, "shardpool import-pgbouncer pgbouncer.ini [userlist.txt] [-o out.toml]"));
}
