// MySQL's way to stop a running query: `KILL QUERY <thread id>` from another connection of the
// same user. shardpool sends it for a client's KILL QUERY (or KILL) aimed at another client
// (CancelRegistry::kill), on a fresh connection to the server running that client's command,
// logged in as the pool's user; the server stays with its client until the KILL has been
// answered (MysqlServer::killQuery), so it can never reach another client's query. A server
// whose statement ended meanwhile clears the kill when its next command starts, as MySQL
// does for a KILL QUERY that finds its connection idle.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>

#include "pooler/mysql/server_login.h"
#include "pooler/net/tls.h"

namespace shardpool::pooler {

class Worker;

struct KillTarget {
  sockaddr_storage addr{};  // the server's address (TCP)
  uint32_t threadId = 0;    // the server's connection id for the session to interrupt
  std::string host;         // for TLS's name check
  std::shared_ptr<TlsContext> tls;  // null: no TLS
  bool verifyHost = false;
  uint64_t serverId = 0;  // that server of the worker hears killDelivered()
};

// Connects, logs in with `login`, sends KILL QUERY, and tells the server once answered (or
// failed). `login` carries the pool's credentials and TLS wish (MysqlServer::newLogin).
void sendKillQuery(Worker& worker, KillTarget target, MysqlServerLogin login);

}  // namespace shardpool::pooler
