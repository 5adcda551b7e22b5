// mysql_native_password and caching_sha2_password scrambles. Expected values were computed
// independently with python3's hashlib while writing these tests, e.g.
//   sha1 = lambda b: hashlib.sha1(b).digest()
//   s1 = sha1(b"sekret"); s2 = sha1(s1)
//   token = bytes(a ^ b for a, b in zip(s1, sha1(b"abcdefghijklmnopqrst" + s2)))
// and for caching_sha2_password the same with sha256 and sha256(s2 + scramble).
#include "pooler/auth/mysql_auth.h"

#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "pooler/protocol/mysql_handshake.h"
#include "tests/pooler/protocol/mysql_recorded.h"

using namespace shardpool::pooler::auth;
namespace mysql = shardpool::protocol::mysql;
namespace recorded = shardpool::protocol::mysql::recorded;

namespace {

std::span<const uint8_t> bytesOf(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string hex(std::span<const uint8_t> b) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (uint8_t c : b) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

std::string hex(std::string_view s) {
  return hex(bytesOf(s));
}

const std::string_view kScramble = "abcdefghijklmnopqrst";

}  // namespace

TEST_CASE("mysql_native_password: stages and the *HEX stored form", "[mysql][auth]") {
  CHECK(hex(mysqlNativeStage1("sekret")) == "a1b9892611956aa13a5ab9ccf01f49662583f2d2");
  // What the recording's mysql.user shows for 'sekret', and MySQL's well-known
  // PASSWORD('password').
  CHECK(formatMysqlNativeStored(mysqlNativeStage2("sekret")) ==
        "*AF9E01EA8519CE58E3739F4034EFD3D6B4CA6324");
  CHECK(formatMysqlNativeStored(mysqlNativeStage2("password")) ==
        "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19");

  auto parsed = parseMysqlNativeStored("*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19");
  REQUIRE(parsed);
  CHECK(*parsed == mysqlNativeStage2("password"));
  auto lower = parseMysqlNativeStored("*2470c0c06dee42fd1618bb99005adca2ec9d1e19");
  REQUIRE(lower);
  CHECK(*lower == *parsed);

  for (std::string_view bad :
       {"", "*", "2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19",
        "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E1", "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E199",
        "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E1G", "#2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19",
        "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E 9"}) {
    INFO(bad);
    CHECK_FALSE(parseMysqlNativeStored(bad));
  }
}

TEST_CASE("mysql_native_password: client token and server verification", "[mysql][auth]") {
  std::string token = mysqlNativeToken("sekret", bytesOf(kScramble));
  CHECK(hex(token) == "76352c2fd69f0d02efa533a9f3427f38b3d635e8");
  CHECK(hex(mysqlNativeToken("password", bytesOf(kScramble))) ==
        "bfdd49584b917d42c758edd2a7a541f721843041");
  CHECK(mysqlNativeToken("", bytesOf(kScramble)).empty());
  CHECK(hex(mysqlNativeTokenFromStage1(mysqlNativeStage1("sekret"), bytesOf(kScramble))) ==
        hex(token));

  Sha1Digest stage2 = *parseMysqlNativeStored("*AF9E01EA8519CE58E3739F4034EFD3D6B4CA6324");
  auto stage1 = verifyMysqlNativeToken(bytesOf(token), bytesOf(kScramble), stage2);
  REQUIRE(stage1);
  CHECK(hex(*stage1) == "a1b9892611956aa13a5ab9ccf01f49662583f2d2");

  SECTION("wrong password, wrong scramble, flipped bits, bad sizes") {
    std::string other = mysqlNativeToken("sekreT", bytesOf(kScramble));
    CHECK_FALSE(verifyMysqlNativeToken(bytesOf(other), bytesOf(kScramble), stage2));
    CHECK_FALSE(verifyMysqlNativeToken(bytesOf(token), bytesOf("abcdefghijklmnopqrsT"), stage2));
    for (size_t i = 0; i < token.size(); ++i) {
      std::string flipped = token;
      flipped[i] = char(flipped[i] ^ 0x01);
      CHECK_FALSE(verifyMysqlNativeToken(bytesOf(flipped), bytesOf(kScramble), stage2));
    }
    CHECK_FALSE(verifyMysqlNativeToken(bytesOf(""), bytesOf(kScramble), stage2));
    CHECK_FALSE(verifyMysqlNativeToken(bytesOf(token.substr(0, 19)), bytesOf(kScramble), stage2));
    CHECK_FALSE(verifyMysqlNativeToken(bytesOf(token + "x"), bytesOf(kScramble), stage2));
  }
}

TEST_CASE("mysql_native_password: the recorded mariadb client's token", "[mysql][auth]") {
  // The greeting's scramble and the HandshakeResponse's auth data as MariaDB's own client sent
  // them for 'sekret': our token must be byte for byte the same, and verify against mysql.user.
  auto greeting = mysql::decodeHandshake(std::span(recorded::kCliGreeting).subspan(4));
  REQUIRE(greeting);
  REQUIRE(greeting->authPluginData.size() == kMysqlScrambleLength);
  auto response =
      mysql::decodeHandshakeResponse(std::span(recorded::kCliHandshakeResponse).subspan(4));
  REQUIRE(response);
  std::string expected(reinterpret_cast<const char*>(response->authResponse.data()),
                       response->authResponse.size());
  std::string mine = mysqlNativeToken(recorded::kPassword, bytesOf(greeting->authPluginData));
  CHECK(hex(mine) == hex(expected));
  CHECK(verifyMysqlNativeToken(response->authResponse, bytesOf(greeting->authPluginData),
                               mysqlNativeStage2(recorded::kPassword)));

  // COM_CHANGE_USER: the server switched plugins with a fresh AuthSwitchRequest and the client
  // answered for 'sekret'.
  for (const auto& ex : recorded::kRawEofExchanges) {
    if (std::string_view(ex.name) != "CHANGEUSER") continue;
    auto sw = mysql::decodeAuthSwitchRequest(ex.response.subspan(4, ex.response[0]));
    REQUIRE(sw);
    CHECK(sw->pluginName == mysql::kNativePasswordPlugin);
    auto scramble = mysql::scrambleOf(sw->pluginData);
    REQUIRE(scramble.size() == kMysqlScrambleLength);
    auto reply = ex.clientFollowUp.subspan(4);
    CHECK(hex(mysqlNativeToken(recorded::kPassword, scramble)) == hex(reply));
  }
}

TEST_CASE("caching_sha2_password: token and fast-path verification", "[mysql][auth]") {
  CHECK(hex(cachingSha2Stage1("sekret")) ==
        "bb757689c39373a6cac9ef6ba55616c6249d7500ca4d443f1130c4766453a412");
  CHECK(hex(cachingSha2Stage2("sekret")) ==
        "ce73e83fbd935360cfd1a28437a55e252d10c368edf1d8c7ba3b76c679169c79");
  CHECK(hex(cachingSha2Stage2("password")) ==
        "73641c99f7719f57d8f4beb11a303afcd190243a51ced8782ca6d3dbe014d146");

  std::string token = cachingSha2Token("sekret", bytesOf(kScramble));
  CHECK(hex(token) == "f2177949aea54d69c29f8ee883012114eff84f02464ed4ae663e1bea54fbe426");
  CHECK(hex(cachingSha2Token("password", bytesOf(kScramble))) ==
        "6584c404bc44a3d014cacc4fc823edc02991a53d5ae825ea0f91c7a0f1f26653");
  CHECK(cachingSha2Token("", bytesOf(kScramble)).empty());
  CHECK(hex(cachingSha2TokenFromStage1(cachingSha2Stage1("sekret"), bytesOf(kScramble))) ==
        hex(token));

  Sha256Digest stage2 = cachingSha2Stage2("sekret");
  auto stage1 = verifyCachingSha2Token(bytesOf(token), bytesOf(kScramble), stage2);
  REQUIRE(stage1);
  CHECK(*stage1 == cachingSha2Stage1("sekret"));

  CHECK_FALSE(verifyCachingSha2Token(bytesOf(cachingSha2Token("Sekret", bytesOf(kScramble))),
                                     bytesOf(kScramble), stage2));
  CHECK_FALSE(verifyCachingSha2Token(bytesOf(token), bytesOf("abcdefghijklmnopqrsT"), stage2));
  for (size_t i = 0; i < token.size(); i += 5) {
    std::string flipped = token;
    flipped[i] = char(flipped[i] ^ 0x80);
    CHECK_FALSE(verifyCachingSha2Token(bytesOf(flipped), bytesOf(kScramble), stage2));
  }
  CHECK_FALSE(verifyCachingSha2Token(bytesOf(token.substr(1)), bytesOf(kScramble), stage2));
  CHECK_FALSE(verifyCachingSha2Token(bytesOf(""), bytesOf(kScramble), stage2));
  // A native token is the wrong size for caching_sha2.
  CHECK_FALSE(verifyCachingSha2Token(bytesOf(mysqlNativeToken("sekret", bytesOf(kScramble))),
                                     bytesOf(kScramble), stage2));
}

TEST_CASE("caching_sha2_password: password XOR scramble for RSA full auth", "[mysql][auth]") {
  // python3: bytes(a ^ b for a, b in zip(b"sekret\0", b"abcdefg")).hex()
  CHECK(hex(cachingSha2XorPassword("sekret", bytesOf(kScramble))) == "12070816001267");
  // XOR twice gives the password and its NUL back.
  std::string twice = cachingSha2XorPassword("", bytesOf(kScramble));
  CHECK(hex(twice) == "61");
  std::string longPw(45, 'z');
  std::string x = cachingSha2XorPassword(longPw, bytesOf(kScramble));
  REQUIRE(x.size() == 46);
  for (size_t i = 0; i < x.size(); ++i) {
    uint8_t plain = i < longPw.size() ? uint8_t('z') : 0;
    CHECK(uint8_t(x[i]) == uint8_t(plain ^ uint8_t(kScramble[i % kScramble.size()])));
  }
}

TEST_CASE("mysqlScramble: 20 bytes in 1..127, never '$', not repeating", "[mysql][auth]") {
  auto a = mysqlScramble();
  auto b = mysqlScramble();
  CHECK(a != b);
  for (int round = 0; round < 200; ++round) {
    for (uint8_t c : mysqlScramble()) {
      REQUIRE(c >= 1);
      REQUIRE(c <= 127);
      REQUIRE(c != '$');
    }
  }
  // A scramble we generate works end to end.
  std::string token = mysqlNativeToken("pw", a);
  CHECK(verifyMysqlNativeToken(bytesOf(token), a, mysqlNativeStage2("pw")));
}
