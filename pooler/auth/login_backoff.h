// Failed-login back-off: a table of client sources (an IPv4 address, or the /64 of an IPv6 one)
// with their recent authentication failures, deciding how long a new login from a source waits
// before its authentication starts. Bounded (the source whose last failure is oldest makes room),
// forgetful (a source's failures expire a window after the last one) and thread-safe; it keeps
// no timers and does no I/O: callers pass the time and act on the answer.
//
// The wait is per source and never per user name, and it comes before the password is checked,
// so it says nothing about whether a user exists or a password was right; logins from one
// source wait in turn, so opening many connections at once does not multiply the guesses.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <unordered_map>

namespace shardpool::pooler::auth {

// Where a login comes from, as the back-off counts it.
struct SourceKey {
  std::array<uint8_t, 8> prefix{};  // IPv4: the address; IPv6: the first 64 bits
  bool v6 = false;
  bool operator==(const SourceKey&) const = default;
};
// `bytes`: 4 (IPv4) or 16 (IPv6). An IPv4-mapped IPv6 address counts as its IPv4 address.
SourceKey sourceKey(bool v6, const uint8_t* bytes);

class LoginBackoff {
 public:
  using Clock = std::chrono::steady_clock;
  using Duration = std::chrono::milliseconds;
  static constexpr size_t kDefaultCapacity = 16384;  // about 2 MiB when full

  struct Policy {
    uint32_t threshold = 0;  // failures before logins wait; 0: off
    Duration delay{0};       // first wait; doubles per further failure; 0: off
    Duration maxDelay{0};    // longest single wait
    Duration window{0};      // a source's failures are forgotten this long after the last one
    Duration maxWait{0};     // a login that would wait longer (in its source's queue) is refused
    bool enabled() const { return threshold > 0 && delay.count() > 0; }
  };

  enum class Verdict { Now, Wait, Refuse };
  struct Admission {
    Verdict verdict = Verdict::Now;
    Clock::time_point at{};  // Wait: when authentication may start
  };

  explicit LoginBackoff(size_t capacity = kDefaultCapacity) : capacity_(capacity) {}
  LoginBackoff(const LoginBackoff&) = delete;
  LoginBackoff& operator=(const LoginBackoff&) = delete;

  // A login from `source` is about to authenticate: at once, after a wait (its turn is taken),
  // or not at all (the queue of its source is longer than maxWait).
  Admission admit(const SourceKey& source, Clock::time_point now, const Policy& policy);
  // A login from `source` failed authentication.
  void failed(const SourceKey& source, Clock::time_point now, const Policy& policy);
  size_t size() const;

 private:
  struct Entry {
    SourceKey key;
    uint32_t failures = 0;
    Clock::time_point lastFailure{};
    Clock::time_point nextSlot{};  // when the latest waiting login of this source starts
  };
  struct KeyHash {
    size_t operator()(const SourceKey& k) const;
  };
  using List = std::list<Entry>;

  mutable std::mutex mutex_;
  size_t capacity_;
  List byAge_;  // least recent failure first
  std::unordered_map<SourceKey, List::iterator, KeyHash> index_;
};

}  // namespace shardpool::pooler::auth
