// Test helper: a TCP relay between shardpool and the test cluster that can hold back the
// cluster's replies. While replies are held, what shardpool sends still reaches PostgreSQL and is
// recorded, so a test can tell what shardpool sent before it had heard anything back (how many
// round trips a step takes), without timing anything.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "integration/harness.h"

namespace shardpool::integration {

class GatedRelay {
 public:
  explicit GatedRelay(uint16_t targetPort) : target_(targetPort) {
    listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(0);
    if (listen_ < 0 || ::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_, 64) != 0 || ::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0)
      throw std::runtime_error("relay: listen failed");
    socklen_t len = sizeof a;
    ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~GatedRelay() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    wake();
    thread_.join();
    for (Pair& p : pairs_) {
      ::close(p.client);
      ::close(p.server);
    }
    ::close(listen_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }
  GatedRelay(const GatedRelay&) = delete;
  GatedRelay& operator=(const GatedRelay&) = delete;

  uint16_t port() const { return port_; }

  // While held, the cluster's bytes wait in the relay; releasing sends them on in order.
  void holdReplies(bool hold) {
    {
      std::lock_guard lock(mu_);
      hold_ = hold;
    }
    wake();
  }
  // Forgets what was recorded so far.
  void clearSent() {
    std::lock_guard lock(mu_);
    sent_.clear();
  }
  // Waits (bounded) until the bytes shardpool sent since clearSent() contain `needle`.
  bool waitSent(std::string_view needle, Ms timeout) {
    std::unique_lock lock(mu_);
    return seen_.wait_for(lock, timeout,
                          [&] { return sent_.find(needle) != std::string::npos; });
  }
  std::string sent() {
    std::lock_guard lock(mu_);
    return sent_;
  }

 private:
  struct Pair {
    int client = -1;  // shardpool's side
    int server = -1;  // the cluster's side
    std::string held;
  };

  static sockaddr_in loopback(uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    return a;
  }
  void wake() { (void)!::write(wake_[1], "x", 1); }

  static bool writeAll(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  void accept() {
    int c = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return;
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(target_);
    if (s < 0 || ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(c);
      if (s >= 0) ::close(s);
      return;
    }
    pairs_.push_back({c, s, {}});
  }

  void loop() {
    for (;;) {
      bool hold;
      {
        std::lock_guard lock(mu_);
        if (stop_) return;
        hold = hold_;
      }
      std::vector<pollfd> fds{{listen_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      for (Pair& p : pairs_) {
        fds.push_back({p.client, POLLIN, 0});
        fds.push_back({p.server, POLLIN, 0});
      }
      if (::poll(fds.data(), fds.size(), 1000) < 0) continue;
      if (fds[0].revents & POLLIN) accept();
      if (fds[1].revents & POLLIN) {
        char drain[64];
        while (::read(wake_[0], drain, sizeof drain) > 0) {
        }
      }
      std::vector<size_t> dead;
      for (size_t i = 0; i + 2 < fds.size() && i / 2 < pairs_.size(); i += 2) {
        Pair& p = pairs_[i / 2];
        if (!hold && !p.held.empty()) {
          if (!writeAll(p.client, p.held)) dead.push_back(i / 2);
          p.held.clear();
        }
        char buf[16384];
        if (fds[2 + i].revents & (POLLIN | POLLHUP | POLLERR)) {
          ssize_t n = ::recv(p.client, buf, sizeof buf, 0);
          if (n <= 0 || !writeAll(p.server, std::string_view(buf, static_cast<size_t>(n)))) {
            dead.push_back(i / 2);
          } else {
            std::lock_guard lock(mu_);
            sent_.append(buf, static_cast<size_t>(n));
            seen_.notify_all();
          }
        }
        if (fds[3 + i].revents & (POLLIN | POLLHUP | POLLERR)) {
          ssize_t n = ::recv(p.server, buf, sizeof buf, 0);
          if (n <= 0)
            dead.push_back(i / 2);
          else if (hold)
            p.held.append(buf, static_cast<size_t>(n));
          else if (!writeAll(p.client, std::string_view(buf, static_cast<size_t>(n))))
            dead.push_back(i / 2);
        }
      }
      std::sort(dead.begin(), dead.end());
      dead.erase(std::unique(dead.begin(), dead.end()), dead.end());
      for (auto it = dead.rbegin(); it != dead.rend(); ++it) {
        Pair& p = pairs_[*it];
        if (!p.held.empty()) writeAll(p.client, p.held);
        ::close(p.client);
        ::close(p.server);
        pairs_.erase(pairs_.begin() + static_cast<long>(*it));
      }
    }
  }

  uint16_t target_;
  uint16_t port_ = 0;
  int listen_ = -1;
  int wake_[2] = {-1, -1};
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable seen_;
  bool hold_ = false;
  bool stop_ = false;
  std::string sent_;
  std::vector<Pair> pairs_;  // only the relay's thread touches these
};

}  // namespace shardpool::integration
