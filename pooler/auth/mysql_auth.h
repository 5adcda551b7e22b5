// MySQL/MariaDB password scrambles, both directions: verifying clients that log in to shardpool
// and logging shardpool in to backends. Pure computation over OpenSSL.
//
// mysql_native_password
//   stage1 = SHA1(password), stage2 = SHA1(stage1) (mysql.user keeps "*" + HEX(stage2))
//   token  = stage1 XOR SHA1(scramble + stage2)
// caching_sha2_password (fast path)
//   stage1 = SHA256(password), stage2 = SHA256(stage1) (the server's in-memory cache)
//   token  = stage1 XOR SHA256(stage2 + scramble)
// The scramble is the 20 bytes of the greeting or AuthSwitchRequest without their trailing NUL.
// An empty password gives an empty token (the client sends no auth data).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace shardpool::pooler::auth {

using Sha1Digest = std::array<uint8_t, 20>;
using Sha256Digest = std::array<uint8_t, 32>;
constexpr size_t kMysqlScrambleLength = 20;

// A fresh scramble for a greeting or AuthSwitchRequest: random bytes in 1..127, never NUL (the
// greeting ends it with one) nor '$'.
std::array<uint8_t, kMysqlScrambleLength> mysqlScramble();

// ---- mysql_native_password ----
Sha1Digest mysqlNativeStage1(std::string_view password);
Sha1Digest mysqlNativeStage2(std::string_view password);
// mysql.user's form: "*" and 40 upper-case hex digits of stage2.
std::string formatMysqlNativeStored(const Sha1Digest& stage2);
// Parses "*" + 40 hex digits (either case) into stage2; nullopt otherwise (an empty string,
// the empty-password form, is nullopt too: check for it first).
std::optional<Sha1Digest> parseMysqlNativeStored(std::string_view text);
// Client side: the auth response to `scramble`; empty for an empty password.
std::string mysqlNativeToken(std::string_view password, std::span<const uint8_t> scramble);
// The same from stage1 alone (what verifyMysqlNativeToken recovers).
Sha1Digest mysqlNativeTokenFromStage1(const Sha1Digest& stage1, std::span<const uint8_t> scramble);
// Server side: checks a client's token against stage2 in constant time. On success returns the
// client's stage1 (SHA1(password)), with which shardpool can log in to backends that keep the
// same password; nullopt for a wrong or malformed (not 20 bytes) token.
std::optional<Sha1Digest> verifyMysqlNativeToken(std::span<const uint8_t> token,
                                                 std::span<const uint8_t> scramble,
                                                 const Sha1Digest& stage2);

// ---- caching_sha2_password ----
Sha256Digest cachingSha2Stage1(std::string_view password);
Sha256Digest cachingSha2Stage2(std::string_view password);
// Client side: the fast-path auth response; empty for an empty password.
std::string cachingSha2Token(std::string_view password, std::span<const uint8_t> scramble);
Sha256Digest cachingSha2TokenFromStage1(const Sha256Digest& stage1,
                                        std::span<const uint8_t> scramble);
// Server side, fast path: checks a token against the cached stage2 in constant time; returns
// the client's stage1 on success, nullopt for a wrong or malformed (not 32 bytes) token.
std::optional<Sha256Digest> verifyCachingSha2Token(std::span<const uint8_t> token,
                                                   std::span<const uint8_t> scramble,
                                                   const Sha256Digest& stage2);
// Full authentication without TLS: the password and its NUL XORed with the scramble (repeated),
// the plaintext that the client then encrypts with the server's RSA public key (OAEP).
std::string cachingSha2XorPassword(std::string_view password, std::span<const uint8_t> scramble);
// Encrypts `plaintext` with an RSA public key in PEM (the server's AuthMoreData) with OAEP
// padding, as caching_sha2_password's full authentication without TLS; nullopt when the key
// cannot be read or is too short for the plaintext.
std::optional<std::string> rsaOaepEncrypt(std::string_view publicKeyPem, std::string_view plaintext);

}  // namespace shardpool::pooler::auth
