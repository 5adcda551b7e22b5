#include "pooler/http/http_server.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <exception>
#include <optional>
#include <utility>

#include "pooler/net/log.h"
#include "pooler/protocol/http_request.h"

namespace shardpool::pooler {

namespace {

using Clock = std::chrono::steady_clock;
using protocol::HttpParseStatus;

constexpr size_t kReadBufferSize = 64 * 1024;
// Above this many unsent bytes a connection stops reading requests; it resumes below kLowWater.
constexpr size_t kHighWater = 1024 * 1024;
constexpr size_t kLowWater = 256 * 1024;
// After our FIN, how long the client has to read the response and close its side.
constexpr auto kLinger = std::chrono::seconds(2);
constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";
// Connections closed or refused at a cap are logged at debug level each, and with a warning at
// most this often (a flood of them must not flood the log).
constexpr auto kCapWarningInterval = std::chrono::seconds(10);

// Closes a heap-allocated handle and frees it in the close callback. A handle someone else
// already closed (a uv_walk at shutdown) is left alone: never closed twice.
template <class T>
void closeAndFree(T* h) {
  auto* handle = reinterpret_cast<uv_handle_t*>(h);
  if (!uv_is_closing(handle))
    uv_close(handle, [](uv_handle_t* closed) { delete reinterpret_cast<T*>(closed); });
}

std::string_view reasonPhrase(int status) {
  // clang-format off
  static constexpr std::pair<int, std::string_view> kPhrases[] = {
      {200, "OK"}, {204, "No Content"}, {304, "Not Modified"}, {400, "Bad Request"},
      {403, "Forbidden"}, {404, "Not Found"}, {405, "Method Not Allowed"},
      {413, "Content Too Large"}, {500, "Internal Server Error"}, {501, "Not Implemented"},
      {503, "Service Unavailable"}, {505, "HTTP Version Not Supported"}};
  // clang-format on
  for (auto [code, phrase] : kPhrases)
    if (code == status) return phrase;
  return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
}

// The client's IP address as text ("127.0.0.1", "::1"); "?" when the socket cannot say.
std::string peerAddress(const uv_tcp_t* tcp) {
  sockaddr_storage peer{};
  int len = sizeof peer;
  if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&peer), &len) != 0) return "?";
  char text[INET6_ADDRSTRLEN] = {};
  int rc = peer.ss_family == AF_INET6
               ? uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(&peer), text, sizeof text)
           : peer.ss_family == AF_INET
               ? uv_ip4_name(reinterpret_cast<const sockaddr_in*>(&peer), text, sizeof text)
               : UV_EAFNOSUPPORT;
  return rc == 0 ? std::string(text) : std::string("?");
}

// IMF-fixdate (RFC 9110 5.6.7), independent of the locale.
std::string httpDate() {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t t = std::time(nullptr);
  std::tm g{};
  gmtime_r(&t, &g);
  return fmt::format("{}, {:02} {} {} {:02}:{:02}:{:02} GMT", kDays[g.tm_wday], g.tm_mday,
                     kMonths[g.tm_mon], g.tm_year + 1900, g.tm_hour, g.tm_min, g.tm_sec);
}

// One response: head and body in one uv_write that owns both.
struct HttpWrite {
  uv_write_t req;
  std::string head;
  std::string body;
};

}  // namespace

// One accepted connection. Owned by the server (conns_, then retired_ until the sweep); its
// uv_tcp_t is heap-allocated and outlives it until the close callback.
class HttpServer::Conn {
 public:
  enum class State { Open, Draining, Closed };

  Conn(HttpServer& server, uint64_t id)
      : server_(&server),
        id_(id),
        who_(fmt::format("H-{}", id)),
        parser_(server.options_.maxHead) {}
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn() { closeHandle(); }

  uint64_t id() const { return id_; }
  const std::string& who() const { return who_; }
  const std::string& address() const { return address_; }

  [[nodiscard]] int accept(uv_stream_t* listener) {
    handle_ = new uv_tcp_t;
    uv_tcp_init(server_->loop_, handle_);
    handle_->data = this;
    int rc = uv_accept(listener, stream());
    if (rc == 0) {
      uv_tcp_nodelay(handle_, 1);
      address_ = peerAddress(handle_);
      who_ = fmt::format("H-{} {}", id_, address_);
    }
    lastActivity_ = headStarted_ = Clock::now();
    return rc;
  }

