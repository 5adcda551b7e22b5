// A PostgreSQL client connected to shardpool: startup (SSLRequest, CancelRequest, StartupMessage),
// authentication, waiting for a pooled server, then framing its messages on their way to the
// linked server. Session pooling: one server for the whole client session.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <unordered_map>
#include <string>
#include <utility>
#include <vector>

#include "pooler/auth/login_backoff.h"
#include "pooler/auth/auth_cache.h"
#include "pooler/pg/client_auth.h"
#include "pooler/pg/client_statement.h"
#include "pooler/session/client_session.h"
#include "pooler/net/connection.h"
#include "pooler/session/pool.h"
#include "pooler/pg/session_guard.h"
#include "pooler/session/session_states.h"
#include "pooler/protocol/pg_extended.h"
#include "pooler/protocol/pg_requests.h"
#include "pooler/merge/pg_merge.h"
#include "pooler/protocol/pg_scanner.h"
#include "pooler/sharding/shard_router.h"
#include "pooler/session/worker.h"

namespace shardpool::pooler {

class Pool;
class ServerConn;
struct ConnRow;
struct Snapshot;
class ConsoleSession;

class ClientConn final : public ClientSession {
 public:

  ClientConn(Worker& worker, uint64_t id);
  ~ClientConn() override;

  bool isConsole() const override { return console_ != nullptr; }
  void consoleSnapshot(const Snapshot& snapshot) override;
  void consoleIdle() override;
  void terminate(std::string_view sqlstate, std::string_view message,
                 std::string_view reason) override {
    fatal(sqlstate, message, reason);
  }
  bool waitingForServer() const override;
  void cancelRequested() override;

  // From the pool and the linked server.
  void loginComplete(const protocol::pg::ErrorFields* error);
  void serverReady(ServerConn& server);  // a ReadyForQuery went by
  void noteParameter(std::string_view name, std::string_view value);  // ParameterStatus went by
  // The values of the settings asked for by captureSettings(), in order (nullopt: not set).
  // Sends a FATAL error and closes the client.
  void fatal(std::string_view sqlstate, std::string_view message, std::string_view reason = {});
  bool loggedIn() const { return loggedIn_; }
  void settingsCaptured(const std::vector<std::optional<std::string>>& values);
  void forgetStatement(const std::string& clientName);  // a Parse that failed on the server
  void serverFailed(std::string_view reason, std::string_view sqlstate = "08006") override;
  // The auth_query lookup this login waits for is over (posted to this client's worker).
  void secretLookedUp(const AuthSecret& result);
  bool statementMode() const {
    return pool_ && pool_->settings().mode == config::PoolMode::Statement;
  }
  void refuseTransactionBlock();  // statement mode: instead of ReadyForQuery('T')
  // A server that was on its way to this waiting client is gone (it closed during a hand-over
  // between workers, or before it could be given): ask the pool again.
  void serverWithdrawn() override;
  // The linked server went away with `pending` requests unanswered while the transaction status
  // was `txStatus`: the client gets errors in place of the missing replies and keeps its
  // connection (client_recovery.cpp).
  void serverLost(std::string_view reason, protocol::pg::RequestQueue::Pending pending,
                  char txStatus);

  void closeIfIdle() override;

  // Scanner callbacks (data path).
  protocol::pg::Disposition onHeader(char type, uint32_t length);
  void onForward(protocol::pg::Bytes bytes, bool inInput);
  bool onMessage(char type, protocol::pg::Bytes body);

 protected:
  void onData(Chunk* chunk, size_t len) override;
  void onReadEnd(int status) override;
  void onWriteError(int status) override;
  void onTlsFailed(const std::string& error) override;
  void describeMore(ConnRow& row) const override;
  void onTick(Clock::time_point now, const config::General& settings) override;
  void onClosing() override;
  void linkServer(ServerLink* server) override;

