// The MySQL engine's client login, without I/O: shardpool as the server a MySQL client logs in
// to. It writes the greeting (Handshake v10 offering mysql_native_password), reads the
// client's HandshakeResponse41 and checks its token against the user's password from [users]
// (plaintext, or mysql.user's "*HEX" form). The session feeds it one payload at a time and
// sends what it writes.
//
// A MySQL 8 client answers for caching_sha2_password: with a plaintext password its fast-path
// token is checked (AuthMoreData "fast auth success", then OK); with only the "*HEX" form,
// over TLS the client is asked for its password (full authentication), and without TLS it is
// switched to mysql_native_password with the same scramble. Other plugins are switched too.
//
// Sequence ids: greeting 0, response 1 (2 after an SSLRequest), then the AuthSwitchRequest or
// AuthMoreData exchange, then the OK or ERR that ends the login.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pooler/auth/mysql_auth.h"
#include "pooler/protocol/mysql_codec.h"
#include "pooler/protocol/mysql_constants.h"

namespace shardpool::pooler {

class MysqlClientLogin {
 public:
  using Scramble = std::array<uint8_t, auth::kMysqlScrambleLength>;

  enum class Status {
    Continue,    // a packet was written (the auth switch); feed the client's next one
    Identified,  // user and database are known: look the user up, then verify() or refuse()
    Accepted,    // verify() wrote the OK: the client is logged in
    Refused,     // an ERR was written (wrong password, refuse()); close after sending it
    Malformed,   // not a login packet this protocol allows (or an SSLRequest when TLS was not
                 // offered); nothing was written, reason() says why
    StartTls,    // the client's SSLRequest: start TLS; its HandshakeResponse follows in it
  };

  // `scramble`: auth::mysqlScramble() (tests pass their own); `peerHost`: as error messages
  // name the client ("Access denied for user 'u'@'127.0.0.1'").
  MysqlClientLogin(const Scramble& scramble, uint32_t connectionId, std::string peerHost);

  // The greeting, sequence id 0; `tls`: CLIENT_SSL is offered (an SSLRequest is then answered
  // with Status::StartTls); `cachingSha2`: it proposes caching_sha2_password (mysql_default_auth)
  // instead of mysql_native_password.
  void greet(protocol::mysql::Writer& out, std::string_view serverVersion, bool tls = false,
             bool cachingSha2 = false);
  // One whole client packet (its payload and sequence id); writes the reply, if any, to `out`.
  Status onPacket(protocol::mysql::Bytes payload, uint8_t sequenceId, protocol::mysql::Writer& out);
  // After Identified: checks the client's token against `password` (plaintext, or "*" and 40
  // hex digits as mysql.user keeps it; empty: the client must send no token) and writes OK or
  // ERR 1045.
  Status verify(std::string_view password, protocol::mysql::Writer& out);
  // COM_CHANGE_USER on a logged-in connection (`payload` the command, `caps` what the
  // connection negotiated): as MariaDB does, the password is asked for again against this
  // object's scramble (an AuthSwitchRequest, sequence id 1), then Identified as for a login.
  // Malformed when the command cannot be read.
  Status changeUser(protocol::mysql::Bytes payload, uint8_t sequenceId,
                    protocol::mysql::Capabilities caps, protocol::mysql::Writer& out);
  // Ends the login with an ERR of shardpool's own (an unknown database, no server).
  Status refuse(protocol::mysql::Writer& out, uint16_t code, std::string_view sqlState,
                std::string_view message);

  const std::string& user() const { return user_; }
  const std::string& database() const { return database_; }
  // What the client asked for, limited to what shardpool offered.
  protocol::mysql::Capabilities capabilities() const { return capabilities_; }
  uint8_t characterSet() const { return characterSet_; }
  // The client's HandshakeResponse came over TLS (after an SSLRequest).
  bool overTls() const { return overTls_; }
  // After Accepted: SHA1(password), as the client proved it; logs shardpool in to backends
  // that keep the same password when [users] has only the "*HEX" form.
  const std::optional<auth::Sha1Digest>& provenStage1() const { return stage1_; }
  // Why Malformed or Refused (for the log; never sent to the client beyond the ERR).
  const std::string& reason() const { return reason_; }

 private:
  Status takeResponse(protocol::mysql::Bytes payload, protocol::mysql::Writer& out);
  Status deny(protocol::mysql::Writer& out, std::string reason);

  Scramble scramble_;
  uint32_t connectionId_;
  std::string peerHost_;
  protocol::mysql::SequenceTracker seq_;
  // SwitchResponse: the native token after a switch; FullAuth: the cleartext password over
  // TLS (caching_sha2_password's full authentication), checked against stored_ by onPacket.
  enum class Phase { Greeting, Response, SwitchResponse, Verify, FullAuth, Done } phase_ =
      Phase::Greeting;
  bool sha2_ = false;  // the token is caching_sha2_password's
  // After verify() asked for more (full authentication, or a switch to native): the user's
  // stored stage2 that onPacket checks the answer against.
  std::optional<auth::Sha1Digest> stored_;
  Status accept(protocol::mysql::Writer& out);
  Status checkNative(const auth::Sha1Digest& stage2, protocol::mysql::Writer& out);
  std::string user_;
  std::string database_;
  std::string token_;
  protocol::mysql::Capabilities capabilities_ = 0;
  uint8_t characterSet_ = 0;
  bool tlsOffered_ = false;
  bool overTls_ = false;
  std::optional<auth::Sha1Digest> stage1_;
  std::string reason_;
};

}  // namespace shardpool::pooler
