// A MySQL server link: connects to its pool's backend (one TCP host), logs in with
// MysqlServerLogin (the pool's plaintext password, or the SHA1 stage a client proved), turns
// session-state tracking on for every variable, then relays each command's response to its
// linked client until ResultTracker says it is complete.
//
// It knows its session (vars_: the variables and schema the server reported) and, linked to a
// client, makes it the client's with its own commands first (COM_INIT_DB, one SET), so that in
// transaction pooling a server goes from client to client without a reset. A server whose
// session holds what cannot be carried (a pinned client left, or one left mid-transaction) is
// reset with COM_RESET_CONNECTION, and tracking turned on again, before it goes back.
// OK packets reach a client that did not negotiate SESSION_TRACK without the state entries.
#pragma once

#include <optional>
#include <string>

#include "pooler/mysql/server_login.h"
#include "pooler/mysql/session_vars.h"
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
  // Linked to `client` (from idle): true when its session is the client's already; else
  // shardpool's own commands make it so, and client->serverReady() (or serverLinkFailed())
  // follows. The client's commands then come through send() / beginCommand().
  bool link(MysqlClient* client);
  // A command was sent to it (its first payload): false when it cannot be followed.
  protocol::mysql::TrackStatus beginCommand(protocol::mysql::Bytes payload);
  bool busy() const { return !tracker_.done() || own_ != Own::None; }
  uint16_t statusFlags() const { return tracker_.statusFlags(); }
  // Session-state tracking is on: transaction pooling can carry its session.
  bool tracking() const { return tracking_; }
  // The client is done with it at a clean boundary (transaction pooling): back to the pool
  // as it is.
  void release();
  // The client left or was pinned to it: reset it (COM_RESET_CONNECTION), then back to the
  // pool. `reusable`: the session holds nothing of the client's beyond what vars_ knows,
  // so no reset is needed.
  void unlink(bool reusable = false);
  // The client's COM_RESET_CONNECTION went through it: its session is a fresh one now.
  void forgetSession();

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
  // shardpool's own commands: tracking set up after login (and after a reset), the reset
  // itself, and what makes the session a linked client's.
  enum class Own : uint8_t { None, Setup, Reset, Charset, InitDb, Apply };
  void onLoginPacket(protocol::mysql::Bytes payload, uint8_t sequenceId);
  void sendOwn(Own what, std::string packet, protocol::mysql::Command command);
  void startSetup();
  void onOwnDone();
  // The next step of making the session the linked client's: false while one is in flight.
  bool continueLink();
  void linkFailed(std::string_view reason);
  void afterLoginOrReset();
  // An OK (or the 0xFE OK ending a result set) of the client's command: its session state is
  // noted for both; the bytes the client gets (rewritten without the state entries when it
  // did not negotiate SESSION_TRACK) are appended to `out`.
  void relayOk(protocol::mysql::Bytes packet, protocol::mysql::Bytes payload, std::string& out);

  std::optional<MysqlServerLogin> login_;
  protocol::mysql::ResultTracker tracker_;
  MysqlSessionVars vars_;
  Own own_ = Own::None;
  bool tracking_ = false;
  bool loggedIn_ = false;  // after the login's own commands: a reset sends it to the pool
  protocol::mysql::Capabilities capabilities_ = 0;
  MysqlClient* client_ = nullptr;
  uint64_t forClient_ = 0;
  HostResolver resolver_;
  std::string in_;  // bytes of a packet not yet whole
  bool goneReported_ = false;
};

}  // namespace shardpool::pooler
