// mysql_native_password and caching_sha2_password scrambles.
#include "pooler/auth/mysql_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cstdio>
#include <cstdlib>

#include "pooler/auth/auth_crypto.h"

namespace shardpool::pooler::auth {

namespace {

constexpr char kUpperHex[] = "0123456789ABCDEF";

// One digest over the concatenation of two inputs.
template <size_t N>
std::array<uint8_t, N> digest(const EVP_MD* md, std::span<const uint8_t> a,
                              std::span<const uint8_t> b = {}) {
  std::array<uint8_t, N> out{};
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, md, nullptr) == 1 &&
            EVP_DigestUpdate(ctx, a.data(), a.size()) == 1 &&
            EVP_DigestUpdate(ctx, b.data(), b.size()) == 1 &&
            EVP_DigestFinal_ex(ctx, out.data(), &len) == 1 && len == N;
  EVP_MD_CTX_free(ctx);
  if (!ok) {
    // Only when the provider refuses the digest: nothing could authenticate.
    std::fprintf(stderr, "shardpool: SHA digest unavailable\n");
    std::abort();
  }
  return out;
}

std::span<const uint8_t> textBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

Sha1Digest sha1(std::span<const uint8_t> a, std::span<const uint8_t> b = {}) {
  return digest<20>(EVP_sha1(), a, b);
}

Sha256Digest sha256(std::span<const uint8_t> a, std::span<const uint8_t> b = {}) {
  return digest<32>(EVP_sha256(), a, b);
}

template <size_t N>
std::array<uint8_t, N> xorWith(const std::array<uint8_t, N>& a, const std::array<uint8_t, N>& b) {
  std::array<uint8_t, N> out{};
  for (size_t i = 0; i < N; ++i) out[i] = uint8_t(a[i] ^ b[i]);
  return out;
}

template <size_t N>
std::string toString(const std::array<uint8_t, N>& a) {
  return std::string(reinterpret_cast<const char*>(a.data()), N);
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// stage1 = token XOR H(mix); accepted when H(stage1) == stage2 (compared in constant time).
template <size_t N, class Hash>
std::optional<std::array<uint8_t, N>> recoverStage1(std::span<const uint8_t> token,
                                                    const std::array<uint8_t, N>& mix,
                                                    const std::array<uint8_t, N>& stage2,
                                                    Hash hash) {
  if (token.size() != N) return std::nullopt;
  std::array<uint8_t, N> stage1{};
  for (size_t i = 0; i < N; ++i) stage1[i] = uint8_t(token[i] ^ mix[i]);
  std::array<uint8_t, N> check = hash(stage1);
  if (CRYPTO_memcmp(check.data(), stage2.data(), N) != 0) return std::nullopt;
  return stage1;
}

}  // namespace

std::array<uint8_t, kMysqlScrambleLength> mysqlScramble() {
  std::array<uint8_t, kMysqlScrambleLength> s{};
  randomBytes(s.data(), s.size());
  for (uint8_t& c : s) {
    c &= 0x7F;
    if (c == 0 || c == '$') ++c;
  }
  return s;
}

// ---- mysql_native_password ----

Sha1Digest mysqlNativeStage1(std::string_view password) {
  return sha1(textBytes(password));
}

Sha1Digest mysqlNativeStage2(std::string_view password) {
  return sha1(mysqlNativeStage1(password));
}

std::string formatMysqlNativeStored(const Sha1Digest& stage2) {
  std::string out = "*";
  for (uint8_t b : stage2) {
    out.push_back(kUpperHex[b >> 4]);
    out.push_back(kUpperHex[b & 0xF]);
  }
  return out;
}

std::optional<Sha1Digest> parseMysqlNativeStored(std::string_view text) {
  if (text.size() != 41 || text[0] != '*') return std::nullopt;
  Sha1Digest out{};
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = hexValue(text[1 + 2 * i]);
    int lo = hexValue(text[2 + 2 * i]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = uint8_t((hi << 4) | lo);
  }
  return out;
}

std::string mysqlNativeToken(std::string_view password, std::span<const uint8_t> scramble) {
  if (password.empty()) return {};
  return toString(mysqlNativeTokenFromStage1(mysqlNativeStage1(password), scramble));
}

Sha1Digest mysqlNativeTokenFromStage1(const Sha1Digest& stage1, std::span<const uint8_t> scramble) {
  return xorWith(stage1, sha1(scramble, sha1(stage1)));
}

std::optional<Sha1Digest> verifyMysqlNativeToken(std::span<const uint8_t> token,
                                                 std::span<const uint8_t> scramble,
                                                 const Sha1Digest& stage2) {
  return recoverStage1(token, sha1(scramble, stage2), stage2,
                       [](const Sha1Digest& s) { return sha1(s); });
}

// ---- caching_sha2_password ----

Sha256Digest cachingSha2Stage1(std::string_view password) {
  return sha256(textBytes(password));
}

Sha256Digest cachingSha2Stage2(std::string_view password) {
  return sha256(cachingSha2Stage1(password));
}

std::string cachingSha2Token(std::string_view password, std::span<const uint8_t> scramble) {
  if (password.empty()) return {};
  return toString(cachingSha2TokenFromStage1(cachingSha2Stage1(password), scramble));
}

Sha256Digest cachingSha2TokenFromStage1(const Sha256Digest& stage1,
                                        std::span<const uint8_t> scramble) {
  return xorWith(stage1, sha256(sha256(stage1), scramble));
}

std::optional<Sha256Digest> verifyCachingSha2Token(std::span<const uint8_t> token,
                                                   std::span<const uint8_t> scramble,
                                                   const Sha256Digest& stage2) {
  return recoverStage1(token, sha256(stage2, scramble), stage2,
                       [](const Sha256Digest& s) { return sha256(s); });
}

std::string cachingSha2XorPassword(std::string_view password, std::span<const uint8_t> scramble) {
  std::string out(password);
  out.push_back('\0');
  if (scramble.empty()) return out;
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = char(uint8_t(out[i]) ^ scramble[i % scramble.size()]);
  return out;
}

std::optional<std::string> rsaOaepEncrypt(std::string_view publicKeyPem,
                                          std::string_view plaintext) {
  BIO* bio = BIO_new_mem_buf(publicKeyPem.data(), static_cast<int>(publicKeyPem.size()));
  EVP_PKEY* key = bio ? PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  if (!key) return std::nullopt;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key, nullptr);
  std::optional<std::string> out;
  size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(plaintext.data());
  if (ctx && EVP_PKEY_encrypt_init(ctx) == 1 &&
      EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
      EVP_PKEY_encrypt(ctx, nullptr, &len, in, plaintext.size()) == 1) {
    std::string buf(len, '\0');
    if (EVP_PKEY_encrypt(ctx, reinterpret_cast<unsigned char*>(buf.data()), &len, in,
                         plaintext.size()) == 1) {
      buf.resize(len);
      out = std::move(buf);
    }
  }
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(key);
  return out;
}

}  // namespace shardpool::pooler::auth