  // How cheaply this connection can be closed to make room for a new one (lower first) and
  // since when it has been so (older first); nullopt while a response is on its way.
  enum class Loss { Finished, Stalled, Idle };
  std::optional<std::pair<Loss, Clock::time_point>> eviction() const {
    switch (state_) {
      case State::Open:
        if (paused_ || writeQueueSize() > 0) return std::nullopt;
        if (waitingForHead()) return std::pair(Loss::Stalled, headStarted_);
        return std::pair(Loss::Idle, lastActivity_);
      case State::Draining:
        // The response is out and our FIN sent: only the client's FIN is still awaited.
        if (shutdownDone_ && writeQueueSize() == 0) return std::pair(Loss::Finished, drainedAt_);
        return std::nullopt;
      case State::Closed:
        return std::nullopt;
    }
    return std::nullopt;
  }

  void start() { startReading(); }

  // Closes the socket now (pending writes are dropped) and hands the object to the sweep.
  void close(std::string_view reason) {
    if (!setState(State::Closed)) return;
    log::debug(who_, "closing: {}", reason);
    closeHandle();
    server_->retire(this);
  }

  void checkTimers(Clock::time_point now) {
    size_t queued = writeQueueSize();
    if (queued != lastQueued_) {  // the client is reading what we wrote
      lastQueued_ = queued;
      lastActivity_ = now;
    }
    auto idle = server_->options_.idleTimeout;
    switch (state_) {
      case State::Open:
        if (waitingForHead() && now - headStarted_ >= server_->options_.headTimeout)
          close(served_ ? "request head not completed in time"
                        : "no complete request in time after connecting");
        else if (now - lastActivity_ >= idle)
          close("idle timeout");
        break;
      case State::Draining:
        if (shutdownDone_ ? now - drainedAt_ >= kLinger : now - lastActivity_ >= idle)
          close("client did not close after the response");
        break;
      case State::Closed:
        break;
    }
  }

