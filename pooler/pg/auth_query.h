// One auth_query lookup: libpq in non-blocking mode on a worker's uv loop (never blocking it),
// as auth_user, bounded by a timeout that covers resolving, connecting and the query. A host
// name is resolved with uv_getaddrinfo first and handed to libpq as hostaddr, because libpq
// resolves synchronously. A database with a host list is tried host by host, in the list's
// order, until one takes the connection. Each lookup opens its own connection: the cache
// (auth_cache.h) makes lookups rare, one per user and TTL.
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "pooler/auth/auth_cache.h"

namespace shardpool::pooler {

struct AuthQueryHost {
  std::string host;  // name, address, or a unix-socket directory ("/...")
  uint16_t port = 5432;
};

struct AuthQueryTarget {
  std::vector<AuthQueryHost> hosts;  // at least one; the next is tried when one cannot connect
  std::string dbname;
  std::string user;      // auth_user
  std::string password;  // auth_user's plain password
  std::string sslmode;   // libpq's sslmode ("disable", "prefer", "require", ...); "disable" is
                         // used for a unix-socket directory whatever it says
  std::string sslrootcert;
  std::string query;     // auth_query; $1 is the user name
  std::string lookedUp;  // the user name looked up
  std::chrono::milliseconds timeout{5000};
};

// libpq's conninfo for host `host` of `t` ("key='value' ..."), with `hostaddr` when not empty.
std::string authQueryConninfo(const AuthQueryTarget& t, size_t host, const std::string& hostaddr);

// Starts the lookup on `loop`; `done` runs exactly once, on that loop's thread, from a callback.
void runAuthQuery(uv_loop_t* loop, AuthQueryTarget target, std::function<void(AuthSecret)> done);

}  // namespace shardpool::pooler
