// MD5 password hashing as PostgreSQL does it, base64, and random bytes.
// SCRAM-SHA-256 lives in scram.cpp.
#include "pooler/auth/auth_crypto.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>

namespace shardpool::pooler::auth {

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

bool isLowerHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

}  // namespace

std::string md5Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr) != 1 || len != 16) {
    // Only happens when the provider refuses MD5 (FIPS mode): nothing can authenticate with md5.
    std::fprintf(stderr, "shardpool: MD5 digest unavailable\n");
    std::abort();
  }
  std::string out(32, '0');
  for (unsigned int i = 0; i < 16; ++i) {
    out[2 * i] = kHexDigits[digest[i] >> 4];
    out[2 * i + 1] = kHexDigits[digest[i] & 0xf];
  }
  return out;
}

std::string md5Stored(std::string_view password, std::string_view user) {
  std::string input;
  input.reserve(password.size() + user.size());
  input.append(password);
  input.append(user);
  return "md5" + md5Hex(input);
}

// PostgreSQL's pg_md5_encrypt(stored + 3, salt, 4): the hex digits of the stored form followed by
// the raw salt bytes. Returns "" when `stored` is not an md5 secret.
std::string md5Response(std::string_view stored, const uint8_t salt[4]) {
  if (!isMd5Stored(stored)) return {};
  std::string input(stored.substr(3));
  input.append(reinterpret_cast<const char*>(salt), 4);
  return "md5" + md5Hex(input);
}

bool isMd5Stored(std::string_view s) {
  if (s.size() != 35 || s.substr(0, 3) != "md5") return false;
  for (char c : s.substr(3))
    if (!isLowerHex(c)) return false;
  return true;
}

// ---- base64 (RFC 4648, standard alphabet, padded) ----

namespace {

constexpr char kB64Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::string base64Encode(std::string_view raw) {
  std::string out;
  out.reserve((raw.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= raw.size(); i += 3) {
    uint32_t v = (uint32_t(uint8_t(raw[i])) << 16) | (uint32_t(uint8_t(raw[i + 1])) << 8) |
                 uint32_t(uint8_t(raw[i + 2]));
    out.push_back(kB64Alphabet[(v >> 18) & 63]);
    out.push_back(kB64Alphabet[(v >> 12) & 63]);
    out.push_back(kB64Alphabet[(v >> 6) & 63]);
    out.push_back(kB64Alphabet[v & 63]);
  }
  size_t left = raw.size() - i;
  if (left > 0) {
    uint32_t v = uint32_t(uint8_t(raw[i])) << 16;
    if (left == 2) v |= uint32_t(uint8_t(raw[i + 1])) << 8;
    out.push_back(kB64Alphabet[(v >> 18) & 63]);
    out.push_back(kB64Alphabet[(v >> 12) & 63]);
    out.push_back(left == 2 ? kB64Alphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

// Strict: length a multiple of 4, padding only at the end, no whitespace. Like PostgreSQL, unused
// low bits in the last group are not required to be zero.
std::optional<std::string> base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    int pad = 0;
    if (last) {
      if (text[i + 3] == '=') ++pad;
      if (pad == 1 && text[i + 2] == '=') ++pad;
    }
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      int d = 0;
      if (k < 4 - pad) {
        d = b64Value(text[i + size_t(k)]);
        if (d < 0) return std::nullopt;
      }
      v = (v << 6) | uint32_t(d);
    }
    out.push_back(char(uint8_t(v >> 16)));
    if (pad < 2) out.push_back(char(uint8_t(v >> 8)));
    if (pad < 1) out.push_back(char(uint8_t(v)));
  }
  return out;
}

void randomBytes(uint8_t* out, size_t n) {
  while (n > 0) {
    int chunk = n > 1u << 20 ? 1 << 20 : int(n);
    if (RAND_bytes(out, chunk) != 1) {
      // Never continue with predictable nonces or salts.
      std::fprintf(stderr, "shardpool: RAND_bytes failed\n");
      std::abort();
    }
    out += chunk;
    n -= size_t(chunk);
  }
}

}  // namespace shardpool::pooler::auth
