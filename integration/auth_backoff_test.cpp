// Failed-login back-off (auth_failure_*): after repeated failed logins from one address, its
// logins wait before they are authenticated, longer after each failure; other addresses, and
// trusted networks, are not slowed; an unknown user name is slowed exactly like a wrong password;
// a reload changes it. Logins come from chosen loopback source addresses (127.0.0.x: the kernel
// accepts any of them), with a hand-made client speaking cleartext password authentication.
#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "integration/harness.h"
#include "integration/raw_socket.h"

using namespace shardpool::integration;

namespace {

// How one login ended: "" when it succeeded, else the SQLSTATE ("timeout", "closed" when there
// was no answer), and how long it took from connect to the verdict.
struct Login {
  std::string outcome;
  Ms elapsed{0};
};

// A blocking socket from `source` to the proxy, every read and write bounded by `timeout`.
int connectFrom(const char* source, uint16_t port, Ms timeout) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = (timeout.count() % 1000) * 1000;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    throw std::runtime_error(std::string("connect from ") + source + ": " + std::strerror(errno));
  }
  return fd;
}

// Reads whole messages until one of `types` arrives; returns it (type 0: closed or timed out).
wire::BackendMessage readUntil(int fd, std::string& in, std::string_view types) {
  for (;;) {
    size_t used = 0;
    auto msgs = wire::parseMessages(in, &used);
    size_t pos = 0;
    for (auto& m : msgs) {
      pos += 5 + m.body.size();
      if (types.find(m.type) != std::string_view::npos) {
        in.erase(0, pos);
        return m;
      }
    }
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return {};
    in.append(buf, size_t(n));
  }
}

// One login as `user` with `password` from `source` (cleartext password authentication).
Login login(const char* source, uint16_t port, const std::string& user,
            const std::string& password, Ms timeout = 15s) {
  auto start = Clock::now();
  int fd = connectFrom(source, port, timeout);
  auto done = [&](std::string outcome) {
    ::close(fd);
    return Login{std::move(outcome), std::chrono::duration_cast<Ms>(Clock::now() - start)};
  };
  auto sendAll = [&](const std::string& bytes) {
    return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == ssize_t(bytes.size());
  };
  std::string in;
  if (!sendAll(wire::startup({{"user", user}, {"database", "sp_db"}}))) return done("closed");
  wire::BackendMessage m = readUntil(fd, in, "RE");
  if (m.type == 'E') return done(wire::errorField(m.body, 'C'));
  if (m.type != 'R' || m.body.size() != 4 || m.body[3] != 3) return done("no password request");
  if (!sendAll(wire::message('p', password + '\0'))) return done("closed");
  m = readUntil(fd, in, "RE");
  if (m.type == 'E') return done(wire::errorField(m.body, 'C'));
  if (m.type != 'R') return done("closed");
  Login ok = done("");
  return ok;
}

// Cleartext passwords for every user, unknown ones included, so the test's client stays small.
std::string backoffConfig(const std::string& general) {
  return generalSection("auth_type = \"password\"\n" + general) + clusterDatabase() +
         userSection("sp_scram", "scram_pass", "auth_type = \"password\"");
}

}  // namespace

