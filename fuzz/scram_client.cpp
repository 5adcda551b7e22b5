// SCRAM-SHA-256, shardpool's side as the client of a backend: server-first-message and
// server-final-message from the network. The client nonce is RFC 7677's, so seeds taken from a
// real exchange get past the nonce check to the key derivation and the signature check.
// Input: server-first, '\0', server-final.
//
// A server-first with a large iteration count makes the client run PBKDF2 that many times (as
// libpq does); inputs asking for more than kMaxFuzzIterations are skipped so that a run measures
// parsing, not hashing.
#include <cstdint>
#include <string>

#include "fuzz/fuzz_util.h"
#include "pooler/auth/auth_crypto.h"

namespace auth = shardpool::pooler::auth;

namespace {

constexpr uint64_t kMaxFuzzIterations = 4096;

bool asksForManyIterations(std::string_view serverFirst) {
  size_t at = serverFirst.find(",i=");
  if (at == std::string_view::npos) return false;
  uint64_t n = 0;
  for (char c : serverFirst.substr(at + 3)) {
    if (c < '0' || c > '9') break;
    n = n * 10 + uint64_t(c - '0');
    if (n > kMaxFuzzIterations) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  shardpool::fuzz::Input in(data, size);
  std::string_view serverFirst = in.until(std::string_view("\0", 1));
  std::string_view serverFinal = in.remaining();
  if (asksForManyIterations(serverFirst)) return 0;

  auth::ScramClient client("pencil");
  client.setNonceForTesting("rOprNGfwEbeRWgbNEkqO");
  // Before client-first nothing is accepted.
  std::string clientFinal;
  FUZZ_CHECK(client.serverFinal(serverFinal) == auth::ScramStatus::BadMessage);
  std::string clientFirst = client.clientFirst();
  FUZZ_CHECK(clientFirst == "n,,n=,r=rOprNGfwEbeRWgbNEkqO");
  auth::ScramStatus st = client.serverFirst(serverFirst, clientFinal);
  if (st != auth::ScramStatus::Ok) {
    FUZZ_CHECK(client.serverFinal(serverFinal) == auth::ScramStatus::BadMessage);
    return 0;
  }
  FUZZ_CHECK(clientFinal.rfind("c=biws,r=rOprNGfwEbeRWgbNEkqO", 0) == 0);
  (void)client.serverFinal(serverFinal);
  // serverFirst is accepted once per exchange.
  FUZZ_CHECK(client.serverFirst(serverFirst, clientFinal) == auth::ScramStatus::BadMessage);
  return 0;
}
