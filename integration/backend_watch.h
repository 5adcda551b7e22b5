// Test helper: counts a role's client backends on the test cluster from a thread while a test
// runs, and keeps the largest count seen (the proxy must never exceed the pool size).
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

#include "integration/harness.h"

namespace shardpool::integration {

class BackendWatch {
 public:
  explicit BackendWatch(std::string user) : user_(std::move(user)) {
    thread_ = std::thread([this] { run(); });
  }
  ~BackendWatch() { stop(); }
  BackendWatch(const BackendWatch&) = delete;
  BackendWatch& operator=(const BackendWatch&) = delete;

  // Stops polling (idempotent) and returns the largest count seen.
  int stop() {
    done_ = true;
    if (thread_.joinable()) thread_.join();
    return max_;
  }
  int max() const { return max_; }
  int samples() const { return samples_; }
  std::string error() const {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }

 private:
  void run() {
    try {
      Conn admin = adminConn();
      std::string sql = "SELECT count(*) FROM pg_stat_activity WHERE usename = '" + user_ +
                        "' AND backend_type = 'client backend'";
      while (!done_) {
        int n = std::stoi(admin.scalar(sql));
        if (n > max_) max_ = n;
        ++samples_;
        std::this_thread::sleep_for(10ms);
      }
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(mu_);
      error_ = std::string("backend watch: ") + e.what();
    }
  }

  std::string user_;
  std::atomic<bool> done_{false};
  std::atomic<int> max_{0};
  std::atomic<int> samples_{0};
  mutable std::mutex mu_;
  std::string error_;
  std::thread thread_;
};

}  // namespace shardpool::integration
