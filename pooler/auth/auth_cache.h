// Secrets looked up with auth_query, shared by every worker (each engine keeps its own): one
// lookup per (database, user) at a time, however many clients log in at once, and its answer
// kept for auth_query_cache_ttl. Pure bookkeeping under a mutex; the lookups themselves are the
// engines' (PostgreSQL: pooler/pg/auth_query.h, MySQL: pooler/mysql/side_query.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace shardpool::pooler {

// What one auth_query lookup found.
struct AuthSecret {
  enum class Kind { Found, NoUser, Failed };
  Kind kind = Kind::Failed;
  std::string secret;  // Found: a SCRAM secret, an md5 hash or a plain password
  std::string error;   // Failed: why, for the log (never for the client)
};

class AuthCache {
 public:
  using Clock = std::chrono::steady_clock;
  struct Waiter {
    unsigned worker;
    uint64_t clientId;
  };
  // Hit: `result` is the cached answer. Wait: a lookup is running; `waiter` hears of it.
  // Start: the caller must run the lookup and call finish(); `waiter` hears of it too.
  enum class Status { Hit, Wait, Start };
  struct Found {
    Status status;
    AuthSecret result;  // with Hit
  };

  // `key` names the lookup (database and user; see key()).
  Found find(const std::string& key, Clock::time_point now, Waiter waiter);
  // The lookup is over: the waiters to tell. Found and NoUser answers are kept until now + ttl
  // (not at all with a ttl of 0); a failed lookup is not kept.
  std::vector<Waiter> finish(const std::string& key, const AuthSecret& result,
                             Clock::time_point now, Clock::duration ttl);
  // A login with a cached answer failed: the next login looks the user up again (a password
  // changed since). Nothing while a lookup runs.
  void forget(const std::string& key);
  // RELOAD: every user is looked up again. A lookup running now still answers its waiters, but
  // its answer is not kept (it may predate the change the reload is for).
  void clear();
  size_t size();

  static std::string key(std::string_view database, std::string_view user);

 private:
  struct Entry {
    bool running = false;
    bool stale = false;           // running across a clear(): not kept
    std::vector<Waiter> waiters;  // while running
    AuthSecret result;
    Clock::time_point expires;
  };
  void trim(Clock::time_point now, const std::string& keep);  // under mutex_

  // Names that do not exist are cached too (so that they cost what real ones cost); the cap keeps
  // a client trying random names from growing the cache without bound.
  static constexpr size_t kMaxEntries = 10000;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace shardpool::pooler
