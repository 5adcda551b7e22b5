// The MySQL engine's backend login, without I/O: shardpool as a client logging in to a MySQL or
// MariaDB server. It reads the server's greeting, writes a HandshakeResponse41 (the
// capabilities both sides have, the database, the token for the greeting's plugin), answers an
// AuthSwitchRequest, and reports the OK or the server's ERR. The session feeds it one payload at
// a time and sends what it writes.
//
// Plugins: mysql_native_password (from the password or the SHA1 stage a client proved), and
// MySQL 8's caching_sha2_password (needs the plaintext password): the fast path, and the full
// authentication the server asks for when its cache lacks the user, with the password encrypted
// with the server's RSA key (asked for with 0x02; there is no TLS towards servers yet).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pooler/auth/mysql_auth.h"
#include "pooler/protocol/mysql_codec.h"
#include "pooler/protocol/mysql_constants.h"

namespace shardpool::pooler {

class MysqlServerLogin {
 public:
  enum class Status {
    Continue,  // a packet was written (the response); feed the server's next one
    StartTls,  // an SSLRequest was written: start TLS, then send responseAfterTls() in it
    Done,      // the server's OK: logged in
    Failed,    // the server refused (its ERR) or spoke out of turn; error() says why
  };

  // The secret is the password, or the stage1 (SHA1(password)) a client proved to shardpool.
  MysqlServerLogin(std::string user, std::string password, std::string database,
                   uint8_t characterSet = protocol::mysql::kCollationUtf8mb4GeneralCi);
  MysqlServerLogin(std::string user, const auth::Sha1Digest& stage1, std::string database,
                   uint8_t characterSet = protocol::mysql::kCollationUtf8mb4GeneralCi);

  Status onPacket(protocol::mysql::Bytes payload, uint8_t sequenceId, protocol::mysql::Writer& out);
  // Before the greeting: ask the server for no more than `client` (the capabilities of the
  // client the connection is opened for) beyond what the login itself needs, so that replies
  // come in the format that client negotiated.
  void limitCapabilities(protocol::mysql::Capabilities client) { clientLimit_ = client; }
  // Before the greeting: ask for TLS when the server offers it (`want`), and fail when it does
  // not and `require`.
  void useTls(bool want, bool require) {
    wantTls_ = want;
    requireTls_ = require;
  }
  // After StartTls, once TLS is up: the HandshakeResponse (sequence id 2) to send inside it.
  std::string responseAfterTls() { return std::move(afterTls_); }

  // What both sides agreed on (after the greeting).
  protocol::mysql::Capabilities capabilities() const { return capabilities_; }
  uint32_t connectionId() const { return connectionId_; }
  const std::string& serverVersion() const { return serverVersion_; }
  uint16_t statusFlags() const { return statusFlags_; }
  // After Failed: the server's ERR (code 0 when shardpool gave up by itself), and the text.
  uint16_t errorCode() const { return errorCode_; }
  const std::string& sqlState() const { return sqlState_; }
  const std::string& error() const { return error_; }

 private:
  Status onGreeting(protocol::mysql::Bytes payload, protocol::mysql::Writer& out);
  Status onReply(protocol::mysql::Bytes payload, protocol::mysql::Writer& out);
  Status onMoreData(protocol::mysql::Bytes data, protocol::mysql::Writer& out);
  // The token for `plugin` (native or caching_sha2) and this scramble; sets sha2_/nonce_.
  std::optional<std::string> answerFor(std::string_view plugin, protocol::mysql::Bytes scramble);
  std::string tokenFor(protocol::mysql::Bytes scramble) const;
  Status fail(std::string error);
  Status failWithErr(protocol::mysql::Bytes payload, std::string_view during);

  std::string user_;
  std::string password_;
  std::optional<auth::Sha1Digest> stage1_;
  std::string database_;
  uint8_t characterSet_;
  protocol::mysql::SequenceTracker seq_;
  bool greeted_ = false;
  bool wantTls_ = false;
  bool requireTls_ = false;
  std::string afterTls_;
  bool switched_ = false;
  bool sha2_ = false;          // answered for caching_sha2_password
  bool keyRequested_ = false;  // its full authentication asked for the server's RSA key
  std::string nonce_;          // the scramble the token answered
  protocol::mysql::Capabilities capabilities_ = 0;
  protocol::mysql::Capabilities clientLimit_ = ~protocol::mysql::Capabilities{0};
  uint32_t connectionId_ = 0;
  std::string serverVersion_;
  uint16_t statusFlags_ = 0;
  uint16_t errorCode_ = 0;
  std::string sqlState_;
  std::string error_;
};

}  // namespace shardpool::pooler
