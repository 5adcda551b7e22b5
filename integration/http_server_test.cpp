// pooler::HttpServer over a real loopback socket: the server runs on a uv loop on the test's
// thread, a blocking client with deadlines runs on another. The port is chosen by the kernel
// (port 0); no PostgreSQL is needed (the CMake file drops the "pg" fixture for these tests).
// Catch2 assertions are not thread-safe: client threads record, the test checks after join.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "pooler/http/http_server.h"

using shardpool::pooler::HttpServer;

namespace {

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string("<absent>") : it->second;
  }
};

enum class ReadStatus { Data, Eof, Reset, Timeout };

// A blocking loopback client; every read has a deadline so a silent server fails the test.
class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }

  bool connected() const { return fd_ >= 0; }
  void shutdownWrite() { ::shutdown(fd_, SHUT_WR); }

  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(size_t(n));
    }
    return true;
  }

  ReadStatus readMore(int timeoutMs = 5000) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeoutMs) <= 0) return ReadStatus::Timeout;
    char tmp[64 * 1024];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n > 0) {
      buf_.append(tmp, size_t(n));
      return ReadStatus::Data;
    }
    return n == 0 ? ReadStatus::Eof : ReadStatus::Reset;
  }

  // One response; with headOnly (the answer to HEAD) no body is read whatever Content-Length says.
  std::optional<Reply> readReply(bool headOnly = false) {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (readMore() != ReadStatus::Data) return std::nullopt;
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    Reply r;
    if (head.rfind("HTTP/1.1 ", 0) != 0 || head.size() < 12) return std::nullopt;
    r.status = std::stoi(head.substr(9, 3));
    for (size_t pos = head.find("\r\n"); pos != std::string::npos;) {
      size_t next = head.find("\r\n", pos + 2);
      std::string line = head.substr(pos + 2, next == std::string::npos ? next : next - pos - 2);
      size_t colon = line.find(": ");
      if (colon == std::string::npos) return std::nullopt;
      std::string name = line.substr(0, colon);
      for (char& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = line.substr(colon + 2);
      pos = next;
    }
    size_t length = 0;
    if (!headOnly && r.headers.count("content-length"))
      length = std::stoul(r.headers["content-length"]);
    while (buf_.size() < length)
      if (readMore() != ReadStatus::Data) return std::nullopt;
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return r;
  }

  // True when the server closes the connection (FIN or reset) before the deadline.
  bool waitClosed(int timeoutMs = 5000) {
    for (;;) {
      switch (readMore(timeoutMs)) {
        case ReadStatus::Data:
          continue;  // leftovers
        case ReadStatus::Eof:
        case ReadStatus::Reset:
          return true;
        case ReadStatus::Timeout:
          return false;
      }
    }
  }

  const std::string& unread() const { return buf_; }

 private:
  int fd_ = -1;
  std::string buf_;
};

struct RunStats {
  uint64_t requestsServed = 0;
  uint64_t connectionsRefused = 0;
  uint64_t connectionsEvicted = 0;
};

// Runs `server` options on a fresh loop on this thread while `client(port, closeServer)` runs on
// another; the server is closed when the client returns (or earlier through closeServer).
using ClientFn = std::function<void(uint16_t port, const std::function<void()>& closeServer)>;

RunStats runServer(HttpServer::Handler handler, HttpServer::Options options,
                   const ClientFn& client) {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  auto server = std::make_unique<HttpServer>(&loop, std::move(handler), options);
  std::string error = server->listen("127.0.0.1", 0);
  REQUIRE(error.empty());
  REQUIRE(server->port() != 0);

  struct Control {
    uv_async_t async;
    HttpServer* server;
    std::atomic<bool> sent{false};
    int unclosed = 0;
  } control;
  control.server = server.get();
  uv_async_init(&loop, &control.async, [](uv_async_t* a) {
    static_cast<Control*>(a->data)->server->close();
    uv_close(reinterpret_cast<uv_handle_t*>(a), nullptr);
    // As the proxy's shutdown does: close whatever is still open. close() must have left none of
    // the server's handles open, or the destructor would close one twice.
    uv_walk(
        a->loop,
        [](uv_handle_t* h, void* unclosed) {
          if (!uv_is_closing(h)) {
            ++*static_cast<int*>(unclosed);
            uv_close(h, nullptr);
          }
        },
        &static_cast<Control*>(a->data)->unclosed);
  });
  control.async.data = &control;
  std::function<void()> closeServer = [&control] {
    if (!control.sent.exchange(true)) uv_async_send(&control.async);
  };

  uint16_t port = server->port();
  std::thread t([&] {
    client(port, closeServer);
    closeServer();
  });
  uv_run(&loop, UV_RUN_DEFAULT);  // returns once close() has released every handle
  t.join();
  RunStats stats{server->requestsServed(), server->connectionsRefused(),
                 server->connectionsEvicted()};
  CHECK(server->connectionCount() == 0);
  CHECK(control.unclosed == 0);
  server.reset();
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
  return stats;
}

