// The auth_query cache: one lookup per user however many logins wait, answers kept for the TTL,
// failures never kept, and a failed login forgetting the answer it used.
#include "pooler/auth/auth_cache.h"

#include <catch2/catch.hpp>

using namespace shardpool::pooler;
using namespace std::chrono_literals;

namespace {
AuthSecret found(std::string secret) { return {AuthSecret::Kind::Found, std::move(secret), {}}; }
}  // namespace

TEST_CASE("auth cache: a burst of logins runs one lookup", "[auth][pg]") {
  AuthCache cache;
  auto t0 = AuthCache::Clock::now();
  std::string key = AuthCache::key("app", "alice");
  CHECK(cache.find(key, t0, {0, 1}).status == AuthCache::Status::Start);
  CHECK(cache.find(key, t0, {1, 2}).status == AuthCache::Status::Wait);
  CHECK(cache.find(key, t0, {0, 3}).status == AuthCache::Status::Wait);
  // Another user, or the same name in another database, is its own lookup.
  CHECK(cache.find(AuthCache::key("app", "bob"), t0, {0, 4}).status == AuthCache::Status::Start);
  CHECK(cache.find(AuthCache::key("other", "alice"), t0, {0, 5}).status ==
        AuthCache::Status::Start);
  auto waiters = cache.finish(key, found("md5abc"), t0, 60s);
  REQUIRE(waiters.size() == 3);
  CHECK(waiters[0].clientId == 1);
  CHECK(waiters[1].worker == 1);
  CHECK(waiters[2].clientId == 3);
  auto hit = cache.find(key, t0 + 59s, {0, 6});
  CHECK(hit.status == AuthCache::Status::Hit);
  CHECK(hit.result.secret == "md5abc");
  // Expired: looked up again.
  CHECK(cache.find(key, t0 + 61s, {0, 7}).status == AuthCache::Status::Start);
}

TEST_CASE("auth cache: unknown users are kept, failures are not", "[auth][pg]") {
  AuthCache cache;
  auto t0 = AuthCache::Clock::now();
  std::string nobody = AuthCache::key("app", "nobody");
  REQUIRE(cache.find(nobody, t0, {0, 1}).status == AuthCache::Status::Start);
  cache.finish(nobody, {AuthSecret::Kind::NoUser, {}, {}}, t0, 60s);
  auto hit = cache.find(nobody, t0, {0, 2});
  CHECK(hit.status == AuthCache::Status::Hit);
  CHECK(hit.result.kind == AuthSecret::Kind::NoUser);

  std::string down = AuthCache::key("app", "carol");
  REQUIRE(cache.find(down, t0, {0, 3}).status == AuthCache::Status::Start);
  CHECK(cache.find(down, t0, {0, 4}).status == AuthCache::Status::Wait);
  auto waiters = cache.finish(down, {AuthSecret::Kind::Failed, {}, "connection refused"}, t0, 60s);
  CHECK(waiters.size() == 2);  // both hear of the failure
  CHECK(cache.find(down, t0, {0, 5}).status == AuthCache::Status::Start);

  // A TTL of 0 keeps nothing.
  std::string noTtl = AuthCache::key("app", "dave");
  REQUIRE(cache.find(noTtl, t0, {0, 6}).status == AuthCache::Status::Start);
  cache.finish(noTtl, found("x"), t0, 0s);
  CHECK(cache.find(noTtl, t0, {0, 7}).status == AuthCache::Status::Start);
}

TEST_CASE("auth cache: a failed login forgets the answer, not a running lookup", "[auth][pg]") {
  AuthCache cache;
  auto t0 = AuthCache::Clock::now();
  std::string key = AuthCache::key("app", "alice");
  REQUIRE(cache.find(key, t0, {0, 1}).status == AuthCache::Status::Start);
  cache.forget(key);  // running: kept, its waiters still hear of it
  CHECK(cache.find(key, t0, {0, 2}).status == AuthCache::Status::Wait);
  CHECK(cache.finish(key, found("old"), t0, 60s).size() == 2);
  cache.forget(key);
  CHECK(cache.find(key, t0, {0, 3}).status == AuthCache::Status::Start);
}

TEST_CASE("auth cache: a reload forgets every answer, and a lookup it overtook", "[auth][pg]") {
  AuthCache cache;
  auto t0 = AuthCache::Clock::now();
  std::string alice = AuthCache::key("app", "alice"), bob = AuthCache::key("app", "bob");
  REQUIRE(cache.find(alice, t0, {0, 1}).status == AuthCache::Status::Start);
  cache.finish(alice, found("md5old"), t0, 60s);
  REQUIRE(cache.find(alice, t0, {0, 2}).status == AuthCache::Status::Hit);
  REQUIRE(cache.find(bob, t0, {0, 3}).status == AuthCache::Status::Start);  // running

  cache.clear();
  CHECK(cache.find(alice, t0, {0, 4}).status == AuthCache::Status::Start);
  cache.finish(alice, found("md5new"), t0, 60s);
  auto hit = cache.find(alice, t0, {0, 5});
  CHECK(hit.status == AuthCache::Status::Hit);
  CHECK(hit.result.secret == "md5new");
  // The lookup that ran across the reload still answers those waiting for it, but is not kept.
  CHECK(cache.find(bob, t0, {1, 6}).status == AuthCache::Status::Wait);
  auto waiters = cache.finish(bob, found("md5maybe_old"), t0, 60s);
  CHECK(waiters.size() == 2);
  CHECK(cache.find(bob, t0, {0, 7}).status == AuthCache::Status::Start);
}
