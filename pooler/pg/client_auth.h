// Verifies a client's password for one login: trust, cleartext, md5 or SCRAM-SHA-256 (with
// SCRAM-SHA-256-PLUS, channel binding, offered over TLS), against a
// configured plaintext password, md5 hash or SCRAM secret. Unknown users get the challenge a
// real user would (a salt stable per name, the same work), which always fails, so user names
// cannot be probed.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "pooler/auth/auth_crypto.h"
#include "pooler/protocol/pg_codec.h"

namespace shardpool::pooler {

class ClientAuth {
 public:
  enum class Step { Continue, Success, Failure };

  // `user` may be null (unknown user): the exchange then fails at the end. `unusable`: why the
  // user's stored password cannot verify `type` (config::Config::loginProblemFor); the exchange
  // then runs as for an unknown user and fails with that reason. `channelBinding`: the
  // connection's tls-server-end-point data over TLS (SCRAM-SHA-256-PLUS is then offered), empty
  // otherwise.
  ClientAuth(config::AuthType type, const config::User* user, std::string userName,
             std::string channelBinding = {}, std::optional<std::string> unusable = {});

  // Writes the first authentication request (nothing for trust).
  Step begin(protocol::pg::Writer& out);
  // Handles a 'p' message body; writes the next request when the exchange continues.
  Step onResponse(protocol::pg::Bytes body, protocol::pg::Writer& out);
  const std::string& failure() const { return failure_; }  // reason for the log
  // The SQLSTATE of the failure: 28P01 for a wrong password or an unknown user (the client gets
  // the usual "password authentication failed"); otherwise failure() is the client's message:
  // 08P01 for a malformed message, 28000 for a channel-binding mismatch or an unknown user
  // under trust (as PostgreSQL).
  std::string_view sqlstate() const { return sqlstate_; }
  bool protocolViolation() const { return sqlstate_ == "08P01"; }
  // After Success: what shardpool may log in to the backend with as this user when its pool
  // has no password of its own (the plain password a cleartext login sent, the stored plain
  // password or md5 hash, or the SCRAM keys the client proved); nullopt when there is none.
  std::optional<auth::LoginCredential> credential() const;

 private:
  Step exchange(protocol::pg::Bytes body, protocol::pg::Writer& out);  // onResponse's body
  Step verifyCleartext(std::string_view password);
  Step fail(std::string reason);
  Step violation(std::string reason);
  Step refusal(std::string reason);  // 28000
  Step failUnknown();                // no usable user: why, for the log

  config::AuthType type_;
  const config::User* user_;
  std::string userName_;
  std::string channelBinding_;
  std::string unusable_;
  uint8_t salt_[4] = {};
  int round_ = 0;
  std::optional<auth::ScramServer> scram_;
  std::string failure_;
  std::string_view sqlstate_ = "28P01";
  bool succeeded_ = false;
  std::string cleartext_;  // the password of a successful cleartext login
};

}  // namespace shardpool::pooler
