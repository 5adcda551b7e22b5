// A MySQL client of shardpool: logs in with MysqlClientLogin (its OK is held back until a
// server is linked, so a backend that is down reaches the client as the login's ERR), then
// forwards each whole command to its server and the next one once the response is complete.
//
// Session pooling: the client keeps its server until it leaves (COM_QUIT is not forwarded).
// Transaction pooling (and statement, which MySQL clients get as transaction): the server goes
// back to the pool when a response is complete, no transaction is open (SERVER_STATUS_IN_TRANS
// clear, autocommit on, no cursor) and nothing pins the session to it (statement_effects.h:
// user variables, temporary tables, LOCK TABLES until UNLOCK TABLES, GET_LOCK until
// RELEASE_ALL_LOCKS(), text PREPARE,
// HANDLER, XA; SEND_LONG_DATA until its execute; a state change the server reported that is
// neither a variable nor the schema). Binary prepared statements are not pins: their ids are
// shardpool's, prepared on each server that runs them. SQL_CALC_FOUND_ROWS and SET TRANSACTION keep it for one more
// command. The session's variables and schema (session_ below, from the server's tracking)
// are applied to whichever server it gets next. COM_PING, COM_RESET_CONNECTION and
// SELECT LAST_INSERT_ID() are answered without a server when none is linked.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "pooler/auth/auth_cache.h"
#include "pooler/mysql/client_login.h"
#include "pooler/mysql/session_vars.h"
#include "pooler/mysql/shard_merge.h"
#include "pooler/mysql/statement_effects.h"
#include "pooler/protocol/mysql_result_tracker.h"
#include "pooler/session/client_session.h"
#include "pooler/sharding/shard_router.h"
#include "router/route.h"

namespace shardpool::pooler {

class MysqlServer;

class MysqlClient final : public ClientSession {
 public:
  MysqlClient(Worker& worker, uint64_t id);
  ~MysqlClient() override;

  protocol::mysql::Capabilities capabilities() const { return capabilities_; }
  // What its session should look like on any server (variables and schema).
  const MysqlSessionVars& session() const { return session_; }
  // The login packet's collation, and whether the character-set variables it stands for are
  // known by name yet (learnCharset: from the first server, which reported them).
  uint8_t collation() const { return collation_; }
  // Whether its statements may hold several queries (its login's flag, then COM_SET_OPTION).
  bool multiStatements() const { return multiStatements_; }
  bool charsetKnown() const { return charsetKnown_; }
  void learnCharset(const MysqlSessionVars& server);

  // From its server: the response to the current command is complete.
  void responseDone();
  // The server's session is this client's now (after its own commands).
  void serverReady();
  // Making the server's session this client's failed (the server is closed).
  void serverLinkFailed(std::string_view reason);
  // An OK of its command carried session-state entries (already noted by the server as
  // `noted`), or a last insert id.
  void noteSessionState(protocol::mysql::Bytes entries, const MysqlSessionVars::Noted& noted);
  void noteInsertId(uint64_t id) { lastInsertId_ = id; }
  // Its COM_STMT_PREPARE succeeded on the server: `id` (shardpool's) stands for `sql`.
  void statementPrepared(uint32_t id, const std::string& sql, uint16_t numParams);
  // Preparing a statement on the server before a command on it failed: the command's ERR.
  void statementFailed(uint16_t code, std::string_view sqlState, std::string_view message);
  // Its server is free again without a reply (a command that has none): read on.
  void resumeInput();
  // Its server is gone while linked.
  void serverLost(std::string_view reason);

  // The schema its session has on a server of `pool`: a shard's own database name while the
  // session is in the database's default schema, else the one the client chose (USE).
  std::string_view schemaOn(const Pool& pool) const;
  // A statement for several shards runs on each in turn (client_routing.cpp): the server hands
  // every packet of its reply here instead of relaying it.
  bool fanningOut() const { return fanout_.has_value(); }
  void fanoutPacket(protocol::mysql::Bytes packet, protocol::mysql::Bytes payload,
                    protocol::mysql::PacketKind kind, bool done);
  // A BEGIN shardpool answered, to run on the server first (MysqlServer::continueLink).
  std::string_view pendingBegin() const { return deferredBegin_; }
  void beginSent() { deferredBegin_.clear(); }

