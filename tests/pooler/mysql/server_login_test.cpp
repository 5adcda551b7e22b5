// MysqlServerLogin: shardpool logging in to a MariaDB server, fed the recorded MariaDB greeting
// and OK (the token must equal the recorded mariadb client's) and hand-made refusals.
#include "pooler/mysql/server_login.h"

#include <catch2/catch.hpp>
#include <random>

#include "pooler/protocol/mysql_handshake.h"
#include "tests/pooler/mysql/login_test_helpers.h"

using namespace shardpool::pooler;
using namespace shardpool::pooler::testing;
namespace auth = shardpool::pooler::auth;
using Status = MysqlServerLogin::Status;

namespace {

std::string errPayload(uint16_t code, std::string_view state, std::string_view message) {
  my::Writer w;
  my::putErr(w, 2, my::ErrPacket{code, state, message}, my::kClientProtocol41);
  return takeOne(w).payload;
}

}  // namespace

TEST_CASE("MysqlServerLogin: answers MariaDB's recorded greeting as the mariadb client did",
          "[mysql][login]") {
  MysqlServerLogin login("shard", recorded::kPassword, "shop", my::kCollationUtf8GeneralCi);
  my::Writer w;
  REQUIRE(login.onPacket(recordedGreeting(), 0, w) == Status::Continue);
  CHECK(login.serverVersion() == "5.5.5-10.11.19-MariaDB-0+deb12u1");
  CHECK(login.connectionId() == 4);

  auto sent = takeOne(w);
  CHECK(sent.seq == 1);
  auto ours = my::decodeHandshakeResponse(sent.bytes());
  auto theirs =
      my::decodeHandshakeResponse(my::testing::firstPayload(recorded::kCliHandshakeResponse));
  REQUIRE(ours);
  REQUIRE(theirs);
  CHECK(ours->username == "shard");
  CHECK(ours->database == "shop");
  CHECK(ours->authPluginName == my::kNativePasswordPlugin);
  CHECK(ours->characterSet == my::kCollationUtf8GeneralCi);
  CHECK(my::testing::str(ours->authResponse) == my::testing::str(theirs->authResponse));
  // Only what both sides have; no MariaDB extensions, attributes, TLS or compression.
  CHECK(ours->capabilities & my::kClientMysql);
  CHECK((ours->capabilities >> 32) == 0);
  CHECK_FALSE(ours->capabilities &
              (my::kClientConnectAttrs | my::kClientSsl | my::kClientCompress));
  CHECK(ours->capabilities & my::kClientDeprecateEof);
  CHECK(ours->capabilities & my::kClientMultiResults);

  auto ok = my::testing::firstPayload(recorded::kCliAuthOk);
  CHECK(login.onPacket(ok, 2, w) == Status::Done);
  CHECK(login.statusFlags() & my::kServerStatusAutocommit);
  CHECK(w.data().empty());
}

TEST_CASE("MysqlServerLogin: the server's refusals are reported with its code and state",
          "[mysql][login]") {
  my::Writer w;
  SECTION("an ERR in place of the greeting") {
    MysqlServerLogin login("shard", "pw", "shop");
    auto err = errPayload(1040, "08004", "Too many connections");
    CHECK(login.onPacket(my::asBytes(err), 0, w) == Status::Failed);
    CHECK(login.errorCode() == 1040);
    CHECK(login.sqlState() == "08004");
    CHECK(login.error() == "server refused the greeting: 1040 (08004): Too many connections");
  }
  SECTION("a wrong password") {
    MysqlServerLogin login("shard", "wrong", "shop");
    REQUIRE(login.onPacket(recordedGreeting(), 0, w) == Status::Continue);
    takeOne(w);
    auto err = errPayload(1045, "28000", "Access denied for user 'shard'@'127.0.0.1'");
    CHECK(login.onPacket(my::asBytes(err), 2, w) == Status::Failed);
    CHECK(login.errorCode() == 1045);
    CHECK(login.sqlState() == "28000");
  }
  SECTION("a packet out of order") {
    MysqlServerLogin login("shard", "pw", "shop");
    CHECK(login.onPacket(recordedGreeting(), 1, w) == Status::Failed);
    CHECK(login.errorCode() == 0);
  }
  SECTION("garbage for a greeting") {
    MysqlServerLogin login("shard", "pw", "shop");
    CHECK(login.onPacket(my::asBytes(std::string("\x09garbage")), 0, w) == Status::Failed);
  }
  CHECK(w.data().empty());
}

TEST_CASE("MysqlServerLogin: an auth switch to mysql_native_password is answered once",
          "[mysql][login]") {
  MysqlServerLogin login("shard", "pw", "");
  my::Writer w;
  REQUIRE(login.onPacket(recordedGreeting(), 0, w) == Status::Continue);
  auto response = my::decodeHandshakeResponse(takeOne(w).bytes());
  REQUIRE(response);
  CHECK_FALSE(response->capabilities & my::kClientConnectWithDb);  // no database asked for

  std::string scramble = "abcdefghijklmnopqrst";
  auto switchTo = [&](std::string_view plugin, uint8_t seq) {
    my::Writer s;
    my::putAuthSwitchRequest(s, seq, plugin, my::asBytes(scramble + std::string(1, '\0')));
    return takeOne(s).payload;
  };
  SECTION("to mysql_native_password: the new scramble's token") {
    REQUIRE(login.onPacket(my::asBytes(switchTo(my::kNativePasswordPlugin, 2)), 2, w) ==
            Status::Continue);
    auto answer = takeOne(w);
    CHECK(answer.seq == 3);
    CHECK(answer.payload == auth::mysqlNativeToken("pw", my::asBytes(scramble)));
    SECTION("a second switch fails") {
      CHECK(login.onPacket(my::asBytes(switchTo(my::kNativePasswordPlugin, 4)), 4, w) ==
            Status::Failed);
    }
  }
  SECTION("to another plugin: a clear failure") {
    CHECK(login.onPacket(my::asBytes(switchTo("client_ed25519", 2)), 2, w) == Status::Failed);
    CHECK(login.error() ==
          "the server asks for auth plugin \"client_ed25519\"; shardpool logs in to servers "
          "with mysql_native_password only");
  }
}

TEST_CASE("MysqlServerLogin: random packets never crash it", "[mysql][login]") {
  std::mt19937 rng(15);
  for (int i = 0; i < 2000; ++i) {
    MysqlServerLogin login("shard", "pw", "shop");
    my::Writer w;
    std::string junk = my::testing::randomBytes(rng, rng() % 80);
    bool greetFirst = i % 2 == 0;
    if (greetFirst) REQUIRE(login.onPacket(recordedGreeting(), 0, w) == Status::Continue);
    (void)login.onPacket(my::asBytes(junk), greetFirst ? 2 : 0, w);
    CHECK_FALSE(w.failed());
  }
}
