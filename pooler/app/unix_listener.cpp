#include "pooler/app/unix_listener.h"

#include <fmt/format.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace shardpool::pooler {

namespace {

bool toAddress(const std::string& path, sockaddr_un& addr) {
  if (path.size() >= sizeof addr.sun_path) return false;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return true;
}

// Removes a socket file nobody listens on; false (with `error`) when it is in use or no socket.
bool clearStale(const std::string& path, const sockaddr_un& addr, std::string& error) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return true;  // nothing there
  if (!S_ISSOCK(st.st_mode)) {
    error = fmt::format("{} exists and is not a socket", path);
    return false;
  }
  int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) {
    error = fmt::format("{}: {}", path, std::strerror(errno));
    return false;
  }
  bool live = ::connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(probe);
  if (live) {
    error = fmt::format("{} is in use by another process (another shardpool or PgBouncer?)", path);
    return false;
  }
  ::unlink(path.c_str());
  return true;
}

bool groupId(const std::string& name, gid_t& gid, std::string& error) {
  std::vector<char> buf(16384);
  group g{};
  group* found = nullptr;
  int rc = ::getgrnam_r(name.c_str(), &g, buf.data(), buf.size(), &found);
  if (rc != 0 || found == nullptr) {
    error = fmt::format("unix_socket_group: no group \"{}\"{}", name,
                        rc != 0 ? std::string(": ") + std::strerror(rc) : std::string());
    return false;
  }
  gid = found->gr_gid;
  return true;
}

}  // namespace

std::string unixSocketPath(const config::General& g) {
  std::string dir = g.unixSocketDir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return fmt::format("{}/.s.PGSQL.{}", dir, g.listenPort);
}

int bindUnixListener(const config::General& g, std::string& error) {
  std::string path = unixSocketPath(g);
  sockaddr_un addr{};
  if (!toAddress(path, addr)) {
    error = fmt::format("unix socket path too long: {}", path);
    return -1;
  }
  gid_t gid = static_cast<gid_t>(-1);
  if (!g.unixSocketGroup.empty() && !groupId(g.unixSocketGroup, gid, error)) return -1;
  if (!clearStale(path, addr, error)) return -1;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = fmt::format("{}: {}", path, std::strerror(errno));
    return -1;
  }
  auto failed = [&](const char* what) {
    error = fmt::format("{}: {}: {}", path, what, std::strerror(errno));
    ::close(fd);
    return -1;
  };
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return failed("bind");
  // The mode and group are set before listen(): no client can connect in between.
  if (::chmod(path.c_str(), static_cast<mode_t>(g.unixSocketMode)) != 0 ||
      (gid != static_cast<gid_t>(-1) && ::chown(path.c_str(), static_cast<uid_t>(-1), gid) != 0)) {
    int saved = errno;
    ::unlink(path.c_str());
    errno = saved;
    return failed("setting unix_socket_mode / unix_socket_group");
  }
  if (::listen(fd, 1024) != 0) {
    ::unlink(path.c_str());
    return failed("listen");
  }
  return fd;
}

std::string boundUnixPath(int fd) {
  sockaddr_un addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      addr.sun_family != AF_UNIX || len <= offsetof(sockaddr_un, sun_path))
    return {};
  return std::string(addr.sun_path);
}

}  // namespace shardpool::pooler
