// PgBouncer settings that shardpool accepts without acting on them (config/pgbouncer_settings.h),
// and the console SET spellings it translates (verbose).
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "config/config.h"
#include "config/pgbouncer_settings.h"
#include "config_test_support.h"

namespace shardpool::config {
namespace {

using testing::formatAll;
using testing::kOneDatabase;
using testing::loadOneError;

const SettingView* findSetting(const std::vector<SettingView>& rows, std::string_view key) {
  auto it =
      std::find_if(rows.begin(), rows.end(), [&](const SettingView& v) { return v.key == key; });
  return it == rows.end() ? nullptr : &*it;
}

TEST_CASE("config: PgBouncer-only settings load, are kept, shown and warned about", "[config]") {
  for (const PgbouncerOnlySetting& s : pgbouncerOnlySettings()) {
    INFO(s.key);
    std::string value;
    std::string shown;
    switch (s.kind) {
      case PgbouncerOnlySetting::Kind::Count:
        value = "7";
        shown = "7";
        break;
      case PgbouncerOnlySetting::Kind::Seconds:
        value = "5";  // seconds, as in PgBouncer
        shown = "5s";
        break;
      case PgbouncerOnlySetting::Kind::Text:
        value = "\"select 2\"";
        shown = "select 2";
        break;
    }
    LoadResult r = loadString(
        "[general]\n" + std::string(s.key) + " = " + value + "\n" + std::string(kOneDatabase),
        "test.toml");
    INFO(formatAll(r.errors));
    REQUIRE(r.ok());
    CHECK(r.config->general.pgbouncerOnly.at(std::string(s.key)) == shown);
    REQUIRE(r.warnings.size() == 1);
    CHECK(r.warnings[0].format() ==
          "test.toml:2:" + std::to_string(s.key.size() + 4) + ": general." + std::string(s.key) +
              ": PgBouncer's " + std::string(s.key) +
              " is accepted but has no effect in shardpool: " + std::string(s.instead));
    auto rows = describeGeneral(*r.config);
    const SettingView* row = findSetting(rows, s.key);
    REQUIRE(row != nullptr);
    CHECK(row->value == shown);
    CHECK(row->defaultValue == s.pgbouncerDefault);
    CHECK(row->changeable);
    CHECK_FALSE(needsRestart(std::string(s.key)));
  }
}

TEST_CASE("config: PgBouncer-only settings are absent by default and show PgBouncer's default",
          "[config]") {
  LoadResult r = loadString(kOneDatabase, "test.toml");
  REQUIRE(r.ok());
  CHECK(r.config->general.pgbouncerOnly.empty());
  CHECK(r.warnings.empty());
  auto rows = describeGeneral(*r.config);
  const SettingView* retry = findSetting(rows, "server_login_retry");
  REQUIRE(retry != nullptr);
  CHECK(retry->value == "15s");
  CHECK(retry->defaultValue == "15s");
  const SettingView* fastClose = findSetting(rows, "server_fast_close");
  REQUIRE(fastClose != nullptr);
  CHECK(fastClose->value == "0");
}

TEST_CASE("config: a PgBouncer-only setting's value is checked for its type", "[config]") {
  ConfigError retry =
      loadOneError("[general]\nserver_login_retry = \"soon\"\n" + std::string(kOneDatabase));
  CHECK(retry.keyPath == "general.server_login_retry");
  ConfigError fastClose =
      loadOneError("[general]\nserver_fast_close = -1\n" + std::string(kOneDatabase));
  CHECK(fastClose.message == "expected an integer between 0 and 2147483647, got -1");
  ConfigError query =
      loadOneError("[general]\nserver_check_query = 1\n" + std::string(kOneDatabase));
  CHECK(query.message == "expected a string, got 1");
}

TEST_CASE("config: a PgBouncer-only setting works through --set, as the console's SET",
          "[config]") {
  LoadResult r = loadString(kOneDatabase, "test.toml", {{"general.server_login_retry", "5"}});
  REQUIRE(r.ok());
  CHECK(r.config->general.pgbouncerOnly.at("server_login_retry") == "5s");
  REQUIRE(r.warnings.size() == 1);
  CHECK(r.warnings[0].file == "<override>");
}

TEST_CASE("config: SET verbose becomes log_level", "[config]") {
  struct Case {
    std::string value;
    std::string level;
  };
  auto c = GENERATE(values<Case>({{"0", "info"}, {"1", "debug"}, {"2", "debug"}}));
  std::string key = "general.verbose";
  std::string value = c.value;
  std::string error;
  REQUIRE(translateLiveSet(key, value, error));
  CHECK(key == "general.log_level");
  CHECK(value == c.level);

  LoadResult r = loadString(kOneDatabase, "test.toml", {{key, value}});
  REQUIRE(r.ok());
  const SettingView* row = findSetting(describeGeneral(*r.config), "verbose");
  REQUIRE(row != nullptr);
  CHECK(row->value == (c.level == "debug" ? "1" : "0"));

  std::string badKey = "general.verbose";
  std::string bad = "loud";
  CHECK_FALSE(translateLiveSet(badKey, bad, error));
  CHECK(error == "verbose: expected an integer of at least 0, got \"loud\"");

  std::string other = "general.pool_mode";
  std::string mode = "transaction";
  REQUIRE(translateLiveSet(other, mode, error));
  CHECK(other == "general.pool_mode");
  CHECK(mode == "transaction");
}

TEST_CASE("config: server TLS files may be set empty (not set), as PgBouncer's SET allows",
          "[config]") {
  LoadResult r = loadString(kOneDatabase, "test.toml",
                            {{"general.server_tls_ca_file", "\"\""},
                             {"general.server_tls_cert_file", "\"\""},
                             {"general.server_tls_key_file", "\"\""}});
  INFO(formatAll(r.errors));
  REQUIRE(r.ok());
  CHECK(r.config->general.serverTlsCaFile.empty());
}

}  // namespace
}  // namespace shardpool::config
