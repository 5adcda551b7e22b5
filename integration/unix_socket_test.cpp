// The clients' unix socket (unix_socket_dir, unix_socket_mode, unix_socket_group): libpq and psql
// with host=DIR, admin users admitted by peer credentials, a stale socket file replaced, and the
// socket handed to a newer process by --takeover.
#include <catch2/catch.hpp>

#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "integration/harness.h"

using namespace shardpool::integration;

namespace {

std::string osUser() {
  const passwd* pw = ::getpwuid(::geteuid());
  if (pw == nullptr) throw std::runtime_error("no name for this process's user");
  return pw->pw_name;
}

std::string unixConfig(const std::string& dir, const std::string& extra = "") {
  return generalSection("unix_socket_dir = \"" + dir + "\"\nadmin_users = [\"" + osUser() +
                        "\", \"sp_admin\"]\n" + extra) +
         clusterDatabase() + userSection("sp_scram", "scram_pass") +
         userSection("sp_admin", "admin_pass");
}

std::string viaSocket(const std::string& dir, uint16_t port, const std::string& user,
                      const std::string& db, const std::string& password = "") {
  std::string c =
      "host=" + dir + " port=" + std::to_string(port) + " dbname=" + db + " user=" + user;
  return password.empty() ? c : c + " password=" + password;
}

std::string socketFile(const std::string& dir, uint16_t port) {
  return dir + "/.s.PGSQL." + std::to_string(port);
}

bool isSocket(const std::string& path, mode_t* mode = nullptr) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
  if (mode) *mode = st.st_mode & 0777;
  return true;
}

}  // namespace

TEST_CASE("unix socket: clients connect with host=DIR, admin users by peer credentials",
          "[integration][unix_socket]") {
  TempDir dir;
  std::string path;
  {
    Proxy proxy(unixConfig(dir.path(), "unix_socket_mode = \"0770\""));
    path = socketFile(dir.path(), proxy.port());
    mode_t mode = 0;
    REQUIRE(isSocket(path, &mode));
    CHECK(mode == 0770);

    Conn app(viaSocket(dir.path(), proxy.port(), "sp_scram", "sp_db", "scram_pass"));
    REQUIRE(app.ok());
    CHECK(app.scalar("SELECT 1") == "1");
    auto psql =
        runCommand({"psql", "-X", "-At", "-h", dir.path(), "-p", std::to_string(proxy.port()), "-U",
                    "sp_scram", "-d", "sp_db", "-c", "SELECT 'via psql'"},
                   clientEnv("scram_pass"));
    CHECK(psql.exitCode == 0);
    CHECK(contains(psql.out, "via psql"));

    // The OS user named in admin_users needs no password over the socket (and has none)...
    Conn admin(viaSocket(dir.path(), proxy.port(), osUser(), "pgbouncer"));
    REQUIRE(admin.ok());
    auto rows = admin.query("SHOW CLIENTS");
    CHECK(rows.size() >= 2);
    admin.query("RECONNECT");  // an admin command, not only SHOW
    auto psqlAdmin =
        runCommand({"psql", "-X", "-At", "-h", dir.path(), "-p", std::to_string(proxy.port()), "-U",
                    osUser(), "-d", "pgbouncer", "-c", "SHOW VERSION"},
                   {{"PGCONNECT_TIMEOUT", "10"}});
    CHECK(psqlAdmin.exitCode == 0);
    CHECK(contains(psqlAdmin.out, "shardpool"));
    // ...nor does "pgbouncer" from shardpool's own OS user, as in PgBouncer.
    Conn pgbouncer(viaSocket(dir.path(), proxy.port(), "pgbouncer", "pgbouncer"));
    REQUIRE(pgbouncer.ok());
    pgbouncer.query("RECONNECT");
    CHECK(contains(proxy.log(), "admitted by peer credentials"));

    // Not over TCP, and not for another name than the OS user's.
    Conn tcp("host=127.0.0.1 port=" + std::to_string(proxy.port()) +
             " dbname=pgbouncer user=" + osUser());
    CHECK_FALSE(tcp.ok());
    Conn other(viaSocket(dir.path(), proxy.port(), "sp_admin", "pgbouncer"));
    CHECK_FALSE(other.ok());
    Conn otherWithPassword(
        viaSocket(dir.path(), proxy.port(), "sp_admin", "pgbouncer", "admin_pass"));
    CHECK(otherWithPassword.ok());
    // An ordinary database is not opened by peer credentials.
    Conn noPassword(viaSocket(dir.path(), proxy.port(), osUser(), "sp_db"));
    CHECK_FALSE(noPassword.ok());
  }
  CHECK_FALSE(isSocket(path));  // removed at exit
}

TEST_CASE("unix socket: a stale socket file is replaced, a live one is an error",
          "[integration][unix_socket]") {
  TempDir dir;
  uint16_t port = freePort();
  std::string path = socketFile(dir.path(), port);
  {  // a socket file whose process is gone
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path.c_str());
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    ::close(fd);
  }
  REQUIRE(isSocket(path));
  Proxy first(unixConfig(dir.path()), {}, port);
  Conn app(viaSocket(dir.path(), port, "sp_scram", "sp_db", "scram_pass"));
  REQUIRE(app.ok());

  // A second process on the same port (SO_REUSEPORT lets it bind TCP) must not steal the file.
  Proxy second(unixConfig(dir.path()), {}, port);
  auto status = second.waitExit(10s);
  REQUIRE(status.has_value());
  CHECK(*status == 1);
  CHECK(contains(second.log(), "is in use by another process"));
  CHECK(isSocket(path));
  Conn again(viaSocket(dir.path(), port, "sp_scram", "sp_db", "scram_pass"));
  CHECK(again.ok());
}

TEST_CASE("unix socket: --takeover hands the unix socket to the new process",
          "[integration][unix_socket][takeover]") {
  TempDir dir;
  std::string config =
      unixConfig(dir.path(), "workers = 2\ntakeover_socket = \"" + dir.path() + "/t.sock\"");
  auto first = std::make_unique<Proxy>(config);
  uint16_t port = first->port();
  std::string path = socketFile(dir.path(), port);
  Proxy second(config, {"--takeover"}, port);
  auto status = first->waitExit(10s);
  REQUIRE(status.has_value());
  CHECK(*status == 0);
  first.reset();
  CHECK(contains(second.log(), "takeover: received"));
  REQUIRE(isSocket(path));  // the old process left the file to the new one
  Conn app(viaSocket(dir.path(), port, "sp_scram", "sp_db", "scram_pass"));
  REQUIRE(app.ok());
  CHECK(app.scalar("SELECT 1") == "1");
  CHECK(contains(second.log(), "login complete"));
  Conn admin(viaSocket(dir.path(), port, osUser(), "pgbouncer"));
  CHECK(admin.ok());
}
