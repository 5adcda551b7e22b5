// When one end of a pooled pair goes away, the other end is cleaned up at once and the pool
// serves the next client: a client that leaves with a message half sent, a backend that dies, a
// client that vanishes while its query runs. Each runs with pool_size = 1, so a server left in a
// bad state would be the very one the next client gets.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "integration/harness.h"
#include "integration/raw_socket.h"

using namespace shardpool::integration;

namespace {

constexpr const char* kTrustUser = "sp_trust";

std::string onePoolConfig(const std::string& mode, const std::string& extra = "") {
  return generalSection("pool_mode = \"" + mode + "\"\ndefault_pool_size = 1\n" + extra) +
         clusterDatabase() + "[users." + kTrustUser + "]\nauth_type = \"trust\"\n\n";
}

// Logs a raw client in as the trust user, up to its first ReadyForQuery.
void logIn(RawSocket& s) {
  REQUIRE(s.send(wire::startup({{"user", kTrustUser}, {"database", "sp_db"}})));
  REQUIRE(s.readUntilMessage('Z', 10s) == RawSocket::End::Matched);
}

std::string trustConninfo(Proxy& proxy) {
  return "host=127.0.0.1 port=" + std::to_string(proxy.port()) + " dbname=sp_db user=" +
         kTrustUser + " connect_timeout=10";
}

// Active backends running a query that contains `marker`, seen directly on the cluster.
int activeWith(const std::string& marker) {
  Conn admin = adminConn();
  return std::stoi(admin.scalar(
      "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%" + marker +
      "%' AND pid <> pg_backend_pid()"));
}

}  // namespace

TEST_CASE("dead peers: a client that leaves in the middle of a message does not wedge its server",
          "[integration][dead-peer]") {
  // CopyData is passed on as it arrives, so half of one reaches the backend; whatever is sent
  // next (the reset query, the next client's query) would be read as the rest of it.
  auto [mode, extra] = GENERATE(std::pair<std::string, std::string>{"session", ""},
                                std::pair<std::string, std::string>{"transaction", ""},
                                std::pair<std::string, std::string>{"session",
                                                                    "server_reset_query = \"\""});
  INFO("pool_mode " << mode << " " << extra);
  Proxy proxy(onePoolConfig(mode, extra));
  for (int round = 0; round < 2; ++round) {
    {
      RawSocket s(proxy.port());
      logIn(s);
      REQUIRE(s.send(wire::messageWithLength('d', 4 + 1000, std::string(10, 'x'))));
      std::this_thread::sleep_for(300ms);  // the ten bytes reach the backend
    }  // the client goes away with 990 bytes of its message missing
    Conn next(trustConninfo(proxy), 10s);
    REQUIRE(next.ok());
    CHECK(next.scalar("select 41 + 1", 10s) == "42");
  }
  CHECK(proxy.log().find("client disconnected in the middle of a message") != std::string::npos);
}

