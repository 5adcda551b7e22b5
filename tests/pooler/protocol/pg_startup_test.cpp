#include <catch2/catch.hpp>

#include <string>

#include "pooler/protocol/pg_codec.h"

using namespace shardpool::protocol::pg;

TEST_CASE("startup: a parameter given twice takes its last value, as PostgreSQL does",
          "[protocol][startup]") {
  std::string body;
  auto put32 = [&](uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) body.push_back(char(v >> shift));
  };
  put32(kProtocolV3);
  for (const char* s : {"user", "first", "database", "db1", "user", "second", "database", "db2"})
    body.append(s).push_back('\0');
  body.push_back('\0');
  StartupResult r = decodeStartup(Bytes(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
  REQUIRE(r.packet);
  CHECK(r.packet->param("user") == "second");
  CHECK(r.packet->param("database") == "db2");
  CHECK(r.packet->param("application_name").empty());
}
