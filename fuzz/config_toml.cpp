// The configuration loader on arbitrary text: TOML parsing (toml++), ${ENV} expansion, --set
// overrides, decoding and validation. Exceptions may be thrown inside config/ but must never
// leave loadString(): libFuzzer reports one that escapes as a crash, as it does any other.
// Input: the TOML text, then optional '\0'-separated `key.path=value` overrides.
#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "fuzz/fuzz_util.h"

namespace config = shardpool::config;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  shardpool::fuzz::Input in(data, size);
  std::string_view toml = in.until(std::string_view("\0", 1));
  std::vector<config::Override> overrides;
  while (!in.empty() && overrides.size() < 4) {
    if (auto o = config::parseOverride(in.until(std::string_view("\0", 1))))
      overrides.push_back(std::move(*o));
  }

  config::LoadResult r = config::loadString(toml, "fuzz.toml", overrides);
  FUZZ_CHECK(r.ok() == r.errors.empty());
  for (const config::ConfigError& e : r.errors) (void)e.format();
  if (!r.ok()) return 0;

  const config::Config& c = *r.config;
  (void)config::describeGeneral(c);
  FUZZ_CHECK(config::restartOnlyChanges(c, c).empty());
  for (const auto& [name, db] : c.databases) {
    std::vector<config::Shard> shards = c.shardsOf(db);
    FUZZ_CHECK(!shards.empty());
    for (const auto& [userName, user] : c.users) {
      (void)c.poolModeFor(db, &user);
      (void)c.poolSizeFor(db, &user);
    }
  }
  return 0;
}
