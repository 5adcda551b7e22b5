// The admin console's command language (PgBouncer's): parses one simple-query string into a
// command and its arguments. Pure: no I/O, no state.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace shardpool::pooler::admin {

enum class Verb {
  Empty,  // only whitespace and semicolons
  Show,
  Pause,
  Suspend,  // stop accepting and reading sockets (PgBouncer's, before an online restart)
  Resume,
  Reconnect,
  Kill,
  KillClient,
  Disable,
  Enable,
  WaitClose,
  Reload,
  Shutdown,
  Set,
  Unfence,  // UNFENCE host:port: a fenced backend may take writes again
};

struct Command {
  Verb verb = Verb::Empty;
  std::string arg;    // SHOW: what (upper case); database name; KILL_CLIENT id; SHUTDOWN mode
  std::string value;  // SET: the value (quotes removed)
};

struct Parsed {
  std::optional<Command> command;
  std::string error;  // when command is empty: why, for an ErrorResponse
};

Parsed parseCommand(std::string_view sql);

// Whether a verb changes anything (stats users may only run the others).
bool changesState(Verb verb);

}  // namespace shardpool::pooler::admin
