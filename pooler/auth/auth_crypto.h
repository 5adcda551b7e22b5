// Password hashing and SCRAM-SHA-256 (RFC 5802/7677) for both directions: verifying clients that
// log in to shardpool, and logging shardpool in to backends. Pure computation over OpenSSL.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace shardpool::pooler::auth {

std::string md5Hex(std::string_view data);
// PostgreSQL's stored form: "md5" + md5hex(password + user).
std::string md5Stored(std::string_view password, std::string_view user);
// The client's reply to an md5 challenge: "md5" + md5hex(md5hex(password + user) + salt), computed
// from the stored form ("md5..." 35 chars) so plaintext is not required.
std::string md5Response(std::string_view stored, const uint8_t salt[4]);
// True when `s` looks like "md5" followed by 32 lowercase hex digits.
bool isMd5Stored(std::string_view s);

struct ScramSecret {
  int iterations = 4096;
  std::string salt;  // raw bytes
  std::array<uint8_t, 32> storedKey{};
  std::array<uint8_t, 32> serverKey{};
};
// Parses "SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>".
std::optional<ScramSecret> parseScramSecret(std::string_view text);
std::string formatScramSecret(const ScramSecret& s);
// Derives a secret from a plaintext password with a fresh random salt.
ScramSecret makeScramSecret(std::string_view password, int iterations = 4096);
// The secret shown for a user that does not exist, as PostgreSQL's mock authentication does: its
// salt and keys derive from the name and a random key of this process, so one name always gets
// the same salt and two names get different ones, exactly as real users do; the default
// iteration count. No password matches it.
ScramSecret mockScramSecret(std::string_view userName);

std::string base64Encode(std::string_view raw);
std::optional<std::string> base64Decode(std::string_view text);
// Cryptographically random bytes (RAND_bytes).
void randomBytes(uint8_t* out, size_t n);

enum class ScramStatus { Ok, BadMessage, BadProof };

// Server side: a client proving it knows the password behind `secret`.
class ScramServer {
 public:
  explicit ScramServer(ScramSecret secret) : secret_(std::move(secret)) {}
  // client-first-message (the SASLInitialResponse data) -> server-first-message.
  [[nodiscard]] ScramStatus clientFirst(std::string_view msg, std::string& serverFirst);
  // client-final-message -> server-final-message ("v=..."); BadProof on a wrong password.
  [[nodiscard]] ScramStatus clientFinal(std::string_view msg, std::string& serverFinal);
  // Tests only: use this server nonce instead of a random one (to replay RFC 7677's exchange).
  void setNonceForTesting(std::string serverNonce) { testNonce_ = std::move(serverNonce); }

 private:
  ScramSecret secret_;
  std::string clientFirstBare_;
  std::string serverFirst_;
  std::string nonce_;  // combined client+server nonce
  std::string gs2Header_;  // "n,," or "y,,"; client-final's c= must be its base64
  std::string testNonce_;
};

// Client side: shardpool logging in to a backend with a plaintext password.
class ScramClient {
 public:
  explicit ScramClient(std::string password) : password_(std::move(password)) {}
  std::string clientFirst();  // "n,,n=,r=<nonce>"
  // server-first-message -> client-final-message; BadMessage on malformed input or nonce mismatch.
  [[nodiscard]] ScramStatus serverFirst(std::string_view msg, std::string& clientFinal);
  // Checks the server signature in server-final-message.
  [[nodiscard]] ScramStatus serverFinal(std::string_view msg) const;
  // Tests only: use this client nonce instead of a random one.
  void setNonceForTesting(std::string clientNonce) { testNonce_ = std::move(clientNonce); }

 private:
  std::string password_;
  std::string clientNonce_;
  std::string clientFirstBare_;
  std::array<uint8_t, 32> expectedServerSignature_{};
  bool haveServerFirst_ = false;  // serverFirst() succeeded: serverFinal() may be checked
  std::string testNonce_;
};

}  // namespace shardpool::pooler::auth
