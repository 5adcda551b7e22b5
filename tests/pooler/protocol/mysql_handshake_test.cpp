// Connection phase: greeting, handshake response, SSLRequest, auth switch and more-data packets.
#include "pooler/protocol/mysql_handshake.h"

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "tests/pooler/protocol/mysql_recorded.h"
#include "tests/pooler/protocol/mysql_test_helpers.h"

using namespace shardpool::protocol::mysql;
using namespace shardpool::protocol::mysql::testing;
namespace recorded = shardpool::protocol::mysql::recorded;

namespace {

// Every proper prefix of a payload must be refused (or, for fields that may legitimately end a
// packet early, decode without reading past the end: ASan checks that).
template <class Decode>
void forEveryPrefix(Bytes payload, Decode decode) {
  for (size_t k = 0; k < payload.size(); ++k) {
    INFO("prefix " << k);
    decode(payload.first(k));
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Greeting

TEST_CASE("decodeHandshake: MariaDB 10.11's recorded greeting", "[mysql][protocol]") {
  Bytes payload = firstPayload(recorded::kCliGreeting);
  auto h = decodeHandshake(payload);
  REQUIRE(h);
  CHECK(h->protocolVersion == 10);
  CHECK(h->serverVersion == "5.5.5-10.11.19-MariaDB-0+deb12u1");
  CHECK(h->connectionId == 4);
  CHECK(h->characterSet == 8);  // latin1_swedish_ci, the server default
  CHECK(h->statusFlags == kServerStatusAutocommit);
  // Lower 0xfffe, upper 0x81ff; CLIENT_MYSQL clear, so MariaDB's extended capabilities (0x1d:
  // PROGRESS, STMT_BULK_OPERATIONS, EXTENDED_METADATA, CACHE_METADATA) are in the upper half.
  CHECK(h->capabilities == 0x0000001D81FFFFFEull);
  CHECK_FALSE(h->capabilities & kClientMysql);
  CHECK(h->capabilities & kClientSsl);
  CHECK(h->capabilities & kClientDeprecateEof);
  CHECK(h->capabilities & kMariaDbClientProgress);
  CHECK(h->capabilities & kMariaDbClientCacheMetadata);
  CHECK_FALSE(h->capabilities & kMariaDbClientComMulti);
  CHECK(str(asBytes(h->authPluginData)) ==
        std::string("\x76\x62\x65\x55\x5a\x43\x21\x77\x56\x2b\x6f\x6f\x5f\x70\x36\x59\x40\x73"
                    "\x42\x2f"));
  CHECK(h->authPluginName == kNativePasswordPlugin);

  // Re-encoded, it is byte for byte what the server sent.
  Writer w;
  putHandshake(w, *h);
  REQUIRE_FALSE(w.failed());
  CHECK(w.data() == str(recorded::kCliGreeting));

  // 49 bytes reach the lower capability flags (the legal pre-4.1 form), 78 the end of the
  // scramble; a cut anywhere else before that is refused. (A cut inside the plugin name is read
  // as the name: some old servers sent it without its NUL.)
  REQUIRE(payload.size() == 100);
  forEveryPrefix(payload, [](Bytes p) {
    auto d = decodeHandshake(p);
    CHECK(d.has_value() == (p.size() == 49 || p.size() >= 78));
  });
}

TEST_CASE("putHandshake / decodeHandshake round trips", "[mysql][protocol]") {
  Handshake h;
  h.serverVersion = "8.0.99-shardpool";
  h.connectionId = 0xDEADBEEF;
  h.authPluginData = "0123456789abcdefghij";
  h.characterSet = kCollationUtf8mb4GeneralCi;
  h.statusFlags = kServerStatusAutocommit | kServerStatusInTrans;
  h.authPluginName = kCachingSha2Plugin;

  SECTION("shardpool's own capabilities (CLIENT_MYSQL set, no extended ones)") {
    h.capabilities = shardpoolCapabilities(true);
    std::string payload = buildPayload([&](Writer& w) { putHandshake(w, h); });
    auto d = decodeHandshake(bytesOf(payload));
    REQUIRE(d);
    CHECK(d->serverVersion == h.serverVersion);
    CHECK(d->connectionId == h.connectionId);
    CHECK(d->authPluginData == h.authPluginData);
    CHECK(d->capabilities == h.capabilities);
    CHECK(d->characterSet == h.characterSet);
    CHECK(d->statusFlags == h.statusFlags);
    CHECK(d->authPluginName == h.authPluginName);
    // Layout: the part-2 scramble is 12 bytes + NUL, the auth data length 21.
    CHECK(payload.size() == 1 + h.serverVersion.size() + 1 + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10 +
                                13 + h.authPluginName.size() + 1);
  }
  SECTION("MariaDB extended capabilities travel when CLIENT_MYSQL is clear") {
    h.capabilities = (shardpoolCapabilities(false) & ~kClientMysql) | kMariaDbClientProgress |
                     kMariaDbClientBulkUnitResults;
    std::string payload = buildPayload([&](Writer& w) { putHandshake(w, h); });
    auto d = decodeHandshake(bytesOf(payload));
    REQUIRE(d);
    CHECK(d->capabilities == h.capabilities);
  }
  SECTION("longer and shorter auth plugin data") {
    for (size_t n : {8, 9, 20, 21, 32, 100, 254}) {
      INFO(n);
      std::string data;
      for (size_t i = 0; i < n; ++i) data.push_back(char('A' + i % 26));
      h.authPluginData = data;
      h.capabilities = shardpoolCapabilities(false);
      std::string payload = buildPayload([&](Writer& w) { putHandshake(w, h); });
      auto d = decodeHandshake(bytesOf(payload));
      REQUIRE(d);
      CHECK(d->authPluginData == data);
      CHECK(d->authPluginName == h.authPluginName);
    }
    Writer w;
    h.authPluginData = "short";
    putHandshake(w, h);
    CHECK(w.failed());
    Writer w2;
    h.authPluginData = std::string(255, 'x');
    putHandshake(w2, h);
    CHECK(w2.failed());
  }
  SECTION("without PLUGIN_AUTH the scramble ends at its NUL and no name follows") {
    h.capabilities = shardpoolCapabilities(false) & ~kClientPluginAuth;
    h.authPluginData = "0123456789abcdefghij";
    std::string payload = buildPayload([&](Writer& w) { putHandshake(w, h); });
    auto d = decodeHandshake(bytesOf(payload));
    REQUIRE(d);
    CHECK(d->authPluginData == h.authPluginData);
    CHECK(d->authPluginName.empty());
  }
}

TEST_CASE("decodeHandshake: old and odd greetings", "[mysql][protocol]") {
  // A plugin name without its NUL (MySQL 5.5.7-5.5.9) is read to the end of the packet.
  Handshake h;
  h.serverVersion = "5.5.8";
  h.authPluginData = "abcdefghijklmnopqrst";
  h.capabilities = shardpoolCapabilities(false);
  h.authPluginName = kNativePasswordPlugin;
  std::string payload = buildPayload([&](Writer& w) { putHandshake(w, h); });
  payload.pop_back();
  auto d = decodeHandshake(bytesOf(payload));
  REQUIRE(d);
  CHECK(d->authPluginName == kNativePasswordPlugin);

  // Protocol version 9, an ERR in the greeting's place, empty: refused.
  CHECK_FALSE(
      decodeHandshake(bytesOf("\x09"
                              "5.0\0")));
  CHECK_FALSE(decodeHandshake(bytesOf("\xff\x10\x04Too many connections")));
  CHECK_FALSE(decodeHandshake(bytesOf("")));

  // A pre-4.1 greeting that ends after the lower capability flags.
  std::string old(
      "\x0a"
      "4.0\0"
      "\x01\x00\x00\x00"
      "abcdefgh"
      "\x00"
      "\x2c\x00",
      20);
  auto o = decodeHandshake(bytesOf(old));
  REQUIRE(o);
  CHECK(o->serverVersion == "4.0");
  CHECK(o->authPluginData == "abcdefgh");
  CHECK(o->capabilities == 0x2c);
}

TEST_CASE("shardpoolCapabilities: what shardpool offers", "[mysql][protocol]") {
  Capabilities caps = shardpoolCapabilities(false);
  for (Capabilities must :
       {kClientProtocol41, kClientSecureConnection, kClientPluginAuth,
        kClientPluginAuthLenencClientData, kClientConnectWithDb, kClientMultiStatements,
        kClientMultiResults, kClientPsMultiResults, kClientSessionTrack, kClientDeprecateEof,
        kClientConnectAttrs, kClientTransactions, kClientLocalFiles}) {
    INFO(must);
    CHECK((caps & must) == must);
  }
  for (Capabilities never :
       {kClientCompress, kClientQueryAttributes, kClientOptionalResultsetMetadata,
        kClientZstdCompression, kClientMultiFactorAuthentication, kClientSsl,
        kClientSslVerifyServerCert, kClientRememberOptions, kClientCapabilityExtension}) {
    INFO(never);
    CHECK((caps & never) == 0);
  }
  CHECK((caps >> 32) == 0);  // no MariaDB extended capabilities
  CHECK(shardpoolCapabilities(true) == (caps | kClientSsl));
}

// ---------------------------------------------------------------------------------------------
// Handshake response and SSLRequest

TEST_CASE("decodeHandshakeResponse: the recorded mariadb client", "[mysql][protocol]") {
  Bytes payload = firstPayload(recorded::kCliHandshakeResponse);
  CHECK_FALSE(isSslRequest(payload));
  auto r = decodeHandshakeResponse(payload);
  REQUIRE(r);
  // 0x00bfa28c with MariaDB extended 0x1d (CLIENT_MYSQL is clear).
  CHECK(r->capabilities == 0x0000001D00BFA28Cull);
  CHECK(r->capabilities & kClientPluginAuthLenencClientData);
  CHECK(r->capabilities & kClientSessionTrack);
  CHECK_FALSE(r->capabilities & kClientDeprecateEof);
  CHECK(r->maxPacketSize == 1048576);
  CHECK(r->characterSet == 33);
  CHECK(r->username == "shard");
  CHECK(r->authResponse.size() == 20);
  CHECK(r->database == "shop");
  CHECK(r->authPluginName == kNativePasswordPlugin);
  CHECK(r->connectAttributes.size() == 127);
  auto attrs = decodeConnectAttributes(r->connectAttributes);
  REQUIRE(attrs);
  REQUIRE(attrs->size() == 7);
  CHECK((*attrs)[0] == ConnectAttribute{"_os", "Linux"});
  CHECK((*attrs)[1] == ConnectAttribute{"_client_name", "libmariadb"});
  CHECK((*attrs)[3] == ConnectAttribute{"_client_version", "3.3.20"});
  CHECK((*attrs)[5] == ConnectAttribute{"program_name", "mysql"});
  CHECK((*attrs)[6] == ConnectAttribute{"_server_host", "127.0.0.1"});
  CHECK(encodeConnectAttributes(*attrs) == str(r->connectAttributes));

  // Re-encoded byte for byte.
  Writer w;
  putHandshakeResponse(w, 1, *r);
  REQUIRE_FALSE(w.failed());
  CHECK(w.data() == str(recorded::kCliHandshakeResponse));

  // The raw client's response (CLIENT_MYSQL set: no extended capabilities).
  auto raw = decodeHandshakeResponse(firstPayload(recorded::kRawDeprecateEofHandshakeResponse));
  REQUIRE(raw);
  CHECK(raw->capabilities & kClientDeprecateEof);
  CHECK((raw->capabilities >> 32) == 0);
  CHECK(raw->characterSet == kCollationUtf8mb4GeneralCi);
  CHECK(raw->connectAttributes.empty());

  forEveryPrefix(payload, [&](Bytes p) {
    auto d = decodeHandshakeResponse(p);
    // Trailing fields may be absent (old clients); a cut inside one is refused.
    if (d) {
      CHECK(d->username == "shard");
      CHECK(d->authResponse.size() == 20);
    }
  });
}

TEST_CASE("SSLRequest: the recorded one, and round trips", "[mysql][protocol]") {
  Bytes ssl = firstPayload(recorded::kTlsSslRequest);
  REQUIRE(ssl.size() == kSslRequestLength);
  CHECK(isSslRequest(ssl));
  CHECK_FALSE(decodeHandshakeResponse(ssl));
  auto r = decodeSslRequest(ssl);
  REQUIRE(r);
  CHECK(r->capabilities == 0x0000001D00BFAA8Cull);
  CHECK(r->characterSet == 33);
  CHECK(PacketFrame(framePacket(recorded::kTlsSslRequest)).sequenceId == 1);

  // The greeting the TLS client saw offers SSL.
  auto g = decodeHandshake(firstPayload(recorded::kTlsGreeting));
  REQUIRE(g);
  CHECK(g->capabilities & kClientSsl);

  SslRequest mine{shardpoolCapabilities(true), 1u << 24, kCollationUtf8mb4GeneralCi};
  std::string payload = buildPayload([&](Writer& w) { putSslRequest(w, 1, mine); }, 1);
  CHECK(payload.size() == 32);
  auto d = decodeSslRequest(bytesOf(payload));
  REQUIRE(d);
  CHECK(d->capabilities == mine.capabilities);
  CHECK(d->maxPacketSize == mine.maxPacketSize);

  // 32 bytes without CLIENT_SSL, or any other length, is no SSLRequest.
  std::string noSsl = payload;
  noSsl[1] = char(noSsl[1] & ~0x08);
  CHECK_FALSE(isSslRequest(bytesOf(noSsl)));
  CHECK_FALSE(isSslRequest(bytesOf(payload + "x")));
  CHECK_FALSE(isSslRequest(bytesOf(payload.substr(0, 31))));
}

TEST_CASE("putHandshakeResponse / decodeHandshakeResponse round trips", "[mysql][protocol]") {
  std::string token(20, '\x5a');
  std::vector<ConnectAttribute> attrs = {{"_client_name", "shardpool"}, {"k", std::string_view()}};
  std::string encodedAttrs = encodeConnectAttributes(attrs);
  HandshakeResponse base;
  base.maxPacketSize = 0x01000000;
  base.characterSet = kCollationUtf8mb4GeneralCi;
  base.username = "alice";
  base.authResponse = bytesOf(token);
  base.database = "shop";
  base.authPluginName = kNativePasswordPlugin;
  base.connectAttributes = bytesOf(encodedAttrs);

  const Capabilities all = shardpoolCapabilities(false);
  struct Variant {
    const char* name;
    Capabilities caps;
  };
  for (Variant v : {Variant{"everything", all},
                    Variant{"1-byte auth length", all & ~kClientPluginAuthLenencClientData},
                    Variant{"no database", all & ~kClientConnectWithDb},
                    Variant{"no plugin name", all & ~kClientPluginAuth},
                    Variant{"no attributes", all & ~kClientConnectAttrs},
                    Variant{"MariaDB extended", (all & ~kClientMysql) | kMariaDbClientProgress}}) {
    INFO(v.name);
    HandshakeResponse r = base;
    r.capabilities = v.caps;
    std::string payload = buildPayload([&](Writer& w) { putHandshakeResponse(w, 1, r); }, 1);
    auto d = decodeHandshakeResponse(bytesOf(payload));
    REQUIRE(d);
    CHECK(d->capabilities == v.caps);
    CHECK(d->maxPacketSize == r.maxPacketSize);
    CHECK(d->characterSet == r.characterSet);
    CHECK(d->username == "alice");
    CHECK(str(d->authResponse) == token);
    CHECK(d->database == ((v.caps & kClientConnectWithDb) ? "shop" : ""));
    CHECK(d->authPluginName == ((v.caps & kClientPluginAuth) ? kNativePasswordPlugin : ""));
    CHECK(str(d->connectAttributes) == ((v.caps & kClientConnectAttrs) ? encodedAttrs : ""));
  }

  SECTION("a long auth response needs PLUGIN_AUTH_LENENC_CLIENT_DATA") {
    std::string rsa(256, '\x01');
    HandshakeResponse r = base;
    r.authResponse = bytesOf(rsa);
    r.capabilities = all;
    std::string payload = buildPayload([&](Writer& w) { putHandshakeResponse(w, 1, r); }, 1);
    auto d = decodeHandshakeResponse(bytesOf(payload));
    REQUIRE(d);
    CHECK(d->authResponse.size() == 256);
    Writer w;
    r.capabilities = all & ~kClientPluginAuthLenencClientData;
    putHandshakeResponse(w, 1, r);
    CHECK(w.failed());
  }
  SECTION("an empty auth response (no password)") {
    HandshakeResponse r = base;
    r.authResponse = {};
    r.capabilities = all;
    std::string payload = buildPayload([&](Writer& w) { putHandshakeResponse(w, 1, r); }, 1);
    auto d = decodeHandshakeResponse(bytesOf(payload));
    REQUIRE(d);
    CHECK(d->authResponse.empty());
    CHECK(d->database == "shop");
  }
  SECTION("pre-4.1 responses and malformed attributes are refused") {
    HandshakeResponse r = base;
    r.capabilities = all & ~kClientProtocol41;
    Writer w;
    putHandshakeResponse(w, 1, r);
    CHECK_FALSE(decodeHandshakeResponse(firstPayload(bytesOf(w.data()))));

    std::string badAttrs = "\x05_name\x09shardpool";  // value claims 9, has 9: fine...
    CHECK(decodeConnectAttributes(bytesOf(badAttrs)));
    badAttrs.pop_back();  // ...one short: refused
    CHECK_FALSE(decodeConnectAttributes(bytesOf(badAttrs)));
    CHECK_FALSE(decodeConnectAttributes(bytesOf("\x03key")));  // key without a value
    r.capabilities = all;
    r.connectAttributes = bytesOf(badAttrs);
    Writer w2;
    putHandshakeResponse(w2, 1, r);
    CHECK_FALSE(decodeHandshakeResponse(firstPayload(bytesOf(w2.data()))));
  }
}

// ---------------------------------------------------------------------------------------------
// Authentication exchange

TEST_CASE("AuthSwitchRequest: recorded and round trip", "[mysql][protocol]") {
  for (const auto& ex : recorded::kRawDeprecateEofExchanges) {
    if (std::string_view(ex.name) != "CHANGEUSER") continue;
    auto sw = decodeAuthSwitchRequest(firstPayload(ex.response));
    REQUIRE(sw);
    CHECK(sw->pluginName == kNativePasswordPlugin);
    CHECK(sw->pluginData.size() == 21);
    CHECK(sw->pluginData.back() == 0);
    CHECK(scrambleOf(sw->pluginData).size() == kScrambleLength);
  }

  std::string data = "abcdefghijklmnopqrst";
  data.push_back('\0');
  std::string payload = buildPayload(
      [&](Writer& w) { putAuthSwitchRequest(w, 2, kCachingSha2Plugin, bytesOf(data)); }, 2);
  auto d = decodeAuthSwitchRequest(bytesOf(payload));
  REQUIRE(d);
  CHECK(d->pluginName == kCachingSha2Plugin);
  CHECK(str(d->pluginData) == data);
  CHECK(str(scrambleOf(d->pluginData)) == "abcdefghijklmnopqrst");
  CHECK(str(scrambleOf(bytesOf("xyz"))) == "xyz");  // no NUL: unchanged
  CHECK(scrambleOf({}).empty());

  auto old = decodeAuthSwitchRequest(bytesOf("\xfe"));
  REQUIRE(old);
  CHECK(old->pluginName.empty());
  CHECK_FALSE(
      decodeAuthSwitchRequest(bytesOf("\xfe"
                                      "no terminator")));
  CHECK_FALSE(decodeAuthSwitchRequest(bytesOf(std::string_view("\xfe\0data", 6))));
  CHECK_FALSE(decodeAuthSwitchRequest(bytesOf("\x01plugin")));
  CHECK_FALSE(decodeAuthSwitchRequest({}));
}

TEST_CASE("AuthMoreData and caching_sha2_password's statuses", "[mysql][protocol]") {
  std::string fast = buildPayload(
      [](Writer& w) {
        uint8_t s = kCachingSha2FastAuthSuccess;
        putAuthMoreData(w, 3, Bytes(&s, 1));
      },
      3);
  CHECK(fast == "\x01\x03");
  CHECK(isFastAuthSuccess(bytesOf(fast)));
  CHECK_FALSE(isPerformFullAuth(bytesOf(fast)));
  CHECK(isPerformFullAuth(bytesOf("\x01\x04")));
  CHECK_FALSE(isFastAuthSuccess(bytesOf(std::string_view("\x01\x03\x00", 3))));
  CHECK_FALSE(isFastAuthSuccess(bytesOf(std::string_view("\x00\x03", 2))));

  std::string pem = "-----BEGIN PUBLIC KEY-----\nMIIB...\n-----END PUBLIC KEY-----\n";
  std::string payload = buildPayload([&](Writer& w) { putAuthMoreData(w, 4, bytesOf(pem)); }, 4);
  auto d = decodeAuthMoreData(bytesOf(payload));
  REQUIRE(d);
  CHECK(str(*d) == pem);
  CHECK_FALSE(decodeAuthMoreData(bytesOf(std::string_view("\x00\x03", 2))));
  CHECK_FALSE(decodeAuthMoreData({}));

  std::string token(32, '\x42');
  CHECK(buildPayload([&](Writer& w) { putAuthSwitchResponse(w, 3, bytesOf(token)); }, 3) == token);
  CHECK(buildPayload([](Writer& w) { putAuthSwitchResponse(w, 5, {}); }, 5).empty());
}

TEST_CASE("handshake decoders: random garbage never crashes", "[mysql][protocol]") {
  std::mt19937 rng(99);
  std::string greeting = str(firstPayload(recorded::kCliGreeting));
  std::string response = str(firstPayload(recorded::kCliHandshakeResponse));
  for (int round = 0; round < 4000; ++round) {
    std::string junk = randomBytes(rng, rng() % 160);
    // Half the time, mutate a real packet instead: deeper paths.
    if (round & 1) {
      junk = (round & 2) ? greeting : response;
      for (int k = 0; k < 4; ++k) junk[rng() % junk.size()] = char(rng());
      junk.resize(rng() % (junk.size() + 1));
    }
    Bytes b = bytesOf(junk);
    (void)decodeHandshake(b);
    if (auto r = decodeHandshakeResponse(b)) {
      REQUIRE(r->authResponse.size() <= junk.size());
      (void)decodeConnectAttributes(r->connectAttributes);
    }
    (void)decodeSslRequest(b);
    (void)decodeAuthSwitchRequest(b);
    (void)decodeAuthMoreData(b);
  }
}
