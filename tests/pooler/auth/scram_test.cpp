// SCRAM-SHA-256. Expected values come from RFC 7677 section 3 and from an independent python3
// computation (hashlib.pbkdf2_hmac / hmac) of the same exchange with libpq's empty "n=" username;
// that python code reproduces the RFC's own proof and signature for "n=user" exactly.
#include "pooler/auth/auth_crypto.h"

#include <catch2/catch.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace shardpool::pooler::auth;

namespace {

// RFC 7677 section 3: user "user", password "pencil".
constexpr const char* kClientNonce = "rOprNGfwEbeRWgbNEkqO";
constexpr const char* kServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr const char* kSaltB64 = "W22ZaJ0SNY7soEsUEjb6gQ==";
constexpr const char* kRfcClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
constexpr const char* kRfcServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr const char* kRfcClientFinal =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr const char* kRfcServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
// StoredKey/ServerKey for "pencil" with the RFC's salt and 4096 iterations (python3).
constexpr const char* kPencilSecret =
    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";
// The same exchange as libpq sends it ("n=" instead of "n=user"), computed with python3.
constexpr const char* kPgClientFinal =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=qvT2SWdEH5Q06albL+hjSYuUhCG7VndFyzIb7CK4n9k=";
constexpr const char* kPgServerFinal = "v=3HO6Qt1M4MKJrmlKaoOqLAI0/0TV0HZe7J9H3MBtSOg=";

ScramSecret pencilSecret() {
  auto s = parseScramSecret(kPencilSecret);
  REQUIRE(s);
  return *s;
}

// Runs a server through clientFirst with a fresh client-first message; returns server-first.
std::string startServer(ScramServer& server, std::string_view clientFirst = "n,,n=,r=abc") {
  std::string serverFirst;
  REQUIRE(server.clientFirst(clientFirst, serverFirst) == ScramStatus::Ok);
  return serverFirst;
}

}  // namespace

TEST_CASE("SCRAM secret parse/format", "[auth]") {
  auto s = parseScramSecret(kPencilSecret);
  REQUIRE(s);
  CHECK(s->iterations == 4096);
  CHECK(base64Encode(s->salt) == kSaltB64);
  CHECK(formatScramSecret(*s) == kPencilSecret);

  const char* bad[] = {
      "",
      "md53858f62230ac3c915f300c664312c63f",
      "SCRAM-SHA-1$4096:c2FsdA==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
      "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
      "SCRAM-SHA-256$0:c2FsdA==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
      "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
      "SCRAM-SHA-256$-1:c2FsdA==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
      "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
      "SCRAM-SHA-256$4096x:c2FsdA==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
      "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
      "SCRAM-SHA-256$99999999999:c2FsdA==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
      "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
      "SCRAM-SHA-256$4096:$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
      "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
      "SCRAM-SHA-256$4096:c2FsdA=$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
      "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
      "SCRAM-SHA-256$4096:c2FsdA==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=",
      "SCRAM-SHA-256$4096:c2FsdA==$c2FsdA==:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
      "SCRAM-SHA-256$4096:c2FsdA==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
      "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=:extra",
      "SCRAM-SHA-256$4096c2FsdA==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
      "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
  };
  for (const char* text : bad) {
    INFO(text);
    CHECK_FALSE(parseScramSecret(text));
  }
}

TEST_CASE("makeScramSecret derives PostgreSQL-compatible keys with a fresh salt", "[auth]") {
  ScramSecret a = makeScramSecret("pencil");
  ScramSecret b = makeScramSecret("pencil");
  CHECK(a.iterations == 4096);
  CHECK(a.salt.size() == 16);
  CHECK(a.salt != b.salt);
  CHECK(a.storedKey != b.storedKey);
  auto round = parseScramSecret(formatScramSecret(a));
  REQUIRE(round);
  CHECK(round->salt == a.salt);
  CHECK(round->storedKey == a.storedKey);
  CHECK(round->serverKey == a.serverKey);
  CHECK(makeScramSecret("x", 10).iterations == 10);
}

