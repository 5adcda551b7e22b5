// Before a client is authenticated it may cost shardpool only what logging in needs: its
// messages are bounded by what PostgreSQL itself accepts at that stage, and a login that stalls
// is closed after client_login_timeout, giving its max_client_conn slot back.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "integration/harness.h"
#include "integration/raw_socket.h"

using namespace shardpool::integration;

namespace {

// The first ErrorResponse's SQLSTATE and message in what a raw client received.
std::pair<std::string, std::string> firstError(const std::string& received) {
  for (const auto& m : wire::parseMessages(received))
    if (m.type == 'E') return {wire::errorField(m.body, 'C'), wire::errorField(m.body, 'M')};
  return {};
}

}  // namespace

TEST_CASE("login limits: an oversized authentication message is refused on its header",
          "[integration][login-limits]") {
  Proxy proxy(standardConfig());
  RawSocket s(proxy.port());
  REQUIRE(s.send(wire::startup({{"user", "sp_scram"}, {"database", "sp_db"}})));
  // AuthenticationSASL ('R') comes first; then a SASLInitialResponse that claims 128 MiB.
  REQUIRE(s.readUntilMessage('R', 5s) == RawSocket::End::Matched);
  REQUIRE(s.send(wire::messageWithLength('p', 128u << 20, std::string(1024, 'a'))));
  auto end = s.readToClose(5s);
  INFO("received " << s.received().size() << " bytes");
  CHECK((end == RawSocket::End::Closed || end == RawSocket::End::Reset));
  auto [sqlstate, message] = firstError(s.received());
  CHECK(sqlstate == "08P01");
  CHECK_THAT(message, Catch::Contains("authentication message too long"));
  Conn c(proxy.conninfo("sp_scram", "scram_pass"), 10s);
  REQUIRE(c.ok());
  CHECK(c.scalar("select 1") == "1");
}

TEST_CASE("login limits: stalled logins are closed after client_login_timeout",
          "[integration][login-limits]") {
  Proxy proxy(standardConfig("max_client_conn = 2\nclient_login_timeout = \"1s\""));
  // Two clients that start to log in and never answer the password request hold both slots.
  RawSocket a(proxy.port()), b(proxy.port());
  for (RawSocket* s : {&a, &b}) {
    REQUIRE(s->send(wire::startup({{"user", "sp_scram"}, {"database", "sp_db"}})));
    REQUIRE(s->readUntilMessage('R', 5s) == RawSocket::End::Matched);
  }
  {
    Conn refused(proxy.conninfo("sp_scram", "scram_pass"), 10s);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.connectError().sqlstate == "53300");
  }
  // Within the timeout (plus the worker's tick) both are closed with an error that says why.
  for (RawSocket* s : {&a, &b}) {
    auto end = s->readToClose(5s);
    CHECK((end == RawSocket::End::Closed || end == RawSocket::End::Reset));
    auto [sqlstate, message] = firstError(s->received());
    CHECK(sqlstate == "08P01");
    CHECK_THAT(message, Catch::Contains("client_login_timeout"));
  }
  Conn c(proxy.conninfo("sp_scram", "scram_pass"), 10s);
  REQUIRE(c.ok());
  CHECK(c.scalar("select 1") == "1");
  // A client that logged in is not subject to it.
  std::this_thread::sleep_for(1500ms);
  CHECK(c.scalar("select 2") == "2");
}

