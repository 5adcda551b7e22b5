// The failed-login back-off keys (auth_failure_*): defaults, decoding, trusted networks in CIDR
// notation and their errors.
#include <catch2/catch.hpp>

#include <arpa/inet.h>

#include <string>

#include "config/config.h"
#include "config/network.h"
#include "config_test_support.h"

namespace shardpool::config {
namespace {

using namespace std::chrono_literals;
using testing::kOneDatabase;
using testing::loadOk;
using testing::loadOneError;

bool containsText(const Network& n, const char* text) {
  uint8_t bytes[16] = {};
  if (inet_pton(AF_INET, text, bytes) == 1) return n.contains(false, bytes);
  REQUIRE(inet_pton(AF_INET6, text, bytes) == 1);
  return n.contains(true, bytes);
}

TEST_CASE("config: failed-login back-off is on by default", "[config]") {
  auto config = loadOk(std::string(kOneDatabase));
  const General& g = config->general;
  CHECK(g.authFailureThreshold == 5);
  CHECK(g.authFailureDelay == 500ms);
  CHECK(g.authFailureMaxDelay == 10s);
  CHECK(g.authFailureWindow == 60s);
  CHECK(g.authFailureTrustedNetworks.empty());
}

TEST_CASE("config: failed-login back-off keys decode", "[config]") {
  auto config = loadOk(R"([general]
auth_failure_threshold = 3
auth_failure_delay = "250ms"
auth_failure_max_delay = "4s"
auth_failure_window = "5m"
auth_failure_trusted_networks = ["10.0.0.0/8", "127.0.0.1", "fd00::/8"]
)" + std::string(kOneDatabase));
  const General& g = config->general;
  CHECK(g.authFailureThreshold == 3);
  CHECK(g.authFailureDelay == 250ms);
  CHECK(g.authFailureMaxDelay == 4s);
  CHECK(g.authFailureWindow == 300s);
  REQUIRE(g.authFailureTrustedNetworks.size() == 3);
  CHECK(g.authFailureTrustedNetworks[0].text == "10.0.0.0/8");
  bool shown = false;
  for (const SettingView& v : describeGeneral(*config)) {
    if (v.key != "auth_failure_trusted_networks") continue;
    shown = true;
    CHECK(v.value == "10.0.0.0/8,127.0.0.1,fd00::/8");
    CHECK(v.changeable);  // SHOW CONFIG: applied by a reload
  }
  CHECK(shown);

  // Zero turns it off; a comma-separated string is a list too.
  auto off = loadOk("[general]\nauth_failure_delay = 0\nauth_failure_trusted_networks = "
                    "\"192.168.0.0/16, ::1\"\n" + std::string(kOneDatabase));
  CHECK(off->general.authFailureDelay == 0ms);
  CHECK(off->general.authFailureTrustedNetworks.size() == 2);
}

TEST_CASE("config: failed-login back-off errors name the key", "[config]") {
  struct Case {
    std::string toml, keyPath, message;
  };
  const std::vector<Case> cases{
      {"auth_failure_trusted_networks = [\"10.0.0.0/33\"]",
       "general.auth_failure_trusted_networks",
       "expected addresses or networks such as \"10.0.0.0/8\" or \"::1\", got \"10.0.0.0/33\""},
      {"auth_failure_trusted_networks = [\"example.com\"]",
       "general.auth_failure_trusted_networks",
       "expected addresses or networks such as \"10.0.0.0/8\" or \"::1\", got \"example.com\""},
      {"auth_failure_delay = \"2s\"\nauth_failure_max_delay = \"1s\"",
       "general.auth_failure_max_delay",
       "auth_failure_max_delay (1000 ms) is shorter than auth_failure_delay (2000 ms)"},
      {"auth_failure_window = 0", "general.auth_failure_window", ""},
  };
  for (const Case& c : cases) {
    INFO(c.toml);
    ConfigError e = loadOneError("[general]\n" + c.toml + "\n" + std::string(kOneDatabase));
    CHECK(e.keyPath == c.keyPath);
    if (!c.message.empty()) CHECK(e.message == c.message);
  }
}

TEST_CASE("config: networks match addresses by prefix", "[config]") {
  auto n = parseNetwork("10.1.2.3/8");
  REQUIRE(n);
  CHECK(containsText(*n, "10.200.0.1"));
  CHECK_FALSE(containsText(*n, "11.0.0.1"));
  CHECK(containsText(*n, "::ffff:10.9.9.9"));  // IPv4-mapped
  CHECK_FALSE(containsText(*n, "::1"));

  auto host = parseNetwork("127.0.0.3");
  REQUIRE(host);
  CHECK(containsText(*host, "127.0.0.3"));
  CHECK_FALSE(containsText(*host, "127.0.0.2"));

  auto v6 = parseNetwork("2001:db8:abcd::/45");
  REQUIRE(v6);
  CHECK(containsText(*v6, "2001:db8:abcf:1::1"));
  CHECK_FALSE(containsText(*v6, "2001:db8:abd0::1"));
  CHECK_FALSE(containsText(*v6, "10.0.0.1"));

  auto all = parseNetwork("0.0.0.0/0");
  REQUIRE(all);
  CHECK(containsText(*all, "203.0.113.9"));

  for (const char* bad : {"", "/8", "10.0.0.0/", "10.0.0.0/x", "::1/129", "10.0.0.0/8/8",
                          "1.2.3", "10.0.0.0/0008"})
    CHECK_FALSE(parseNetwork(bad));
}

}  // namespace
}  // namespace shardpool::config
