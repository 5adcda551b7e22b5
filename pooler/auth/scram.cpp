// SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL implements it: channel binding only of type
// tls-server-end-point (SCRAM-SHA-256-PLUS, gs2 header "p=tls-server-end-point,,"), no authzid,
// the username in client-first ignored (libpq sends "n=").
// Every parser here is fed bytes from the network: malformed input is BadMessage, never a crash.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "pooler/auth/auth_crypto.h"

namespace shardpool::pooler::auth {

namespace {

using Key = std::array<uint8_t, 32>;

constexpr std::string_view kScramPrefix = "SCRAM-SHA-256$";
constexpr size_t kRawNonceLen = 18;  // PostgreSQL's SCRAM_RAW_NONCE_LEN
constexpr size_t kSaltLen = 16;      // PostgreSQL's SCRAM_DEFAULT_SALT_LEN

[[noreturn]] void cryptoFailure(const char* what) {
  // OpenSSL refusing SHA-256 is a broken installation, not something the network controls.
  std::fprintf(stderr, "shardpool: %s failed\n", what);
  std::abort();
}

Key hmacSha256(const Key& key, std::string_view data) {
  Key out{};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), int(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
           &len) == nullptr ||
      len != out.size())
    cryptoFailure("HMAC-SHA-256");
  return out;
}

Key sha256(const Key& data) {
  Key out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len != out.size())
    cryptoFailure("SHA-256");
  return out;
}

// PostgreSQL runs passwords through SASLprep (RFC 4013). For pure-ASCII passwords that is the
// identity, which is what we implement. Non-ASCII passwords are used as raw bytes: PostgreSQL
// does the same when SASLprep fails (invalid UTF-8, prohibited characters), but for a valid
// UTF-8 password that SASLprep would normalize (NFKC, mapped spaces) our keys will differ from
// the server's. Known limitation; such passwords are rare.
std::string_view preparePassword(std::string_view password) {
  return password;
}

Key saltedPassword(std::string_view password, std::string_view salt, int iterations) {
  std::string_view prepared = preparePassword(password);
  Key out{};
  if (PKCS5_PBKDF2_HMAC(prepared.data(), int(prepared.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), int(salt.size()),
                        iterations, EVP_sha256(), int(out.size()), out.data()) != 1)
    cryptoFailure("PBKDF2-HMAC-SHA-256");
  return out;
}

std::string_view asText(const Key& k) {
  return {reinterpret_cast<const char*>(k.data()), k.size()};
}

std::string randomNonce() {
  uint8_t raw[kRawNonceLen];
  randomBytes(raw, sizeof raw);
  return base64Encode({reinterpret_cast<const char*>(raw), sizeof raw});
}

std::vector<std::string_view> splitComma(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    size_t comma = s.find(',', start);
    if (comma == std::string_view::npos) {
      parts.push_back(s.substr(start));
      return parts;
    }
    parts.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
}

// "x=value" with the expected attribute letter; false otherwise.
bool attr(std::string_view part, char name, std::string_view& value) {
  if (part.size() < 2 || part[0] != name || part[1] != '=') return false;
  value = part.substr(2);
  return true;
}

// An optional extension attribute: a letter, '=', anything.
bool isExtension(std::string_view part) {
  if (part.size() < 2 || part[1] != '=') return false;
  char c = part[0];
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// RFC 5802 "printable": %x21-2B / %x2D-7E.
bool isPrintableNonce(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < 0x21 || c > 0x7e || c == ',') return false;
  return true;
}

bool hasNul(std::string_view s) {
  return s.find('\0') != std::string_view::npos;
}

// Positive decimal int without sign or spaces.
std::optional<int> parseIterations(std::string_view s) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  long long v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v <= 0 || v > 0x7fffffff) return std::nullopt;
  return int(v);
}

std::optional<Key> decodeKey(std::string_view b64) {
  auto raw = base64Decode(b64);
  if (!raw || raw->size() != 32) return std::nullopt;
  Key k{};
  std::memcpy(k.data(), raw->data(), k.size());
  return k;
}

}  // namespace

