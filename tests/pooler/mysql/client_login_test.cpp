// MysqlClientLogin: shardpool as the server a MySQL client logs in to, fed the recorded mariadb
// client's packets and hand-made ones; and against MysqlServerLogin, shardpool's own client.
#include "pooler/mysql/client_login.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <random>

#include "pooler/mysql/server_login.h"
#include "pooler/protocol/mysql_handshake.h"
#include "tests/pooler/mysql/login_test_helpers.h"

using namespace shardpool::pooler;
using namespace shardpool::pooler::testing;
namespace auth = shardpool::pooler::auth;
using Status = MysqlClientLogin::Status;

namespace {

// The scramble of the recorded greeting, which the recorded client's token answers.
MysqlClientLogin::Scramble recordedScramble() {
  auto h = my::decodeHandshake(recordedGreeting());
  REQUIRE(h);
  REQUIRE(h->authPluginData.size() == 20);
  MysqlClientLogin::Scramble s{};
  std::memcpy(s.data(), h->authPluginData.data(), s.size());
  return s;
}

// A login that has sent its greeting.
MysqlClientLogin greeted(const MysqlClientLogin::Scramble& scramble) {
  MysqlClientLogin login(scramble, 7, "127.0.0.1");
  my::Writer w;
  login.greet(w, "5.5.5-shardpool");
  takeOne(w);
  return login;
}

std::string responseFor(std::string_view plugin, std::string_view token) {
  my::HandshakeResponse r;
  r.capabilities = my::shardpoolCapabilities(false);
  r.maxPacketSize = 1 << 24;
  r.characterSet = my::kCollationUtf8mb4GeneralCi;
  r.username = "alice";
  r.authResponse = my::asBytes(token);
  r.database = "shop";
  r.authPluginName = plugin;
  my::Writer w;
  my::putHandshakeResponse(w, 1, r);
  return takeOne(w).payload;
}

}  // namespace

TEST_CASE("MysqlClientLogin: the greeting offers mysql_native_password, no TLS", "[mysql][login]") {
  auto scramble = recordedScramble();
  MysqlClientLogin login(scramble, 42, "127.0.0.1");
  my::Writer w;
  login.greet(w, "5.5.5-10.11.0-shardpool");
  auto p = takeOne(w);
  CHECK(p.seq == 0);
  auto h = my::decodeHandshake(p.bytes());
  REQUIRE(h);
  CHECK(h->serverVersion == "5.5.5-10.11.0-shardpool");
  CHECK(h->connectionId == 42);
  CHECK(h->authPluginName == my::kNativePasswordPlugin);
  CHECK(h->authPluginData ==
        std::string(reinterpret_cast<const char*>(scramble.data()), scramble.size()));
  CHECK(h->capabilities == my::shardpoolCapabilities(false));
  CHECK_FALSE(h->capabilities & my::kClientSsl);
  CHECK(h->statusFlags == my::kServerStatusAutocommit);
}

TEST_CASE("MysqlClientLogin: the recorded mariadb client logs in", "[mysql][login]") {
  auto login = greeted(recordedScramble());
  my::Writer w;
  auto response = my::testing::firstPayload(recorded::kCliHandshakeResponse);
  REQUIRE(login.onPacket(response, 1, w) == Status::Identified);
  CHECK(w.data().empty());
  CHECK(login.user() == "shard");
  CHECK(login.database() == "shop");
  CHECK(login.characterSet() == my::kCollationUtf8GeneralCi);
  CHECK(login.capabilities() & my::kClientSessionTrack);
  CHECK(login.capabilities() & my::kClientMultiResults);
  CHECK_FALSE(login.capabilities() & ~my::shardpoolCapabilities(false));

  SECTION("plaintext password") {
    REQUIRE(login.verify(recorded::kPassword, w) == Status::Accepted);
  }
  SECTION("mysql.user's stored form") {
    REQUIRE(login.verify("*AF9E01EA8519CE58E3739F4034EFD3D6B4CA6324", w) == Status::Accepted);
  }
  auto ok = takeOne(w);
  CHECK(ok.seq == 2);
  auto decoded = my::decodeOk(ok.bytes(), login.capabilities());
  REQUIRE(decoded);
  CHECK(decoded->statusFlags & my::kServerStatusAutocommit);
  REQUIRE(login.provenStage1());
  CHECK(*login.provenStage1() == auth::mysqlNativeStage1(recorded::kPassword));
}

TEST_CASE("MysqlClientLogin: a wrong password is ERR 1045 as MariaDB words it", "[mysql][login]") {
  auto login = greeted(recordedScramble());
  my::Writer w;
  REQUIRE(login.onPacket(my::testing::firstPayload(recorded::kCliHandshakeResponse), 1, w) ==
          Status::Identified);
  std::string password;
  SECTION("plaintext") {
    password = "not-sekret";
  }
  SECTION("stored form") {
    password = auth::formatMysqlNativeStored(auth::mysqlNativeStage2("x"));
  }
  SECTION("a user without a password") {
    password = "";
  }
  REQUIRE(login.verify(password, w) == Status::Refused);
  checkErr(takeOne(w), 2, 1045, "28000",
           "Access denied for user 'shard'@'127.0.0.1' (using password: YES)");
  CHECK_FALSE(login.provenStage1());
  CHECK_FALSE(login.reason().empty());
}

