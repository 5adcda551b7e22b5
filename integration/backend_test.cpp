// A backend that refuses connections, and one that accepts TCP but never answers.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "integration/harness.h"

using namespace shardpool::integration;

namespace {

// Runs one query as sp_scram through `proxy`; returns the error (at login or at the query).
PgError firstError(const Proxy& proxy, Ms timeout) {
  Conn c(proxy.conninfo("sp_scram", "scram_pass"), timeout);
  if (!c.ok()) return c.connectError();
  return c.expectError("select 1", timeout);
}

// A loopback socket that listens (the kernel completes handshakes) but never accepts or reads.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 64) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("SilentListener: cannot listen");
    }
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

std::string configWithBackendPort(uint16_t port, const std::string& generalExtra = "") {
  return generalSection(generalExtra) +
         "[databases.sp_db]\nhost = \"127.0.0.1\"\nport = " + std::to_string(port) +
         "\ndbname = \"sp_db\"\n\n" + userSection("sp_scram", "scram_pass");
}

}  // namespace

TEST_CASE("backend down: the client gets a class 08 error quickly", "[integration][backend]") {
  uint16_t deadPort = freePort();                // nothing listens there
  Proxy proxy(configWithBackendPort(deadPort));  // default server_connect_timeout (15 s)

  auto t0 = Clock::now();
  PgError err = firstError(proxy, 15s);
  auto elapsed = Clock::now() - t0;
  INFO("[" << err.sqlstate << "] " << err.message);
  CHECK(err.sqlstate.substr(0, 2) == "08");
  CHECK(elapsed < 5s);

  // The proxy itself is still alive and answers the next client the same way.
  CHECK(proxy.running());
  PgError again = firstError(proxy, 15s);
  CHECK(again.sqlstate.substr(0, 2) == "08");
}

TEST_CASE("backend never answers: server_connect_timeout bounds the wait",
          "[integration][backend]") {
  SilentListener silent;
  Proxy proxy(configWithBackendPort(silent.port(), "server_connect_timeout = \"1s\""));

  auto t0 = Clock::now();
  PgError err = firstError(proxy, 8s);
  auto elapsed = Clock::now() - t0;
  INFO("[" << err.sqlstate << "] " << err.message << " after "
           << std::chrono::duration_cast<Ms>(elapsed).count() << " ms");
  CHECK_FALSE(err.message.empty());
  CHECK_FALSE(contains(err.message, "timeout: connection not established"));  // harness timeout
  CHECK(elapsed >= 900ms);
  CHECK(elapsed < 3500ms);
  CHECK(proxy.running());
}
