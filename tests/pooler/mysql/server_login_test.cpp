// MysqlServerLogin: shardpool logging in to a MariaDB server, fed the recorded MariaDB greeting
// and OK (the token must equal the recorded mariadb client's) and hand-made refusals.
#include "pooler/mysql/server_login.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

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
          "with mysql_native_password or caching_sha2_password");
  }
  SECTION("to caching_sha2_password: its fast-path token") {
    REQUIRE(login.onPacket(my::asBytes(switchTo(my::kCachingSha2Plugin, 2)), 2, w) ==
            Status::Continue);
    auto answer = takeOne(w);
    CHECK(answer.seq == 3);
    CHECK(answer.payload == auth::cachingSha2Token("pw", my::asBytes(scramble)));
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

namespace {

// A MySQL 8 greeting proposing caching_sha2_password with `nonce`.
std::string mysql8Greeting(const std::string& nonce) {
  my::Handshake h;
  h.serverVersion = "8.0.36";
  h.connectionId = 9;
  h.authPluginData = nonce;
  h.capabilities = my::shardpoolCapabilities(false) | my::kClientPluginAuth;
  h.characterSet = 255;
  h.statusFlags = my::kServerStatusAutocommit;
  h.authPluginName = my::kCachingSha2Plugin;
  my::Writer w;
  my::putHandshake(w, h);
  return takeOne(w).payload;
}

std::string moreData(uint8_t seq, std::string_view data) {
  my::Writer w;
  my::putAuthMoreData(w, seq, my::asBytes(data));
  return takeOne(w).payload;
}

std::string okPayload(uint8_t seq) {
  my::Writer w;
  my::putOk(w, seq, my::OkPacket{.statusFlags = my::kServerStatusAutocommit},
            my::kClientProtocol41);
  return takeOne(w).payload;
}

// An RSA key pair as MySQL 8 sends its public half (PEM), and a decryption with the private.
struct RsaKey {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  ~RsaKey() { EVP_PKEY_free(key); }
  std::string publicPem() const {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, key);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<size_t>(n));
    BIO_free(bio);
    return pem;
  }
  std::string decrypt(std::string_view cipher) const {
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key, nullptr);
    REQUIRE(EVP_PKEY_decrypt_init(ctx) == 1);
    REQUIRE(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1);
    size_t len = 0;
    const auto* in = reinterpret_cast<const unsigned char*>(cipher.data());
    REQUIRE(EVP_PKEY_decrypt(ctx, nullptr, &len, in, cipher.size()) == 1);
    std::string out(len, '\0');
    REQUIRE(EVP_PKEY_decrypt(ctx, reinterpret_cast<unsigned char*>(out.data()), &len, in,
                             cipher.size()) == 1);
    out.resize(len);
    EVP_PKEY_CTX_free(ctx);
    return out;
  }
};

}  // namespace

TEST_CASE("MysqlServerLogin: MySQL 8's caching_sha2_password, fast path and full authentication",
          "[mysql][login]") {
  const std::string nonce = "0123456789abcdefghij";
  MysqlServerLogin login("app", "s3cret", "shop");
  my::Writer w;
  REQUIRE(login.onPacket(my::asBytes(mysql8Greeting(nonce)), 0, w) == Status::Continue);
  auto response = my::decodeHandshakeResponse(takeOne(w).bytes());
  REQUIRE(response);
  CHECK(response->authPluginName == my::kCachingSha2Plugin);
  CHECK(my::asText(response->authResponse) ==
        auth::cachingSha2Token("s3cret", my::asBytes(nonce)));

  SECTION("the server has the user cached: fast auth success, then OK") {
    REQUIRE(login.onPacket(my::asBytes(moreData(2, "\x03")), 2, w) == Status::Continue);
    CHECK(w.data().empty());
    CHECK(login.onPacket(my::asBytes(okPayload(3)), 3, w) == Status::Done);
  }
  SECTION("full authentication: the RSA key asked for, the password sent encrypted with it") {
    RsaKey key;
    REQUIRE(login.onPacket(my::asBytes(moreData(2, "\x04")), 2, w) == Status::Continue);
    auto request = takeOne(w);
    CHECK(request.seq == 3);
    CHECK(request.payload == std::string(1, '\x02'));
    REQUIRE(login.onPacket(my::asBytes(moreData(4, key.publicPem())), 4, w) == Status::Continue);
    auto secret = takeOne(w);
    CHECK(secret.seq == 5);
    CHECK(key.decrypt(secret.payload) ==
          auth::cachingSha2XorPassword("s3cret", my::asBytes(nonce)));
    CHECK(login.onPacket(my::asBytes(okPayload(6)), 6, w) == Status::Done);
  }
  SECTION("a key that is not one fails clearly") {
    REQUIRE(login.onPacket(my::asBytes(moreData(2, "\x04")), 2, w) == Status::Continue);
    takeOne(w);
    CHECK(login.onPacket(my::asBytes(moreData(4, "not a key")), 4, w) == Status::Failed);
    CHECK(login.error() == "the server's RSA public key could not be used");
  }
}

TEST_CASE("MysqlServerLogin: caching_sha2_password needs the plaintext password",
          "[mysql][login]") {
  // Only the SHA1 stage a client proved: answered with mysql_native_password, and a switch to
  // caching_sha2_password is a clear failure.
  MysqlServerLogin login("app", auth::mysqlNativeStage1("s3cret"), "shop");
  my::Writer w;
  REQUIRE(login.onPacket(my::asBytes(mysql8Greeting("0123456789abcdefghij")), 0, w) ==
          Status::Continue);
  auto response = my::decodeHandshakeResponse(takeOne(w).bytes());
  REQUIRE(response);
  CHECK(response->authPluginName == my::kNativePasswordPlugin);
  my::Writer s;
  my::putAuthSwitchRequest(s, 2, my::kCachingSha2Plugin,
                           my::asBytes(std::string("abcdefghijklmnopqrst") + '\0'));
  CHECK(login.onPacket(takeOne(s).bytes(), 2, w) == Status::Failed);
  CHECK(login.error() ==
        "the server asks for caching_sha2_password, which needs the user's plaintext password "
        "in [users] (or the database's password)");
}
