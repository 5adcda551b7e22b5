// Zero-downtime upgrade: a new shardpool started with --takeover receives the listening sockets
// of the running one; clients connecting all the while never see a refused or reset connection.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "integration/harness.h"

using namespace shardpool::integration;

namespace {

std::string takeoverConfig(const std::string& socketPath) {
  return standardConfig("workers = 2\ntakeover_socket = \"" + socketPath + "\"");
}

// Clients that connect, query and disconnect in a loop until stopped; counts failures.
class ConnectLoad {
 public:
  ConnectLoad(uint16_t port, int threads) {
    for (int i = 0; i < threads; ++i)
      threads_.emplace_back([this, port] {
        std::string conninfo = "host=127.0.0.1 port=" + std::to_string(port) +
                               " dbname=sp_db user=sp_scram password=scram_pass";
        while (!stop_) {
          Conn c(conninfo, 5s);
          bool good = false;
          try {
            good = c.ok() && c.scalar("SELECT 1", 5s) == "1";
          } catch (const std::exception& e) {
            good = false;
          }
          if (good) {
            ++ok_;
          } else {
            ++failed_;
            std::lock_guard lock(mutex_);
            lastError_ = c.ok() ? "query failed" : c.connectError().message;
          }
        }
      });
  }
  ~ConnectLoad() { stop(); }
  void stop() {
    stop_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
  int ok() const { return ok_; }
  int failed() const { return failed_; }
  std::string lastError() {
    std::lock_guard lock(mutex_);
    return lastError_;
  }

 private:
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<int> ok_{0}, failed_{0};
  std::mutex mutex_;
  std::string lastError_;
};

}  // namespace

TEST_CASE("takeover: upgrades twice under connection load without one failed connect",
          "[integration][takeover]") {
  TempDir dir;
  std::string sock = dir.path() + "/takeover.sock";
  auto first = std::make_unique<Proxy>(takeoverConfig(sock));
  uint16_t port = first->port();
  Conn held(first->conninfo("sp_scram", "scram_pass"));  // a session that spans the upgrade
  REQUIRE(held.ok());
  held.query("BEGIN");

  ConnectLoad load(port, 4);
  std::this_thread::sleep_for(500ms);
  Proxy second(takeoverConfig(sock), {"--takeover"}, port);
  std::this_thread::sleep_for(500ms);
  // The old process stops accepting but finishes the open transaction.
  CHECK(held.scalar("SELECT 'old process still serves'") == "old process still serves");
  held.query("COMMIT");
  held.close();
  auto status = first->waitExit(10s);
  REQUIRE(status.has_value());
  CHECK(*status == 0);

  Proxy third(takeoverConfig(sock), {"--takeover"}, port);  // the socket was re-bound
  auto secondStatus = second.waitExit(10s);
  REQUIRE(secondStatus.has_value());
  CHECK(*secondStatus == 0);
  std::this_thread::sleep_for(300ms);
  load.stop();
  INFO("last error: " << load.lastError());
  CHECK(load.failed() == 0);
  CHECK(load.ok() > 20);
  CHECK(contains(third.log(), "takeover: received"));
  Conn after(third.conninfo("sp_scram", "scram_pass"));
  CHECK(after.scalar("SELECT 1") == "1");
}

TEST_CASE("takeover: a refused takeover leaves the running process serving",
          "[integration][takeover]") {
  TempDir dir;
  std::string sock = dir.path() + "/takeover.sock";
  Proxy running(takeoverConfig(sock));

  // Another port in the new configuration: refused before anything changes hands.
  auto wrongPort = runCommand(
      {shardpoolBin(), "-c", dir.write("other.toml", substitute(takeoverConfig(sock), freePort())),
       "--takeover"},
      {}, 15s);
  CHECK(wrongPort.exitCode == 1);
  CHECK(contains(wrongPort.all(), "this configuration says"));

  // No process on the takeover socket: a clear error.
  auto nobody = runCommand(
      {shardpoolBin(), "-c",
       dir.write("none.toml", substitute(takeoverConfig(dir.path() + "/x.sock"), running.port())),
       "--takeover"},
      {}, 15s);
  CHECK(nobody.exitCode == 1);
  CHECK(contains(nobody.all(), "cannot reach the running shardpool"));

  CHECK(running.running());
  Conn c(running.conninfo("sp_scram", "scram_pass"));
  REQUIRE(c.ok());
  CHECK(c.scalar("SELECT 1") == "1");
}
