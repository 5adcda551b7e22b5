// The failover manager's read-routing answers without servers: what readTargets() says before
// any probe (health checks off, or on and not run yet), and when its version moves.
#include <catch2/catch.hpp>

#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "pooler/health/failover_manager.h"
#include "pooler/app/proxy.h"

using namespace shardpool;
using namespace shardpool::pooler::health;

namespace {

std::string configText(const std::string& interval) {
  return R"([general]
pool_mode = "transaction"
workers = 1
health_check_interval = )" +
         interval + R"(
replica_ban_time = "2s"

[databases.app]
host = "10.0.0.1"
port = 5432
user = "app_owner"
password = "pw"
replicas = [ { host = "10.0.0.2" }, { host = "10.0.0.3", port = 5433 } ]

[databases.solo]
host = "10.0.0.9"

[databases.noprobe]
host = "10.0.0.20"
replicas = [ { host = "10.0.0.21" } ]

[databases.sh]
user = "sh_owner"
password = "pw"
port = 6000
sharding_function = "hash"
[[databases.sh.shards]]
name = "s0"
host = "10.1.0.1"
[[databases.sh.shards]]
name = "s1"
host = "10.1.0.2"
replicas = [ { host = "10.1.0.12" } ]
[databases.sh.tables]
orders = { key = "id" }

[databases."*"]
host = "10.9.9.9"
)";
}

std::shared_ptr<const config::Config> load(const std::string& interval) {
  auto r = config::loadString(configText(interval), "test.toml");
  std::string errors;
  for (const auto& e : r.errors) errors += e.format() + "\n";
  INFO(errors);
  REQUIRE(r.ok());
  return r.config;
}

// A proxy that never runs (no sockets) and a manager on a loop of the test's own.
struct Fixture {
  explicit Fixture(const std::string& interval) : config(load(interval)), proxy(config) {
    uv_loop_init(&loop);
    manager = std::make_unique<FailoverManager>(proxy, &loop);
    manager->configure(*config);
  }
  ~Fixture() {
    manager.reset();
    uv_run(&loop, UV_RUN_DEFAULT);  // the checker's closed handles
    uv_loop_close(&loop);
  }
  std::shared_ptr<const config::Config> config;
  pooler::Proxy proxy;
  uv_loop_t loop{};
  std::unique_ptr<FailoverManager> manager;
};

ReadTarget target(std::string host, uint16_t port, bool writeTarget) {
  return ReadTarget{std::move(host), port, writeTarget, 0};
}

void checkConfiguredTargets(FailoverManager& m) {
  CHECK(m.readTargets("app", 0) == std::vector<ReadTarget>{target("10.0.0.1", 5432, true),
                                                           target("10.0.0.2", 5432, false),
                                                           target("10.0.0.3", 5433, false)});
  CHECK(m.readTargets("solo", 0) == std::vector<ReadTarget>{target("10.0.0.9", 5432, true)});
  CHECK(m.readTargets("noprobe", 0) ==
        std::vector<ReadTarget>{target("10.0.0.20", 5432, true), target("10.0.0.21", 5432, false)});
  CHECK(m.readTargets("sh", 0) == std::vector<ReadTarget>{target("10.1.0.1", 6000, true)});
  CHECK(m.readTargets("sh", 1) ==
        std::vector<ReadTarget>{target("10.1.0.2", 6000, true), target("10.1.0.12", 6000, false)});
  CHECK(m.readTargets("sh", 2).empty());
  CHECK(m.readTargets("nope", 0).empty());
  CHECK(m.readTargets("*", 0).empty());
}

}  // namespace

TEST_CASE("read targets: health checks off, every configured member serves", "[health]") {
  Fixture f("0");
  checkConfiguredTargets(*f.manager);
  CHECK(f.manager->backends().empty());  // nothing is health-checked
  CHECK_FALSE(f.manager->covers("app"));
}

TEST_CASE("read targets: health checks on, members not probed yet count as healthy", "[health]") {
  Fixture f("\"1s\"");
  checkConfiguredTargets(*f.manager);
  CHECK(f.manager->covers("app"));
  CHECK(f.manager->covers("sh"));
  CHECK_FALSE(f.manager->covers("solo"));     // no replicas: nothing to fail over to
  CHECK_FALSE(f.manager->covers("noprobe"));  // no user to probe with
  auto backends = f.manager->backends();
  REQUIRE(backends.size() == 5);  // app's three, sh/s1's two
  for (const auto& b : backends) {
    INFO(b.database << "/" << b.shard << " " << b.address);
    CHECK(b.up);
    CHECK_FALSE(b.probed);
    CHECK_FALSE(b.banned);
    CHECK(b.banLeftMs == 0);
  }
  bool told = false;
  for (const auto& e : f.manager->events())
    if (e.find("database noprobe: no health checks") != std::string::npos) told = true;
  CHECK(told);
}

TEST_CASE("read targets: the version moves at every configure", "[health]") {
  Fixture f("0");
  uint64_t v1 = f.manager->readTargetsVersion();
  auto before = f.manager->readTargets("app", 0);
  f.manager->configure(*f.config);
  uint64_t v2 = f.manager->readTargetsVersion();
  CHECK(v2 > v1);
  CHECK(f.manager->readTargets("app", 0) == before);
  // A reload that drops a replica is seen by the next ask.
  auto r = config::loadString(
      "[databases.app]\nhost = \"10.0.0.1\"\nreplicas = [ { host = \"10.0.0.3\" } ]\n", "t.toml");
  REQUIRE(r.ok());
  f.manager->configure(*r.config);
  CHECK(f.manager->readTargetsVersion() > v2);
  CHECK(f.manager->readTargets("app", 0) ==
        std::vector<ReadTarget>{target("10.0.0.1", 5432, true), target("10.0.0.3", 5432, false)});
  CHECK(f.manager->readTargets("solo", 0).empty());
}