TEST_CASE("ScramServer replays RFC 7677 exactly", "[auth]") {
  ScramServer server(pencilSecret());
  server.setNonceForTesting(kServerNonce);
  std::string serverFirst, serverFinal;
  REQUIRE(server.clientFirst(kRfcClientFirst, serverFirst) == ScramStatus::Ok);
  CHECK(serverFirst == kRfcServerFirst);
  REQUIRE(server.clientFinal(kRfcClientFinal, serverFinal) == ScramStatus::Ok);
  CHECK(serverFinal == kRfcServerFinal);
}

TEST_CASE("ScramClient reproduces the RFC 7677 exchange as libpq sends it", "[auth]") {
  ScramClient client("pencil");
  client.setNonceForTesting(kClientNonce);
  CHECK(client.clientFirst() == std::string("n,,n=,r=") + kClientNonce);
  std::string clientFinal;
  REQUIRE(client.serverFirst(kRfcServerFirst, clientFinal) == ScramStatus::Ok);
  CHECK(clientFinal == kPgClientFinal);
  CHECK(client.serverFinal(kPgServerFinal) == ScramStatus::Ok);
  CHECK(client.serverFinal(kRfcServerFinal) == ScramStatus::BadProof);  // AuthMessage differs

  // And our server agrees with that exchange.
  ScramServer server(pencilSecret());
  server.setNonceForTesting(kServerNonce);
  std::string serverFirst, serverFinal;
  REQUIRE(server.clientFirst(std::string("n,,n=,r=") + kClientNonce, serverFirst) ==
          ScramStatus::Ok);
  CHECK(serverFirst == kRfcServerFirst);
  REQUIRE(server.clientFinal(kPgClientFinal, serverFinal) == ScramStatus::Ok);
  CHECK(serverFinal == kPgServerFinal);
}

TEST_CASE("ScramClient against ScramServer end to end", "[auth]") {
  ScramSecret secret = makeScramSecret("correct horse", 64);
  auto exchange = [&](const std::string& password, std::string* tamperServerFinal = nullptr) {
    ScramServer server(secret);
    ScramClient client(password);
    std::string serverFirst, clientFinal, serverFinal;
    std::string clientFirst = client.clientFirst();
    CHECK(clientFirst.rfind("n,,n=,r=", 0) == 0);
    CHECK(clientFirst.size() == 8 + 24);  // 18 random bytes in base64
    REQUIRE(server.clientFirst(clientFirst, serverFirst) == ScramStatus::Ok);
    REQUIRE(client.serverFirst(serverFirst, clientFinal) == ScramStatus::Ok);
    ScramStatus st = server.clientFinal(clientFinal, serverFinal);
    if (st != ScramStatus::Ok) return st;
    if (tamperServerFinal) {
      serverFinal[5] = serverFinal[5] == 'A' ? 'B' : 'A';
      *tamperServerFinal = serverFinal;
    }
    return client.serverFinal(serverFinal);
  };
  CHECK(exchange("correct horse") == ScramStatus::Ok);
  CHECK(exchange("correct horsE") == ScramStatus::BadProof);
  CHECK(exchange("") == ScramStatus::BadProof);
  std::string tampered;
  CHECK(exchange("correct horse", &tampered) == ScramStatus::BadProof);

  SECTION("non-ASCII passwords are used as raw bytes on both sides") {
    secret = makeScramSecret("p\xc3\xa4ss\xff", 64);
    CHECK(exchange("p\xc3\xa4ss\xff") == ScramStatus::Ok);
    CHECK(exchange("pass") == ScramStatus::BadProof);
  }
}