TEST_CASE("MysqlClientLogin: a MySQL 8 client's caching_sha2_password", "[mysql][login]") {
  auto scramble = recordedScramble();
  auto login = greeted(scramble);
  my::Writer w;
  // A MySQL 8 client's fast-path token for its default plugin.
  std::string sha2 = auth::cachingSha2Token("pw", scramble);
  REQUIRE(login.onPacket(my::asBytes(responseFor(my::kCachingSha2Plugin, sha2)), 1, w) ==
          Status::Identified);
  CHECK(login.user() == "alice");

  SECTION("a plaintext password: the fast path (fast auth success, then OK)") {
    REQUIRE(login.verify("pw", w) == Status::Accepted);
    auto packets = takePackets(w);
    REQUIRE(packets.size() == 2);
    CHECK(packets[0].seq == 2);
    CHECK(packets[0].payload == std::string("\x01\x03", 2));
    CHECK(packets[1].seq == 3);
    CHECK(packets[1].payload[0] == 0x00);
    REQUIRE(login.provenStage1());
    CHECK(*login.provenStage1() == auth::mysqlNativeStage1("pw"));
  }
  SECTION("a wrong password: ERR 1045") {
    REQUIRE(login.verify("other", w) == Status::Refused);
    checkErr(takeOne(w), 2, 1045, "28000",
             "Access denied for user 'alice'@'127.0.0.1' (using password: YES)");
  }
  SECTION("only mysql.user's hash, without TLS: switched to mysql_native_password") {
    std::string stored = auth::formatMysqlNativeStored(auth::mysqlNativeStage2("pw"));
    REQUIRE(login.verify(stored, w) == Status::Continue);
    auto sw = takeOne(w);
    CHECK(sw.seq == 2);
    auto request = my::decodeAuthSwitchRequest(sw.bytes());
    REQUIRE(request);
    CHECK(request->pluginName == my::kNativePasswordPlugin);
    CHECK(my::testing::str(my::scrambleOf(request->pluginData)) ==
          std::string(reinterpret_cast<const char*>(scramble.data()), scramble.size()));
    std::string token = auth::mysqlNativeToken("pw", scramble);
    REQUIRE(login.onPacket(my::asBytes(token), 3, w) == Status::Accepted);
    CHECK(takeOne(w).seq == 4);
    CHECK(*login.provenStage1() == auth::mysqlNativeStage1("pw"));
  }
}

TEST_CASE("MysqlClientLogin: caching_sha2_password's full authentication over TLS",
          "[mysql][login]") {
  auto scramble = recordedScramble();
  MysqlClientLogin login(scramble, 7, "127.0.0.1");
  my::Writer w;
  login.greet(w, "5.5.5-shardpool", true);
  auto greeting = my::decodeHandshake(takeOne(w).bytes());
  REQUIRE(greeting);
  CHECK((greeting->capabilities & my::kClientSsl) != 0);
  // The SSLRequest (32 bytes: capabilities with CLIENT_SSL, max packet, charset, filler).
  std::string ssl(32, '\0');
  uint32_t caps = static_cast<uint32_t>(my::shardpoolCapabilities(true));
  std::memcpy(ssl.data(), &caps, 4);
  ssl[8] = static_cast<char>(my::kCollationUtf8mb4GeneralCi);
  REQUIRE(login.onPacket(my::asBytes(ssl), 1, w) == Status::StartTls);
  std::string response = responseFor(my::kCachingSha2Plugin, auth::cachingSha2Token("pw", scramble));
  REQUIRE(login.onPacket(my::asBytes(response), 2, w) == Status::Identified);
  CHECK(login.overTls());
  std::string stored = auth::formatMysqlNativeStored(auth::mysqlNativeStage2("pw"));
  REQUIRE(login.verify(stored, w) == Status::Continue);
  auto more = takeOne(w);
  CHECK(more.seq == 3);
  CHECK(more.payload == std::string("\x01\x04", 2));
  SECTION("the right password, in clear inside TLS") {
    REQUIRE(login.onPacket(my::asBytes(std::string("pw", 3)), 4, w) == Status::Accepted);
    CHECK(takeOne(w).seq == 5);
    CHECK(*login.provenStage1() == auth::mysqlNativeStage1("pw"));
  }
  SECTION("a wrong one") {
    REQUIRE(login.onPacket(my::asBytes(std::string("nope", 5)), 4, w) == Status::Refused);
    CHECK(takeOne(w).seq == 5);
  }
}

