// Host lists (host = "a,b,c", PgBouncer's host=a,b,c): a new server connection tries the hosts
// from the one load_balance_hosts picks, and moves on past those it cannot reach.
#include <catch2/catch.hpp>

#include <vector>

#include "integration/harness.h"

using namespace shardpool::integration;

namespace {

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string hostListConfig(const std::string& hosts, const std::string& ports,
                           const std::string& extra = "") {
  return generalSection() + "[databases.sp_db]\nhost = " + hosts + "\nport = " + ports +
         "\ndbname = \"sp_db\"\n" + extra + "\n\n" + userSection("sp_scram", "scram_pass");
}

// `n` clients at once in session pooling: `n` servers, each opened anew.
void openServers(Proxy& proxy, int n, const std::string& expect) {
  std::vector<Conn> clients;
  for (int i = 0; i < n; ++i) {
    clients.emplace_back(proxy.conninfo("sp_scram", "scram_pass"));
    REQUIRE(clients.back().ok());
    CHECK(clients.back().scalar("SELECT coalesce(inet_server_port()::text, 'unix')") == expect);
  }
}

const std::string kNextHost = "trying the next host of the list";

}  // namespace

TEST_CASE("host lists: a first host that is down is skipped", "[integration][hosts]") {
  uint16_t closed = freePort();  // nothing listens there
  std::string pg = std::to_string(pgPort());

  SECTION("round-robin (the default): every other new server starts at the dead host") {
    Proxy proxy(
        hostListConfig("\"127.0.0.1,127.0.0.1\"", "\"" + std::to_string(closed) + "," + pg + "\""));
    openServers(proxy, 4, pg);
    CHECK(occurrences(proxy.log(), kNextHost) == 2);
    CHECK(contains(proxy.log(), "could not connect to 127.0.0.1:" + std::to_string(closed)));
  }
  SECTION("load_balance_hosts = disable: the host that worked stays first") {
    Proxy proxy(hostListConfig("\"127.0.0.1,127.0.0.1\"",
                               "[" + std::to_string(closed) + ", " + pg + "]",
                               "load_balance_hosts = \"disable\""));
    openServers(proxy, 4, pg);
    CHECK(occurrences(proxy.log(), kNextHost) == 1);
  }
  SECTION("a unix-socket directory in the list") {
    Proxy proxy(hostListConfig("[\"127.0.0.1\", \"@SOCKET_DIR@\"]",
                               "[" + std::to_string(closed) + ", " + pg + "]",
                               "load_balance_hosts = \"disable\""));
    openServers(proxy, 2, "unix");
  }
}

TEST_CASE("host lists: every host down fails the client at once with the last error",
          "[integration][hosts]") {
  uint16_t closed1 = freePort(), closed2 = freePort();
  Proxy proxy(hostListConfig("\"127.0.0.1, 127.0.0.1\"", "\"" + std::to_string(closed1) + ", " +
                                                             std::to_string(closed2) + "\""));
  auto start = Clock::now();
  Conn a(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE_FALSE(a.ok());
  CHECK(Clock::now() - start < 5s);
  CHECK(a.connectError().sqlstate == "08006");
  CHECK(contains(a.connectError().message,
                 "could not connect to 127.0.0.1:" + std::to_string(closed2)));
  CHECK(occurrences(proxy.log(), kNextHost) == 1);
}