 private:
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(handle_); }
  // A request head is due: the first one since the connection opened, or one begun since.
  bool waitingForHead() const { return !served_ || parser_.headBytes() > 0; }
  size_t writeQueueSize() const {
    return handle_ ? uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t*>(handle_)) : 0;
  }

  // The one place the state changes; refuses what cannot happen (leaving Closed, going back).
  bool setState(State next) {
    bool allowed = false;
    switch (state_) {
      case State::Open:
        allowed = next != State::Open;
        break;
      case State::Draining:
        allowed = next == State::Closed;
        break;
      case State::Closed:
        allowed = false;
        break;
    }
    if (allowed) state_ = next;
    return allowed;
  }

  void closeHandle() {
    if (!handle_) return;
    handle_->data = nullptr;  // callbacks still queued (writes, shutdown) see no owner
    closeAndFree(handle_);
    handle_ = nullptr;
  }

  void startReading() {
    if (handle_ && !reading_ && !peerClosed_ && uv_read_start(stream(), allocCb, readCb) == 0)
      reading_ = true;
  }
  void stopReading() {
    if (handle_ && reading_) uv_read_stop(stream());
    reading_ = false;
  }

  static void allocCb(uv_handle_t* h, size_t, uv_buf_t* buf) {
    auto* self = static_cast<Conn*>(h->data);
    *buf = self ? uv_buf_init(self->server_->readBuffer_.get(), kReadBufferSize)
                : uv_buf_init(nullptr, 0);
  }

  static void readCb(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<Conn*>(s->data);
    if (!self || nread == 0) return;
    if (nread > 0) {
      self->onData(std::string_view(buf->base, static_cast<size_t>(nread)));
      return;
    }
    self->reading_ = false;
    if (nread != UV_EOF) {
      self->close(fmt::format("read failed: {}", uv_strerror(static_cast<int>(nread))));
      return;
    }
    self->peerClosed_ = true;
    self->onPeerClosed();
  }

  void onPeerClosed() {
    switch (state_) {
      case State::Open:
        stopReading();
        if (paused_) break;  // resume() serves the pending requests, then comes back here
        if (writeQueueSize() == 0)
          close("client closed the connection");
        else
          drain();  // send what is queued, then close
        break;
      case State::Draining:
        if (shutdownDone_) close("closed after the response");
        break;  // else the shutdown callback closes
      case State::Closed:
        break;
    }
  }

  void onData(std::string_view data) {
    if (state_ != State::Open) return;  // Draining: lingering close, the rest is discarded
    Clock::time_point now = Clock::now();
    lastActivity_ = now;
    while (!data.empty() && state_ == State::Open) {
      if (paused_) {
        pending_.append(data);
        return;
      }
      if (bodyToSkip_ > 0) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(bodyToSkip_, data.size()));
        data.remove_prefix(n);
        bodyToSkip_ -= n;
        continue;
      }
      if (parser_.headBytes() == 0 && served_) headStarted_ = now;  // the first: since accept
      protocol::HttpParseResult r = parser_.feed(data);
      data.remove_prefix(r.consumed);
      switch (r.status) {
        case HttpParseStatus::NeedMore:
          break;
        case HttpParseStatus::Complete:
          onRequest();
          break;
        case HttpParseStatus::Error:
          log::debug(who_, "bad request: {}", parser_.error().reason);
          sendError(parser_.error().status, parser_.error().reason);
          return;
      }
    }
  }

  void onRequest() {
    served_ = true;
    const protocol::HttpRequestHead& req = parser_.request();
    if (req.contentLength > server_->options_.maxRequestBody) {
      sendError(413, "request body too large");
      return;
    }
    bodyToSkip_ = req.contentLength;
    bool keepAlive = req.keepAlive();
    bool headOnly = req.method == "HEAD";
    bool allowed = headOnly || req.method == "GET";
    Response resp;
    if (allowed) {
      resp = server_->respond(req.method, req.path);
      if (state_ != State::Open) return;  // the handler closed the server
    } else {
      resp = {405, std::string(kTextPlain), "method not allowed\n"};
    }
    log::debug(who_, "{} {} -> {}", req.method, req.path, resp.status);
    ++server_->requestsServed_;
    writeResponse(std::move(resp), headOnly, keepAlive, !allowed);
    parser_.reset();
    if (!keepAlive) {
      drain();
    } else if (writeQueueSize() > kHighWater) {
      paused_ = true;  // the client is not reading its answers: stop taking requests
      stopReading();
    }
  }

  void sendError(int status, std::string_view reason) {
    writeResponse({status, std::string(kTextPlain), fmt::format("{}\n", reason)}, false, false,
                  false);
    drain();
  }

  void writeResponse(Response resp, bool headOnly, bool keepAlive, bool allowHeader) {
    bool bodyless = resp.status == 204 || resp.status == 304;
    auto* w = new HttpWrite;
    w->head = fmt::format("HTTP/1.1 {} {}\r\nDate: {}\r\n", resp.status, reasonPhrase(resp.status),
                          httpDate());
    if (!bodyless) {
      if (!resp.contentType.empty())
        w->head += fmt::format("Content-Type: {}\r\n", resp.contentType);
      w->head += fmt::format("Content-Length: {}\r\n", resp.body.size());
    }
    if (allowHeader) w->head += "Allow: GET, HEAD\r\n";
    w->head += keepAlive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
    if (!headOnly && !bodyless) w->body = std::move(resp.body);
    uv_buf_t bufs[2] = {uv_buf_init(w->head.data(), static_cast<unsigned>(w->head.size())),
                        uv_buf_init(w->body.data(), static_cast<unsigned>(w->body.size()))};
    w->req.data = w;
    int rc = uv_write(&w->req, stream(), bufs, w->body.empty() ? 1 : 2, writeCb);
    if (rc != 0) {
      delete w;
      close(fmt::format("write failed: {}", uv_strerror(rc)));
    }
  }

  static void writeCb(uv_write_t* req, int status) {
    auto* self = static_cast<Conn*>(req->handle->data);
    delete static_cast<HttpWrite*>(req->data);  // req lives inside it
    if (!self) return;
    if (status < 0) {
      self->close(fmt::format("write failed: {}", uv_strerror(status)));
      return;
    }
    self->lastActivity_ = Clock::now();
    if (self->paused_ && self->state_ == State::Open && self->writeQueueSize() < kLowWater)
      self->resume();
  }

  void resume() {
    paused_ = false;
    std::string input;
    input.swap(pending_);
    onData(input);
    if (state_ == State::Open && !paused_) startReading();
    if (state_ == State::Open && peerClosed_ && !paused_) onPeerClosed();
  }

  // No more requests: FIN after the queued responses, then wait (briefly) for the client's FIN,
  // reading and discarding meanwhile so that unread request bytes do not turn our close into a
  // reset that could destroy the response before the client reads it.
  void drain() {
    if (!setState(State::Draining)) return;
    paused_ = false;
    pending_.clear();
    startReading();
    auto* req = new uv_shutdown_t;
    int rc = uv_shutdown(req, stream(), shutdownCb);
    if (rc != 0) {
      delete req;
      close(fmt::format("shutdown failed: {}", uv_strerror(rc)));
    }
  }

  static void shutdownCb(uv_shutdown_t* req, int status) {
    auto* self = static_cast<Conn*>(req->handle->data);
    delete req;
    if (!self) return;
    if (status < 0) {
      self->close(fmt::format("shutdown failed: {}", uv_strerror(status)));
    } else if (self->peerClosed_) {
      self->close("closed after the response");
    } else {
      self->shutdownDone_ = true;
      self->drainedAt_ = Clock::now();
    }
  }

  HttpServer* server_;
  uint64_t id_;
  std::string who_;
  std::string address_;
  uv_tcp_t* handle_ = nullptr;
  State state_ = State::Open;
  protocol::HttpRequestParser parser_;
  uint64_t bodyToSkip_ = 0;
  std::string pending_;  // input not yet handled while paused_
  bool paused_ = false;  // reading stopped: too many response bytes queued
  bool reading_ = false;
  bool peerClosed_ = false;
  bool shutdownDone_ = false;
  bool served_ = false;  // a whole request head has arrived on this connection
  size_t lastQueued_ = 0;
  Clock::time_point lastActivity_;
  Clock::time_point headStarted_;
  Clock::time_point drainedAt_;
};