HttpServer::Response metricsHandler(std::string_view method, std::string_view path) {
  (void)method;
  if (path == "/metrics")
    return {200, "text/plain; version=0.0.4; charset=utf-8", "shardpool_up 1\n"};
  return {404, "text/plain; charset=utf-8", "not found\n"};
}

std::string get(std::string_view path, std::string_view extra = "") {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + std::string(extra) +
         "\r\n";
}

}  // namespace

TEST_CASE("http server: GET /metrics returns the handler's body", "[integration][http]") {
  std::optional<Reply> metrics, missing;
  runServer(metricsHandler, {}, [&](uint16_t port, auto&) {
    Client c(port);
    if (!c.send(get("/metrics?x=1"))) return;
    metrics = c.readReply();
    if (!c.send(get("/nope"))) return;
    missing = c.readReply();
  });
  REQUIRE(metrics);
  CHECK(metrics->status == 200);
  CHECK(metrics->body == "shardpool_up 1\n");
  CHECK(metrics->header("content-length") == "15");
  CHECK(metrics->header("content-type") == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(metrics->header("date").size() == 29);  // "Sun, 06 Nov 1994 08:49:37 GMT"
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(missing->body == "not found\n");
}

TEST_CASE("http server: keep-alive serves several requests on one connection",
          "[integration][http]") {
  std::vector<Reply> replies;
  bool stillOpen = false;
  int calls = 0;
  auto handler = [&](std::string_view m, std::string_view p) {
    ++calls;
    return metricsHandler(m, p);
  };
  RunStats stats = runServer(handler, {}, [&](uint16_t port, auto&) {
    Client c(port);
    for (int i = 0; i < 2; ++i) {
      if (!c.send(get("/metrics"))) return;
      if (auto r = c.readReply()) replies.push_back(*r);
    }
    // Two pipelined requests in one segment, the second split over two sends.
    std::string both = get("/metrics") + get("/metrics");
    if (!c.send(both.substr(0, both.size() - 7))) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!c.send(both.substr(both.size() - 7))) return;
    for (int i = 0; i < 2; ++i)
      if (auto r = c.readReply()) replies.push_back(*r);
    stillOpen = !c.waitClosed(200);
  });
  REQUIRE(replies.size() == 4);
  for (const Reply& r : replies) {
    CHECK(r.status == 200);
    CHECK(r.body == "shardpool_up 1\n");
    CHECK(r.header("connection") == "keep-alive");
  }
  CHECK(stillOpen);
  CHECK(calls == 4);
  CHECK(stats.requestsServed == 4);
}

TEST_CASE("http server: HEAD has the headers of GET and no body", "[integration][http]") {
  std::optional<Reply> head, after;
  runServer(metricsHandler, {}, [&](uint16_t port, auto&) {
    Client c(port);
    if (!c.send("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")) return;
    head = c.readReply(/*headOnly=*/true);
    // Had a body followed, this reply would not parse.
    if (!c.send(get("/metrics"))) return;
    after = c.readReply();
  });
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->header("content-length") == "15");
  CHECK(head->body.empty());
  REQUIRE(after);
  CHECK(after->status == 200);
  CHECK(after->body == "shardpool_up 1\n");
}

