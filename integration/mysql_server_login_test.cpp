// The MySQL engine's backend login (MysqlServerLogin) against the real MariaDB of the fixture
// "mariadb": what shardpool's server links will do before the engine runs them.
#include <catch2/catch.hpp>

#include "integration/mariadb_client.h"
#include "integration/raw_socket.h"
#include "pooler/mysql/server_login.h"
#include "pooler/protocol/mysql_codec.h"

using namespace shardpool::integration;
using shardpool::pooler::MysqlServerLogin;
namespace my = shardpool::protocol::mysql;

namespace {

// Drives `login` over a fresh TCP connection to the primary until it is done or failed.
MysqlServerLogin::Status logIn(MysqlServerLogin& login) {
  RawSocket socket(mariadbPrimary().port());
  for (;;) {
    auto whole = [](std::string_view in) {
      return my::framePacket(my::asBytes(in)).status == my::FrameStatus::Ok;
    };
    REQUIRE(socket.readUntil(whole, 5s) == RawSocket::End::Matched);
    auto frame = my::framePacket(my::asBytes(socket.received()));
    my::Writer out;
    auto status = login.onPacket(frame.payload, frame.sequenceId, out);
    std::string rest = socket.received().substr(frame.totalSize);
    socket.clearReceived();
    REQUIRE(rest.empty());  // the server waits for our answer after each packet
    if (status != MysqlServerLogin::Status::Continue) return status;
    REQUIRE_FALSE(out.failed());
    REQUIRE(socket.send(out.take()));
  }
}

}  // namespace

TEST_CASE("MysqlServerLogin logs in to MariaDB 10.11 with mysql_native_password",
          "[integration][mysql]") {
  const auto& primary = mariadbPrimary();
  SECTION("by password, with a database") {
    MysqlServerLogin login("sp_app", primary.value("SP_APP_PASSWORD"), "sp_db");
    REQUIRE(logIn(login) == MysqlServerLogin::Status::Done);
    CHECK(contains(login.serverVersion(), "10.11."));
    CHECK(login.connectionId() > 0);
    CHECK(login.capabilities() & my::kClientProtocol41);
  }
  SECTION("by the SHA1 stage a client proved, without a database") {
    MysqlServerLogin login(
        "sp_admin", shardpool::pooler::auth::mysqlNativeStage1(primary.value("SP_ADMIN_PASSWORD")),
        "");
    REQUIRE(logIn(login) == MysqlServerLogin::Status::Done);
  }
  SECTION("a wrong password: MariaDB's ERR 1045") {
    MysqlServerLogin login("sp_app", "not_the_password", "sp_db");
    REQUIRE(logIn(login) == MysqlServerLogin::Status::Failed);
    CHECK(login.errorCode() == 1045);
    CHECK(login.sqlState() == "28000");
    CHECK(contains(login.error(), "Access denied for user 'sp_app'@'127.0.0.1'"));
  }
  SECTION("a database the user may not use: ERR 1044") {
    MysqlServerLogin login("sp_app", primary.value("SP_APP_PASSWORD"), "mysql");
    REQUIRE(logIn(login) == MysqlServerLogin::Status::Failed);
    CHECK(login.errorCode() == 1044);
    CHECK(login.sqlState() == "42000");
  }
}
