// The socket side of a MySQL health probe on the control loop: resolves and connects (libuv),
// runs TLS when the database's pools do (the same TlsContext), and feeds the server's packets to
// MysqlProbeExchange, which decides what to send. The connection stays open between probes.
#pragma once

#include <uv.h>

#include <memory>
#include <optional>
#include <string>

#include "pooler/health/mysql_probe_exchange.h"
#include "pooler/health/probe.h"

namespace shardpool::pooler::health {

class MysqlProbe final : public ProbeConnection {
 public:
  using Goal = MysqlProbeExchange::Goal;
  MysqlProbe(uv_loop_t* loop, std::string key, MysqlEndpoint endpoint, Goal goal, Done done);
  ~MysqlProbe() override;

  void begin(std::chrono::milliseconds timeout) override;
  bool busy() const override { return state_ != State::Disconnected && state_ != State::Idle; }
  bool serves(const ProbeTarget& target) const override {
    return target.mysql && *target.mysql == endpoint_;
  }

 private:
  enum class State { Disconnected, Resolving, Connecting, Running, Idle };
  struct Resolve;
  struct Connect;
  static void onResolved(uv_getaddrinfo_t* req, int status, addrinfo* res);
  static void onConnect(uv_connect_t* req, int status);
  static void onAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void onTimeout(uv_timer_t* t);
  void connect(const sockaddr* addr);
  void received(const char* data, size_t len);
  void process();
  void sendPlain(std::string bytes);  // through TLS when it is up
  void sendRaw(std::string bytes);
  void flushTls();
  void succeed();
  void fail(std::string why);
  void disconnect();

  uv_loop_t* loop_;
  MysqlEndpoint endpoint_;
  Goal goal_;
  Done done_;
  State state_ = State::Disconnected;
  std::optional<MysqlProbeExchange> exchange_;
  std::unique_ptr<TlsSession> tls_;
  uv_tcp_t* tcp_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  Resolve* resolving_ = nullptr;  // in flight; its owner is cleared when this probe goes
  Connect* connecting_ = nullptr;
  std::string in_;
  char readBuf_[16384];
  Clock::time_point started_;
};

}  // namespace shardpool::pooler::health