// ---- Secrets (pg_authid.rolpassword) ----

std::optional<ScramSecret> parseScramSecret(std::string_view text) {
  if (text.substr(0, kScramPrefix.size()) != kScramPrefix) return std::nullopt;
  text.remove_prefix(kScramPrefix.size());
  size_t dollar = text.find('$');
  if (dollar == std::string_view::npos) return std::nullopt;
  std::string_view iterSalt = text.substr(0, dollar);
  std::string_view keys = text.substr(dollar + 1);

  size_t colon = iterSalt.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto iterations = parseIterations(iterSalt.substr(0, colon));
  auto salt = base64Decode(iterSalt.substr(colon + 1));
  if (!iterations || !salt || salt->empty()) return std::nullopt;

  colon = keys.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto storedKey = decodeKey(keys.substr(0, colon));
  auto serverKey = decodeKey(keys.substr(colon + 1));
  if (!storedKey || !serverKey) return std::nullopt;

  ScramSecret s;
  s.iterations = *iterations;
  s.salt = std::move(*salt);
  s.storedKey = *storedKey;
  s.serverKey = *serverKey;
  return s;
}

std::string formatScramSecret(const ScramSecret& s) {
  return std::string(kScramPrefix) + std::to_string(s.iterations) + ":" + base64Encode(s.salt) +
         "$" + base64Encode(asText(s.storedKey)) + ":" + base64Encode(asText(s.serverKey));
}

ScramSecret makeScramSecret(std::string_view password, int iterations) {
  uint8_t salt[kSaltLen];
  randomBytes(salt, sizeof salt);
  ScramSecret s;
  s.iterations = iterations;
  s.salt.assign(reinterpret_cast<const char*>(salt), sizeof salt);
  Key salted = saltedPassword(password, s.salt, iterations);
  s.storedKey = sha256(hmacSha256(salted, "Client Key"));
  s.serverKey = hmacSha256(salted, "Server Key");
  return s;
}

ScramSecret mockScramSecret(std::string_view userName) {
  static const Key processKey = [] {
    Key k{};
    randomBytes(k.data(), k.size());
    return k;
  }();
  ScramSecret s;
  s.iterations = 4096;
  Key salt = hmacSha256(processKey, std::string("salt:").append(userName));
  s.salt.assign(reinterpret_cast<const char*>(salt.data()), kSaltLen);
  s.storedKey = hmacSha256(processKey, std::string("stored:").append(userName));
  s.serverKey = hmacSha256(processKey, std::string("server:").append(userName));
  return s;
}

// ---- Server side ----

ScramStatus ScramServer::channelBindingFailure(std::string why) {
  error_ = std::move(why);
  return ScramStatus::BadChannelBinding;
}

ScramStatus ScramServer::malformed(std::string why) {
  error_ = std::move(why);
  return ScramStatus::BadMessage;
}

