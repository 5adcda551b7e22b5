// One statement on a fresh MySQL connection of shardpool's own, beside the pools: it resolves
// the host (or takes an address), connects, logs in (MysqlServerLogin, with TLS when asked),
// runs one text statement, reads its first row, says COM_QUIT and closes, all on a worker's
// loop and bounded by a timeout. Two users:
//  - KILL QUERY for another client's KILL (MysqlServer::killQuery): MySQL stops a running
//    query only from another connection of the same user. The server stays with its client
//    until the KILL has been answered, so it can never reach another client's query; a
//    statement that ended meanwhile is not touched (MySQL clears a KILL QUERY that finds its
//    connection idle when the next command starts).
//  - auth_query lookups of MySQL databases (client_lookup.cpp).
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pooler/mysql/server_login.h"
#include "pooler/net/tls.h"

namespace shardpool::pooler {

class Worker;

struct SideQuery {
  std::string host;  // resolved unless `addr` is set; TLS checks it with verifyHost
  uint16_t port = 3306;
  std::optional<sockaddr_storage> addr;
  std::shared_ptr<TlsContext> tls;  // null: no TLS (the login's useTls says whether to ask)
  bool verifyHost = false;
  std::string sql;
  std::chrono::milliseconds timeout{5000};
};

struct SideResult {
  bool ok = false;
  std::string error;       // why not: connect, login, TLS, the statement's ERR, the timeout
  uint16_t errorCode = 0;  // the server's ERR code, when it answered with one
  std::optional<std::vector<std::optional<std::string>>> firstRow;  // a result set's first row
};

// Runs `q` logged in with `login`; `done` runs once, on `worker`'s loop.
void runSideQuery(Worker& worker, SideQuery q, MysqlServerLogin login,
                  std::function<void(const SideResult&)> done);

}  // namespace shardpool::pooler