  // Its capabilities that shape a server's replies: it is given servers that share them.
  uint64_t flavor() const override;
  bool isConsole() const override { return false; }
  void consoleSnapshot(const Snapshot&) override {}
  void consoleIdle() override {}
  void terminate(std::string_view sqlstate, std::string_view message,
                 std::string_view reason) override;
  void cancelRequested() override {}
  void killRequested(bool wholeConnection) override;
  // The KILL QUERY its server sent for it was answered: the server is free again.
  void killDone();
  // auth_query's answer for its login (client_lookup.cpp), posted to its worker.
  void secretLookedUp(const AuthSecret& result);
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
  // Sends what a login step wrote and acts on its status; false when the client was closed.
  bool loginStep(MysqlClientLogin::Status st, protocol::mysql::Writer& w, uint8_t sequenceId);
  // auth_query (client_lookup.cpp): the user's password hash from its database, through the
  // engine's cache; the login goes on in secretLookedUp() when the answer is not cached.
  MysqlClientLogin::Status startLookup(const config::Config& cfg, const config::Database& db,
                                       protocol::mysql::Writer& out);
  MysqlClientLogin::Status verifyLookedUp(const AuthSecret& result,
                                          protocol::mysql::Writer& out);

  void onCommand(protocol::mysql::Bytes message, protocol::mysql::Bytes payload,
                 uint8_t sequenceId);
  // COM_CHANGE_USER: the session ends (its server is reset), the password is checked again
  // (MysqlClientLogin::changeUser), then the client draws from the new user's pool; refused,
  // it stays the user it was, with a new session, as MariaDB leaves it.
  void startChangeUser(protocol::mysql::Bytes payload, uint8_t sequenceId);
  // Transaction pooling, no server linked: a command shardpool answers itself (true).
  bool answerLocally(protocol::mysql::Bytes payload, uint8_t sequenceId);
  // A result set of one row: its last insert id, in the text or the binary protocol.
  // After the login (or a USE without a database): its pool's mode, schema, shards; false
  // when the client was refused (a sharded database in session pooling) and closed.
  bool joinPool();
  // Logged in without a database: USE (or COM_INIT_DB) of a MySQL database joins its pool;
  // PING, RESET and QUIT are answered; anything else gets ERR 1046. False when closed.
  bool answerWithoutDatabase(protocol::mysql::Bytes payload, uint8_t sequenceId);
  // Its KILL statement (an id of shardpool's), answered here; false when the client was closed.
  bool answerKill(const KillStatement& kill, uint8_t sequenceId);
  void sendLastInsertId(uint8_t sequenceId, std::string_view columnName, bool binary);
  void sendOk(uint8_t sequenceId,
              uint16_t statusFlags = protocol::mysql::kServerStatusAutocommit);
  // COM_STMT_*: statement ids are shardpool's, one series per client; the server maps them to
  // its own (MysqlServer::sendOnStatement). False when the command is not one of them.
  bool onStatementCommand(protocol::mysql::Bytes message, protocol::mysql::Bytes payload,
                          uint8_t sequenceId);
  // What a command does to the session's pins (transaction pooling).
  void notePins(protocol::mysql::Bytes payload);
  void pin(uint16_t reasons, std::string_view why);
  void noteSetOption(protocol::mysql::Bytes payload);
  // Sharded databases (client_routing.cpp), transaction pooling. What became of a command:
  enum class Routing : uint8_t {
    Answered,  // answered here (a hint SET, a deferred BEGIN, a refusal): on to the next
    Link,      // pool_ is the pool to ask (no server linked), or the linked one serves it
    Reroute,   // the linked server (outside a transaction) was released: route it again
    Replaced,  // a fanout runs another text in its place (fanout_->command): send that next
  };
  // No server linked: picks pool_ for the command waiting first (its shard's primary, or a
  // replica for a read with read_from), or answers it.
  Routing routeCommand(protocol::mysql::Bytes message, protocol::mysql::Bytes payload,
                       uint8_t sequenceId);
  // A server linked: the command must belong to its shard (else it is refused inside a
  // transaction, or routed anew outside one).
  Routing checkLinked(protocol::mysql::Bytes payload, uint8_t sequenceId);
  // The route of a COM_QUERY or COM_STMT_EXECUTE in database `d`; nullopt for other commands
  // (any shard serves them).
  std::optional<router::Route> routeOf(protocol::mysql::Bytes payload, ShardRouter::Database& d,
                                       const router::StatementFacts** facts);
  // Acts on a Local or refused route; true when answered.
  bool answerRoute(const router::Route& r, const router::StatementFacts& f, uint8_t sequenceId);
  Pool* shardPool(uint32_t shard);
  static std::string shardName(const router::ShardMap& map, uint32_t shard);  // "\"eu\"" or "1"
  // Starts running the command in `message` on every shard of `r` in turn (a write broadcast,
  // or a read whose rows need no merging); false (the client told why) when it cannot.
  bool startFanout(const router::Route& r, const router::StatementFacts& f,
                   protocol::mysql::Bytes message, protocol::mysql::Bytes payload,
                   uint8_t sequenceId);
  // ERR 1235 for a statement that needs the shards of `r`, saying `why` it cannot have them.
  void refuseShards(const router::Route& r, uint8_t sequenceId, std::string_view why);
  // A shard answered its part: on to the next one (true), or the fanout is over (false).
  bool nextShard();
  ShardRouter::Database* routedDatabase();
  // read_from (client_reads.cpp): before asking for a server, the pool the command waiting
  // first should run on: a replica's for a read by itself, else the primary's.
  void choosePool(protocol::mysql::Bytes payload, uint32_t shard);
  // Whether the command is one read-only SELECT that any replica may answer.
  bool replicaMayServe(protocol::mysql::Bytes payload);
  // A readable replica's pool of `shard` in turn (with "any", the primary's among them);
  // nullptr: none is readable.
  Pool* replicaPool(uint32_t shard);
  // The session holds nothing a server could not carry to the next client.
  bool clean() const;
  bool clean(const MysqlServer& server) const;
  // Nothing of its session but a transaction is bound to `server` (transaction pooling): when
  // that server is lost, the client can go on with another one.
  bool portable(const MysqlServer& server) const;
  // A command of a transaction whose server was lost (serverLost): ROLLBACK is answered, any
  // other statement fails as rolled back; true when it was answered here.
  bool answerLostTransaction(protocol::mysql::Bytes payload, uint8_t sequenceId);
  void releaseIfDone();
  // Back to the session a new connection has (COM_RESET_CONNECTION).
  void resetSession();
  // The command waiting for a server gets `message` as its ERR, then the client is closed.
  void failWaitingCommand(uint16_t code, std::string_view sqlState, std::string_view message,
                          std::string_view reason);
  // An ERR of shardpool's own with sequence id `sequenceId`.
  void sendErr(uint8_t sequenceId, uint16_t code, std::string_view sqlState,
               std::string_view message);

