// Password hashing and SCRAM-SHA-256 (RFC 5802/7677, and SCRAM-SHA-256-PLUS with the
// tls-server-end-point channel binding of RFC 5929) for both directions: verifying clients that
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
// What logging in to a backend with a SCRAM secret takes when no plain password is known: the
// secret's salt, iterations and ServerKey, and the ClientKey a client recovered from its proof
// when it logged in to shardpool against the same secret (as PgBouncer does).
struct ScramKeys {
  int iterations = 4096;
  std::string salt;  // raw bytes
  std::array<uint8_t, 32> clientKey{};
  std::array<uint8_t, 32> serverKey{};
};

// A password shardpool may log in to a backend with, learned from a client's login: the plain
// password or md5 hash (`password`), or SCRAM keys.
struct LoginCredential {
  std::string password;
  std::optional<ScramKeys> scram;
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

// BadChannelBinding: a client that could bind says it believes the server cannot (a downgrade),
// or its binding data is not this connection's; PostgreSQL refuses both with 28000, and
// malformed messages (a gs2 header that contradicts the mechanism chosen) with 08P01.
enum class ScramStatus { Ok, BadMessage, BadProof, BadChannelBinding };

// The SASL mechanism names and the one channel-binding type PostgreSQL (and shardpool) support.
inline constexpr std::string_view kScramSha256 = "SCRAM-SHA-256";
inline constexpr std::string_view kScramSha256Plus = "SCRAM-SHA-256-PLUS";
inline constexpr std::string_view kTlsServerEndPoint = "tls-server-end-point";

// Server side: a client proving it knows the password behind `secret`.
class ScramServer {
 public:
  // `channelBinding`: over TLS, the connection's tls-server-end-point data, and then
  // SCRAM-SHA-256-PLUS is on offer; empty without TLS (or when the certificate gives none).
  explicit ScramServer(ScramSecret secret, std::string channelBinding = {})
      : secret_(std::move(secret)), channelBinding_(std::move(channelBinding)) {}
  bool offersPlus() const { return !channelBinding_.empty(); }
  // client-first-message (the SASLInitialResponse data) -> server-first-message. `plus`: the
  // client chose SCRAM-SHA-256-PLUS (only valid when offersPlus()).
  [[nodiscard]] ScramStatus clientFirst(std::string_view msg, std::string& serverFirst,
                                        bool plus = false);
  // client-final-message -> server-final-message ("v=..."); BadProof on a wrong password.
  [[nodiscard]] ScramStatus clientFinal(std::string_view msg, std::string& serverFinal);
  // Why the last call returned BadChannelBinding (or, for some, BadMessage), in PostgreSQL's
  // words; empty when there is nothing more to say than "malformed".
  const std::string& error() const { return error_; }
  // After clientFinal() returned Ok: the client's keys, with which shardpool can log in to a
  // backend that holds the same secret.
  ScramKeys keys() const { return {secret_.iterations, secret_.salt, clientKey_, secret_.serverKey}; }
  // Tests only: use this server nonce instead of a random one (to replay RFC 7677's exchange).
  void setNonceForTesting(std::string serverNonce) { testNonce_ = std::move(serverNonce); }

 private:
  ScramStatus channelBindingFailure(std::string why);
  ScramStatus malformed(std::string why);

  ScramSecret secret_;
  std::string channelBinding_;
  std::string clientFirstBare_;
  std::string serverFirst_;
  std::string nonce_;  // combined client+server nonce
  // "n,,", "y,," or "p=tls-server-end-point,,"; client-final's c= must be the base64 of it
  // followed, for "p", by the channel binding data.
  std::string gs2Header_;
  std::string error_;
  std::string testNonce_;
  std::array<uint8_t, 32> clientKey_{};
};

// Client side: shardpool logging in to a backend with a plaintext password.
class ScramClient {
 public:
  explicit ScramClient(std::string password) : password_(std::move(password)) {}
  // Without the password: the keys a client proved (ScramServer::keys()). The server's salt and
  // iterations must be the keys' (the backend holds the secret the client was checked against).
  explicit ScramClient(ScramKeys keys) : keys_(std::move(keys)) {}
  // Over TLS, before clientFirst(): the server's tls-server-end-point data. With `serverOffersPlus`
  // the exchange is SCRAM-SHA-256-PLUS, bound to that data; otherwise the header says "y" (the
  // client could bind but the server did not offer it, so a downgrade is detected by a server
  // that does support it). Empty data: no binding, header "n".
  void setChannelBinding(std::string data, bool serverOffersPlus);
  // The mechanism for the SASLInitialResponse.
  std::string_view mechanism() const { return plus_ ? kScramSha256Plus : kScramSha256; }
  std::string clientFirst();  // "n,,n=,r=<nonce>" (or "y,,..." / "p=tls-server-end-point,,...")
  // server-first-message -> client-final-message; BadMessage on malformed input or nonce mismatch.
  [[nodiscard]] ScramStatus serverFirst(std::string_view msg, std::string& clientFinal);
  // Checks the server signature in server-final-message.
  [[nodiscard]] ScramStatus serverFinal(std::string_view msg) const;
  // Tests only: use this client nonce instead of a random one.
  void setNonceForTesting(std::string clientNonce) { testNonce_ = std::move(clientNonce); }

 private:
  std::string gs2Header() const;

  std::string password_;
  std::optional<ScramKeys> keys_;
  std::string channelBinding_;
  bool plus_ = false;
  std::string clientNonce_;
  std::string clientFirstBare_;
  std::array<uint8_t, 32> expectedServerSignature_{};
  bool haveServerFirst_ = false;  // serverFirst() succeeded: serverFinal() may be checked
  std::string testNonce_;
};

}  // namespace shardpool::pooler::auth