// A backend holding a SCRAM secret, logged in to with the keys a client proved against that
// secret (no password): what shardpool does for auth_query and [users] SCRAM secrets.
TEST_CASE("ScramClient logs in with the keys a client proved", "[auth]") {
  ScramSecret secret = makeScramSecret("correct horse", 64);
  auto proveKeys = [&](const std::string& password) -> std::optional<ScramKeys> {
    ScramServer proxy(secret);
    ScramClient client(password);
    std::string serverFirst, clientFinal, serverFinal;
    REQUIRE(proxy.clientFirst(client.clientFirst(), serverFirst) == ScramStatus::Ok);
    REQUIRE(client.serverFirst(serverFirst, clientFinal) == ScramStatus::Ok);
    if (proxy.clientFinal(clientFinal, serverFinal) != ScramStatus::Ok) return std::nullopt;
    return proxy.keys();
  };
  auto loginWith = [](const ScramKeys& keys, const ScramSecret& backendSecret) {
    ScramServer backend(backendSecret);
    ScramClient proxy(keys);
    std::string serverFirst, clientFinal, serverFinal;
    REQUIRE(backend.clientFirst(proxy.clientFirst(), serverFirst) == ScramStatus::Ok);
    ScramStatus st = proxy.serverFirst(serverFirst, clientFinal);
    if (st != ScramStatus::Ok) return st;
    st = backend.clientFinal(clientFinal, serverFinal);
    if (st != ScramStatus::Ok) return st;
    return proxy.serverFinal(serverFinal);
  };
  auto keys = proveKeys("correct horse");
  REQUIRE(keys);
  CHECK(keys->salt == secret.salt);
  CHECK(loginWith(*keys, secret) == ScramStatus::Ok);
  CHECK_FALSE(proveKeys("wrong"));
  // The backend's password changed (another salt): the keys no longer fit.
  CHECK(loginWith(*keys, makeScramSecret("correct horse", 64)) == ScramStatus::BadProof);
  // Forged keys with the right salt fail at the backend.
  ScramKeys forged = *keys;
  forged.clientKey[0] ^= 1;
  CHECK(loginWith(forged, secret) == ScramStatus::BadProof);
}

