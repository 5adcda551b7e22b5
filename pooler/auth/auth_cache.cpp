#include "pooler/auth/auth_cache.h"

namespace shardpool::pooler {

std::string AuthCache::key(std::string_view database, std::string_view user) {
  std::string k(database);
  k.push_back('\0');
  k.append(user);
  return k;
}

AuthCache::Found AuthCache::find(const std::string& key, Clock::time_point now, Waiter waiter) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    Entry& e = it->second;
    if (e.running) {
      e.waiters.push_back(waiter);
      return {Status::Wait, {}};
    }
    if (now < e.expires) return {Status::Hit, e.result};
  } else {
    it = entries_.emplace(key, Entry{}).first;
  }
  Entry& e = it->second;
  e.running = true;
  e.waiters.assign(1, waiter);
  return {Status::Start, {}};
}

std::vector<AuthCache::Waiter> AuthCache::finish(const std::string& key, const AuthSecret& result,
                                                 Clock::time_point now, Clock::duration ttl) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return {};
  std::vector<Waiter> waiters = std::move(it->second.waiters);
  if (result.kind == AuthSecret::Kind::Failed || ttl <= Clock::duration::zero() ||
      it->second.stale) {
    entries_.erase(it);
    return waiters;
  }
  Entry& e = it->second;
  e.running = false;
  e.waiters.clear();
  e.result = result;
  e.expires = now + ttl;
  if (entries_.size() > kMaxEntries) trim(now, key);
  return waiters;
}

void AuthCache::trim(Clock::time_point now, const std::string& keep) {
  for (auto it = entries_.begin(); it != entries_.end();)
    it = !it->second.running && it->second.expires <= now ? entries_.erase(it) : std::next(it);
  if (entries_.size() <= kMaxEntries) return;
  for (auto it = entries_.begin(); it != entries_.end();)
    it = !it->second.running && it->first != keep ? entries_.erase(it) : std::next(it);
}

void AuthCache::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it != entries_.end() && !it->second.running) entries_.erase(it);
}

void AuthCache::clear() {
  std::lock_guard lock(mutex_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    it->second.stale = it->second.running;
    it = it->second.running ? std::next(it) : entries_.erase(it);
  }
}

size_t AuthCache::size() {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace shardpool::pooler
