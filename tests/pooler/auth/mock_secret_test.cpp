#include <catch2/catch.hpp>

#include <string>

#include "pooler/auth/auth_crypto.h"

using namespace shardpool::pooler::auth;

TEST_CASE("mock SCRAM secrets: stable per unknown name, distinct between names, never matched",
          "[auth][scram]") {
  ScramSecret a1 = mockScramSecret("nobody");
  ScramSecret a2 = mockScramSecret("nobody");
  ScramSecret b = mockScramSecret("nobody2");
  CHECK(a1.salt == a2.salt);  // one name always shows one salt, as a real user's secret does
  CHECK(a1.storedKey == a2.storedKey);
  CHECK(a1.salt != b.salt);   // and two names two salts, as two real users do
  CHECK(a1.salt.size() == makeScramSecret("x").salt.size());
  CHECK(a1.iterations == makeScramSecret("x").iterations);

  // No password is accepted: the proof a client computes never matches.
  for (std::string pw : {"", "nobody", "secret"}) {
    ScramClient client{pw};
    ScramServer server(a1);
    std::string serverFirst, clientFinal, serverFinal;
    REQUIRE(server.clientFirst(client.clientFirst(), serverFirst) == ScramStatus::Ok);
    REQUIRE(client.serverFirst(serverFirst, clientFinal) == ScramStatus::Ok);
    CHECK(server.clientFinal(clientFinal, serverFinal) == ScramStatus::BadProof);
  }
}