TEST_CASE("http server: a malformed request gets 400 and the connection closes",
          "[integration][http]") {
  std::optional<Reply> reply;
  bool closed = false;
  runServer(metricsHandler, {}, [&](uint16_t port, auto&) {
    Client c(port);
    if (!c.send("GARBAGE\x01\r\n\r\nmore bytes the server never reads")) return;
    reply = c.readReply();
    closed = c.waitClosed();
  });
  REQUIRE(reply);
  CHECK(reply->status == 400);
  CHECK(reply->header("connection") == "close");
  CHECK_FALSE(reply->body.empty());
  CHECK(closed);
}

TEST_CASE("http server: other methods get 405 with Allow, their body skipped",
          "[integration][http]") {
  std::optional<Reply> post, after;
  runServer(metricsHandler, {}, [&](uint16_t port, auto&) {
    Client c(port);
    if (!c.send("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
                get("/metrics")))
      return;
    post = c.readReply();
    after = c.readReply();
  });
  REQUIRE(post);
  CHECK(post->status == 405);
  CHECK(post->header("allow") == "GET, HEAD");
  REQUIRE(after);
  CHECK(after->status == 200);
}

TEST_CASE("http server: Connection: close and HTTP/1.0 close after the response",
          "[integration][http]") {
  for (std::string request :
       {get("/metrics", "Connection: close\r\n"), std::string("GET /metrics HTTP/1.0\r\n\r\n")}) {
    std::optional<Reply> reply;
    bool closed = false;
    runServer(metricsHandler, {}, [&](uint16_t port, auto&) {
      Client c(port);
      if (!c.send(request)) return;
      reply = c.readReply();
      closed = c.waitClosed();
    });
    INFO(request);
    REQUIRE(reply);
    CHECK(reply->status == 200);
    CHECK(reply->body == "shardpool_up 1\n");
    CHECK(reply->header("connection") == "close");
    CHECK(closed);
  }
}

TEST_CASE("http server: an idle connection is closed", "[integration][http]") {
  HttpServer::Options options;
  options.idleTimeout = std::chrono::milliseconds(300);
  bool closed = false;
  std::chrono::milliseconds waited{};
  runServer(metricsHandler, options, [&](uint16_t port, auto&) {
    Client c(port);
    auto start = std::chrono::steady_clock::now();
    if (!c.send("GET /metr")) return;  // a request that never completes is idle too
    closed = c.waitClosed(5000);
    waited = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
  });
  CHECK(closed);
  CHECK(waited >= std::chrono::milliseconds(250));
  CHECK(waited < std::chrono::milliseconds(3000));
}

TEST_CASE("http server: at the cap a new connection replaces the longest idle one",
          "[integration][http]") {
  HttpServer::Options options;
  options.maxConnections = 2;
  std::optional<Reply> first, second, third, againSecond;
  bool firstClosed = false;
  RunStats stats = runServer(metricsHandler, options, [&](uint16_t port, auto&) {
    Client a(port);
    if (!a.send(get("/metrics"))) return;
    first = a.readReply();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a is idle longer than b
    Client b(port);
    if (!b.send(get("/metrics"))) return;
    second = b.readReply();
    Client c(port);  // the third: a, idle longest, makes room for it
    if (c.send(get("/metrics"))) third = c.readReply();
    firstClosed = a.waitClosed();
    if (b.send(get("/metrics"))) againSecond = b.readReply();
  });
  CHECK(first);
  CHECK(second);
  REQUIRE(third);
  CHECK(third->status == 200);
  CHECK(firstClosed);
  CHECK(againSecond);
  CHECK(stats.connectionsEvicted == 1);
  CHECK(stats.connectionsRefused == 0);
}

