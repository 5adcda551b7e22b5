// The clients' unix socket, <unix_socket_dir>/.s.PGSQL.<listen_port> as PgBouncer (and libpq's
// host=/dir) names it: made with unix_socket_mode and unix_socket_group. A socket file left by a
// process that is gone is replaced; one that a live process listens on is an error.
#pragma once

#include <string>

#include "config/config.h"

namespace shardpool::pooler {

std::string unixSocketPath(const config::General& g);
// A listening socket on unixSocketPath(g); -1 with `error` set when it cannot be made.
int bindUnixListener(const config::General& g, std::string& error);
// The path a listening unix socket is bound to ("" when none).
std::string boundUnixPath(int fd);

}  // namespace shardpool::pooler
