// Host lists in [databases.<name>]: host = "a,b" (or an array), one port or one per host, and
// load_balance_hosts.
#include <catch2/catch.hpp>

#include "config/config.h"
#include "config_test_support.h"

namespace shardpool::config {
namespace {

using testing::loadOk;
using testing::loadOneError;

TEST_CASE("config: a host list with one port, or one port per host", "[config]") {
  auto c = loadOk("[databases.app]\nhost = \"db1, db2,db3\"\nport = 6000\n");
  const Database& d = c->databases.at("app");
  CHECK(d.host == "db1");
  CHECK(d.hosts == std::vector<std::string>{"db1", "db2", "db3"});
  CHECK(d.port == 6000);
  CHECK(d.ports.empty());
  CHECK(d.loadBalanceHosts == LoadBalanceHosts::RoundRobin);

  c = loadOk(
      "[databases.app]\nhost = [\"/tmp\", \"10.0.0.2\"]\nport = \"5432, 5433\"\n"
      "load_balance_hosts = \"disable\"\n");
  const Database& e = c->databases.at("app");
  CHECK(e.hosts == std::vector<std::string>{"/tmp", "10.0.0.2"});
  CHECK(e.ports == std::vector<uint16_t>{5432, 5433});
  CHECK(e.port == 5432);
  CHECK(e.loadBalanceHosts == LoadBalanceHosts::Disable);

  c = loadOk("[databases.app]\nhost = \"db1\"\nport = [5433]\n");
  CHECK(c->databases.at("app").hosts.empty());
  CHECK(c->databases.at("app").port == 5433);
}

TEST_CASE("config: host list errors name the key", "[config]") {
  struct Case {
    std::string body;
    std::string keyPath;
    std::string mentions;
  };
  const Case cases[] = {
      {"host = \"a,b\"\nport = [1, 2, 3]", "databases.app.port", "3 ports for 2 host(s)"},
      {"host = \"a\"\nport = \"1,2\"", "databases.app.port", "2 ports for 1 host(s)"},
      {"host = \"a,b\"\nport = \"1,x\"", "databases.app.port", "one per host"},
      {"host = \"a,b\"\nport = [1, 70000]", "databases.app.port", "one per host"},
      {"host = \"a,,b\"", "databases.app.host", "comma-separated"},
      {"host = \"a,b\"\nload_balance_hosts = \"random\"", "databases.app.load_balance_hosts",
       "round-robin"},
      {"host = \"a,b\"\nreplicas = [ { host = \"c\" } ]", "databases.app.host",
       "cannot be combined with shards or replicas"},
  };
  for (const Case& c : cases) {
    INFO(c.body);
    ConfigError e = loadOneError("[databases.app]\n" + c.body + "\n");
    CHECK(e.keyPath == c.keyPath);
    CHECK(e.message.find(c.mentions) != std::string::npos);
  }
}

}  // namespace
}  // namespace shardpool::config