  std::optional<MysqlClientLogin> login_;
  std::string lookupKey_;   // its auth_query cache key while a looked-up login runs
  bool lookingUp_ = false;  // the login waits for auth_query's answer
  // The stored form of no password at all: verified as a wrong one.
  static constexpr std::string_view kNoSuchUser = "*0000000000000000000000000000000000000000";
  std::string pendingOk_;  // the login's OK, sent once a server is linked
  protocol::mysql::Capabilities capabilities_ = 0;
  MysqlServer* server_ = nullptr;
  std::string in_;  // bytes of commands not yet forwarded
  // Its prepared statements (with max_prepared_statements > 0): text, parameter count and the
  // parameter types it last bound (sent again with each execute: a server's statement may
  // have been bound by another client since).
  struct Statement {
    std::string sql;
    uint16_t numParams = 0;
    std::string types;
  };
  std::unordered_map<uint32_t, Statement> statements_;
  uint32_t nextStatementId_ = 1;
  uint32_t lastPrepared_ = 0;
  bool longData_ = false;  // SEND_LONG_DATA went to the server: kept until the execute
  MysqlSessionVars session_;
  MysqlSessionVars loginCharset_;  // the character-set variables its login packet set
  uint64_t lastInsertId_ = 0;
  uint16_t pins_ = 0;       // StatementEffect bits and kPin* (mysql_client.cpp): sticky
  uint8_t holdNext_ = 0;    // commands the server is kept for regardless (FOUND_ROWS, SET TRANSACTION)
  uint8_t collation_ = 0;
  bool charsetKnown_ = false;
  bool lockTables_ = false;
  bool multiStatements_ = false;
  bool transactionPooling_ = false;
  // The command with the server is one DML statement (cannotCommit): lost with its server
  // inside a transaction, the transaction is certainly rolled back.
  bool inFlightCannotCommit_ = false;
  bool transactionLost_ = false;  // its transaction's server was lost while it was idle
  // read_from: the primary's pool (the login's: shard 0's), the replicas' of each shard
  // (created on first use, [s][k] for member k + 1), which one a read tries next, and the
  // health checks' read targets as of readVersion_ (readable_[s][k]: that replica may serve
  // reads).
  // Sharded: each shard's primary pool ([shard], created on first use), the session's hints
  // (SET @shardpool_shard / @shardpool_sharding_key), and a BEGIN answered here, sent ahead of
  // the transaction's first statement once that statement has picked the shard.
  bool sharded_ = false;  // its database has several shards (as of its login)
  struct Fanout {
    std::string command;  // the client's command (its message), sent to each shard in turn
    std::vector<uint32_t> shards;
    std::vector<std::string> names;  // of the shards, for their errors
    size_t at = 0;       // shards[at] runs it now
    uint8_t seq = 1;     // the sequence id of the next packet the client gets
    uint64_t affected = 0;
    uint16_t warnings = 0;
    bool failed = false;  // a shard's ERR went to the client: the other shards are skipped
    std::string out;      // packets for the client, sent in batches
    // A read of aggregates, by group or not (simpleGrouping): every shard's rows are combined
    // into one row per group (`groups`, found by their key in `groupIndex`), sorted by the
    // GROUP BY columns and sent before the last shard's end.
    std::optional<Grouping> grouping;
    std::map<std::string, size_t, std::less<>> groupIndex;
    std::vector<std::vector<std::optional<std::string>>> groups;
    bool uncombinable = false;
    // A read with a trailing ORDER BY and/or LIMIT (simpleOrder): rows are held (with ORDER
    // BY), sorted and cut when the last shard is done, or counted and cut as they come.
    std::optional<OrderSpec> order;
    std::vector<std::string> columnNames;  // of the first shard's result
    std::vector<std::string> held;         // row payloads
    size_t heldBytes = 0;
    uint64_t rowsSeen = 0;  // LIMIT without ORDER BY: gathered rows so far
  };
  // The end of a fanout that holds rows: sorted and cut (ORDER BY), else why not, as an ERR.
  void sendHeldRows(Fanout& f);
  // A shard's row of a grouped read, into its group; the groups, sorted, at the end.
  void combineRow(Fanout& f, protocol::mysql::Bytes payload);
  void sendGroups(Fanout& f);
  std::optional<Fanout> fanout_;
  std::vector<Pool*> shardPools_;
  router::SessionHints hints_;
  std::string deferredBegin_;
  Pool* primaryPool_ = nullptr;
  std::vector<std::vector<Pool*>> replicaPools_;  // [shard][replica]
  std::vector<std::vector<bool>> readable_;      // [shard][replica]; empty: ask again
  uint64_t readVersion_ = UINT64_MAX;
  uint32_t nextRead_ = 0;
  config::ReadFrom readFrom_ = config::ReadFrom::Primary;
  bool resetInFlight_ = false;  // the client's COM_RESET_CONNECTION is with the server
  bool tlsRequested_ = false;   // its SSLRequest was read: readInput() starts TLS
  bool changingUser_ = false;   // login_ checks a COM_CHANGE_USER
  Pool* loginPool_ = nullptr;   // the pool of the user being checked, taken when accepted
  std::string previousUser_;    // who it stays when the change is refused
  std::string previousDatabase_;
  bool readingInput_ = false;
};

}  // namespace shardpool::pooler
