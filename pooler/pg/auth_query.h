// One auth_query lookup: libpq in non-blocking mode on a worker's uv loop (never blocking it),
// as auth_user, bounded by a timeout that covers resolving, connecting and the query. A host
// name is resolved with uv_getaddrinfo first and handed to libpq as hostaddr, because libpq
// resolves synchronously. Each lookup opens its own connection: the cache (auth_cache.h) makes
// lookups rare, one per user and TTL.
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <string>

#include "pooler/pg/auth_cache.h"

namespace shardpool::pooler {

struct AuthQueryTarget {
  std::string host;  // name, address, or a unix-socket directory ("/...")
  uint16_t port = 5432;
  std::string dbname;
  std::string user;      // auth_user
  std::string password;  // auth_user's plain password
  std::string sslmode;   // libpq's sslmode ("disable", "prefer", "require", ...)
  std::string sslrootcert;
  std::string query;     // auth_query; $1 is the user name
  std::string lookedUp;  // the user name looked up
  std::chrono::milliseconds timeout{5000};
};

// libpq's conninfo for `t` ("key='value' ..."), with `hostaddr` when not empty.
std::string authQueryConninfo(const AuthQueryTarget& t, const std::string& hostaddr);

// Starts the lookup on `loop`; `done` runs exactly once, on that loop's thread, from a callback.
void runAuthQuery(uv_loop_t* loop, AuthQueryTarget target, std::function<void(AuthSecret)> done);

}  // namespace shardpool::pooler