TEST_CASE("dead peers: a backend that dies frees its pool slot at once",
          "[integration][dead-peer]") {
  Proxy proxy(onePoolConfig("transaction"));
  Conn a(trustConninfo(proxy), 10s);
  REQUIRE(a.ok());
  for (int round = 0; round < 3; ++round) {
    std::string pid = a.scalar("select pg_backend_pid()");
    Conn admin = adminConn();
    REQUIRE(admin.scalar("select pg_terminate_backend(" + pid + ")") == "t");
    std::this_thread::sleep_for(300ms);  // shardpool sees the idle server's EOF
    // The only slot is free already: the next transaction gets a new backend at once instead of
    // waiting for a goodbye from a backend that is gone.
    auto start = std::chrono::steady_clock::now();
    CHECK(a.scalar("select 1") == "1");
    auto took = std::chrono::steady_clock::now() - start;
    INFO("round " << round << ": took "
                  << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
    CHECK(took < 1500ms);
  }
}

TEST_CASE("dead peers: the query of a client that vanished is cancelled",
          "[integration][dead-peer]") {
  auto mode = GENERATE(std::string("session"), std::string("transaction"));
  INFO("pool_mode " << mode);
  Proxy proxy(onePoolConfig(mode));
  std::string marker = "dead_peer_sleep_" + std::to_string(::getpid()) + "_" + mode;
  {
    RawSocket s(proxy.port());
    logIn(s);
    REQUIRE(s.send(wire::query("select pg_sleep(60) /* " + marker + " */")));
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (activeWith(marker) == 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(50ms);
    REQUIRE(activeWith(marker) == 1);
  }  // the client vanishes mid-query
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (activeWith(marker) > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(100ms);
  CHECK(activeWith(marker) == 0);  // cancelled, not left sleeping with its locks for a minute
  Conn next(trustConninfo(proxy), 10s);
  REQUIRE(next.ok());
  CHECK(next.scalar("select 1", 10s) == "1");
}

TEST_CASE("dead peers: a client that leaves after an extended-protocol error without a Sync",
          "[integration][dead_peer]") {
  // The server then ignores everything until a Sync, the reset query included: it must not be
  // reused (before, with pool_size 1 the next client waited for server_connect_timeout).
  Proxy proxy(standardConfig("pool_mode = \"session\"\ndefault_pool_size = 1\n"
                             "query_wait_timeout = \"30s\""));
  {
    Conn c(proxy.conninfo("sp_scram", "scram_pass"));
    REQUIRE(c.ok());
    REQUIRE(PQenterPipelineMode(c.get()) == 1);
    REQUIRE(PQsendPrepare(c.get(), "bad", "select nonsense from nowhere", 0, nullptr) == 1);
    REQUIRE(PQsendFlushRequest(c.get()) == 1);
    REQUIRE(PQflush(c.get()) == 0);
    REQUIRE(c.waitReadable(5s));  // the error has arrived; no Sync was ever sent
    std::this_thread::sleep_for(100ms);
  }
  auto t0 = Clock::now();
  Conn next(proxy.conninfo("sp_scram", "scram_pass"), 20s);
  REQUIRE(next.ok());
  CHECK(next.scalar("select 42", 20s) == "42");
  CHECK(Clock::now() - t0 < 3s);
}

namespace {
// A "backend" that accepts, reads the startup packet and resets the connection (RST).
class ResettingBackend {
 public:
  ResettingBackend() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(fd_, 64) != 0)
      throw std::runtime_error("fake backend: listen failed");
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        char buf[512];
        (void)::recv(c, buf, sizeof buf, 0);
        linger l{1, 0};
        ::setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        ::close(c);
      }
    });
  }
  ~ResettingBackend() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};
}  // namespace

TEST_CASE("dead peers: a backend that resets the connection while logging in frees its slot",
          "[integration][dead-peer]") {
  // Before: the reset connect still said goodbye (Terminate) and held its slot for 30 s waiting
  // for an EOF that never came; with pool_size 1 the next client waited out query_wait_timeout.
  ResettingBackend backend;
  Proxy proxy(generalSection("pool_mode = \"transaction\"\ndefault_pool_size = 1\n"
                             "query_wait_timeout = \"8s\"") +
              "[databases.sp_db]\nhost = \"127.0.0.1\"\nport = " +
              std::to_string(backend.port()) + "\ndbname = \"sp_db\"\n\n[users." + kTrustUser +
              "]\nauth_type = \"trust\"\n\n");
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto t0 = Clock::now();
    Conn c(trustConninfo(proxy), 20s);
    auto took = Clock::now() - t0;
    INFO("attempt " << attempt << ": " << c.connectError().sqlstate << " "
                    << c.connectError().message);
    CHECK_FALSE(c.ok());
    CHECK(c.connectError().sqlstate == "08006");
    CHECK(took < 3s);
  }
}
