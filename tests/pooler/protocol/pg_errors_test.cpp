#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "pooler/protocol/pg_codec.h"

using namespace shardpool::protocol::pg;

namespace {

std::string errorBody(const std::vector<std::pair<char, std::string>>& fields) {
  std::string body;
  for (const auto& [code, value] : fields) {
    body.push_back(code);
    body += value;
    body.push_back('\0');
  }
  body.push_back('\0');
  return body;
}

Bytes bytesOf(const std::string& s) { return Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

}  // namespace

TEST_CASE("errors shardpool raised lose the fields that only show how they were raised",
          "[protocol][errors]") {
  std::string raised = errorBody({{'S', "ERROR"},
                                  {'V', "ERROR"},
                                  {'C', "0A000"},
                                  {'M', "this statement belongs to shard \"s1\""},
                                  {'H', "run it outside the transaction"},
                                  {'W', "PL/pgSQL function inline_code_block line 1 at RAISE"},
                                  {'s', std::string(kRaisedErrorSchema)},
                                  {'F', "pl_exec.c"}});
  auto out = downgradedErrorFields(bytesOf(raised));
  REQUIRE(out);
  CHECK(*out == errorBody({{'S', "ERROR"},
                           {'V', "ERROR"},
                           {'C', "0A000"},
                           {'M', "this statement belongs to shard \"s1\""},
                           {'H', "run it outside the transaction"},
                           {'F', "pl_exec.c"}}));

  // A client's own DO block keeps its CONTEXT and schema.
  std::string own = errorBody({{'S', "ERROR"},
                               {'C', "P0001"},
                               {'M', "boom"},
                               {'W', "PL/pgSQL function inline_code_block line 1 at RAISE"},
                               {'s', "public"}});
  auto kept = downgradedErrorFields(bytesOf(own));
  REQUIRE(kept);
  CHECK(*kept == own);
}