namespace {

// The SCRAM salt shardpool shows `user` (its server-first-message's s= attribute), or the
// SQLSTATE of the error it answered instead, prefixed with "error:".
std::string scramSalt(Proxy& proxy, const std::string& user, const std::string& clientFirst) {
  RawSocket s(proxy.port());
  REQUIRE(s.send(wire::startup({{"user", user}, {"database", "sp_db"}})));
  REQUIRE(s.readUntilMessage('R', 5s) == RawSocket::End::Matched);
  size_t seen = s.received().size();
  std::string body = std::string("SCRAM-SHA-256") + '\0' + wire::be32(uint32_t(clientFirst.size())) +
                     clientFirst;
  REQUIRE(s.send(wire::message('p', body)));
  auto end = s.readUntil(
      [&](std::string_view in) {
        for (const auto& m : wire::parseMessages(in.substr(seen)))
          if (m.type == 'R' || m.type == 'E') return true;
        return false;
      },
      5s);
  REQUIRE(end == RawSocket::End::Matched);
  for (const auto& m : wire::parseMessages(std::string_view(s.received()).substr(seen))) {
    if (m.type == 'E') return "error:" + wire::errorField(m.body, 'C');
    if (m.type == 'R' && m.body.size() > 4) {
      std::string data = m.body.substr(4);  // after the AuthenticationSASLContinue code
      size_t at = data.find(",s=");
      if (at == std::string::npos) return "no salt in " + data;
      return data.substr(at + 3, data.find(',', at + 3) - at - 3);
    }
  }
  return "no answer";
}

}  // namespace

TEST_CASE("login limits: unknown user names cannot be told from real ones by their SCRAM salt",
          "[integration][login-limits]") {
  Proxy proxy(standardConfig());
  const std::string first = "n,,n=,r=fyko+d2lbbFgONRv9qkxdawL";
  std::string realA = scramSalt(proxy, "sp_scram", first);
  std::string realB = scramSalt(proxy, "sp_scram", first);
  std::string unknownA1 = scramSalt(proxy, "sp_nobody_a", first);
  std::string unknownA2 = scramSalt(proxy, "sp_nobody_a", first);
  std::string unknownB = scramSalt(proxy, "sp_nobody_b", first);
  INFO(realA << " " << realB << " " << unknownA1 << " " << unknownA2 << " " << unknownB);
  REQUIRE(realA.rfind("error:", 0) != 0);
  // Like a real user, an unknown name keeps its salt from one login to the next, and two unknown
  // names have different salts: nothing sets them apart from real users.
  CHECK(realA == realB);
  CHECK(unknownA1 == unknownA2);
  CHECK(unknownA1 != unknownB);
  CHECK(unknownA1 != realA);
  CHECK(unknownA1.size() == realA.size());
}

TEST_CASE("login limits: a malformed SASL message is a protocol violation (08P01)",
          "[integration][login-limits]") {
  Proxy proxy(standardConfig());
  CHECK(scramSalt(proxy, "sp_scram", "this is not SCRAM") == "error:08P01");
  CHECK(scramSalt(proxy, "sp_nobody", "this is not SCRAM") == "error:08P01");
  Conn c(proxy.conninfo("sp_scram", "scram_pass"), 10s);
  REQUIRE(c.ok());
}

TEST_CASE("login limits: running out of file descriptors is logged, and serving resumes",
          "[integration][login-limits]") {
  Proxy proxy(standardConfig("max_client_conn = 500"));
  CHECK(proxy.log().find("open files limit: ") != std::string::npos);  // said at start
  // Lower the running proxy's limit so that a few dozen sockets exhaust it.
  auto r = runShell("prlimit --pid " + std::to_string(proxy.pid()) + " --nofile=48:48");
  REQUIRE(r.exitCode == 0);
  std::this_thread::sleep_for(1200ms);  // the workers re-read the limit every second
  {
    std::vector<std::unique_ptr<RawSocket>> hogs;
    for (int i = 0; i < 80; ++i) {
      try {
        hogs.push_back(std::make_unique<RawSocket>(proxy.port(), 2s));
      } catch (const std::exception&) {
        break;
      }
    }
    std::this_thread::sleep_for(500ms);
    // Said before libuv starts dropping connections silently (or when accept itself fails).
    std::string log = proxy.log();
    CHECK((log.find("open files nearly exhausted") != std::string::npos ||
           log.find("accept failed: too many open files") != std::string::npos));
  }  // the sockets close, freeing the descriptors
  std::this_thread::sleep_for(500ms);
  Conn c(proxy.conninfo("sp_scram", "scram_pass"), 10s);
  REQUIRE(c.ok());
  CHECK(c.scalar("select 1") == "1");
}
