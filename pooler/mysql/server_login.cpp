#include "pooler/mysql/server_login.h"

#include <fmt/format.h>

#include "pooler/protocol/mysql_handshake.h"
#include "pooler/protocol/mysql_results.h"

namespace shardpool::pooler {

namespace my = protocol::mysql;

namespace {

constexpr uint32_t kMaxPacketSize = 1u << 30;

}  // namespace

MysqlServerLogin::MysqlServerLogin(std::string user, std::string password, std::string database,
                                   uint8_t characterSet)
    : user_(std::move(user)),
      password_(std::move(password)),
      database_(std::move(database)),
      characterSet_(characterSet) {}

MysqlServerLogin::MysqlServerLogin(std::string user, const auth::Sha1Digest& stage1,
                                   std::string database, uint8_t characterSet)
    : user_(std::move(user)),
      stage1_(stage1),
      database_(std::move(database)),
      characterSet_(characterSet) {}

MysqlServerLogin::Status MysqlServerLogin::onPacket(my::Bytes payload, uint8_t sequenceId,
                                                    my::Writer& out) {
  if (!seq_.accept(sequenceId)) {
    return fail(
        fmt::format("packet out of order (sequence id {}, expected {})", sequenceId, seq_.next()));
  }
  return greeted_ ? onReply(payload, out) : onGreeting(payload, out);
}

std::string MysqlServerLogin::tokenFor(my::Bytes scramble) const {
  if (stage1_) {
    auto token = auth::mysqlNativeTokenFromStage1(*stage1_, scramble);
    return std::string(reinterpret_cast<const char*>(token.data()), token.size());
  }
  return auth::mysqlNativeToken(password_, scramble);
}

MysqlServerLogin::Status MysqlServerLogin::onGreeting(my::Bytes payload, my::Writer& out) {
  // A server that refuses at once (too many connections, a blocked host) sends ERR instead.
  if (!payload.empty() && payload[0] == my::kErrHeader) return failWithErr(payload, "greeting");
  auto h = my::decodeHandshake(payload);
  if (!h) return fail("malformed server greeting (not protocol version 10)");
  const my::Capabilities required = my::kClientProtocol41 | my::kClientSecureConnection;
  if ((h->capabilities & required) != required)
    return fail(fmt::format("server {} lacks PROTOCOL_41 or SECURE_CONNECTION", h->serverVersion));
  const bool tls = wantTls_ && (h->capabilities & my::kClientSsl) != 0;
  if (requireTls_ && !tls)
    return fail(fmt::format("server {} does not offer TLS, which its sslmode requires",
                            h->serverVersion));
  greeted_ = true;
  serverVersion_.assign(h->serverVersion);
  connectionId_ = h->connectionId;
  statusFlags_ = h->statusFlags;
  // What both have, without connect attributes (shardpool sends none) and TLS (not yet).
  const my::Capabilities loginNeeds = my::kClientProtocol41 | my::kClientSecureConnection |
                                     my::kClientPluginAuth | my::kClientConnectWithDb |
                                     my::kClientPluginAuthLenencClientData;
  capabilities_ = h->capabilities & my::shardpoolCapabilities(false) & ~my::kClientConnectAttrs &
                  (clientLimit_ | loginNeeds);
  if (database_.empty()) capabilities_ &= ~my::kClientConnectWithDb;
  // MariaDB's extended capabilities are offered only by a client that clears CLIENT_MYSQL;
  // shardpool asks for none of them.
  capabilities_ |= my::kClientMysql;
  capabilities_ &= 0xFFFFFFFFu;
  if (tls) capabilities_ |= my::kClientSsl;

  // caching_sha2_password is answered in the response when the greeting proposes it and the
  // password is known; otherwise mysql_native_password (a server may switch us after).
  std::string_view plugin =
      h->authPluginName == my::kCachingSha2Plugin && !stage1_ ? my::kCachingSha2Plugin
                                                              : my::kNativePasswordPlugin;
  std::string token = *answerFor(plugin, my::scrambleOf(my::asBytes(h->authPluginData)));
  my::HandshakeResponse r;
  r.capabilities = capabilities_;
  r.maxPacketSize = kMaxPacketSize;
  r.characterSet = characterSet_;
  r.username = user_;
  r.authResponse = my::asBytes(token);
  r.database = database_;
  r.authPluginName = plugin;
  if (tls) {
    // The SSLRequest in clear, then the same response inside TLS.
    my::SslRequest request;
    request.capabilities = capabilities_;
    request.maxPacketSize = kMaxPacketSize;
    request.characterSet = characterSet_;
    my::putSslRequest(out, seq_.take(), request);
    my::Writer inside;
    my::putHandshakeResponse(inside, seq_.take(), r);
    afterTls_ = inside.take();
    return Status::StartTls;
  }
  my::putHandshakeResponse(out, seq_.take(), r);
  return Status::Continue;
}

std::optional<std::string> MysqlServerLogin::answerFor(std::string_view plugin,
                                                       my::Bytes scramble) {
  nonce_.assign(my::asText(scramble));
  sha2_ = plugin == my::kCachingSha2Plugin;
  if (!sha2_) return tokenFor(scramble);
  if (stage1_) return std::nullopt;  // SHA256 of a password shardpool does not have
  return auth::cachingSha2Token(password_, scramble);
}

MysqlServerLogin::Status MysqlServerLogin::onMoreData(my::Bytes data, my::Writer& out) {
  if (!sha2_) return fail("unexpected AuthMoreData during a mysql_native_password login");
  if (keyRequested_) {
    // The server's RSA public key: the password (with its NUL) XORed with the scramble,
    // encrypted with it.
    auto secret = auth::rsaOaepEncrypt(my::asText(data),
                                       auth::cachingSha2XorPassword(password_, my::asBytes(nonce_)));
    if (!secret) return fail("the server's RSA public key could not be used");
    my::putAuthSwitchResponse(out, seq_.take(), my::asBytes(*secret));
    return Status::Continue;
  }
  if (data.size() == 1 && data[0] == my::kCachingSha2FastAuthSuccess) return Status::Continue;
  if (data.size() == 1 && data[0] == my::kCachingSha2PerformFullAuth) {
    keyRequested_ = true;
    const uint8_t request = my::kCachingSha2RequestPublicKey;
    my::putAuthSwitchResponse(out, seq_.take(), my::Bytes(&request, 1));
    return Status::Continue;
  }
  return fail("unexpected caching_sha2_password data from the server");
}

MysqlServerLogin::Status MysqlServerLogin::onReply(my::Bytes payload, my::Writer& out) {
  if (payload.empty()) return fail("empty packet during login");
  switch (payload[0]) {
    case my::kOkHeader: {
      auto ok = my::decodeOk(payload, capabilities_);
      if (!ok) return fail("malformed OK packet ending the login");
      statusFlags_ = ok->statusFlags;
      return Status::Done;
    }
    case my::kErrHeader:
      return failWithErr(payload, "login");
    case my::kEofHeader: {
      auto sw = my::decodeAuthSwitchRequest(payload);
      if (!sw) return fail("malformed AuthSwitchRequest");
      if (sw->pluginName != my::kNativePasswordPlugin && sw->pluginName != my::kCachingSha2Plugin)
        return fail(
            fmt::format("the server asks for auth plugin \"{}\"; shardpool logs in to "
                        "servers with mysql_native_password or caching_sha2_password",
                        sw->pluginName));
      if (switched_) return fail("the server switched the auth plugin twice");
      switched_ = true;
      auto token = answerFor(sw->pluginName, my::scrambleOf(sw->pluginData));
      if (!token)
        return fail("the server asks for caching_sha2_password, which needs the user's "
                    "plaintext password in [users] (or the database's password)");
      my::putAuthSwitchResponse(out, seq_.take(), my::asBytes(*token));
      return Status::Continue;
    }
    case 0x01: {  // AuthMoreData
      auto data = my::decodeAuthMoreData(payload);
      if (!data) return fail("malformed AuthMoreData");
      return onMoreData(*data, out);
    }
    default:
      return fail(fmt::format("unexpected packet (0x{:02x}) during login", payload[0]));
  }
}

MysqlServerLogin::Status MysqlServerLogin::fail(std::string error) {
  error_ = std::move(error);
  return Status::Failed;
}

MysqlServerLogin::Status MysqlServerLogin::failWithErr(my::Bytes payload, std::string_view during) {
  auto err = my::decodeErr(payload);
  if (!err) return fail(fmt::format("malformed ERR packet during the {}", during));
  errorCode_ = err->code;
  sqlState_.assign(err->sqlState);
  return fail(fmt::format("server refused the {}: {} ({}): {}", during, err->code, err->sqlState,
                          err->message));
}

}  // namespace shardpool::pooler