HttpServer::HttpServer(uv_loop_t* loop, Handler handler)
    : HttpServer(loop, std::move(handler), Options{}) {}

HttpServer::HttpServer(uv_loop_t* loop, Handler handler, Options options)
    : loop_(loop), handler_(std::move(handler)), options_(options) {}

HttpServer::~HttpServer() {
  close();
  retired_.clear();
  closeSweeper();
}

void HttpServer::closeSweeper() {
  if (!sweeper_) return;
  closeAndFree(sweeper_);
  sweeper_ = nullptr;
}

std::string HttpServer::listen(const std::string& host, uint16_t port) {
  std::string where = host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port)
                                                          : fmt::format("{}:{}", host, port);
  if (listener_) return where + ": already listening";
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string service = std::to_string(port);
  int gai = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found);
  if (gai != 0) return fmt::format("{}: {}", where, gai_strerror(gai));

  std::string error;
  for (addrinfo* a = found; a && !listener_; a = a->ai_next) {
    int fd = ::socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      if (error.empty()) error = std::strerror(errno);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (options_.reusePort) ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0) {
      if (error.empty()) error = std::strerror(errno);
      ::close(fd);
      continue;
    }
    auto* tcp = new uv_tcp_t;
    uv_tcp_init(loop_, tcp);
    tcp->data = this;
    int rc = uv_tcp_open(tcp, fd);
    if (rc != 0) ::close(fd);  // not adopted by the handle
    if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(tcp), 128, onConnection);
    if (rc != 0) {
      if (error.empty()) error = uv_strerror(rc);
      closeAndFree(tcp);
      continue;
    }
    listener_ = tcp;
  }
  ::freeaddrinfo(found);
  if (!listener_) return fmt::format("{}: {}", where, error.empty() ? "no address" : error);

  sockaddr_storage bound{};
  int len = sizeof bound;
  if (uv_tcp_getsockname(listener_, reinterpret_cast<sockaddr*>(&bound), &len) == 0)
    port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                              : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  if (!readBuffer_) readBuffer_ = std::make_unique<char[]>(kReadBufferSize);
  if (!sweeper_) {
    sweeper_ = new uv_idle_t;
    uv_idle_init(loop_, sweeper_);
    sweeper_->data = this;
  }
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  auto shortest = std::min(options_.idleTimeout, options_.headTimeout);
  auto tickMs = std::clamp<uint64_t>(uint64_t(shortest.count()) / 4, 10, 1000);
  uv_timer_start(timer_, onTick, tickMs, tickMs);
  return {};
}

void HttpServer::close() {
  if (listener_) {
    listener_->data = nullptr;
    closeAndFree(listener_);
    listener_ = nullptr;
  }
  if (timer_) {
    closeAndFree(timer_);
    timer_ = nullptr;
  }
  std::vector<Conn*> open;
  for (auto& [id, c] : conns_) open.push_back(c.get());
  for (Conn* c : open) c->close("server closing");
  // No handle of ours stays open, so the loop can end and a uv_walk at shutdown finds none. The
  // closed connections hold no handle: the next sweep (after a new listen()) or the destructor
  // deletes them.
  closeSweeper();
}

void HttpServer::onConnection(uv_stream_t* listener, int status) {
  auto* self = static_cast<HttpServer*>(listener->data);
  if (!self) return;
  if (status < 0) {
    log::warn("", "metrics endpoint: accept failed: {}", uv_strerror(status));
    return;
  }
  self->accept();
}