TEST_CASE("http server: at the cap a new connection is refused while every open one is sending",
          "[integration][http]") {
  // Answers far larger than the loopback socket buffers: while the clients do not read, both
  // connections have a response on its way, and neither may be dropped for a newcomer.
  const std::string big(32 * 1024 * 1024, 'x');
  auto handler = [&](std::string_view, std::string_view) {
    return HttpServer::Response{200, "text/plain", big};
  };
  HttpServer::Options options;
  options.maxConnections = 2;
  bool thirdClosed = false;
  std::optional<Reply> first, second;
  RunStats stats = runServer(handler, options, [&](uint16_t port, auto&) {
    Client a(port), b(port);
    if (!a.send(get("/metrics")) || !b.send(get("/metrics"))) return;
    // Once each has the start of its answer, the rest (far more than the socket buffers hold)
    // waits in the server's write queue.
    if (a.readMore() != ReadStatus::Data || b.readMore() != ReadStatus::Data) return;
    Client c(port);
    thirdClosed = c.connected() && c.waitClosed();
    first = a.readReply();
    second = b.readReply();
  });
  CHECK(thirdClosed);
  REQUIRE(first);
  CHECK(first->body.size() == big.size());
  REQUIRE(second);
  CHECK(second->body.size() == big.size());
  CHECK(stats.connectionsRefused == 1);
  CHECK(stats.connectionsEvicted == 0);
}

TEST_CASE("http server: a request head must arrive within the head timeout",
          "[integration][http]") {
  HttpServer::Options options;
  options.headTimeout = std::chrono::milliseconds(300);  // the idle timeout stays at 30 s
  bool partialClosed = false, silentClosed = false, servedClosed = true;
  std::chrono::milliseconds waited{};
  std::optional<Reply> before, after;
  runServer(metricsHandler, options, [&](uint16_t port, auto&) {
    Client served(port);
    if (!served.send(get("/metrics"))) return;
    before = served.readReply();
    // The first request's head is due from the connection's start.
    auto start = std::chrono::steady_clock::now();
    Client partial(port), silent(port);
    if (!partial.send("GET /metrics HTTP/1.1\r\nHost: x\r\n")) return;  // no blank line
    partialClosed = partial.waitClosed(5000);
    waited = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    silentClosed = silent.waitClosed(5000);
    // Idle between requests is not a stalled head: the served connection is still open.
    servedClosed = served.waitClosed(200);
    if (served.send(get("/metrics"))) after = served.readReply();
  });
  CHECK(partialClosed);
  CHECK(silentClosed);
  CHECK(waited >= std::chrono::milliseconds(250));
  CHECK(waited < std::chrono::milliseconds(3000));
  CHECK(before);
  CHECK_FALSE(servedClosed);
  CHECK(after);
}

TEST_CASE("http server: thousands of stalled connections do not keep a scrape out",
          "[integration][http]") {
  // Each stalled client holds a socket here and the server holds at most 64: raise the soft
  // limit on open files as far as the hard one allows.
  rlimit nofile{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &nofile) == 0);
  nofile.rlim_cur = std::min<rlim_t>(nofile.rlim_max, 20000);
  ::setrlimit(RLIMIT_NOFILE, &nofile);
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &nofile) == 0);
  const size_t stalled = std::min<size_t>(3000, size_t(nofile.rlim_cur) - 300);
  INFO("stalled connections: " << stalled);
  REQUIRE(stalled >= 500);

  std::optional<Reply> reply;
  std::chrono::milliseconds took{};
  size_t opened = 0;
  // Default options: 64 connections, 16 per address, 5 s for a request head, 30 s idle.
  RunStats stats = runServer(metricsHandler, {}, [&](uint16_t port, auto&) {
    std::vector<std::unique_ptr<Client>> clients;
    for (size_t i = 0; i < stalled; ++i) {
      auto c = std::make_unique<Client>(port);
      if (!c->connected()) break;
      if (i % 2 == 0) c->send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n");  // never ends
      clients.push_back(std::move(c));
    }
    opened = clients.size();
    auto start = std::chrono::steady_clock::now();
    Client scraper(port);
    if (scraper.send(get("/metrics"))) reply = scraper.readReply();
    took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start);
  });
  CHECK(opened == stalled);
  REQUIRE(reply);
  CHECK(reply->status == 200);
  CHECK(reply->body == "shardpool_up 1\n");
  CHECK(took < std::chrono::milliseconds(2000));
  CHECK(stats.connectionsRefused == 0);
  CHECK(stats.connectionsEvicted >= stalled + 1 - 16);
}

