// SCRAM-SHA-256, shardpool's side as the server that clients log in to: client-first-message
// and client-final-message from the network, plus the stored secret format and base64, which
// come from configuration and pg_authid; each exchange also against a server that offers
// SCRAM-SHA-256-PLUS (channel binding). The exchange uses RFC 7677's nonce and the secret of
// password "pencil", so that seeds taken from a real exchange reach the proof check.
// Input: client-first, '\0', client-final, '\0', a stored secret to parse (messages with a NUL
// are refused by the parsers anyway, so the separator hides nothing).
#include <cstdint>
#include <string>

#include "fuzz/fuzz_util.h"
#include "pooler/auth/auth_crypto.h"

namespace auth = shardpool::pooler::auth;

namespace {

const auth::ScramSecret& pencil() {
  static const auth::ScramSecret s = *auth::parseScramSecret(
      "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
      "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=");
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  shardpool::fuzz::Input in(data, size);
  std::string_view clientFirst = in.until(std::string_view("\0", 1));
  std::string_view clientFinal = in.until(std::string_view("\0", 1));
  std::string_view secretText = in.remaining();

  auth::ScramServer server(pencil());
  server.setNonceForTesting("%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
  std::string serverFirst;
  if (server.clientFirst(clientFirst, serverFirst) == auth::ScramStatus::Ok) {
    FUZZ_CHECK(serverFirst.rfind("r=", 0) == 0);
    std::string serverFinal;
    auth::ScramStatus st = server.clientFinal(clientFinal, serverFinal);
    if (st == auth::ScramStatus::Ok) FUZZ_CHECK(serverFinal.rfind("v=", 0) == 0);
    // One exchange per object: a second final message is always refused.
    FUZZ_CHECK(server.clientFinal(clientFinal, serverFinal) == auth::ScramStatus::BadMessage);
  } else {
    std::string serverFinal;
    FUZZ_CHECK(server.clientFinal(clientFinal, serverFinal) == auth::ScramStatus::BadMessage);
  }

  // The same messages to a server that offers SCRAM-SHA-256-PLUS (a TLS client), the client
  // having chosen PLUS exactly when its gs2 header asks for binding.
  {
    auth::ScramServer plus(pencil(), std::string(32, '\x5a'));
    plus.setNonceForTesting("%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
    const bool choosePlus = clientFirst.rfind("p=", 0) == 0;
    std::string first, final;
    auth::ScramStatus st = plus.clientFirst(clientFirst, first, choosePlus);
    if (st == auth::ScramStatus::BadChannelBinding) FUZZ_CHECK(!plus.error().empty());
    if (st == auth::ScramStatus::Ok) {
      st = plus.clientFinal(clientFinal, final);
      if (st == auth::ScramStatus::Ok) FUZZ_CHECK(final.rfind("v=", 0) == 0);
    }
  }

  if (auto secret = auth::parseScramSecret(secretText)) {
    FUZZ_CHECK(secret->iterations > 0 && !secret->salt.empty());
    auto again = auth::parseScramSecret(auth::formatScramSecret(*secret));
    FUZZ_CHECK(again && again->salt == secret->salt && again->storedKey == secret->storedKey &&
               again->serverKey == secret->serverKey && again->iterations == secret->iterations);
  }
  if (auto raw = auth::base64Decode(secretText)) {
    // Decoding is not canonical (unused low bits of the last digit are ignored), but decoding
    // the encoding gives the same bytes back.
    FUZZ_CHECK(auth::base64Decode(auth::base64Encode(*raw)) == raw);
  }
  (void)auth::isMd5Stored(secretText);
  return 0;
}