void HttpServer::accept() {
  uint64_t id = nextId_++;
  auto conn = std::make_unique<Conn>(*this, id);
  int rc = conn->accept(reinterpret_cast<uv_stream_t*>(listener_));
  if (rc != 0) {
    log::warn(conn->who(), "metrics endpoint: accept failed: {}", uv_strerror(rc));
    return;  // the destructor closes the handle
  }
  // At a cap the new connection takes the place of the cheapest one to lose; when every one in
  // the way is busy sending a response, it is refused (closed at once).
  const std::string& address = conn->address();
  size_t fromAddress = 0;
  if (auto it = perAddress_.find(address); it != perAddress_.end()) fromAddress = it->second;
  std::string full;  // the cap that could not make room, if any
  if (options_.maxConnectionsPerAddress > 0 && fromAddress >= options_.maxConnectionsPerAddress) {
    std::string why =
        fmt::format("{} connections from {} (the cap per address)", fromAddress, address);
    if (!makeRoom(&address, why)) full = std::move(why);
  }
  if (full.empty() && conns_.size() >= options_.maxConnections) {
    std::string why = fmt::format("{} connections open (the cap)", conns_.size());
    if (!makeRoom(nullptr, why)) full = std::move(why);
  }
  if (!full.empty()) {
    ++connectionsRefused_;
    noteCap(conn->who(),
            fmt::format("refused a new connection: {}, each busy sending a response", full));
    return;  // the destructor closes the handle
  }
  Conn* raw = conn.get();
  ++perAddress_[address];
  conns_.emplace(id, std::move(conn));
  raw->start();
}

bool HttpServer::makeRoom(const std::string* address, const std::string& reason) {
  Conn* victim = nullptr;
  std::pair<Conn::Loss, Clock::time_point> best{};
  for (auto& [id, c] : conns_) {
    if (address && c->address() != *address) continue;
    auto loss = c->eviction();
    if (loss && (!victim || *loss < best)) {
      victim = c.get();
      best = *loss;
    }
  }
  if (!victim) return false;
  static constexpr std::string_view kLoss[] = {"finished", "stalled", "idle"};
  ++connectionsEvicted_;
  noteCap(victim->who(), fmt::format("{}: closing the oldest {} connection for a new one", reason,
                                     kLoss[static_cast<int>(best.first)]));
  victim->close(fmt::format("closed for a new connection: {}", reason));
  return true;
}

void HttpServer::noteCap(const std::string& who, const std::string& what) {
  log::debug(who, "{}", what);
  ++capEventsUnwarned_;
  Clock::time_point now = Clock::now();
  if (lastCapWarning_ != Clock::time_point{} && now - lastCapWarning_ < kCapWarningInterval) return;
  log::warn(who, "metrics endpoint: {} ({} such event(s) since the last warning)", what,
            capEventsUnwarned_);
  capEventsUnwarned_ = 0;
  lastCapWarning_ = now;
}

HttpServer::Response HttpServer::respond(std::string_view method, std::string_view path) {
  Response resp{500, std::string(kTextPlain), "internal server error\n"};
  try {
    resp = handler_(method, path);  // an empty handler throws std::bad_function_call
  } catch (const std::exception& e) {
    log::error("", "metrics endpoint: handler for {} failed: {}", path, e.what());
    return resp;
  } catch (...) {
    log::error("", "metrics endpoint: handler for {} failed", path);
    return resp;
  }
  bool badHeader = resp.contentType.find_first_of("\r\n") != std::string::npos;
  if (resp.status < 200 || resp.status > 599 || badHeader || resp.body.size() > (1u << 31)) {
    log::error("", "metrics endpoint: handler for {} returned an invalid response", path);
    resp = {500, std::string(kTextPlain), "internal server error\n"};
  }
  return resp;
}

void HttpServer::retire(Conn* conn) {
  auto it = conns_.find(conn->id());
  if (it == conns_.end() || it->second.get() != conn) return;  // never adopted (refused)
  if (auto a = perAddress_.find(conn->address()); a != perAddress_.end() && --a->second == 0)
    perAddress_.erase(a);
  retired_.push_back(std::move(it->second));
  conns_.erase(it);
  if (sweeper_) uv_idle_start(sweeper_, onSweep);
}

void HttpServer::onSweep(uv_idle_t* idle) {
  auto* self = static_cast<HttpServer*>(idle->data);
  self->retired_.clear();
  uv_idle_stop(idle);
}

void HttpServer::onTick(uv_timer_t* timer) {
  static_cast<HttpServer*>(timer->data)->tick();
}

void HttpServer::tick() {
  Clock::time_point now = Clock::now();
  std::vector<Conn*> open;
  for (auto& [id, c] : conns_) open.push_back(c.get());
  for (Conn* c : open) c->checkTimers(now);  // may retire (never delete) connections
}

}  // namespace shardpool::pooler
