#include "pooler/mysql/client_login.h"

#include <fmt/format.h>

#include "pooler/protocol/mysql_commands.h"
#include "pooler/protocol/mysql_handshake.h"
#include "pooler/protocol/mysql_results.h"

namespace shardpool::pooler {

namespace my = protocol::mysql;

namespace {

constexpr uint16_t kErrAccessDenied = 1045;  // ER_ACCESS_DENIED_ERROR, SQLSTATE 28000

my::Bytes bytesOf(const std::array<uint8_t, auth::kMysqlScrambleLength>& a) {
  return {a.data(), a.size()};
}

}  // namespace

MysqlClientLogin::MysqlClientLogin(const Scramble& scramble, uint32_t connectionId,
                                   std::string peerHost)
    : scramble_(scramble), connectionId_(connectionId), peerHost_(std::move(peerHost)) {}

void MysqlClientLogin::greet(my::Writer& out, std::string_view serverVersion, bool tls,
                             bool cachingSha2) {
  tlsOffered_ = tls;
  my::Handshake h;
  h.serverVersion = serverVersion;
  h.connectionId = connectionId_;
  h.authPluginData.assign(reinterpret_cast<const char*>(scramble_.data()), scramble_.size());
  h.capabilities = my::shardpoolCapabilities(tls);
  h.characterSet = my::kCollationUtf8mb4GeneralCi;
  h.statusFlags = my::kServerStatusAutocommit;
  h.authPluginName = cachingSha2 ? my::kCachingSha2Plugin : my::kNativePasswordPlugin;
  my::putHandshake(out, h);
  seq_.reset(1);
  phase_ = Phase::Response;
}

MysqlClientLogin::Status MysqlClientLogin::onPacket(my::Bytes payload, uint8_t sequenceId,
                                                    my::Writer& out) {
  if (phase_ != Phase::Response && phase_ != Phase::SwitchResponse && phase_ != Phase::FullAuth) {
    reason_ = "a packet while none was expected";
    return Status::Malformed;
  }
  if (!seq_.accept(sequenceId)) {
    reason_ =
        fmt::format("packet out of order (sequence id {}, expected {})", sequenceId, seq_.next());
    return Status::Malformed;
  }
  if (phase_ == Phase::Response) return takeResponse(payload, out);
  if (phase_ == Phase::FullAuth) {
    // The password in clear (TLS), NUL-terminated.
    std::string_view password = my::asText(payload);
    if (!password.empty() && password.back() == '\0') password.remove_suffix(1);
    token_.assign(password);
    if (password.empty() || auth::mysqlNativeStage2(password) != *stored_)
      return deny(out, "password mismatch (full authentication)");
    stage1_ = auth::mysqlNativeStage1(password);
    return accept(out);
  }
  token_.assign(my::asText(payload));  // the AuthSwitchResponse: the native token
  sha2_ = false;
  if (stored_) return checkNative(*stored_, out);  // switched after verify()
  phase_ = Phase::Verify;
  return Status::Identified;
}

MysqlClientLogin::Status MysqlClientLogin::takeResponse(my::Bytes payload, my::Writer& out) {
  if (my::isSslRequest(payload)) {
    if (!tlsOffered_ || overTls_) {
      reason_ = overTls_ ? "a second SSLRequest" : "the client asked for TLS, which shardpool did not offer";
      return Status::Malformed;
    }
    overTls_ = true;  // the HandshakeResponse follows, sequence id 2, inside TLS
    return Status::StartTls;
  }
  auto r = my::decodeHandshakeResponse(payload);
  if (!r) {
    reason_ = "malformed handshake response (or a pre-4.1 client)";
    return Status::Malformed;
  }
  capabilities_ = r->capabilities & my::shardpoolCapabilities(overTls_);
  characterSet_ = r->characterSet;
  user_.assign(r->username);
  database_.assign(r->database);
  // Without PLUGIN_AUTH a 4.1 client answers for mysql_native_password.
  // A caching_sha2_password token is 32 bytes; a client that sent none (libmariadb's plugin
  // waits for the server's plugin data) is switched like any other.
  if (r->authPluginName.empty() || r->authPluginName == my::kNativePasswordPlugin ||
      (r->authPluginName == my::kCachingSha2Plugin && r->authResponse.size() == 32)) {
    sha2_ = r->authPluginName == my::kCachingSha2Plugin;
    token_.assign(my::asText(r->authResponse));
    phase_ = Phase::Verify;
    return Status::Identified;
  }
  if (!(r->capabilities & my::kClientPluginAuth)) {
    reason_ = fmt::format("auth plugin {} without PLUGIN_AUTH", r->authPluginName);
    return Status::Malformed;
  }
  // The same scramble, with the NUL that mysql_native_password's plugin data ends with.
  std::string data(reinterpret_cast<const char*>(scramble_.data()), scramble_.size());
  data.push_back('\0');
  my::putAuthSwitchRequest(out, seq_.take(), my::kNativePasswordPlugin, my::asBytes(data));
  phase_ = Phase::SwitchResponse;
  return Status::Continue;
}

MysqlClientLogin::Status MysqlClientLogin::changeUser(my::Bytes payload, uint8_t sequenceId,
                                                      my::Capabilities caps, my::Writer& out) {
  auto c = my::decodeChangeUser(payload, caps);
  if (!c || !seq_.accept(sequenceId)) {
    reason_ = "malformed COM_CHANGE_USER";
    return Status::Malformed;
  }
  capabilities_ = caps;
  user_.assign(c->username);
  database_.assign(c->database);
  characterSet_ = c->hasCharacterSet ? static_cast<uint8_t>(c->characterSet) : 0;
  std::string data(reinterpret_cast<const char*>(scramble_.data()), scramble_.size());
  data.push_back('\0');
  my::putAuthSwitchRequest(out, seq_.take(), my::kNativePasswordPlugin, my::asBytes(data));
  phase_ = Phase::SwitchResponse;
  return Status::Continue;
}

MysqlClientLogin::Status MysqlClientLogin::verify(std::string_view password, my::Writer& out) {
  if (phase_ != Phase::Verify) return deny(out, "verify() before the client identified itself");
  const my::Bytes token = my::asBytes(token_);
  if (password.empty()) {
    if (!token.empty()) return deny(out, "password mismatch (the user has no password)");
    return accept(out);
  }
  std::optional<auth::Sha1Digest> hashed = auth::parseMysqlNativeStored(password);
  if (!hashed && password.size() == 41 && password[0] == '*')
    return deny(out, "the user's stored mysql_native_password hash is malformed");
  if (sha2_ && !hashed) {
    // caching_sha2_password's fast path, from the plaintext.
    if (!auth::verifyCachingSha2Token(token, bytesOf(scramble_),
                                      auth::cachingSha2Stage2(password)))
      return deny(out, token.empty() ? "no password sent" : "password mismatch");
    stage1_ = auth::mysqlNativeStage1(password);
    const uint8_t fastAuthOk = my::kCachingSha2FastAuthSuccess;
    my::putAuthMoreData(out, seq_.take(), my::Bytes(&fastAuthOk, 1));
    return accept(out);
  }
  if (sha2_) {
    // Only mysql.user's SHA1 form: the client's password itself over TLS, else its native
    // token for the same scramble.
    stored_ = *hashed;
    if (overTls_) {
      const uint8_t fullAuth = my::kCachingSha2PerformFullAuth;
      my::putAuthMoreData(out, seq_.take(), my::Bytes(&fullAuth, 1));
      phase_ = Phase::FullAuth;
    } else {
      std::string data(reinterpret_cast<const char*>(scramble_.data()), scramble_.size());
      data.push_back('\0');
      my::putAuthSwitchRequest(out, seq_.take(), my::kNativePasswordPlugin, my::asBytes(data));
      phase_ = Phase::SwitchResponse;
    }
    return Status::Continue;
  }
  return checkNative(hashed ? *hashed : auth::mysqlNativeStage2(password), out);
}

MysqlClientLogin::Status MysqlClientLogin::checkNative(const auth::Sha1Digest& stage2,
                                                       my::Writer& out) {
  const my::Bytes token = my::asBytes(token_);
  auto stage1 = auth::verifyMysqlNativeToken(token, bytesOf(scramble_), stage2);
  if (!stage1) return deny(out, token.empty() ? "no password sent" : "password mismatch");
  stage1_ = *stage1;
  return accept(out);
}

MysqlClientLogin::Status MysqlClientLogin::accept(my::Writer& out) {
  phase_ = Phase::Done;
  my::putOk(out, seq_.take(), my::OkPacket{.statusFlags = my::kServerStatusAutocommit},
            capabilities_);
  return Status::Accepted;
}

MysqlClientLogin::Status MysqlClientLogin::refuse(my::Writer& out, uint16_t code,
                                                  std::string_view sqlState,
                                                  std::string_view message) {
  phase_ = Phase::Done;
  reason_.assign(message);
  my::putErr(out, seq_.take(), my::ErrPacket{code, sqlState, message},
             capabilities_ | my::kClientProtocol41);
  return Status::Refused;
}

MysqlClientLogin::Status MysqlClientLogin::deny(my::Writer& out, std::string reason) {
  std::string message = fmt::format("Access denied for user '{}'@'{}' (using password: {})", user_,
                                    peerHost_, token_.empty() ? "NO" : "YES");
  refuse(out, kErrAccessDenied, "28000", message);
  reason_ = std::move(reason);
  return Status::Refused;
}

}  // namespace shardpool::pooler
