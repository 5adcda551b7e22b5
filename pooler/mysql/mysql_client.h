// A MySQL client of shardpool: logs in with MysqlClientLogin (its OK is held back until a
// server is linked, so a backend that is down reaches the client as the login's ERR), then
// forwards each whole command to its server and the next one once the response is complete.
// Session pooling: the client keeps its server until it leaves (COM_QUIT is not forwarded).
#pragma once

#include <optional>
#include <string>

#include "pooler/mysql/client_login.h"
#include "pooler/session/client_session.h"

namespace shardpool::pooler {

class MysqlServer;

class MysqlClient final : public ClientSession {
 public:
  MysqlClient(Worker& worker, uint64_t id);
  ~MysqlClient() override;

  protocol::mysql::Capabilities capabilities() const { return capabilities_; }
  // From its server: the response to the current command is complete.
  void responseDone();
  // Its server is gone while linked.
  void serverLost(std::string_view reason);

  bool isConsole() const override { return false; }
  void consoleSnapshot(const Snapshot&) override {}
  void consoleIdle() override {}
  void terminate(std::string_view sqlstate, std::string_view message,
                 std::string_view reason) override;
  void cancelRequested() override {}
  bool waitingForServer() const override { return state_ == State::WaitServer; }
  void serverWithdrawn() override;
  void serverFailed(std::string_view reason, std::string_view sqlstate = "08006") override;
  void closeIfIdle() override;

 protected:
  void describeMore(ConnRow& row) const override;
  void onTick(Clock::time_point now, const config::General& settings) override;
  void onClosing() override;
  void linkServer(ServerLink* server) override;
  void onStarted() override;
  void onData(Chunk* chunk, size_t len) override;
  void onReadEnd(int status) override;
  void onWriteError(int status) override;
  void onTlsFailed(const std::string& error) override;

 private:
  void readInput();
  // A login packet; false when the client was closed.
  bool onLoginPacket(protocol::mysql::Bytes payload, uint8_t sequenceId);
  MysqlClientLogin::Status identified(protocol::mysql::Writer& out);
  void onCommand(protocol::mysql::Bytes message, protocol::mysql::Bytes payload,
                 uint8_t sequenceId);
  // An ERR of shardpool's own with sequence id `sequenceId`.
  void sendErr(uint8_t sequenceId, uint16_t code, std::string_view sqlState,
               std::string_view message);

  std::optional<MysqlClientLogin> login_;
  std::string pendingOk_;  // the login's OK, sent once a server is linked
  protocol::mysql::Capabilities capabilities_ = 0;
  MysqlServer* server_ = nullptr;
  std::string in_;  // bytes of commands not yet forwarded
  bool readingInput_ = false;
};

}  // namespace shardpool::pooler