ScramStatus ScramServer::clientFirst(std::string_view msg, std::string& serverFirst, bool plus) {
  if (!nonce_.empty() || hasNul(msg)) return ScramStatus::BadMessage;  // one exchange per object
  if (plus && !offersPlus()) return ScramStatus::BadMessage;  // the caller offered no PLUS
  auto parts = splitComma(msg);
  if (parts.size() < 4) return ScramStatus::BadMessage;
  // gs2-header: the cbind flag, then an authzid, which PostgreSQL does not support.
  std::string_view cbName;
  if (attr(parts[0], 'p', cbName)) {
    // RFC 5802: the client binds to the channel. Only with the -PLUS mechanism, and only to
    // the one type PostgreSQL defines.
    if (!plus)
      return malformed(
          "The client selected SCRAM-SHA-256 without channel binding, but the SCRAM message "
          "includes channel binding data.");
    if (cbName != kTlsServerEndPoint)
      return malformed("unsupported SCRAM channel-binding type \"" + std::string(cbName) + "\"");
  } else if (parts[0] == "y" || parts[0] == "n") {
    if (plus)
      return malformed(
          "The client selected SCRAM-SHA-256-PLUS, but the SCRAM message does not include "
          "channel binding data.");
    // "y": the client could bind but believes the server cannot. This server can, so a
    // man in the middle may have removed SCRAM-SHA-256-PLUS from the offer: refuse.
    if (parts[0] == "y" && offersPlus())
      return channelBindingFailure("SCRAM channel binding negotiation error");
  } else {
    return ScramStatus::BadMessage;
  }
  if (!parts[1].empty()) return ScramStatus::BadMessage;
  std::string_view user, clientNonce;
  if (!attr(parts[2], 'n', user)) return ScramStatus::BadMessage;  // also rejects "m=" extensions
  if (!attr(parts[3], 'r', clientNonce) || !isPrintableNonce(clientNonce))
    return ScramStatus::BadMessage;
  for (size_t i = 4; i < parts.size(); ++i)
    if (!isExtension(parts[i])) return ScramStatus::BadMessage;

  gs2Header_ = std::string(parts[0]) + ",,";
  clientFirstBare_ = std::string(msg.substr(gs2Header_.size()));
  nonce_ = std::string(clientNonce) + (testNonce_.empty() ? randomNonce() : testNonce_);
  serverFirst_ = "r=" + nonce_ + ",s=" + base64Encode(secret_.salt) +
                 ",i=" + std::to_string(secret_.iterations);
  serverFirst = serverFirst_;
  return ScramStatus::Ok;
}

ScramStatus ScramServer::clientFinal(std::string_view msg, std::string& serverFinal) {
  if (serverFirst_.empty()) return ScramStatus::BadMessage;  // out of order, or already done
  // Whatever happens next the exchange is over: a second clientFinal() is refused.
  std::string serverFirstMsg = std::move(serverFirst_);
  serverFirst_.clear();
  if (hasNul(msg)) return ScramStatus::BadMessage;

  auto parts = splitComma(msg);
  if (parts.size() < 3) return ScramStatus::BadMessage;
  std::string_view cbind, nonce, proofB64;
  if (!attr(parts[0], 'c', cbind) || !attr(parts[1], 'r', nonce) ||
      !attr(parts.back(), 'p', proofB64))
    return ScramStatus::BadMessage;
  for (size_t i = 2; i + 1 < parts.size(); ++i)
    if (!isExtension(parts[i])) return ScramStatus::BadMessage;
  auto cbindRaw = base64Decode(cbind);
  if (!cbindRaw) return ScramStatus::BadMessage;
  if (gs2Header_[0] == 'p') {
    // The header again, then this connection's binding data: a client that saw another
    // certificate (a man in the middle's) sends other data.
    const std::string expected = gs2Header_ + channelBinding_;
    if (cbindRaw->size() != expected.size() ||
        CRYPTO_memcmp(cbindRaw->data(), expected.data(), expected.size()) != 0)
      return channelBindingFailure("SCRAM channel binding check failed");
  } else if (*cbindRaw != gs2Header_) {
    return ScramStatus::BadMessage;
  }
  if (nonce != nonce_) return ScramStatus::BadMessage;
  auto proof = decodeKey(proofB64);
  if (!proof) return ScramStatus::BadMessage;

  std::string_view withoutProof = msg.substr(0, msg.size() - parts.back().size() - 1);
  std::string authMessage =
      clientFirstBare_ + "," + serverFirstMsg + "," + std::string(withoutProof);

  Key clientSignature = hmacSha256(secret_.storedKey, authMessage);
  Key clientKey{};
  for (size_t i = 0; i < clientKey.size(); ++i) clientKey[i] = (*proof)[i] ^ clientSignature[i];
  Key storedKey = sha256(clientKey);
  if (CRYPTO_memcmp(storedKey.data(), secret_.storedKey.data(), storedKey.size()) != 0)
    return ScramStatus::BadProof;
  clientKey_ = clientKey;

  serverFinal = "v=" + base64Encode(asText(hmacSha256(secret_.serverKey, authMessage)));
  return ScramStatus::Ok;
}

