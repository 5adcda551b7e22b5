// A small HTTP/1.1 server for the control plane (the Prometheus /metrics endpoint): runs on one
// uv loop (the control loop on the main thread), answers GET and HEAD through a handler, keeps
// connections alive, closes idle ones, caps how many are open, and never blocks on a slow reader
// (each response is one libuv write that owns its bytes). Not thread-safe: every call, and the
// handler, runs on the loop's thread.
//
// Stalled clients cannot lock a scraper out: a request head must arrive whole within
// headTimeout (counted from the connection's start for its first request), and at a cap (in
// total, or for one client address) a new connection takes the place of the open one that is
// cheapest to lose: one that already has its last response (a lingering close), else the one
// stalled longest on an incomplete request head, else the one idle longest between requests.
// Only when every connection in the way is busy sending a response is the new one refused.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace shardpool::pooler {

class HttpServer {
 public:
  struct Response {
    int status = 200;
    std::string contentType = "text/plain; charset=utf-8";
    std::string body;
  };
  // Called for GET and HEAD (the body of a HEAD answer is dropped); other methods get 405 without
  // a call. Unknown paths are the handler's to answer (404). An exception it throws becomes 500.
  using Handler = std::function<Response(std::string_view method, std::string_view path)>;

  struct Options {
    std::chrono::milliseconds idleTimeout{30000};  // no bytes either way for this long: close
    // A request head not complete this long after its first byte (the first request's: after
    // the connection opened): close.
    std::chrono::milliseconds headTimeout{5000};
    size_t maxConnections = 64;            // open at once; at the cap see above
    size_t maxConnectionsPerAddress = 16;  // from one client IP address; 0: no such cap
    size_t maxHead = 8 * 1024;             // request line and headers; larger: 413
    uint64_t maxRequestBody = 1 << 20;     // skipped when smaller; larger: 413
    bool reusePort = false;                // SO_REUSEPORT, to share the port during an upgrade
  };

  HttpServer(uv_loop_t* loop, Handler handler);
  HttpServer(uv_loop_t* loop, Handler handler, Options options);
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  // Closes everything (as close()). Not from inside the handler. The loop must run afterwards
  // for the close callbacks, which free the handles' memory; they no longer touch this object.
  ~HttpServer();

  // Binds host:port (numeric address or a name; port 0 picks a free port) and starts accepting.
  // Returns "" on success, else why not ("127.0.0.1:9187: address already in use").
  [[nodiscard]] std::string listen(const std::string& host, uint16_t port);
  uint16_t port() const { return port_; }  // the bound port, after a successful listen()
  bool listening() const { return listener_ != nullptr; }

  // Stops listening and closes every connection (pending writes are dropped); afterwards no
  // handle of the server is open. Safe to call from the handler and more than once.
  void close();

  size_t connectionCount() const { return conns_.size(); }
  uint64_t requestsServed() const { return requestsServed_; }
  uint64_t connectionsRefused() const { return connectionsRefused_; }
  // Open connections closed at a cap to make room for a new one.
  uint64_t connectionsEvicted() const { return connectionsEvicted_; }

 private:
  class Conn;

  static void onConnection(uv_stream_t* listener, int status);
  static void onTick(uv_timer_t* timer);
  static void onSweep(uv_idle_t* idle);
  void accept();
  // Closes the connection (of `address` when not null) that is cheapest to lose; false when
  // every candidate is busy sending.
  bool makeRoom(const std::string* address, const std::string& reason);
  // A cap was hit: a debug line for each, a warning at most every few seconds.
  void noteCap(const std::string& who, const std::string& what);
  void tick();
  Response respond(std::string_view method, std::string_view path);
  void retire(Conn* conn);  // deferred deletion: destroyed at the next loop iteration
  void closeSweeper();

  uv_loop_t* loop_;
  Handler handler_;
  Options options_;
  uint16_t port_ = 0;
  uv_tcp_t* listener_ = nullptr;  // handles are heap-allocated and freed in their close callback
  uv_timer_t* timer_ = nullptr;
  uv_idle_t* sweeper_ = nullptr;
  std::unique_ptr<char[]> readBuffer_;  // one for all connections: reads are handled at once
  uint64_t nextId_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  std::unordered_map<std::string, size_t> perAddress_;  // open connections by client address
  std::vector<std::unique_ptr<Conn>> retired_;
  uint64_t requestsServed_ = 0;
  uint64_t connectionsRefused_ = 0;
  uint64_t connectionsEvicted_ = 0;
  uint64_t capEventsUnwarned_ = 0;
  std::chrono::steady_clock::time_point lastCapWarning_{};
};

}  // namespace shardpool::pooler
