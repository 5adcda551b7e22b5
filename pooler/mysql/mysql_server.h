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
#include <unordered_map>

#include "pooler/mysql/server_login.h"
#include "pooler/mysql/session_vars.h"
#include "pooler/net/host_resolver.h"
#include "pooler/protocol/mysql_result_tracker.h"
#include "pooler/session/pool.h"
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
  // The capabilities that shape a server's replies (EOF or not, affected rows, several result
  // sets): a client and its server must agree on them. The rest only matter at login, and
  // SESSION_TRACK is taken out of OKs for clients without it.
  static uint64_t replyShaping(protocol::mysql::Capabilities caps);
  uint64_t flavor() const override { return replyShaping(capabilities_); }
  // Linked to `client` (from idle): true when its session is the client's already; else
  // shardpool's own commands make it so, and client->serverReady() (or serverLinkFailed())
  // follows. The client's commands then come through send() / beginCommand().
  bool link(MysqlClient* client);
  // A command was sent to it (its first payload): false when it cannot be followed.
  protocol::mysql::TrackStatus beginCommand(protocol::mysql::Bytes payload);
  // A command in flight, or a KILL of its query not yet answered (killQuery).
  bool busy() const { return !tracker_.done() || own_ != Own::None || killing_; }
  // The client's own command is running on it (not shardpool's).
  bool clientCommandRunning() const { return own_ == Own::None && !tracker_.done(); }
  // Another client's KILL: stop the client's running command with KILL QUERY from a fresh
  // connection (kill_sender.h). Until that is answered the server stays busy, so it neither
  // goes back to the pool nor takes the client's next command.
  // `forTimeout`: query_timeout's, whose ERR reaches the client as MySQL's 3024 (as
  // max_execution_time), once per command.
  void killQuery(bool forTimeout = false);
  void killDelivered();
  bool timeoutKillSent() const { return timeoutKill_; }
  // Its client's command went out (or waits here for its statement to be prepared): the client
  // waits for a reply.
  bool clientAwaitsReply() const {
    return own_ == Own::None ? !tracker_.done() : own_ == Own::Prepare;
  }
  uint16_t statusFlags() const { return tracker_.statusFlags(); }
  // Since when the client's command in flight was sent.
  Clock::time_point busySince() const { return busySince_; }
  // The sequence id the next packet of the reply to the client's command would have.
  uint8_t replySequence() const { return replySeq_; }
  // Session-state tracking is on: transaction pooling can carry its session.
  bool tracking() const { return tracking_; }
  // The client is done with it at a clean boundary (transaction pooling): back to the pool
  // as it is.
  void release();
  // The client left or was pinned to it: reset it (COM_RESET_CONNECTION), then back to the
  // pool. `reusable`: the session holds nothing of the client's beyond what vars_ knows,
  // so no reset is needed.
  void unlink(bool reusable = false);
  // The client's COM_SET_OPTION went through it.
  void multiStatementsSet(bool on) { multiStatements_ = on; }
  // The client's COM_RESET_CONNECTION went through it: its session is a fresh one now.
  void forgetSession();

  // Prepared statements this server holds, by text (at most max_prepared_statements, least
  // recently used closed first): each client's statement ids are shardpool's, mapped to the
  // server's own on whichever server runs them.
  struct Prepared {
    uint32_t id = 0;  // the server's statement id
    uint16_t numParams = 0;
    std::string response;  // the prepare's reply as the server sent it (for the next client)
    uint64_t lastUse = 0;
  };
  const Prepared* preparedFor(const std::string& sql);
  // The client's COM_STMT_PREPARE for `sql`: the reply reaches it with statement id
  // `clientId`, and is kept (client->statementPrepared() when it succeeded).
  protocol::mysql::TrackStatus prepare(uint32_t clientId, const std::string& sql,
                                       std::string packet);
  // A command on a prepared statement (EXECUTE, SEND_LONG_DATA, RESET, FETCH): `packet` as the
  // client sent it; it goes with this server's statement id, after preparing `sql` here first
  // when needed (a failed prepare reaches the client as the command's ERR).
  protocol::mysql::TrackStatus sendOnStatement(const std::string& sql, std::string packet);

 protected:
  void onTick(Clock::time_point now) override;
  void describeMore(ConnRow& row) const override;
  void onData(Chunk* chunk, size_t len) override;
  void onReadEnd(int status) override;
  void onWriteError(int status) override;
  void onConnected(int status) override;
  void onTlsReady() override;
  void onTlsFailed(const std::string& error) override;

 private:
  void connectHost();  // the host hosts_ points at
  // A host of the list could not be reached: on to the next one (true), unless all were tried.
  bool tryNextHost(std::string_view reason);
  void connectAddress(const sockaddr* addr);
  // The login to the pool's server with its credentials and TLS (nullopt: `error` says why).
  std::optional<MysqlServerLogin> newLogin(std::string& error, std::string& sqlState);
  // shardpool's own commands: tracking set up after login (and after a reset), the reset
  // itself, and what makes the session a linked client's.
  enum class Own : uint8_t { None, Setup, Reset, Charset, InitDb, Apply, Prepare, SetOption, Begin };
  void onLoginPacket(protocol::mysql::Bytes payload, uint8_t sequenceId);
  void sendOwn(Own what, std::string packet, protocol::mysql::Command command);
  void startSetup();
  void onOwnDone();
  // The next step of making the session the linked client's: false while one is in flight.
  bool continueLink();
  void linkFailed(std::string_view reason);
  // A statement's prepare reply is complete (the client's or shardpool's own): kept.
  const Prepared& keepPrepared(const std::string& sql);
  void sendDeferred();
  void afterLoginOrReset();
  // An OK (or the 0xFE OK ending a result set) of the client's command: its session state is
  // noted for both; the bytes the client gets (rewritten without the state entries when it
  // did not negotiate SESSION_TRACK) are appended to `out`.
  void relayOk(protocol::mysql::Bytes packet, protocol::mysql::Bytes payload, std::string& out);

  std::optional<MysqlServerLogin> login_;
  protocol::mysql::ResultTracker tracker_;
  MysqlSessionVars vars_;
  Own own_ = Own::None;
  Clock::time_point busySince_;
  uint8_t replySeq_ = 1;
  Clock::time_point ownSince_;  // when the own command in flight was sent
  bool tracking_ = false;
  bool killing_ = false;  // a KILL QUERY for its client's command is on its way
  bool timeoutKill_ = false;  // query_timeout killed the command in flight
  Clock::time_point killSince_;
  sockaddr_storage addr_{};  // where it is connected
  uint32_t threadId_ = 0;    // the server's id of this connection
  bool loggedIn_ = false;  // after the login's own commands: a reset sends it to the pool
  bool multiStatements_ = false;  // CLIENT_MULTI_STATEMENTS as COM_SET_OPTION last left it
  std::unordered_map<std::string, Prepared> prepared_;
  uint64_t useCounter_ = 0;
  // A prepare in flight (the client's, or shardpool's own before a deferred command): its
  // text, the client's id for it (0: own), and its reply so far.
  std::string prepareSql_;
  uint32_t prepareClientId_ = 0;
  bool preparing_ = false;
  std::string prepareReply_;
  std::string deferred_;  // the statement command waiting for that own prepare
  protocol::mysql::Capabilities capabilities_ = 0;
  MysqlClient* client_ = nullptr;
  uint64_t forClient_ = 0;
  HostResolver resolver_;
  HostCursor hosts_;  // which host of the pool's list it connects to
  std::string in_;  // bytes of a packet not yet whole
  bool goneReported_ = false;
};

}  // namespace shardpool::pooler