// ---- Client side ----

void ScramClient::setChannelBinding(std::string data, bool serverOffersPlus) {
  channelBinding_ = std::move(data);
  plus_ = serverOffersPlus && !channelBinding_.empty();
}

std::string ScramClient::gs2Header() const {
  if (plus_) return "p=" + std::string(kTlsServerEndPoint) + ",,";
  return channelBinding_.empty() ? "n,," : "y,,";
}

std::string ScramClient::clientFirst() {
  clientNonce_ = testNonce_.empty() ? randomNonce() : testNonce_;
  clientFirstBare_ = "n=,r=" + clientNonce_;
  haveServerFirst_ = false;
  return gs2Header() + clientFirstBare_;
}

ScramStatus ScramClient::serverFirst(std::string_view msg, std::string& clientFinal) {
  if (clientFirstBare_.empty() || haveServerFirst_ || hasNul(msg)) return ScramStatus::BadMessage;
  auto parts = splitComma(msg);
  if (parts.size() != 3) return ScramStatus::BadMessage;  // like libpq: no extensions accepted
  std::string_view nonce, saltB64, iterText;
  if (!attr(parts[0], 'r', nonce) || !attr(parts[1], 's', saltB64) ||
      !attr(parts[2], 'i', iterText))
    return ScramStatus::BadMessage;
  if (nonce.size() <= clientNonce_.size() || nonce.substr(0, clientNonce_.size()) != clientNonce_ ||
      !isPrintableNonce(nonce))
    return ScramStatus::BadMessage;
  auto salt = base64Decode(saltB64);
  auto iterations = parseIterations(iterText);
  if (!salt || salt->empty() || !iterations) return ScramStatus::BadMessage;

  Key clientKey, serverKey;
  if (keys_) {
    // The backend's secret must be the one the client proved its keys against.
    if (*salt != keys_->salt || *iterations != keys_->iterations) return ScramStatus::BadProof;
    clientKey = keys_->clientKey;
    serverKey = keys_->serverKey;
  } else {
    Key salted = saltedPassword(password_, *salt, *iterations);
    clientKey = hmacSha256(salted, "Client Key");
    serverKey = hmacSha256(salted, "Server Key");
  }
  Key storedKey = sha256(clientKey);

  // c=: the gs2 header ("n,," is "biws") and, when bound, the channel binding data.
  std::string cbind = gs2Header();
  if (plus_) cbind += channelBinding_;
  std::string withoutProof = "c=" + base64Encode(cbind) + ",r=" + std::string(nonce);
  std::string authMessage = clientFirstBare_ + "," + std::string(msg) + "," + withoutProof;
  Key clientSignature = hmacSha256(storedKey, authMessage);
  Key proof{};
  for (size_t i = 0; i < proof.size(); ++i) proof[i] = clientKey[i] ^ clientSignature[i];
  expectedServerSignature_ = hmacSha256(serverKey, authMessage);
  haveServerFirst_ = true;
  clientFinal = withoutProof + ",p=" + base64Encode(asText(proof));
  return ScramStatus::Ok;
}

ScramStatus ScramClient::serverFinal(std::string_view msg) const {
  if (!haveServerFirst_ || hasNul(msg)) return ScramStatus::BadMessage;
  std::string_view sig;
  if (!attr(msg, 'v', sig)) return ScramStatus::BadMessage;  // "e=..." is a server error
  if (sig.find(',') != std::string_view::npos) return ScramStatus::BadMessage;
  auto signature = decodeKey(sig);
  if (!signature) return ScramStatus::BadMessage;
  if (CRYPTO_memcmp(signature->data(), expectedServerSignature_.data(), signature->size()) != 0)
    return ScramStatus::BadProof;
  return ScramStatus::Ok;
}

}  // namespace shardpool::pooler::auth