TEST_CASE("MysqlClientLogin: users without a password, and empty tokens", "[mysql][login]") {
  auto scramble = recordedScramble();
  my::Writer w;
  SECTION("no password, no token: in") {
    auto login = greeted(scramble);
    REQUIRE(login.onPacket(my::asBytes(responseFor(my::kNativePasswordPlugin, "")), 1, w) ==
            Status::Identified);
    CHECK(login.verify("", w) == Status::Accepted);
  }
  SECTION("a password, no token: ERR saying no password was used") {
    auto login = greeted(scramble);
    REQUIRE(login.onPacket(my::asBytes(responseFor(my::kNativePasswordPlugin, "")), 1, w) ==
            Status::Identified);
    REQUIRE(login.verify("pw", w) == Status::Refused);
    checkErr(takeOne(w), 2, 1045, "28000",
             "Access denied for user 'alice'@'127.0.0.1' (using password: NO)");
  }
}

TEST_CASE("MysqlClientLogin: what is not a login is refused without a reply", "[mysql][login]") {
  auto scramble = recordedScramble();
  auto response = responseFor(my::kNativePasswordPlugin, std::string(20, 'x'));
  my::Writer w;
  SECTION("out of order") {
    auto login = greeted(scramble);
    CHECK(login.onPacket(my::asBytes(response), 2, w) == Status::Malformed);
  }
  SECTION("an SSLRequest, when no TLS was offered") {
    auto login = greeted(scramble);
    CHECK(login.onPacket(my::asBytes(response).first(my::kSslRequestLength), 1, w) ==
          Status::Malformed);
  }
  SECTION("every truncation of a response") {
    for (size_t n = 0; n < 32; ++n) {
      auto login = greeted(scramble);
      INFO(n);
      CHECK(login.onPacket(my::asBytes(response).first(n), 1, w) == Status::Malformed);
    }
  }
  SECTION("a packet after the login ended") {
    auto login = greeted(scramble);
    REQUIRE(login.onPacket(my::asBytes(response), 1, w) == Status::Identified);
    REQUIRE(login.verify("other", w) == Status::Refused);
    takeOne(w);
    CHECK(login.onPacket(my::asBytes(response), 3, w) == Status::Malformed);
  }
  CHECK(w.data().empty());
}

TEST_CASE("MysqlClientLogin: refuse() ends the login with shardpool's own ERR", "[mysql][login]") {
  auto login = greeted(recordedScramble());
  my::Writer w;
  REQUIRE(login.onPacket(my::testing::firstPayload(recorded::kCliHandshakeResponse), 1, w) ==
          Status::Identified);
  REQUIRE(login.refuse(w, 1049, "42000", "Unknown database 'shop'") == Status::Refused);
  checkErr(takeOne(w), 2, 1049, "42000", "Unknown database 'shop'");
}

TEST_CASE("MysqlClientLogin and MysqlServerLogin log in to each other", "[mysql][login]") {
  auto scramble = auth::mysqlScramble();
  MysqlClientLogin server(scramble, 9, "127.0.0.1");
  bool byStage1 = GENERATE(false, true);
  INFO((byStage1 ? "by stage1" : "by password"));
  MysqlServerLogin client =
      byStage1 ? MysqlServerLogin("bob", auth::mysqlNativeStage1("s3cret"), "inventory")
               : MysqlServerLogin("bob", "s3cret", "inventory");
  my::Writer toClient, toServer;
  server.greet(toClient, "5.5.5-shardpool");
  auto greeting = takeOne(toClient);
  REQUIRE(client.onPacket(greeting.bytes(), greeting.seq, toServer) ==
          MysqlServerLogin::Status::Continue);
  CHECK(client.connectionId() == 9);
  auto response = takeOne(toServer);
  REQUIRE(server.onPacket(response.bytes(), response.seq, toClient) == Status::Identified);
  CHECK(server.user() == "bob");
  CHECK(server.database() == "inventory");
  CHECK(server.characterSet() == my::kCollationUtf8mb4GeneralCi);
  REQUIRE(server.verify(auth::formatMysqlNativeStored(auth::mysqlNativeStage2("s3cret")),
                        toClient) == Status::Accepted);
  auto ok = takeOne(toClient);
  CHECK(client.onPacket(ok.bytes(), ok.seq, toServer) == MysqlServerLogin::Status::Done);
  CHECK(toServer.data().empty());
}

TEST_CASE("MysqlClientLogin: random packets never crash it", "[mysql][login]") {
  std::mt19937 rng(15);
  auto scramble = recordedScramble();
  for (int i = 0; i < 2000; ++i) {
    auto login = greeted(scramble);
    my::Writer w;
    std::string junk = my::testing::randomBytes(rng, rng() % 80);
    if (login.onPacket(my::asBytes(junk), 1, w) == Status::Continue)
      (void)login.onPacket(my::asBytes(junk), 3, w);
    (void)login.verify("pw", w);
    CHECK_FALSE(w.failed());
  }
}
