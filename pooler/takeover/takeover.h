// Zero-downtime upgrade by handing the listening sockets from a running shardpool to a new one
// over a unix socket (SCM_RIGHTS). The sockets themselves move, with the connections the kernel
// has queued on them, so no connection attempt is refused or reset during the switch:
//   1. the new process (`--takeover`) connects to general.takeover_socket and asks;
//   2. the old one checks that the asker runs as the same user and sends its listening fds;
//   3. the new one starts its workers on them, then says OK;
//   4. the old one stops accepting and drains as on SIGTERM; the new one binds the takeover
//      socket for the next upgrade.
// If the new process fails before OK, the old one never stopped and goes on serving.
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace shardpool::pooler {

// New-process side (blocking; before the event loops start).
struct TakeoverGrant {
  std::vector<int> fds;  // listening sockets, now owned by the caller
  int channel = -1;      // to the old process, for confirm()
  std::string error;     // set when nothing was received
};
TakeoverGrant requestTakeover(const std::string& path, std::chrono::milliseconds timeout);
// Tells the old process to stop accepting, and closes the channel.
void confirmTakeover(TakeoverGrant& grant);

// Old-process side: listens on `path` on the control loop.
class TakeoverServer {
 public:
  using Fds = std::function<std::vector<int>()>;
  using Done = std::function<void(int newPid)>;
  TakeoverServer(uv_loop_t* loop, Fds fds, Done done)
      : loop_(loop), fds_(std::move(fds)), done_(std::move(done)) {}
  ~TakeoverServer();
  TakeoverServer(const TakeoverServer&) = delete;
  TakeoverServer& operator=(const TakeoverServer&) = delete;

  // Binds `path` (replacing a stale socket file), mode 0600. "" on success, else why not.
  [[nodiscard]] std::string listen(const std::string& path);
  void close();

 private:
  static void onConnection(uv_stream_t* server, int status);
  void serve(uv_pipe_t* peer);

  uv_loop_t* loop_;
  Fds fds_;
  Done done_;
  uv_pipe_t* server_ = nullptr;
  std::string path_;
  bool handedOver_ = false;
  bool owned_ = false;  // we created the socket file
};

}  // namespace shardpool::pooler