TEST_CASE("SCRAM-SHA-256-PLUS binds the exchange to the channel", "[auth]") {
  ScramSecret secret = makeScramSecret("correct horse", 64);
  const std::string channel(32, '\x5a');  // a certificate hash as tls-server-end-point gives it
  std::string other = channel;
  other[31] = '\x5b';
  // One exchange: the server offers PLUS when it has `serverCb`; the client knows `clientCb`.
  struct Outcome {
    ScramStatus first = ScramStatus::Ok, final = ScramStatus::Ok, server = ScramStatus::Ok;
    std::string clientFirst, clientFinal, error;
  };
  auto exchange = [&](const std::string& serverCb, const std::string& clientCb) {
    Outcome o;
    ScramServer server(secret, serverCb);
    ScramClient client("correct horse");
    client.setChannelBinding(clientCb, server.offersPlus());
    o.clientFirst = client.clientFirst();
    std::string serverFirst, serverFinal;
    o.first = server.clientFirst(o.clientFirst, serverFirst,
                                 client.mechanism() == kScramSha256Plus);
    if (o.first != ScramStatus::Ok) {
      o.error = server.error();
      return o;
    }
    REQUIRE(client.serverFirst(serverFirst, o.clientFinal) == ScramStatus::Ok);
    o.final = server.clientFinal(o.clientFinal, serverFinal);
    o.error = server.error();
    if (o.final == ScramStatus::Ok) o.server = client.serverFinal(serverFinal);
    return o;
  };

  SECTION("same channel: PLUS succeeds, c= carries the header and the binding data") {
    Outcome o = exchange(channel, channel);
    CHECK(o.clientFirst.rfind("p=tls-server-end-point,,n=,r=", 0) == 0);
    CHECK(o.clientFinal.rfind("c=" + base64Encode("p=tls-server-end-point,," + channel) + ",r=",
                              0) == 0);
    CHECK(o.final == ScramStatus::Ok);
    CHECK(o.server == ScramStatus::Ok);
  }
  SECTION("another certificate's hash (a man in the middle) fails the binding check") {
    Outcome o = exchange(channel, other);
    REQUIRE(o.first == ScramStatus::Ok);
    CHECK(o.final == ScramStatus::BadChannelBinding);
    CHECK(o.error == "SCRAM channel binding check failed");
  }
  SECTION("a client over TLS that is not offered PLUS says y, and is served") {
    Outcome o = exchange("", channel);
    CHECK(o.clientFirst.rfind("y,,n=,r=", 0) == 0);
    CHECK(o.clientFinal.rfind("c=eSws,r=", 0) == 0);  // base64("y,,")
    CHECK(o.final == ScramStatus::Ok);
  }
  SECTION("a client without TLS says n") {
    Outcome o = exchange("", "");
    CHECK(o.clientFirst.rfind("n,,n=,r=", 0) == 0);
    CHECK(o.final == ScramStatus::Ok);
  }
  SECTION("y while the server offers PLUS: a downgrade, refused") {
    ScramServer server(secret, channel);
    std::string out;
    CHECK(server.clientFirst("y,,n=,r=abc", out) == ScramStatus::BadChannelBinding);
    CHECK(server.error() == "SCRAM channel binding negotiation error");
  }
  SECTION("the mechanism and the gs2 header must agree") {
    struct Case {
      std::string serverCb, msg;
      bool plus;
      ScramStatus expect;
    };
    const std::vector<Case> cases{
        // Malformed, as PostgreSQL sees them (08P01), each with its reason.
        {channel, "n,,n=,r=abc", true, ScramStatus::BadMessage},  // PLUS without binding
        {channel, "p=tls-server-end-point,,n=,r=abc", false, ScramStatus::BadMessage},
        {"", "p=tls-server-end-point,,n=,r=abc", false, ScramStatus::BadMessage},
        {channel, "p=tls-unique,,n=,r=abc", true, ScramStatus::BadMessage},
        {"", "p=tls-server-end-point,,n=,r=abc", true, ScramStatus::BadMessage},  // not offered
        {channel, "p=,,n=,r=abc", true, ScramStatus::BadMessage},
        {channel, "p=tls-server-end-point,a=admin,n=,r=abc", true, ScramStatus::BadMessage},
        {channel, "n,,n=,r=abc", false, ScramStatus::Ok},  // no binding wanted: allowed
        {channel, "p=tls-server-end-point,,n=,r=abc", true, ScramStatus::Ok},
    };
    for (const Case& c : cases) {
      INFO(c.msg << " plus " << c.plus << " offered " << !c.serverCb.empty());
      ScramServer server(secret, c.serverCb);
      std::string out;
      CHECK(server.clientFirst(c.msg, out, c.plus) == c.expect);
      // Every refusal over the gs2 flag says why (an authzid, or a caller breaking the rules,
      // is plainly malformed).
      if (c.expect != ScramStatus::Ok && c.msg.find("a=admin") == std::string::npos &&
          !(c.plus && c.serverCb.empty()))
        CHECK_FALSE(server.error().empty());
    }
  }
  SECTION("client-final whose c= is not the bound header") {
    ScramServer server(secret, channel);
    std::string serverFirst, serverFinal;
    REQUIRE(server.clientFirst("p=tls-server-end-point,,n=,r=abc", serverFirst, true) ==
            ScramStatus::Ok);
    const std::string nonce = serverFirst.substr(2, serverFirst.find(',') - 2);
    // The header alone, as a client that forgot the data would send it.
    const std::string msg = "c=" + base64Encode("p=tls-server-end-point,,") + ",r=" + nonce +
                            ",p=" + base64Encode(std::string(32, 'x'));
    CHECK(server.clientFinal(msg, serverFinal) == ScramStatus::BadChannelBinding);
  }
}

