// Helpers for the pool-limit tests: backend counts over one admin connection, polling, a watcher
// that records the most backends seen, and a client that connects and queries on its own thread.
#pragma once

#include <libpq-fe.h>

#include <atomic>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "integration/harness.h"

namespace shardpool::integration {

// Counts client backends on the test cluster through one sp_admin connection (never counted:
// callers name the users they want, and sp_admin is not one of them).
class BackendCounter {
 public:
  BackendCounter() : admin_(adminConn()) {}

  // Client backends of any of `users` (role names made of [a-z0-9_]); `where` narrows further,
  // e.g. "state = 'idle in transaction'".
  int count(const std::vector<std::string>& users, const std::string& where = "") {
    std::string in;
    for (const auto& u : users) in += (in.empty() ? "'" : ", '") + u + "'";
    std::string sql = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
                      " AND usename IN (" + in + ")";
    if (!where.empty()) sql += " AND (" + where + ")";
    return std::stoi(admin_.scalar(sql));
  }
  int count(const std::string& user, const std::string& where = "") {
    return count(std::vector<std::string>{user}, where);
  }

 private:
  Conn admin_;
};

// Polls `pred` every `step` until it holds or `timeout` passes; returns its last value.
inline bool waitUntil(const std::function<bool()>& pred, Ms timeout, Ms step = 50ms) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(step);
  }
}

// Polls the backend count of `users` every 20 ms on its own thread and keeps the largest value.
class PeakWatcher {
 public:
  explicit PeakWatcher(std::vector<std::string> users) : users_(std::move(users)) {
    thread_ = std::thread([this] {
      try {
        BackendCounter counter;
        while (!stop_) {
          int n = counter.count(users_);
          if (n > peak_) peak_ = n;
          std::this_thread::sleep_for(20ms);
        }
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mu_);
        error_ = e.what();
      }
    });
  }
  ~PeakWatcher() { stop(); }
  PeakWatcher(const PeakWatcher&) = delete;
  PeakWatcher& operator=(const PeakWatcher&) = delete;

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int peak() const { return peak_; }
  std::string error() {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }

 private:
  std::vector<std::string> users_;
  std::atomic<bool> stop_{false};
  std::atomic<int> peak_{0};
  std::mutex mu_;
  std::string error_;
  std::thread thread_;
};

// A client that connects and runs `select 1` on its own thread, so that the test can watch it
// wait for a server (the wait may happen at login or at the first query).
class PendingClient {
 public:
  PendingClient(std::string conninfo, Ms timeout) : start_(Clock::now()) {
    thread_ = std::thread([this, info = std::move(conninfo), timeout] { run(info, timeout); });
  }
  ~PendingClient() { join(); }
  PendingClient(const PendingClient&) = delete;
  PendingClient& operator=(const PendingClient&) = delete;

  bool finished() const { return finished_; }
  bool served() const { return served_; }
  // Waits until the client is served or has failed, `timeout` at most; true when served.
  bool waitServed(Ms timeout) {
    waitUntil([this] { return finished_.load(); }, timeout, 10ms);
    return served_;
  }
  // From construction until served or failed (only meaningful once finished()).
  Ms elapsed() const { return std::chrono::duration_cast<Ms>(end_ - start_); }
  Clock::time_point endTime() const { return end_; }
  // Why it failed (only meaningful once finished()).
  const std::string& error() const { return error_; }
  // The connection, after join() (it stays open until the object goes).
  Conn* conn() { return conn_ ? &*conn_ : nullptr; }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run(const std::string& info, Ms timeout) {
    try {
      conn_.emplace(info, timeout);
      if (!conn_->ok()) {
        error_ = "connect: [" + conn_->connectError().sqlstate + "] " + conn_->connectError().message;
      } else {
        auto results = conn_->exec("select 1", timeout);
        if (results.empty() || !results.back()) {
          error_ = "select 1: timeout";
        } else if (PQresultStatus(results.back().get()) != PGRES_TUPLES_OK) {
          PgError e = errorFrom(results.back().get());
          error_ = "select 1: [" + e.sqlstate + "] " + e.message;
        } else {
          served_ = true;
        }
      }
    } catch (const std::exception& e) {
      error_ = e.what();
    }
    end_ = Clock::now();
    finished_ = true;
  }

  Clock::time_point start_;
  Clock::time_point end_;
  std::optional<Conn> conn_;
  std::string error_;
  std::atomic<bool> served_{false};
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

}  // namespace shardpool::integration