 private:
  void handleStartupBytes();
  bool handleStartupPacket(protocol::pg::Bytes body);
  bool beginAuth();  // sends the first authentication request (or completes a trust login)
  bool beginAuthWith(const config::Config& cfg, const config::User* user);
  // The method this login runs (client_login.cpp): the user's auth_type, or under "hba" the
  // method of the first auth_hba_file rule that matches this connection (`rule`, when given,
  // is set to it; Reject when none does).
  config::AuthType loginMethod(const config::Config& cfg, const config::User* user,
                               const config::HbaRule** rule = nullptr) const;
  bool rejectLogin(const config::HbaRule* rule);  // refuses an hba reject (or no rule): false
  // Why cert (the verified certificate's common name) or peer (the unix socket's OS user) does
  // not prove this client is user_; nullopt when it does.
  std::optional<std::string> identityProblem(config::AuthType method) const;
  // The OS user on the other end of a unix socket (SO_PEERCRED); nullopt over TCP.
  struct PeerUser {
    std::string name;
    uid_t uid;
    pid_t pid;
  };
  std::optional<PeerUser> peerUser() const;
  // Password lookup (client_lookup.cpp): whether this login's secret comes from auth_query;
  // startLookup() answers from the cache or waits in State::Auth for secretLookedUp().
  bool needsLookup(const config::Config& cfg, const config::User* user) const;
  bool startLookup(const config::Config& cfg);
  bool authWithSecret(const AuthSecret& result);
  void forgetLookedUpSecret();  // a failed login: the next one looks the user up again
  bool handleAuthMessage(char type, protocol::pg::Bytes body);
  // Failed-login back-off (client_backoff.cpp): admitLogin() is false when the login waits for
  // its turn (resumed from checkTimers by resumeLogin()) or was refused.
  bool admitLogin();
  void resumeLogin();
  void noteAuthFailure();
  void afterAuth();
  // Answers the login from the pool's cache when every startup parameter is known to be
  // accepted; false when a server must validate the login.
  bool completeLoginLocally();
  // Logged in: the settings lists become the pool's shared copies (Pool::internSettings).
  void shareSettings();
  void wantServer();  // no server, bytes waiting in inbuf_: get one
  // Between transactions, inbuf_ holds only named Parses of statements this pool has already
  // prepared, and a Sync (a blocking PQprepare): answered without a server. False otherwise.
  bool answerPrepareLocally();
  bool startConsole();  // the admin database: false when this user may not use it
  // Over the unix socket, a console login whose OS user (SO_PEERCRED) vouches for it: an
  // admin_users or stats_users entry of the same name, or "pgbouncer" from shardpool's own OS
  // user (as PgBouncer admits them). Sets peerAdmin_ for the latter.
  bool peerConsoleLogin();
  void consoleInput();
  void forwardPending();
  std::string buildSetQuery(const ServerConn& server,
                            std::vector<std::pair<std::string, std::string>>& toApply) const;
  void releaseServer();
  // Before its server goes back: reads the session settings this client's statements changed
  // that the server does not report (captured into params_ and the server's applied list).
  // False when there is nothing to read.
  bool captureSettings(ServerConn& server);
  void terminateForShutdown();

  // Prepared statements in transaction/statement pooling (client_prepared.cpp; ClientStatement
  // in client_statement.h).
  void handleParse(protocol::pg::Bytes body);
  void handleBind(protocol::pg::Bytes body);
  void handleDescribe(protocol::pg::Bytes body);
  void handleClose(protocol::pg::Bytes body);
  void handleQuery(protocol::pg::Bytes body);
  void forwardRaw(char type, protocol::pg::Bytes body);
  void ensurePrepared(const ClientStatement& st);
  // Parses `st` on the linked server under its server-side name; `parse` is its request.
  void prepareOnServer(const ClientStatement& st, protocol::pg::Request parse);
  // The server-side name a new Parse of the statement `base` names is prepared under here.
  std::string freshServerName(const std::string& base);
  // Before a Bind("") or Describe of the unnamed statement: the server's unnamed statement is
  // made the client's own (or none, as the client has none).
  void ensureUnnamed();
  void forgetUnnamed();
  void evictIfFull();
  void clearStatements();
  void addStartupOptions(std::string_view options);
  // Sharded databases: each transaction goes to the shard its first statement routes to;
  // statements in it that belong elsewhere are refused. The pipeline (route_pipeline.cpp) calls
  // one file per kind of statement: route_begin, route_set, route_check, route_scatter.
  struct Routing;  // client_routing.h
  bool startRouting(const config::Database& db);  // at login; false: not sharded
  Pool& shardPool(uint32_t shard, uint32_t member = 0);
  // read_from: the member of `shard` a read outside a transaction goes to (least outstanding).
  uint32_t readMember(uint32_t shard);
  void routeNext();    // no server: decide where the waiting messages go
  void pumpRouted();   // linked: forward the next unit (up to a sync point) when due
  void routedReady();  // a ReadyForQuery went by
  // What routeNext does with the statement waiting first (client_routing.h): from a simple
  // Query of `size` bytes, or from the extended batch waiting.
  struct Next;
  Next routeQuery(ShardRouter::Database& d, std::string_view sql, size_t size);
  Next routeBatch(ShardRouter::Database& d);
  // Answers the first `consumed` bytes waiting with what `w` holds and a ReadyForQuery.
  void replyLocally(size_t consumed, protocol::pg::Writer& w, char status);
  // route_begin.cpp. A simple BEGIN outside a transaction (or COMMIT / ROLLBACK of one that has
  // not run anywhere yet), or an extended batch that is only that: answered by shardpool,
  // the BEGIN sent ahead of the transaction's first statement (injectDeferredBegin); false for
  // any other statement.
  bool answerTransactionQuery(const router::StatementFacts& f, std::string_view sql,
                              size_t size);
  bool answerTransactionBatch(ShardRouter::Database& d);
  void injectDeferredBegin();
  // route_set.cpp: SET / RESET shardpool.* alone in a Query: the hints changed, SET answered.
  void answerHintQuery(const router::StatementFacts& f, size_t size);
  // route_check.cpp: the route of one statement in the linked transaction: nullopt when it may
  // run there, else the error it gets.
  struct Refusal {
    std::string sqlstate, message, hint;
  };
  std::optional<Refusal> checkRouted(std::string_view sql, const protocol::pg::BindValues* bind,
                                     const std::vector<uint32_t>* types);
  // route_scatter.cpp: scatter/gather of one unit over several shards, outside transactions:
  // a Query of `size` bytes whose route is `route`; an extended batch whose first routed
  // statement, the Bind after `bindsBefore` others, needs `shards` (scattered when whole, else
  // Wait; refused when its statements disagree).
  Next scatterQuery(const router::StatementFacts& f, const router::Route& route, size_t size);
  Next scatterBatch(ShardRouter::Database& d, const std::vector<uint32_t>& shards,
                    uint32_t bindsBefore);
  // The unit is the messages in inbuf_[0, end).
  friend class ScatterRun;
  void startScatter(const std::vector<uint32_t>& shards, size_t end,
                    std::vector<protocol::pg::SegmentPlans> plans);
  void scatterFinished(std::string reply);  // from ScatterRun: the client's merged reply
  static constexpr size_t kMaxScatterBytes = 64u << 20;
  // After a lost server: answers the client's messages that belong to the lost transaction
  // (until its Sync, or its ROLLBACK) without a server. False when the client was closed.
  bool answerLostTransaction();
  void answerLostExtended(char type, protocol::pg::Bytes body, protocol::pg::Writer& w);