TEST_CASE("auth back-off: wrong passwords from one address wait longer each time, no one else "
          "waits",
          "[integration][auth][backoff]") {
  const std::string general =
      "auth_failure_threshold = 3\nauth_failure_delay = \"100ms\"\n"
      "auth_failure_max_delay = \"800ms\"\nauth_failure_trusted_networks = [\"127.0.0.3/32\"]\n";
  Proxy proxy(backoffConfig(general));

  // From 127.0.0.1: 8 wrong passwords in a row. The first 3 are answered at once; then each
  // login waits 100, 200, 400, 800, 800 ms before its password is even asked for.
  const Ms expected[] = {0ms, 0ms, 0ms, 100ms, 200ms, 400ms, 800ms, 800ms};
  Ms total{0};
  for (size_t i = 0; i < 8; ++i) {
    Login l = login("127.0.0.1", proxy.port(), "sp_scram", "wrong");
    INFO("attempt " << i + 1 << ": " << l.elapsed.count() << " ms");
    CHECK(l.outcome == "28P01");
    CHECK(l.elapsed >= expected[i]);
    CHECK(l.elapsed < expected[i] + 1000ms);
    total += l.elapsed;
  }
  CHECK(total >= 2300ms);
  CHECK(contains(proxy.log(), "login waits"));

  // Another address logs in at once, right password or wrong.
  for (const char* pw : {"scram_pass", "wrong"}) {
    Login other = login("127.0.0.2", proxy.port(), "sp_scram", pw);
    INFO("127.0.0.2 with " << pw << ": " << other.elapsed.count() << " ms");
    CHECK(other.outcome == (std::string(pw) == "wrong" ? "28P01" : ""));
    CHECK(other.elapsed < 400ms);
  }

  // The slowed address waits even with the right password: the wait comes before the check,
  // so how fast the answer comes says nothing about the password.
  Login right = login("127.0.0.1", proxy.port(), "sp_scram", "scram_pass");
  CHECK(right.outcome == "");
  CHECK(right.elapsed >= 800ms);

  // A trusted network is never slowed.
  Ms trustedTotal{0};
  for (int i = 0; i < 8; ++i) {
    Login l = login("127.0.0.3", proxy.port(), "sp_scram", "wrong");
    CHECK(l.outcome == "28P01");
    trustedTotal += l.elapsed;
  }
  INFO("trusted: " << trustedTotal.count() << " ms for 8 wrong passwords");
  CHECK(trustedTotal < 1500ms);

  // An unknown user name is slowed exactly as a wrong password is: the back-off does not tell
  // names that exist from names that do not.
  for (size_t i = 0; i < 5; ++i) {
    Login l = login("127.0.0.4", proxy.port(), "no_such_user", "wrong");
    INFO("unknown user, attempt " << i + 1 << ": " << l.elapsed.count() << " ms");
    CHECK(l.outcome == "28P01");
    CHECK(l.elapsed >= expected[i]);
    CHECK(l.elapsed < expected[i] + 1000ms);
  }

  // Live reload: with the delay at 0 the slowed address is served at once.
  proxy.rewriteConfig(backoffConfig("auth_failure_delay = 0\n"));
  proxy.signal(SIGHUP);
  auto deadline = Clock::now() + 5s;
  while (!contains(proxy.log(), "configuration reloaded") && Clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  Login after = login("127.0.0.1", proxy.port(), "sp_scram", "wrong");
  CHECK(after.outcome == "28P01");
  CHECK(after.elapsed < 400ms);
}

TEST_CASE("auth back-off: a burst of wrong passwords is no longer answered at line rate",
          "[integration][auth][backoff]") {
  // Wrong passwords as fast as one address can send them for 2 s, from 4 connections at once:
  // first with the back-off off, then with the defaults (5 failures, then 500 ms doubling).
  auto burst = [](const std::string& general) {
    Proxy proxy(backoffConfig(general));
    std::atomic<int> answered{0};
    auto until = Clock::now() + 2s;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&] {
        while (Clock::now() < until) {
          auto left = std::chrono::duration_cast<Ms>(until - Clock::now()) + 100ms;
          Login l = login("127.0.0.5", proxy.port(), "sp_scram", "wrong", left);
          if (l.outcome == "28P01" && Clock::now() < until) ++answered;
        }
      });
    for (auto& t : threads) t.join();
    return answered.load();
  };
  int lineRate = burst("auth_failure_delay = 0\n");
  int slowed = burst("");
  INFO("wrong passwords answered in 2 s: " << lineRate << " without back-off, " << slowed
                                           << " with the default back-off");
  CHECK(lineRate > 100);
  // The first 5 at once (up to 3 more that started before those 5 had failed), then one at a
  // time, 500 ms apart at best: at most 11 within 2 s.
  CHECK(slowed <= 11);
  CHECK(slowed * 10 < lineRate);
}
