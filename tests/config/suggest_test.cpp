// Edit distance and "did you mean" suggestions.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "config/suggest.h"

namespace shardpool::config {
namespace {

const std::vector<std::string_view> kKeys = {"host",     "port",      "dbname",   "user",
                                             "password", "pool_size", "pool_mode"};

TEST_CASE("config: editDistance", "[config]") {
  struct Case {
    std::string a, b;
    size_t distance;
  };
  auto c = GENERATE(values<Case>({
      {"", "", 0},
      {"abc", "", 3},
      {"", "abc", 3},
      {"pool_size", "pool_size", 0},
      {"pool_sise", "pool_size", 1},
      {"poolsize", "pool_size", 1},
      {"Pool_Size", "pool_size", 0},
      {"kitten", "sitting", 3},
      {"pool_mode", "pool_size", 3},
  }));
  CHECK(editDistance(c.a, c.b) == c.distance);
  CHECK(editDistance(c.b, c.a) == c.distance);
}

TEST_CASE("config: closestMatch", "[config]") {
  struct Case {
    std::string word;
    std::optional<std::string_view> match;
  };
  auto c = GENERATE(values<Case>({
      {"pool_sise", "pool_size"},
      {"pool_mod", "pool_mode"},
      {"hots", "host"},
      {"passwd", "password"},
      {"PORT", "port"},
      {"db", std::nullopt},  // 2 edits from nothing useful, and too short for a prefix
      {"dbn", "dbname"},     // prefix of a known key
      {"hostname", "host"},  // a known key is its prefix
      {"sslmode", std::nullopt},
      {"x", std::nullopt},
  }));
  INFO(c.word);
  CHECK(closestMatch(c.word, kKeys) == c.match);
}

TEST_CASE("config: unknownNameMessage", "[config]") {
  CHECK(unknownNameMessage("key", "pool_sise", kKeys) ==
        "unknown key \"pool_sise\"; did you mean \"pool_size\"?");
  CHECK(unknownNameMessage("key", "sslmode", kKeys) == "unknown key \"sslmode\"");
  CHECK(unknownNameMessage("database", "x\"y", {}) == "unknown database \"x\\\"y\"");
}

}  // namespace
}  // namespace shardpool::config
