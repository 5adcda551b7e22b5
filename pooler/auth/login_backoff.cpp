#include "pooler/auth/login_backoff.h"

#include <algorithm>
#include <cstring>

namespace shardpool::pooler::auth {

namespace {
constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
}  // namespace

SourceKey sourceKey(bool v6, const uint8_t* bytes) {
  SourceKey k;
  if (v6 && std::memcmp(bytes, kMappedPrefix, sizeof kMappedPrefix) == 0) {
    v6 = false;
    bytes += 12;
  }
  k.v6 = v6;
  std::memcpy(k.prefix.data(), bytes, v6 ? 8 : 4);
  return k;
}

size_t LoginBackoff::KeyHash::operator()(const SourceKey& k) const {
  uint64_t v = 0;
  std::memcpy(&v, k.prefix.data(), sizeof v);
  v ^= k.v6 ? 0x9e3779b97f4a7c15ull : 0;
  v *= 0xff51afd7ed558ccdull;  // mix, so that neighbouring addresses spread over buckets
  return static_cast<size_t>(v ^ (v >> 33));
}

LoginBackoff::Admission LoginBackoff::admit(const SourceKey& source, Clock::time_point now,
                                            const Policy& policy) {
  if (!policy.enabled()) return {};
  std::lock_guard lock(mutex_);
  auto it = index_.find(source);
  if (it == index_.end()) return {};
  Entry& e = *it->second;
  if (now - e.lastFailure >= policy.window) {
    byAge_.erase(it->second);
    index_.erase(it);
    return {};
  }
  if (e.failures < policy.threshold) return {};
  // threshold failures: the first delay; each one more doubles it, up to maxDelay.
  uint32_t doublings = std::min<uint32_t>(e.failures - policy.threshold, 30);
  Duration delay = policy.delay;
  for (uint32_t i = 0; i < doublings && delay < policy.maxDelay; ++i) delay *= 2;
  delay = std::min(delay, std::max(policy.maxDelay, policy.delay));
  Clock::time_point at = std::max(now, e.nextSlot) + delay;
  if (at - now > policy.maxWait) return {Verdict::Refuse, {}};
  e.nextSlot = at;
  return {Verdict::Wait, at};
}

void LoginBackoff::failed(const SourceKey& source, Clock::time_point now, const Policy& policy) {
  if (!policy.enabled()) return;
  std::lock_guard lock(mutex_);
  auto it = index_.find(source);
  if (it == index_.end()) {
    if (capacity_ == 0) return;
    if (index_.size() >= capacity_) {
      index_.erase(byAge_.front().key);
      byAge_.pop_front();
    }
    byAge_.push_back(Entry{source, 0, now, now});
    it = index_.emplace(source, std::prev(byAge_.end())).first;
  } else {
    byAge_.splice(byAge_.end(), byAge_, it->second);  // now the most recent
  }
  Entry& e = *it->second;
  if (now - e.lastFailure >= policy.window) e.failures = 0;
  if (e.failures < UINT32_MAX) ++e.failures;
  e.lastFailure = now;
}

size_t LoginBackoff::size() const {
  std::lock_guard lock(mutex_);
  return index_.size();
}

}  // namespace shardpool::pooler::auth
