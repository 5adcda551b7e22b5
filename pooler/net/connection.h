// A TCP stream owned by one worker: thin RAII over uv_tcp_t with read chunks, write requests that
// own (or reference) their bytes, and write-queue backpressure between paired connections.
// Protocol-neutral: PostgreSQL and MySQL sessions build on it.
#pragma once

#include <uv.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <optional>
#include <string_view>

#include <memory>

#include "pooler/net/buffers.h"
#include "pooler/net/event_loop.h"
#include "pooler/net/tls.h"

namespace shardpool::pooler {

class Connection {
 public:
  // Above this many queued bytes the connection feeding us stops reading; it resumes below low.
  static constexpr size_t kHighWater = 1024 * 1024;
  static constexpr size_t kLowWater = 256 * 1024;

  Connection(EventLoop& loop, uint64_t id);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  virtual ~Connection();

  uint64_t id() const { return id_; }
  EventLoop& eventLoop() const { return *loop_; }
  // Moves a detached connection (no socket) to another loop (worker) before openFd() there.
  void rebind(EventLoop& loop);
  bool isOpen() const { return handle_ != nullptr; }
  std::chrono::system_clock::time_point connectTime() const { return connectTime_; }

  // Both ends of the socket, for SHOW CLIENTS / SERVERS ("unix" and port 0 for unix sockets).
  struct Endpoint {
    std::string host;
    int port = 0;
  };
  bool endpoints(Endpoint& peer, Endpoint& local) const;
  // The peer's IP address (4 bytes for IPv4, 16 for IPv6), for address rules; nullopt for a
  // unix socket or a closed one.
  struct PeerIp {
    bool v6 = false;
    std::array<uint8_t, 16> bytes{};
    std::string text;  // as inet_ntop writes it
  };
  std::optional<PeerIp> peerIp() const;

  [[nodiscard]] int acceptFrom(uv_stream_t* listener);  // a TCP or unix-socket listener
  bool unixSocket() const { return handle_ && handle_->type == UV_NAMED_PIPE; }
  int fd() const;  // the socket's descriptor, -1 when none
  [[nodiscard]] int openFd(int fd);  // adopt a connected socket (hand-over between workers)
  [[nodiscard]] int connectTo(const sockaddr* addr);  // completes in onConnected()
  void connectToPath(const std::string& path);        // unix socket; completes in onConnected()
  // Detaches the socket from this worker's loop: returns a dup of the fd, closes the handle.
  int detachFd();

  void startReading();
  void stopReading();
  bool reading() const { return reading_; }
  // SUSPEND: no reads until thaw(), whatever startReading() asks meanwhile; writes go on.
  void freeze();
  void thaw();

  // Queues bytes for writing; the string is moved into the write request.
  void send(std::string&& bytes);
  void send(std::string_view bytes) { send(std::string(bytes)); }

  // Zero-copy forwarding of slices of read chunks, gathered into as few writes as possible.
  void forwardSlice(Chunk* chunk, const uint8_t* data, size_t len);
  void forwardCopy(const uint8_t* data, size_t len);
  // Queues bytes built by shardpool (rewritten or synthesized messages) in order with forwarded
  // slices, so that one write carries them all.
  void appendOwned(std::string_view bytes);
  void flushForward();

  size_t writeQueueSize() const;
  // Stop reading `source` until our write queue drains below kLowWater.
  void throttle(Connection& source);
  void clearThrottle();

  // From now on bytes on the socket are TLS records. A connecting session starts its handshake
  // at once; onTlsReady() follows when it is established. `alreadyRead`: TLS bytes that came in
  // the same read as the request for TLS (MySQL's client sends its ClientHello right behind
  // the SSLRequest, without waiting for an answer).
  void startTls(std::unique_ptr<TlsSession> session, std::string_view alreadyRead = {});
  bool tlsActive() const { return tls_ != nullptr; }
  const TlsSession* tls() const { return tls_.get(); }

  // Closes the socket now (pending writes are dropped). Safe to call twice.
  void closeHandle();
  // closeHandle() and forget the TLS session, for a new connect on this object (the next host of
  // a list). Not from inside a TLS callback that goes on using the session afterwards.
  void resetSocket();
  // Half-close after pending writes are flushed, then close.
  void closeAfterFlush();

 protected:
  virtual void onData(Chunk* chunk, size_t len) = 0;
  virtual void onReadEnd(int status) = 0;  // UV_EOF or an error; the handle is still open
  virtual void onWriteError(int status) = 0;
  virtual void onConnected(int status) { (void)status; }
  virtual void onTlsReady() {}
  virtual void onTlsFailed(const std::string& error) = 0;

 private:
  static void allocCb(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void readCb(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void writeCb(uv_write_t* req, int status);
  static void connectCb(uv_connect_t* req, int status);
  static void closeCb(uv_handle_t* h);
  static void shutdownCb(uv_shutdown_t* req, int status);
  void submit(WriteReq* r);
  void submitRaw(WriteReq* r);
  void onCiphertext(Chunk* chunk, size_t len);
  // The TLS session was fed ciphertext: handshake progress, then the plaintext to onData().
  void afterCiphertext();
  void flushTls();
  void afterWrite();

  EventLoop* loop_;
  uint64_t id_;
  std::chrono::system_clock::time_point connectTime_ = std::chrono::system_clock::now();
  uv_stream_t* handle_ = nullptr;  // uv_tcp_t or uv_pipe_t
  WriteReq* building_ = nullptr;
  Connection* throttledSource_ = nullptr;  // a connection we paused because our queue is full
  Connection* throttledBy_ = nullptr;      // the connection whose queue paused us
  std::unique_ptr<TlsSession> tls_;
  bool reading_ = false;
  bool wantRead_ = false;
  bool frozen_ = false;
};

}  // namespace shardpool::pooler
