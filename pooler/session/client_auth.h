// Verifies a client's password for one login: trust, cleartext, md5 or SCRAM-SHA-256, against a
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

  // `user` may be null (unknown user): the exchange then fails at the end.
  ClientAuth(config::AuthType type, const config::User* user, std::string userName);

  // Writes the first authentication request (nothing for trust).
  Step begin(protocol::pg::Writer& out);
  // Handles a 'p' message body; writes the next request when the exchange continues.
  Step onResponse(protocol::pg::Bytes body, protocol::pg::Writer& out);
  const std::string& failure() const { return failure_; }  // reason for the log
  // The failure was a malformed message (08P01 for the client), not a wrong password (28P01).
  bool protocolViolation() const { return protocolViolation_; }

 private:
  Step verifyCleartext(std::string_view password);
  Step fail(std::string reason);
  Step violation(std::string reason);

  config::AuthType type_;
  const config::User* user_;
  std::string userName_;
  uint8_t salt_[4] = {};
  int round_ = 0;
  std::optional<auth::ScramServer> scram_;
  std::string failure_;
  bool protocolViolation_ = false;
};

}  // namespace shardpool::pooler
