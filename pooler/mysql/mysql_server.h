// A MySQL server link: connects to its pool's backend (one TCP host), logs in with
// MysqlServerLogin (the pool's plaintext password, or the SHA1 stage a client proved), then
// relays each command's response to its linked client until ResultTracker says it is complete.
// Before it goes back to its pool it is reset with COM_RESET_CONNECTION.
#pragma once

#include <optional>
#include <string>

#include "pooler/mysql/server_login.h"
#include "pooler/net/host_resolver.h"
#include "pooler/protocol/mysql_result_tracker.h"
#include "pooler/session/server_link.h"

namespace shardpool::pooler {

class MysqlClient;

class MysqlServer final : public ServerLink {
 public:
  MysqlServer(Worker& worker, uint64_t id, Pool& pool);
  ~MysqlServer() override;

  void start(uint64_t forClient) override;
  void close(std::string_view reason, bool socketDead = false) override;
  void fail(std::string_view reason, std::string_view sqlstate = "08006",
            bool socketDead = false) override;

  // The capabilities agreed with the backend (the reply format a client must share).
  protocol::mysql::Capabilities capabilities() const { return capabilities_; }
  // Linked to `client` (from idle): its commands come through send() / beginCommand().
  void link(MysqlClient* client);
  // A command was sent to it (its first payload): false when it cannot be followed.
  protocol::mysql::TrackStatus beginCommand(protocol::mysql::Bytes payload);
  bool busy() const { return !tracker_.done(); }
  // The client is done with it: reset it (COM_RESET_CONNECTION), then back to the pool.
  void unlink();

 protected:
  void onTick(Clock::time_point now) override;
  void describeMore(ConnRow& row) const override;
  void onData(Chunk* chunk, size_t len) override;
  void onReadEnd(int status) override;
  void onWriteError(int status) override;
  void onConnected(int status) override;
  void onTlsFailed(const std::string& error) override;

 private:
  void connectAddress(const sockaddr* addr);
  void onLoginPacket(protocol::mysql::Bytes payload, uint8_t sequenceId);
  void onReply(protocol::mysql::Bytes packet, uint32_t length, protocol::mysql::Bytes payload);
  void onResetReply(protocol::mysql::Bytes payload);

  std::optional<MysqlServerLogin> login_;
  protocol::mysql::ResultTracker tracker_;
  protocol::mysql::Capabilities capabilities_ = 0;
  MysqlClient* client_ = nullptr;
  uint64_t forClient_ = 0;
  HostResolver resolver_;
  std::string in_;  // bytes of a packet not yet whole
  bool goneReported_ = false;
};

}  // namespace shardpool::pooler
