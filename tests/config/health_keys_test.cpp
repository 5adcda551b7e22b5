// The [general] keys of health checks and failover that came with replica bans: decoding,
// defaults, errors, and that they change while shardpool runs.
#include <catch2/catch.hpp>

#include "config/config.h"
#include "config_test_support.h"

namespace shardpool::config {
namespace {

using namespace std::chrono_literals;
using testing::loadOk;

constexpr std::string_view kBase = "[databases.app]\nport = 5432\n";

std::string withGeneral(std::string_view general) {
  return "[general]\n" + std::string(general) + "\n" + std::string(kBase);
}

TEST_CASE("config: replica_ban_time defaults to 60s and takes durations, 0 meaning no ban",
          "[config]") {
  CHECK(loadOk(kBase)->general.replicaBanTime == 60s);
  struct Case {
    std::string value;
    Duration expected;
  };
  for (const Case& c : std::vector<Case>{
           {"\"2s\"", 2s}, {"\"250ms\"", 250ms}, {"0", 0ms}, {"\"5m\"", 5min}, {"1.5", 1500ms}}) {
    INFO(c.value);
    CHECK(loadOk(withGeneral("replica_ban_time = " + c.value))->general.replicaBanTime ==
          c.expected);
  }
}

TEST_CASE("config: a bad replica_ban_time is an error at its key", "[config]") {
  for (const std::string value : {"\"-1s\"", "\"soon\"", "true"}) {
    INFO(value);
    auto r = loadString(withGeneral("replica_ban_time = " + value), "test.toml");
    REQUIRE_FALSE(r.ok());
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].keyPath == "general.replica_ban_time");
    CHECK(r.errors[0].line == 2);
  }
}

TEST_CASE("config: replica_ban_time changes live and shows in SHOW CONFIG", "[config][live]") {
  CHECK_FALSE(needsRestart("general.replica_ban_time"));
  CHECK_FALSE(needsRestart("replica_ban_time"));
  auto running = loadOk(kBase);
  auto next = loadOk(kBase, {{"general.replica_ban_time", "\"2s\""}});
  CHECK(next->general.replicaBanTime == 2s);
  CHECK(restartOnlyChanges(*running, *next).empty());
  bool found = false;
  for (const SettingView& s : describeGeneral(*next)) {
    if (s.key != "replica_ban_time") continue;
    found = true;
    CHECK(s.value == "2s");
    CHECK(s.defaultValue == "60s");
    CHECK(s.changeable);
  }
  CHECK(found);
}

}  // namespace
}  // namespace shardpool::config
