// The MySQL engine's client login (MysqlClientLogin) against the real mariadb-admin client: a
// loopback server of the test's own logs it in, then answers COM_PING and COM_QUIT, which is all
// `mariadb-admin ping` sends.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "integration/harness.h"
#include "pooler/auth/mysql_auth.h"
#include "pooler/mysql/client_login.h"
#include "pooler/protocol/mysql_results.h"

using namespace shardpool::integration;
using shardpool::pooler::MysqlClientLogin;
namespace my = shardpool::protocol::mysql;

namespace {

constexpr uint8_t kComQuit = 0x01;
constexpr uint8_t kComPing = 0x0e;

// Accepts one client on a loopback port and serves it in a thread until it quits or stops
// answering; what happened is read after finish().
class PingServer {
 public:
  explicit PingServer(std::string password) : password_(std::move(password)) {
    listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(::bind(listenFd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listenFd_, 1) == 0);
    REQUIRE(::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~PingServer() {
    finish();
    ::close(listenFd_);
  }
  uint16_t port() const { return port_; }
  void finish() {
    if (thread_.joinable()) thread_.join();
  }

  MysqlClientLogin::Status status = MysqlClientLogin::Status::Malformed;
  std::string user, database, reason;
  int pings = 0;
  bool quit = false;

 private:
  void serve() {
    pollfd p{listenFd_, POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1) return;
    fd_ = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd_ < 0) return;
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    MysqlClientLogin login(shardpool::pooler::auth::mysqlScramble(), 1, "127.0.0.1");
    my::Writer out;
    login.greet(out, "5.5.5-10.11.0-shardpool-test");
    send(out);
    my::PacketFrame f;
    status = MysqlClientLogin::Status::Continue;
    while (status == MysqlClientLogin::Status::Continue && read(f)) {
      status = login.onPacket(f.payload, f.sequenceId, out);
      if (status == MysqlClientLogin::Status::Identified) status = login.verify(password_, out);
      send(out);
      consume(f);
    }
    user = login.user();
    database = login.database();
    reason = login.reason();
    while (status == MysqlClientLogin::Status::Accepted && read(f) && !f.payload.empty()) {
      uint8_t command = f.payload[0];
      consume(f);
      if (command == kComQuit) {
        quit = true;
        break;
      }
      if (command == kComPing) ++pings;
      my::putOk(out, 1, my::OkPacket{.statusFlags = my::kServerStatusAutocommit},
                login.capabilities());
      send(out);
    }
    ::close(fd_);
  }
  bool read(my::PacketFrame& f) {
    for (;;) {
      f = my::framePacket(my::asBytes(in_));
      if (f.status == my::FrameStatus::Ok) return true;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return false;
      in_.append(buf, size_t(n));
    }
  }
  void consume(const my::PacketFrame& f) { in_.erase(0, f.totalSize); }
  void send(my::Writer& out) {
    std::string bytes = out.take();
    if (!bytes.empty()) (void)!::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  }

  std::string password_;
  int listenFd_ = -1;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::string in_;
  std::thread thread_;
};

CommandResult ping(uint16_t port, const std::string& user, const std::string& password) {
  return runCommand(
      {"mariadb-admin", "--no-defaults", "--protocol=tcp", "-h", "127.0.0.1", "-P",
       std::to_string(port), "-u", user, "--password=" + password, "--connect-timeout=5", "ping"},
      {}, 20s);
}

}  // namespace

TEST_CASE("MysqlClientLogin logs in the mariadb-admin client", "[integration][mysql]") {
  SECTION("the right password, in plaintext") {
    PingServer server("app_secret");
    auto r = ping(server.port(), "alice", "app_secret");
    server.finish();
    CHECK(r.exitCode == 0);
    CHECK(contains(r.out, "is alive"));
    CHECK(server.status == MysqlClientLogin::Status::Accepted);
    CHECK(server.user == "alice");
    CHECK(server.pings == 1);
    CHECK(server.quit);
  }
  SECTION("the right password, as mysql.user keeps it") {
    namespace auth = shardpool::pooler::auth;
    PingServer server(auth::formatMysqlNativeStored(auth::mysqlNativeStage2("app_secret")));
    auto r = ping(server.port(), "alice", "app_secret");
    server.finish();
    CHECK(r.exitCode == 0);
    CHECK(server.status == MysqlClientLogin::Status::Accepted);
  }
  SECTION("a wrong password: the client shows ERR 1045") {
    PingServer server("app_secret");
    auto r = ping(server.port(), "alice", "wrong");
    server.finish();
    // `ping` exits 0 whenever a server answered, even to refuse the login.
    CHECK_FALSE(r.timedOut);
    CHECK_FALSE(contains(r.out, "is alive"));
    CHECK(contains(r.err, "Access denied for user 'alice'@'127.0.0.1' (using password: YES)"));
    CHECK(server.status == MysqlClientLogin::Status::Refused);
    CHECK(server.reason == "password mismatch");
    CHECK(server.pings == 0);
  }
}