TEST_CASE("ScramServer rejects malformed client messages", "[auth]") {
  SECTION("client-first") {
    const std::vector<std::string> bad = {
        "",
        "n",
        "n,,",
        "n,,n=",
        "n,,n=,r=",                          // empty nonce
        "x,,n=,r=abc",
        "n,a=admin,n=,r=abc",  // authzid
        "n,,m=ext,n=,r=abc",   // mandatory extension
        "n,,r=abc",
        "n,,n=,x=abc",
        "n,,n=,r=abc,",  // empty trailing attribute
        "n,,n=,r=abc,=x",
        "n,,n=,r=a b",  // nonce not printable
        std::string("n,,n=,r=a\x01", 10),
        std::string("n,,n=,r=abc\0", 12),
    };
    for (const auto& msg : bad) {
      INFO(msg);
      ScramServer server(pencilSecret());
      std::string out;
      CHECK(server.clientFirst(msg, out) == ScramStatus::BadMessage);
    }
    ScramServer server(pencilSecret());
    std::string out;
    CHECK(server.clientFirst("y,,n=ignored,r=abc,x=ext", out) == ScramStatus::Ok);
    CHECK(server.clientFirst("n,,n=,r=abc", out) == ScramStatus::BadMessage);  // only once
  }

  SECTION("client-final") {
    // A well-formed final for nonce "abc"+server nonce, with a proof that is simply wrong.
    const std::string nonce = std::string("abc") + kServerNonce;
    const std::string proof = "p=" + base64Encode(std::string(32, 'x'));
    const std::vector<std::string> bad = {
        "",
        "c=biws",
        "c=biws,r=" + nonce,
        "c=eSws,r=" + nonce + "," + proof,      // y,, but the client sent n,,
        "c=bixhPWIs,r=" + nonce + "," + proof,  // "n,a=b,"
        "c=biw,r=" + nonce + "," + proof,       // bad base64
        "c=biws,r=abc," + proof,                // nonce mismatch
        "c=biws,r=" + nonce + "x," + proof,
        "c=biws,r=" + nonce + ",p=",
        "c=biws,r=" + nonce + ",p=" + base64Encode(std::string(31, 'x')),
        "c=biws,r=" + nonce + ",p=!!!!",
        "c=biws,r=" + nonce + "," + proof + ",x=y",  // proof must be last
        "c=biws,r=" + nonce + ",," + proof,
        "r=" + nonce + ",c=biws," + proof,
        "c=biws,r=" + nonce + "," + proof + std::string(1, '\0'),
    };
    for (const auto& msg : bad) {
      INFO(msg);
      ScramServer server(pencilSecret());
      server.setNonceForTesting(kServerNonce);
      startServer(server);
      std::string out;
      CHECK(server.clientFinal(msg, out) == ScramStatus::BadMessage);
      CHECK(out.empty());
    }
    ScramServer server(pencilSecret());
    server.setNonceForTesting(kServerNonce);
    startServer(server);
    std::string out;
    CHECK(server.clientFinal("c=biws,r=" + nonce + ",x=ext," + proof, out) ==
          ScramStatus::BadProof);
    CHECK(server.clientFinal("c=biws,r=" + nonce + "," + proof, out) == ScramStatus::BadMessage);

    ScramServer fresh(pencilSecret());
    CHECK(fresh.clientFinal("c=biws,r=" + nonce + "," + proof, out) == ScramStatus::BadMessage);
  }
}

