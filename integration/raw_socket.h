// Test helper: a raw TCP client for feeding the proxy hand-made (or malformed) PostgreSQL wire
// bytes, and small builders/parsers for those bytes. Every call has a deadline: a proxy that
// stops answering fails the test instead of hanging it.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "integration/harness.h"

namespace shardpool::integration {

// ---- wire bytes ----------------------------------------------------------------------------

namespace wire {

inline std::string be32(uint32_t v) {
  std::string s(4, '\0');
  s[0] = char(v >> 24);
  s[1] = char(v >> 16);
  s[2] = char(v >> 8);
  s[3] = char(v);
  return s;
}

inline std::string be16(uint16_t v) {
  return {char(v >> 8), char(v)};
}

// A startup-phase packet: int32 length (counting itself), int32 code, then `rest` as given.
inline std::string startupRaw(uint32_t code, std::string_view rest) {
  return be32(uint32_t(8 + rest.size())) + be32(code) + std::string(rest);
}

// A well-formed v3.0 StartupMessage with `params` (name/value pairs) and the final terminator.
inline std::string startup(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string body;
  for (const auto& [k, v] : params) body += k + '\0' + v + '\0';
  body += '\0';
  return startupRaw(3u << 16, body);
}

inline std::string sslRequest() {
  return startupRaw((1234u << 16) | 5679u, "");
}

inline std::string cancelRequest(uint32_t pid, uint32_t key) {
  return startupRaw((1234u << 16) | 5678u, be32(pid) + be32(key));
}

// A regular message with a correct length field.
inline std::string message(char type, std::string_view body) {
  return std::string(1, type) + be32(uint32_t(4 + body.size())) + std::string(body);
}

// A regular message whose length field says `length`, whatever the body is.
inline std::string messageWithLength(char type, uint32_t length, std::string_view body = {}) {
  return std::string(1, type) + be32(length) + std::string(body);
}

inline std::string query(std::string_view sql) {
  return message('Q', std::string(sql) + '\0');
}
inline std::string sync() {
  return message('S', "");
}
inline std::string terminate() {
  return message('X', "");
}

// A backend message as received: type byte and body (the length field is checked and dropped).
struct BackendMessage {
  char type = 0;
  std::string body;
};

// Splits `bytes` into whole backend messages; stops at a partial or impossible one.
// `consumed` (optional) gets the number of bytes the returned messages occupy.
inline std::vector<BackendMessage> parseMessages(std::string_view bytes,
                                                 size_t* consumed = nullptr) {
  std::vector<BackendMessage> out;
  size_t pos = 0;
  while (bytes.size() - pos >= 5) {
    auto u = [&](size_t i) { return uint32_t(uint8_t(bytes[pos + i])); };
    uint32_t len = (u(1) << 24) | (u(2) << 16) | (u(3) << 8) | u(4);
    if (len < 4 || bytes.size() - pos - 1 < len) break;
    out.push_back({bytes[pos], std::string(bytes.substr(pos + 5, len - 4))});
    pos += 1 + len;
  }
  if (consumed) *consumed = pos;
  return out;
}

// A field ('C' SQLSTATE, 'M' message, 'S' severity) of an ErrorResponse/NoticeResponse body.
inline std::string errorField(std::string_view body, char field) {
  size_t pos = 0;
  while (pos < body.size() && body[pos] != '\0') {
    char code = body[pos++];
    size_t end = body.find('\0', pos);
    if (end == std::string_view::npos) break;
    if (code == field) return std::string(body.substr(pos, end - pos));
    pos = end + 1;
  }
  return {};
}

}  // namespace wire

// ---- the socket ----------------------------------------------------------------------------

class RawSocket {
 public:
  // How a read ended.
  enum class End { Matched, Closed, Reset, Timeout };

  // Connects to 127.0.0.1:port within `timeout`, from the loopback address `source` when given
  // (any 127.x.y.z); throws std::runtime_error when it cannot.
  explicit RawSocket(uint16_t port, Ms timeout = 5s, const char* source = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) throw std::runtime_error(std::string("socket(): ") + std::strerror(errno));
    if (source) {
      sockaddr_in from{};
      from.sin_family = AF_INET;
      if (::inet_pton(AF_INET, source, &from.sin_addr) != 1 ||
          ::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0)
        fail("bind");
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      if (errno != EINPROGRESS) fail("connect");
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, int(timeout.count())) != 1) fail("connect (timeout)");
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        errno = err;
        fail("connect");
      }
    }
  }
  ~RawSocket() { close(); }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  int fd() const { return fd_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void shutdownWrite() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
  }

  // Writes all of `bytes` within `timeout`. False when the peer closed or reset the connection
  // first (not a failure for abuse tests: the proxy may hang up half-way) or time ran out;
  // timedOut() tells which.
  bool send(std::string_view bytes, Ms timeout = 5s) {
    auto deadline = Clock::now() + timeout;
    timedOut_ = false;
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += size_t(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        pollfd p{fd_, POLLOUT, 0};
        if (::poll(&p, 1, msLeft(deadline)) == 0) {
          timedOut_ = true;
          return false;
        }
        continue;
      }
      return false;  // EPIPE, ECONNRESET: the proxy hung up
    }
    return true;
  }
  bool timedOut() const { return timedOut_; }

  // Reads into received() until `pred(received())` holds, the peer closes or resets, or
  // `timeout` passes.
  template <class Pred>
  End readUntil(Pred pred, Ms timeout) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      if (pred(std::string_view(in_))) return End::Matched;
      if (eof_) return End::Closed;
      pollfd p{fd_, POLLIN, 0};
      int r = ::poll(&p, 1, msLeft(deadline));
      if (r == 0) return End::Timeout;
      if (r < 0) {
        if (errno == EINTR) continue;
        return End::Reset;
      }
      char buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        in_.append(buf, size_t(n));
      } else if (n == 0) {
        eof_ = true;
      } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
        return End::Reset;
      }
    }
  }
  // Reads until the peer closes (or resets, or `timeout` passes).
  End readToClose(Ms timeout) {
    return readUntil([](std::string_view) { return false; }, timeout);
  }
  // Reads until a whole message of `type` has arrived after the first `skip` bytes.
  End readUntilMessage(char type, Ms timeout, size_t skip = 0) {
    return readUntil(
        [&](std::string_view in) {
          if (in.size() < skip) return false;
          for (auto& m : wire::parseMessages(in.substr(skip)))
            if (m.type == type) return true;
          return false;
        },
        timeout);
  }

  const std::string& received() const { return in_; }
  void clearReceived() { in_.clear(); }

 private:
  [[noreturn]] void fail(const char* what) {
    std::string msg = std::string(what) + ": " + std::strerror(errno);
    close();
    throw std::runtime_error(msg);
  }
  static int msLeft(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now()).count();
    return left <= 0 ? 0 : int(left);
  }

  int fd_ = -1;
  std::string in_;
  bool eof_ = false;
  bool timedOut_ = false;
};

inline const char* toString(RawSocket::End e) {
  switch (e) {
    case RawSocket::End::Matched:
      return "matched";
    case RawSocket::End::Closed:
      return "closed";
    case RawSocket::End::Reset:
      return "reset";
    case RawSocket::End::Timeout:
      return "timeout";
  }
  return "?";
}

}  // namespace shardpool::integration
