// The admin console as the session sees it: a client that logged in to the virtual database
// ("shardpool" or "pgbouncer") hands its messages to a ConsoleSession instead of a server. The
// console itself lives above the core (pooler/admin/); the runtime opens it.
#pragma once

#include <cstdint>
#include <string_view>

namespace shardpool::pooler {

struct Snapshot;

class ConsoleSession {
 public:
  virtual ~ConsoleSession() = default;
  // The login reply after AuthenticationOk: parameters, key data, ReadyForQuery.
  virtual void greet(uint32_t cancelPid, uint32_t cancelKey) = 0;
  // One message from the client; false when the session must end (Terminate).
  virtual bool onMessage(char type, std::string_view body) = 0;
  // A command is waiting (for a snapshot, PAUSE, WAIT_CLOSE): the client's input is held.
  virtual bool busy() const = 0;
  // Periodic check of a waiting command, from the worker's tick.
  virtual void onTick() = 0;
  // The snapshot a command asked for has arrived (on this client's worker).
  virtual void onSnapshot(const Snapshot& snapshot) = 0;
};

}  // namespace shardpool::pooler
