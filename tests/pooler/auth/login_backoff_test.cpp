// The failed-login table: when logins wait, how long, in turn per source, how failures expire,
// that the table stays bounded, and that IPv6 sources are counted per /64.
#include "pooler/auth/login_backoff.h"

#include <arpa/inet.h>

#include <catch2/catch.hpp>

#include <string>

using namespace shardpool::pooler::auth;
using namespace std::chrono_literals;
using Clock = LoginBackoff::Clock;
using Verdict = LoginBackoff::Verdict;

namespace {

SourceKey ip(const char* text) {
  uint8_t bytes[16] = {};
  if (inet_pton(AF_INET, text, bytes) == 1) return sourceKey(false, bytes);
  REQUIRE(inet_pton(AF_INET6, text, bytes) == 1);
  return sourceKey(true, bytes);
}

LoginBackoff::Policy policy() {
  LoginBackoff::Policy p;
  p.threshold = 3;
  p.delay = 100ms;
  p.maxDelay = 1s;
  p.window = 60s;
  p.maxWait = 10s;
  return p;
}

std::chrono::milliseconds waitOf(const LoginBackoff::Admission& a, Clock::time_point now) {
  REQUIRE(a.verdict == Verdict::Wait);
  return std::chrono::duration_cast<std::chrono::milliseconds>(a.at - now);
}

}  // namespace

TEST_CASE("login back-off: waits start at the threshold and double up to the maximum",
          "[auth][backoff]") {
  LoginBackoff table;
  const auto p = policy();
  Clock::time_point t{};
  const SourceKey a = ip("192.0.2.1");
  for (int i = 0; i < 3; ++i) {
    CHECK(table.admit(a, t, p).verdict == Verdict::Now);
    table.failed(a, t, p);
    t += 10ms;
  }
  // One login at a time, each after the previous one's turn: 100, 200, 400, 800, 1000, 1000 ms.
  for (auto expected : {100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms}) {
    auto admission = table.admit(a, t, p);
    CHECK(waitOf(admission, t) == expected);
    t = admission.at;
    table.failed(a, t, p);
  }
  // Another source is not affected.
  CHECK(table.admit(ip("192.0.2.2"), t, p).verdict == Verdict::Now);
  CHECK(table.size() == 1);
}

TEST_CASE("login back-off: concurrent logins of one source wait in turn, up to maxWait",
          "[auth][backoff]") {
  LoginBackoff table;
  auto p = policy();
  p.maxDelay = 100ms;  // a fixed 100 ms per login
  p.maxWait = 1s;
  Clock::time_point t{};
  const SourceKey a = ip("198.51.100.7");
  for (int i = 0; i < 3; ++i) table.failed(a, t, p);
  // Ten logins at the same instant: 100 ms apart, not all after 100 ms.
  for (int i = 1; i <= 10; ++i) CHECK(waitOf(table.admit(a, t, p), t) == 100ms * i);
  // The eleventh would wait longer than maxWait: refused at once, taking no turn.
  CHECK(table.admit(a, t, p).verdict == Verdict::Refuse);
  // Once the turns have passed, logins wait one delay again.
  t += 1s;
  CHECK(waitOf(table.admit(a, t, p), t) == 100ms);
}

TEST_CASE("login back-off: failures are forgotten a window after the last one",
          "[auth][backoff]") {
  LoginBackoff table;
  const auto p = policy();
  Clock::time_point t{};
  const SourceKey a = ip("203.0.113.9");
  for (int i = 0; i < 5; ++i) table.failed(a, t, p);
  CHECK(table.admit(a, t + 59s, p).verdict == Verdict::Wait);
  CHECK(table.admit(a, t + 60s, p).verdict == Verdict::Now);
  CHECK(table.size() == 0);  // the expired entry is gone
  // A failure after the window counts from one again.
  for (int i = 0; i < 2; ++i) table.failed(a, t + 61s, p);
  CHECK(table.admit(a, t + 61s, p).verdict == Verdict::Now);
}

TEST_CASE("login back-off: off with a zero threshold or delay", "[auth][backoff]") {
  LoginBackoff table;
  for (auto [threshold, delay] : {std::pair{0u, 100ms}, std::pair{3u, 0ms}}) {
    auto p = policy();
    p.threshold = threshold;
    p.delay = delay;
    const SourceKey a = ip("192.0.2.50");
    for (int i = 0; i < 100; ++i) table.failed(a, Clock::time_point{}, p);
    CHECK(table.admit(a, Clock::time_point{}, p).verdict == Verdict::Now);
    CHECK(table.size() == 0);  // nothing recorded
  }
}

TEST_CASE("login back-off: the table is bounded, the oldest failure makes room",
          "[auth][backoff]") {
  LoginBackoff table(100);
  const auto p = policy();
  Clock::time_point t{};
  const SourceKey first = ip("10.0.0.1");
  for (int i = 0; i < 3; ++i) table.failed(first, t, p);
  // 100000 other sources, one failure each.
  for (uint32_t i = 0; i < 100000; ++i) {
    uint32_t addr = htonl(0x0b000000u + i);
    t += 1us;
    table.failed(sourceKey(false, reinterpret_cast<const uint8_t*>(&addr)), t, p);
  }
  CHECK(table.size() == 100);
  CHECK(table.admit(first, t, p).verdict == Verdict::Now);  // evicted

  // A source that keeps failing stays: each failure makes it the most recent.
  LoginBackoff small(2);
  const SourceKey keep = ip("10.0.0.2");
  for (uint32_t i = 0; i < 10; ++i) {
    small.failed(keep, t, p);
    uint32_t addr = htonl(0x0c000000u + i);
    small.failed(sourceKey(false, reinterpret_cast<const uint8_t*>(&addr)), t, p);
  }
  CHECK(small.admit(keep, t, p).verdict == Verdict::Wait);
}

TEST_CASE("login back-off: IPv6 sources count per /64, IPv4-mapped ones as IPv4",
          "[auth][backoff]") {
  CHECK(ip("2001:db8:1:2::1") == ip("2001:db8:1:2:ffff::9"));
  CHECK_FALSE(ip("2001:db8:1:2::1") == ip("2001:db8:1:3::1"));
  CHECK(ip("::ffff:192.0.2.1") == ip("192.0.2.1"));
  CHECK_FALSE(ip("192.0.2.1") == ip("192.0.2.2"));
  CHECK_FALSE(ip("::c000:201") == ip("192.0.2.1"));  // not mapped: an IPv6 source
}
