// A client of shardpool as the core sees it, whatever its protocol: its state (one setState(),
// the transitions in session_states.h), who it is, the pool it draws servers from, and what the
// worker, the pools, the cancel registry and the admin console ask of it. A protocol's frontend
// engine (pooler/pg/ for PostgreSQL) derives from it and speaks the wire.
#pragma once

#include <string>
#include <string_view>

#include "config/config.h"
#include "pooler/net/connection.h"
#include "pooler/net/log.h"
#include "pooler/session/session_states.h"
#include "pooler/session/worker.h"

namespace shardpool::pooler {

class Pool;
class ServerLink;
struct ConnRow;
struct Snapshot;

class ClientSession : public Connection {
 public:
  using State = ClientState;

  ClientSession(Worker& worker, uint64_t id);
  ~ClientSession() override;

  Worker& worker() const { return static_cast<Worker&>(eventLoop()); }
  State state() const { return state_; }
  // The log prefix, "C-<id> <user>@<database>" (just "C-<id>" before the startup packet).
  log::Who who() const { return log::Who('C', id(), user_, database_); }
  const std::string& user() const { return user_; }
  const std::string& database() const { return database_; }
  // The protocol of the listener that accepted it: it draws servers only from pools of this
  // protocol.
  config::Protocol protocol() const { return protocol_; }

  // Accepted: begin reading the client's login (client_login_timeout counts from here).
  void start();
  virtual bool isConsole() const = 0;
  void describe(ConnRow& row) const;  // for SHOW CLIENTS
  // Admin console: a snapshot it asked for arrived; a waiting command finished.
  virtual void consoleSnapshot(const Snapshot& snapshot) = 0;
  virtual void consoleIdle() = 0;
  // Ends the session with an error (KILL, KILL_CLIENT).
  virtual void terminate(std::string_view sqlstate, std::string_view message,
                         std::string_view reason) = 0;
  // A cancel request with this client's key: cancels its query when one is running.
  virtual void cancelRequested() = 0;
  // MySQL's KILL from another client of the same user (CancelRegistry::kill): its running
  // query, or the whole connection.
  virtual void killRequested(bool wholeConnection) { (void)wholeConnection; }

  // Pairing, from the pool and the worker. waitingForServer(): a server handed to this client
  // now would be taken; assignServer() gives it one of its pool's servers (the wait is
  // counted for SHOW STATS, then the engine links it: linkServer).
  virtual bool waitingForServer() const = 0;
  void assignServer(ServerLink* server);
  // The servers this client can use (ServerLink::flavor()); 0: any.
  virtual uint64_t flavor() const { return 0; }
  // A server that was on its way to this waiting client is gone: ask the pool again.
  virtual void serverWithdrawn() = 0;
  // The connect made for this client failed; `sqlstate` is the server's when it refused the
  // login.
  virtual void serverFailed(std::string_view reason, std::string_view sqlstate = "08006") = 0;

  // Timeouts, from the worker's tick: waiting for a server (query_wait_timeout,
  // failover_wait_timeout) here, the rest in the engine's onTick().
  void checkTimers(Clock::time_point now, const config::General& settings);
  // Shutdown: close now if no transaction is in progress.
  virtual void closeIfIdle() = 0;
  // Closes the session (safe to call twice): the engine lets go of its server (onClosing), the
  // pool forgets a waiting client, the cancel key and the max_client_conn slot are freed, and
  // the object is deleted at the end of the loop iteration.
  void close(std::string_view reason);

 protected:
  // What the engine adds to a SHOW CLIENTS row (its server, TLS, application name).
  virtual void describeMore(ConnRow& row) const = 0;
  virtual void onTick(Clock::time_point now, const config::General& settings) = 0;
  virtual void onClosing() = 0;
  virtual void linkServer(ServerLink* server) = 0;
  // start() began reading: a protocol whose server speaks first sends its greeting here.
  virtual void onStarted() {}

  // Asks the pool for a server: one idle is assigned at once, a new one is opened for this
  // client, or it queues (WaitServer until then). `again`: the same wait goes on (a server
  // withdrawn, a failed connect retried elsewhere), so query_wait_timeout counts from its start.
  void askPool(bool again = false);
  // A connect for this client failed with `sqlstate`: when its database has standbys, the
  // failure may be its primary dying: the database's clients are held (this one asks its pool
  // again) while the health checks decide. False when no failover applies.
  bool holdForFailover(std::string_view reason, std::string_view sqlstate);
  // max_client_conn: false (and the slot not taken) when full.
  bool countClient();
  // This client's cancel key (the engine tells the client).
  void takeCancelKey();

  // The one place where state_ changes: a transition not in session_states.h is a bug of
  // shardpool's own, logged as such.
  void setState(State next);

  State state_ = State::Startup;
  std::string user_;
  std::string database_;
  Pool* pool_ = nullptr;
  Clock::time_point startedAt_;    // accepted: client_login_timeout counts from here
  Clock::time_point waitStart_;    // since when it waits for a server
  Clock::time_point lastActivity_;  // last bytes from the client
  uint32_t cancelPid_ = 0;
  uint32_t cancelKey_ = 0;
  uint64_t lastServer_ = 0;  // the id of the server it was given last (Pool::acquire prefers it)

 private:
  friend class Worker;  // sets protocol_ when it accepts the client
  config::Protocol protocol_ = config::Protocol::Postgres;
  bool counted_ = false;  // holds a max_client_conn slot
};

}  // namespace shardpool::pooler