TEST_CASE("http server: a large body arrives whole while the client reads slowly",
          "[integration][http]") {
  std::string big(8 * 1024 * 1024, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = char('a' + i % 26);
  auto handler = [&](std::string_view, std::string_view) {
    return HttpServer::Response{200, "text/plain", big};
  };
  std::optional<Reply> reply, after;
  runServer(handler, {}, [&](uint16_t port, auto&) {
    Client c(port);
    if (!c.send(get("/metrics"))) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the server must not block
    reply = c.readReply();
    if (c.send(get("/metrics"))) after = c.readReply();
  });
  REQUIRE(reply);
  CHECK(reply->header("content-length") == std::to_string(big.size()));
  CHECK(reply->body.size() == big.size());
  CHECK(reply->body == big);
  REQUIRE(after);
  CHECK(after->body.size() == big.size());
}

TEST_CASE("http server: pipelined large answers are sent in order, then the half-close is honoured",
          "[integration][http]") {
  // 12 x 2 MiB answers to a client that does not read yet exceed the write high-water mark: the
  // server stops taking requests until the client reads. The client half-closed after sending;
  // every request is still answered before the server closes.
  int n = 0;
  auto handler = [&](std::string_view, std::string_view) {
    return HttpServer::Response{200, "text/plain", std::string(2 * 1024 * 1024, char('a' + n++))};
  };
  std::vector<char> firstBytes;
  bool closed = false;
  RunStats stats = runServer(handler, {}, [&](uint16_t port, auto&) {
    Client c(port);
    std::string requests;
    for (int i = 0; i < 12; ++i) requests += get("/metrics");
    if (!c.send(requests)) return;
    c.shutdownWrite();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    for (int i = 0; i < 12; ++i) {
      auto r = c.readReply();
      if (!r || r->body.size() != 2 * 1024 * 1024) return;
      firstBytes.push_back(r->body[0]);
    }
    closed = c.waitClosed();
  });
  REQUIRE(firstBytes.size() == 12);
  for (int i = 0; i < 12; ++i) CHECK(firstBytes[i] == char('a' + i));
  CHECK(closed);
  CHECK(stats.requestsServed == 12);
}

TEST_CASE("http server: a handler that throws gets 500, the connection survives",
          "[integration][http]") {
  auto handler = [](std::string_view, std::string_view path) -> HttpServer::Response {
    if (path == "/boom") throw std::runtime_error("boom");
    return {200, "text/plain", "ok\n"};
  };
  std::optional<Reply> boom, ok;
  runServer(handler, {}, [&](uint16_t port, auto&) {
    Client c(port);
    if (!c.send(get("/boom"))) return;
    boom = c.readReply();
    if (c.send(get("/fine"))) ok = c.readReply();
  });
  REQUIRE(boom);
  CHECK(boom->status == 500);
  REQUIRE(ok);
  CHECK(ok->body == "ok\n");
}

TEST_CASE("http server: a request arriving byte by byte is served", "[integration][http]") {
  std::optional<Reply> reply;
  runServer(metricsHandler, {}, [&](uint16_t port, auto&) {
    Client c(port);
    for (char ch : get("/metrics")) {
      if (!c.send(std::string_view(&ch, 1))) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    reply = c.readReply();
  });
  REQUIRE(reply);
  CHECK(reply->status == 200);
}

TEST_CASE("http server: close() drops open connections and stops listening",
          "[integration][http]") {
  std::optional<Reply> reply;
  bool dropped = false, refused = false;
  runServer(metricsHandler, {}, [&](uint16_t port, const std::function<void()>& closeServer) {
    Client c(port);
    if (!c.send(get("/metrics"))) return;
    reply = c.readReply();
    closeServer();
    dropped = c.waitClosed();
    refused = !Client(port).connected();
  });
  REQUIRE(reply);
  CHECK(dropped);
  CHECK(refused);
}

TEST_CASE("http server: listen reports an address in use", "[integration][http]") {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(fd, 1) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  uint16_t taken = ntohs(a.sin_port);

  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    HttpServer server(&loop, metricsHandler);
    std::string error = server.listen("127.0.0.1", taken);
    CHECK_THAT(error, Catch::Contains("in use"));
    CHECK_THAT(error, Catch::Contains(std::to_string(taken)));
    CHECK_FALSE(server.listening());
    CHECK(server.listen("127.0.0.1", 0).empty());  // a failed listen leaves it usable
    CHECK(server.listening());
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
  ::close(fd);
}
