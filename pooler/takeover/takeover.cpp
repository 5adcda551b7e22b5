#include "pooler/takeover/takeover.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "pooler/net/log.h"

namespace shardpool::pooler {

namespace {

constexpr std::string_view kAsk = "TAKEOVER\n";
constexpr std::string_view kConfirm = "OK\n";
constexpr size_t kMaxFds = 256;

bool waitFor(int fd, short events, std::chrono::milliseconds timeout) {
  pollfd p{fd, events, 0};
  int rc;
  do {
    rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
  } while (rc < 0 && errno == EINTR);
  return rc > 0;
}

// One message: the fd count as text, with the fds attached.
bool sendFds(int sock, const std::vector<int>& fds) {
  std::string count = std::to_string(fds.size()) + "\n";
  iovec iov{count.data(), count.size()};
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
  std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  ssize_t n;
  do {
    n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(count.size());
}

}  // namespace

TakeoverGrant requestTakeover(const std::string& path, std::chrono::milliseconds timeout) {
  TakeoverGrant g;
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    g.error = fmt::format("takeover_socket path is too long: {}", path);
    return g;
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int sock = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0 || ::connect(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    g.error =
        fmt::format("cannot reach the running shardpool at {}: {}", path, std::strerror(errno));
    if (sock >= 0) ::close(sock);
    return g;
  }
  if (::send(sock, kAsk.data(), kAsk.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(kAsk.size()) ||
      !waitFor(sock, POLLIN, timeout)) {
    g.error = fmt::format("no answer from the running shardpool at {}", path);
    ::close(sock);
    return g;
  }
  char text[32] = {};
  iovec iov{text, sizeof text - 1};
  std::vector<char> control(CMSG_SPACE(sizeof(int) * kMaxFds));
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  ssize_t n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); n > 0 && c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const auto* data = reinterpret_cast<const int*>(CMSG_DATA(c));
    for (size_t i = 0; i < count; ++i) g.fds.push_back(data[i]);
  }
  if (n <= 0 || g.fds.empty() || (msg.msg_flags & MSG_CTRUNC)) {
    g.error = fmt::format("the running shardpool at {} sent no listening sockets", path);
    for (int fd : g.fds) ::close(fd);
    g.fds.clear();
    ::close(sock);
    return g;
  }
  g.channel = sock;
  return g;
}

void confirmTakeover(TakeoverGrant& grant) {
  if (grant.channel < 0) return;
  (void)!::send(grant.channel, kConfirm.data(), kConfirm.size(), MSG_NOSIGNAL);
  ::close(grant.channel);
  grant.channel = -1;
}

TakeoverServer::~TakeoverServer() {
  close();
}

std::string TakeoverServer::listen(const std::string& path) {
  path_ = path;
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) return fmt::format("takeover_socket path is too long");
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  // Bound by hand, not with uv_pipe_bind: libuv would unlink the path when the handle closes,
  // removing the socket file of the process that took over from us.
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fmt::format("takeover_socket {}: {}", path, std::strerror(errno));
  ::unlink(path.c_str());      // a stale file, or the socket of the process we took over from
  mode_t old = ::umask(0177);  // the socket file is created 0600
  int bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::umask(old);
  if (bound != 0 || ::listen(fd, 4) != 0) {
    std::string why = std::strerror(errno);
    ::close(fd);
    return fmt::format("takeover_socket {}: {}", path, why);
  }
  server_ = new uv_pipe_t;
  uv_pipe_init(loop_, server_, 0);
  server_->data = this;
  int rc = uv_pipe_open(server_, fd);
  if (rc != 0) ::close(fd);  // the handle did not take it
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(server_), 4, onConnection);
  if (rc != 0) {
    ::unlink(path.c_str());
    close();
    return fmt::format("takeover_socket {}: {}", path, uv_strerror(rc));
  }
  owned_ = true;
  return {};
}

void TakeoverServer::close() {
  if (!server_) return;
  auto* h = reinterpret_cast<uv_handle_t*>(server_);
  h->data = nullptr;
  if (!uv_is_closing(h))
    uv_close(h, [](uv_handle_t* handle) { delete reinterpret_cast<uv_pipe_t*>(handle); });
  server_ = nullptr;
  if (owned_ && !handedOver_) ::unlink(path_.c_str());
  owned_ = false;
}

void TakeoverServer::onConnection(uv_stream_t* server, int status) {
  auto* self = static_cast<TakeoverServer*>(server->data);
  if (!self || status != 0) return;
  auto* peer = new uv_pipe_t;
  uv_pipe_init(self->loop_, peer, 0);
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(peer)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(peer),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
    return;
  }
  self->serve(peer);
}

// The exchange is a few bytes each way, done with blocking calls bounded by poll timeouts on the
// control loop (never on a worker).
void TakeoverServer::serve(uv_pipe_t* peer) {
  auto closePeer = [peer] {
    uv_close(reinterpret_cast<uv_handle_t*>(peer),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
  };
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(peer), &fd) != 0) {
    closePeer();
    return;
  }
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != ::getuid()) {
    log::warn("", "takeover: refused a request from uid {} (not ours)", cred.uid);
    closePeer();
    return;
  }
  // The fd is non-blocking under libuv: wait for each step.
  char ask[16] = {};
  if (!waitFor(fd, POLLIN, std::chrono::seconds(2)) ||
      ::recv(fd, ask, kAsk.size(), 0) != static_cast<ssize_t>(kAsk.size()) ||
      std::string_view(ask, kAsk.size()) != kAsk) {
    log::warn("", "takeover: malformed request from pid {}", cred.pid);
    closePeer();
    return;
  }
  std::vector<int> fds = fds_();
  if (fds.empty() || !waitFor(fd, POLLOUT, std::chrono::seconds(2)) || !sendFds(fd, fds)) {
    log::warn("", "takeover: could not send the listening sockets to pid {}", cred.pid);
    closePeer();
    return;
  }
  log::info("", "takeover: sent {} listening socket(s) to pid {}; waiting for it to start",
            fds.size(), cred.pid);
  // The new process confirms once its workers run; it may need a while to start up.
  char ok[8] = {};
  bool confirmed = waitFor(fd, POLLIN, std::chrono::seconds(30)) &&
                   ::recv(fd, ok, kConfirm.size(), 0) == static_cast<ssize_t>(kConfirm.size()) &&
                   std::string_view(ok, kConfirm.size()) == kConfirm;
  closePeer();
  if (!confirmed) {
    log::warn("", "takeover: pid {} did not confirm; going on serving", cred.pid);
    return;
  }
  handedOver_ = true;
  done_(cred.pid);
}

}  // namespace shardpool::pooler