TEST_CASE("ScramClient rejects malformed server messages", "[auth]") {
  const std::string cn = kClientNonce;
  const std::vector<std::string> bad = {
      "",
      "e=other-error",
      "r=" + cn,                                     // missing s and i
      "r=" + cn + ",s=" + kSaltB64 + ",i=4096",      // server added nothing to the nonce
      "r=XXXX" + cn + ",s=" + kSaltB64 + ",i=4096",  // not our nonce
      "r=" + cn + "srv,s=,i=4096",
      "r=" + cn + "srv,s=@@@@,i=4096",
      "r=" + cn + "srv,s=" + kSaltB64 + ",i=0",
      "r=" + cn + "srv,s=" + kSaltB64 + ",i=-1",
      "r=" + cn + "srv,s=" + kSaltB64 + ",i=4k",
      "r=" + cn + "srv,s=" + kSaltB64 + ",i=99999999999",
      "r=" + cn + "srv,s=" + kSaltB64 + ",i=",
      "r=" + cn + "srv,s=" + kSaltB64 + ",i=4096,x=ext",
      "r=" + cn + "srv,i=4096,s=" + kSaltB64,
      "m=ext,r=" + cn + "srv,s=" + kSaltB64 + ",i=4096",
      "r=" + cn + "s v,s=" + kSaltB64 + ",i=4096",
  };
  for (const auto& msg : bad) {
    INFO(msg);
    ScramClient client("pencil");
    client.setNonceForTesting(kClientNonce);
    (void)client.clientFirst();
    std::string out;
    CHECK(client.serverFirst(msg, out) == ScramStatus::BadMessage);
    CHECK(client.serverFinal("v=" + base64Encode(std::string(32, '\0'))) ==
          ScramStatus::BadMessage);
  }

  SECTION("out of order") {
    ScramClient client("pencil");
    std::string out;
    CHECK(client.serverFirst(kRfcServerFirst, out) == ScramStatus::BadMessage);
    CHECK(client.serverFinal(kPgServerFinal) == ScramStatus::BadMessage);
  }

  SECTION("server-final") {
    ScramClient client("pencil");
    client.setNonceForTesting(kClientNonce);
    (void)client.clientFirst();
    std::string out;
    REQUIRE(client.serverFirst(kRfcServerFirst, out) == ScramStatus::Ok);
    CHECK(client.serverFirst(kRfcServerFirst, out) == ScramStatus::BadMessage);  // only once
    for (std::string msg :
         {std::string(""), std::string("e=invalid-proof"), std::string("v="), std::string("v=abc"),
          std::string(kPgServerFinal) + ",x=y", std::string("x") + kPgServerFinal,
          "v=" + base64Encode(std::string(31, 'a'))}) {
      INFO(msg);
      CHECK(client.serverFinal(msg) == ScramStatus::BadMessage);
    }
    CHECK(client.serverFinal(kPgServerFinal) == ScramStatus::Ok);
  }
}

TEST_CASE("SCRAM parsers survive random garbage and mutations", "[auth]") {
  std::mt19937 rng(424242);
  auto junk = [&] {
    std::string s(rng() % 80, '\0');
    const char alphabet[] = "nyprcsiv=,+/abcAZ09 \x01\xff";
    for (auto& c : s) c = rng() % 3 ? alphabet[rng() % (sizeof alphabet - 1)] : char(rng());
    return s;
  };
  auto mutate = [&](std::string s) {
    int edits = 1 + int(rng() % 3);
    for (int i = 0; i < edits && !s.empty(); ++i) {
      size_t at = rng() % s.size();
      switch (rng() % 3) {
        case 0:
          s[at] = char(rng());
          break;
        case 1:
          s.erase(at, 1 + rng() % 4);
          break;
        default:
          s.insert(at, 1, ",=n\0"[rng() % 4]);
          break;
      }
    }
    return s;
  };
  ScramSecret cheap = makeScramSecret("pw", 2);
  for (int i = 0; i < 3000; ++i) {
    std::string out;
    (void)parseScramSecret(i % 2 ? junk() : mutate(formatScramSecret(cheap)));
    (void)base64Decode(junk());

    ScramServer server(cheap);
    std::string first = i % 2 ? junk() : mutate("n,,n=,r=abcdef");
    if (server.clientFirst(first, out) == ScramStatus::Ok) {
      ScramClient client("pw");
      (void)client.clientFirst();
      std::string msg = i % 3 ? junk()
                              : mutate("c=biws,r=abcdef" + out.substr(8, 24) +
                                       ",p=" + base64Encode(std::string(32, 'q')));
      ScramStatus st = server.clientFinal(msg, out);
      CHECK(st != ScramStatus::Ok);
    }

    ScramClient client("pw");
    client.setNonceForTesting("abcdef");
    (void)client.clientFirst();
    std::string sf = i % 2 ? junk() : mutate("r=abcdefXYZ,s=" + base64Encode(cheap.salt) + ",i=2");
    if (client.serverFirst(sf, out) == ScramStatus::Ok)
      CHECK(client.serverFinal(i % 2 ? junk() : mutate(kPgServerFinal)) != ScramStatus::Ok);
  }
}
