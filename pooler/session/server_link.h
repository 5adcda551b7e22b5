// A server connection as the core sees it, whatever its protocol: the pool it belongs to, its
// state (one setState(), the transitions in session_states.h), and what the worker and the
// pool ask of it. A protocol's backend engine (pooler/pg/ for PostgreSQL) derives from it:
// connecting, logging in, resetting for reuse, and relaying replies to a linked client.
#pragma once

#include <string>
#include <string_view>

#include "pooler/net/connection.h"
#include "pooler/session/session_states.h"
#include "pooler/session/worker.h"

namespace shardpool::pooler {

class Pool;
struct ConnRow;

class ServerLink : public Connection {
 public:
  using State = ServerState;

  ServerLink(Worker& worker, uint64_t id, Pool& pool);
  ~ServerLink() override;

  Worker& worker() const { return static_cast<Worker&>(eventLoop()); }
  Pool& pool() const { return pool_; }
  State state() const { return state_; }
  const std::string& who() const { return who_; }
  // The pool's generation when this server was opened: servers of an older one are replaced.
  uint32_t generation() const { return generation_; }
  Clock::time_point createdAt() const { return createdAt_; }
  Clock::time_point idleSince() const { return idleSince_; }

  // Starts connecting; when logged in, the server is offered to client `forClient` (0: the pool).
  virtual void start(uint64_t forClient) = 0;
  void describe(ConnRow& row) const;  // for SHOW SERVERS
  // `socketDead`: the peer already hung up, or nothing more may be sent to it.
  virtual void close(std::string_view reason, bool socketDead = false) = 0;
  // Connect/login failure (or a failed hand-over between workers): tell the waiting client.
  virtual void fail(std::string_view reason, std::string_view sqlstate = "08006",
                    bool socketDead = false) = 0;
  // Timeouts, from the worker's tick: server_connect_timeout while opening; while parked,
  // server_idle_timeout, server_lifetime and replacement; the rest in the engine's onTick().
  void checkTimers(Clock::time_point now);
  // In its pool's idle list (idle, and not on its way to a client).
  bool parked() const { return parked_; }
  // What a client must share with this server to be given it (Pool::acquire); 0: any client.
  virtual uint64_t flavor() const { return 0; }

 protected:
  // The one place where state_ changes: a server leaving the idle state leaves its pool's idle
  // list with it; one entering it records since when. An impossible transition is a bug.
  void setState(State next);
  virtual void onTick(Clock::time_point now) = 0;
  // What the engine adds to a SHOW SERVERS row (its client, backend pid, TLS, statements).
  virtual void describeMore(ConnRow& row) const = 0;
  // Why this server must not be reused (stale after RECONNECT/reload, pool paused, pool
  // shrunk); null when it may.
  const char* replacedBecause() const;
  // Before it goes back to its pool: closes it when shutting down, past server_lifetime or
  // replaced (true), else false.
  bool closedInsteadOfReuse();
  // Idle again, offered to client `forClient` (0: back to the pool) at the end of this loop
  // iteration, when no callback of this connection is on the stack (Worker::queueGive).
  void offer(uint64_t forClient);

  Pool& pool_;
  std::string who_;
  State state_ = State::Resolving;
  uint32_t generation_ = 0;
  Clock::time_point createdAt_;
  // server_connect_timeout counts from here: the object's creation, or the move to the next
  // host of a host list.
  Clock::time_point attemptStart_;
  Clock::time_point idleSince_;

 private:
  friend class Pool;  // parks and unparks
  bool parked_ = false;
};

}  // namespace shardpool::pooler
