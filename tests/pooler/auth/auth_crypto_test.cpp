// MD5 and base64. Expected values were computed independently with python3 hashlib/base64
// (and `printf foobar | md5sum`), not with this code.
#include "pooler/auth/auth_crypto.h"

#include <catch2/catch.hpp>
#include <random>
#include <string>

using namespace shardpool::pooler::auth;

TEST_CASE("md5Hex known vectors", "[auth]") {
  CHECK(md5Hex("") == "d41d8cd98f00b204e9800998ecf8427e");
  CHECK(md5Hex("abc") == "900150983cd24fb0d6963f7d28e17f72");
  CHECK(md5Hex("foobar") == "3858f62230ac3c915f300c664312c63f");
}

TEST_CASE("md5Stored and md5Response as PostgreSQL computes them", "[auth]") {
  CHECK(md5Stored("foo", "bar") == "md53858f62230ac3c915f300c664312c63f");
  CHECK(md5Stored("secret", "postgres") == "md553f48b7c4b76a86ce72276c5755f217d");

  const uint8_t salt1[4] = {0x01, 0x02, 0x03, 0x04};
  CHECK(md5Response("md53858f62230ac3c915f300c664312c63f", salt1) ==
        "md56e4f0b50f7277feb74acbf2a7734c9cb");
  const uint8_t salt2[4] = {0xff, 0x00, 0xa5, 0x7f};  // salt bytes are raw, NULs included
  CHECK(md5Response(md5Stored("secret", "postgres"), salt2) ==
        "md5b8a1d0132332bb7902783fe7c59fce3e");

  CHECK(md5Response("not a secret", salt1).empty());
  CHECK(md5Response("md5", salt1).empty());
}

TEST_CASE("isMd5Stored", "[auth]") {
  CHECK(isMd5Stored("md53858f62230ac3c915f300c664312c63f"));
  CHECK_FALSE(isMd5Stored("md53858F62230AC3C915F300C664312C63F"));  // uppercase
  CHECK_FALSE(isMd5Stored("md53858f62230ac3c915f300c664312c63"));   // 31 digits
  CHECK_FALSE(isMd5Stored("md53858f62230ac3c915f300c664312c63ff"));
  CHECK_FALSE(isMd5Stored("MD53858f62230ac3c915f300c664312c63f"));
  CHECK_FALSE(isMd5Stored("md53858f62230ac3c915f300c664312c63g"));
  CHECK_FALSE(isMd5Stored(""));
  CHECK_FALSE(isMd5Stored("SCRAM-SHA-256$4096:c2FsdA==$a:b"));
}

TEST_CASE("base64 RFC 4648 vectors and round trips", "[auth]") {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"},
                                                         {"n,,", "biws"}};
  for (auto [raw, enc] : vectors) {
    CHECK(base64Encode(raw) == enc);
    auto dec = base64Decode(enc);
    REQUIRE(dec);
    CHECK(*dec == raw);
  }
  std::string every;
  for (int i = 0; i < 256; ++i) every.push_back(char(i));
  CHECK(base64Decode(base64Encode(every)) == every);

  std::mt19937 rng(99);
  for (int i = 0; i < 1000; ++i) {
    std::string raw(rng() % 40, '\0');
    for (auto& c : raw) c = char(rng());
    std::string enc = base64Encode(raw);
    CHECK(enc.size() % 4 == 0);
    CHECK(base64Decode(enc) == raw);
  }
}

TEST_CASE("base64 rejects invalid input", "[auth]") {
  for (const char* bad : {"Z", "Zg", "Zg=", "Zg=a", "Z===", "====", "=Zm9", "Zm9v!A==", "Zm 9v",
                          "Zm9vYg==Zm9v", "Zm9v\n", "Zm-_", "Zg==="}) {
    INFO(bad);
    CHECK_FALSE(base64Decode(bad));
  }
  CHECK_FALSE(base64Decode(std::string_view("Zm\0v", 4)));
  std::mt19937 rng(5);
  for (int i = 0; i < 5000; ++i) {
    std::string junk(rng() % 24, '\0');
    for (auto& c : junk) c = char(rng());
    auto dec = base64Decode(junk);
    if (dec)
      CHECK(dec->size() == junk.size() / 4 * 3 - (junk.size() && junk.back() == '=') -
                               (junk.size() > 1 && junk[junk.size() - 2] == '='));
  }
}

TEST_CASE("randomBytes fills the buffer", "[auth]") {
  uint8_t a[32] = {}, b[32] = {};
  randomBytes(a, sizeof a);
  randomBytes(b, sizeof b);
  CHECK(std::string(a, a + 32) != std::string(b, b + 32));
  randomBytes(nullptr, 0);
}