  // The session settings this client expects on any server it is given: its startup
  // parameters, then everything the server reported since.
  SharedSettings params_;  // shared with the pool's clients that have the same (settings_list.h)
  bool loggedIn_ = false;
  bool txnPooling_ = false;       // transaction or statement pooling
  bool trackStatements_ = false;  // ... with protocol-level prepared statements mapped
  bool hasUnnamed_ = false;        // unnamed_ holds the client's unnamed statement
  uint32_t maxPrepared_ = 0;
  ClientStatements statements_;
  SettingChanges touched_;            // settings changed since the last capture (client_params)
  SharedSettings startup_;  // the login's settings (pooling)
  std::vector<std::string> capturing_;  // names asked for by the capture in flight
  // The client's unnamed statement (serverName ""), when hasUnnamed_. Allocated on the first
  // unnamed Parse and kept, so that a client re-using it allocates nothing and one that never
  // uses it pays a pointer.
  std::unique_ptr<ClientStatement> unnamed_;
  uint64_t unnamedGeneration_ = 0;  // counts its replacements (ServerConn::holdsUnnamed)
  std::string inbuf_;  // startup/auth bytes, or bytes that arrived before login completed
  // What only a login needs, freed when it completes: an idle client does not carry it.
  struct LoginState {
    // auth_query: the user as looked up (its secret; auth points to it) and the cache key.
    std::unique_ptr<config::User> lookedUp;
    std::string lookupKey;
    bool lookingUp = false;
    std::unique_ptr<ClientAuth> auth;  // the exchange in progress (about 500 bytes)
    // Failed-login back-off: where the login comes from (unset for trusted networks), and,
    // while it waits, when its authentication may start.
    std::optional<auth::SourceKey> source;
    std::optional<Clock::time_point> heldUntil;
  };
  LoginState& login();  // created on first use
  // Whether the login waits (back-off, or its password lookup).
  bool loginWaits() const { return login_ && (login_->heldUntil || login_->lookingUp); }
  std::unique_ptr<LoginState> login_;
  ServerConn* server_ = nullptr;
  protocol::pg::Scanner scanner_{1u << 20};  // only Terminate is collected from clients
  Chunk* currentChunk_ = nullptr;
  std::unique_ptr<ConsoleSession> console_;
  bool peerAdmin_ = false;  // see peerConsoleLogin()
  bool answeredLocally_ = false;  // a ReadyForQuery of shardpool's own may end the transaction
  // Recovery after a lost server (client_recovery.cpp).
  bool discardUntilSync_ = false;  // skip the rest of an extended batch; Sync gets ReadyForQuery
  bool lostTransaction_ = false;   // the open transaction died with its server: only ROLLBACK
  bool rollbackInBatch_ = false;   // an extended-protocol ROLLBACK of the lost transaction
  uint32_t loginRetries_ = 0;      // servers lost before this client's first query went out
  std::unique_ptr<Routing> routing_;  // sharded databases only
};

}  // namespace shardpool::pooler
