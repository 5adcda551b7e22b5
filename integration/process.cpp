// Harness: child processes (runCommand) and the shardpool process under test (Proxy).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <catch2/catch.hpp>

#include "integration/harness.h"
#include "integration/harness_util.h"

extern char** environ;

namespace shardpool::integration {

using detail::fail;
using detail::remainingMs;

namespace {

std::vector<std::string> mergedEnv(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> out;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    std::string key(kv.substr(0, eq));
    if (extra.count(key) == 0) out.emplace_back(kv);
  }
  for (const auto& [k, v] : extra) out.push_back(k + "=" + v);
  return out;
}

std::vector<char*> cstrings(std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

long procStatusKiB(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  std::string prefix = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return std::strtol(line.c_str() + prefix.size(), nullptr, 10);
  }
  return -1;
}

}  // namespace

namespace detail {

int decodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

bool portAccepts(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace detail

using detail::decodeStatus;
using detail::portAccepts;

CommandResult runCommand(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env, Ms timeout) {
  if (argv.empty()) throw fail("runCommand: empty argv");
  std::vector<std::string> args = argv;
  std::vector<std::string> envs = mergedEnv(env);
  auto cargs = cstrings(args);
  auto cenv = cstrings(envs);

  int outPipe[2], errPipe[2];
  if (::pipe2(outPipe, O_CLOEXEC) != 0 || ::pipe2(errPipe, O_CLOEXEC) != 0) {
    throw fail("pipe: " + std::string(std::strerror(errno)));
  }
  pid_t pid = ::fork();
  if (pid < 0) throw fail("fork: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(outPipe[1], 1);
    ::dup2(errPipe[1], 2);
    environ = cenv.data();
    ::execvp(cargs[0], cargs.data());
    const char msg[] = "runCommand: exec failed\n";
    (void)!::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  ::close(outPipe[1]);
  ::close(errPipe[1]);

  CommandResult result;
  auto deadline = Clock::now() + timeout;
  int fds[2] = {outPipe[0], errPipe[0]};
  std::string* sinks[2] = {&result.out, &result.err};
  bool open[2] = {true, true};
  bool exited = false;
  int status = 0;
  char buf[65536];

  auto drain = [&](int i, bool block) {
    for (;;) {
      pollfd p{fds[i], POLLIN, 0};
      if (!block && ::poll(&p, 1, 0) <= 0) return;
      ssize_t n = ::read(fds[i], buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
        if (block) return;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      open[i] = false;  // EOF or error
      return;
    }
  };

  while (open[0] || open[1]) {
    pollfd p[2];
    nfds_t n = 0;
    int idx[2];
    for (int i = 0; i < 2; ++i) {
      if (open[i]) {
        p[n] = {fds[i], POLLIN, 0};
        idx[n++] = i;
      }
    }
    int wait = std::min(remainingMs(deadline), 50);
    int r = ::poll(p, n, wait);
    if (r > 0) {
      for (nfds_t k = 0; k < n; ++k) {
        if (p[k].revents & (POLLIN | POLLHUP | POLLERR)) drain(idx[k], true);
      }
    }
    if (!exited && ::waitpid(pid, &status, WNOHANG) == pid) exited = true;
    if (exited) {
      // Grandchildren may hold the pipes open: take what is there and stop.
      for (int i = 0; i < 2; ++i) {
        if (open[i]) drain(i, false);
      }
      break;
    }
    if (remainingMs(deadline) == 0) {
      result.timedOut = true;
      ::killpg(pid, SIGKILL);
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      exited = true;
      for (int i = 0; i < 2; ++i) {
        if (open[i]) drain(i, false);
      }
      break;
    }
  }
  if (!exited) ::waitpid(pid, &status, 0);
  ::close(outPipe[0]);
  ::close(errPipe[0]);
  result.exitCode = decodeStatus(status);
  return result;
}

CommandResult runShell(const std::string& script, const std::map<std::string, std::string>& env,
                       Ms timeout) {
  return runCommand({"/bin/sh", "-c", script}, env, timeout);
}
Proxy::Proxy(std::string tomlTemplate, std::vector<std::string> extraArgs, uint16_t port) {
  port_ = port != 0 ? port : freePort();
  bool mysql = tomlTemplate.find("@MYSQL_LISTEN_PORT@") != std::string::npos;
  for (const auto& a : extraArgs) mysql |= a.find("@MYSQL_LISTEN_PORT@") != std::string::npos;
  if (mysql) mysqlPort_ = freePort();
  std::vector<std::string> args{shardpoolBin()};
  if (!tomlTemplate.empty()) {
    configPath_ = dir_.write("shardpool.toml", substitute(tomlTemplate, port_, mysqlPort_));
    args.push_back("-c");
    args.push_back(configPath_);
  }
  for (auto& a : extraArgs) args.push_back(substitute(a, port_, mysqlPort_));
  logPath_ = dir_.path() + "/shardpool.log";

  int logFd = ::open(logPath_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (logFd < 0) throw fail("open " + logPath_ + ": " + std::strerror(errno));
  auto cargs = cstrings(args);
  pid_ = ::fork();
  if (pid_ < 0) {
    ::close(logFd);
    throw fail("fork: " + std::string(std::strerror(errno)));
  }
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(logFd, 1);
    ::dup2(logFd, 2);
    ::execv(cargs[0], cargs.data());
    const char msg[] = "Proxy: exec failed\n";
    (void)!::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::close(logFd);

  std::string cmdline;
  for (auto& a : args) cmdline += a + " ";
  auto deadline = Clock::now() + 10s;
  for (;;) {
    if (!running()) {
      std::string why = "shardpool exited with status " + std::to_string(status_.value_or(-1)) +
                        " before accepting connections\ncommand: " + cmdline + "\nlog:\n" + log();
      throw fail(why);
    }
    if (portAccepts(port_) && (mysqlPort_ == 0 || portAccepts(mysqlPort_))) break;
    if (Clock::now() >= deadline) {
      std::string why = "shardpool did not accept connections on port " + std::to_string(port_) +
                        " within 10 s\ncommand: " + cmdline + "\nlog:\n" + log();
      stop();
      throw fail(why);
    }
    std::this_thread::sleep_for(20ms);
  }
}

Proxy::~Proxy() {
  stop();
  // ctest shows a test's output only when it fails: the proxy's last words help most then.
  std::string text = log();
  // shardpool logs "BUG:" when one of its own invariants broke (an impossible state change):
  // whatever the test asserted, that fails it.
  if (size_t bug = text.find("BUG:"); bug != std::string::npos) {
    size_t start = text.rfind('\n', bug);
    start = start == std::string::npos ? 0 : start + 1;
    FAIL_CHECK("shardpool logged a broken invariant: " << text.substr(start, text.find('\n', bug) - start));
  }
  if (const char* keep = std::getenv("SHARDPOOL_IT_LOG_DIR"); keep && *keep) {
    std::error_code ec;
    std::filesystem::create_directories(keep, ec);
    std::filesystem::copy_file(logPath_,
                               std::string(keep) + "/shardpool-" + std::to_string(pid_) + ".log",
                               std::filesystem::copy_options::overwrite_existing, ec);
  }
  constexpr size_t kTail = 8192;
  if (text.size() > kTail) text = "[...]\n" + text.substr(text.size() - kTail);
  std::fprintf(stdout, "---- shardpool (pid %d, port %u) exited %d; log tail ----\n%s\n----\n",
               static_cast<int>(pid_), static_cast<unsigned>(port_), status_.value_or(-1),
               text.c_str());
  std::fflush(stdout);
}

void Proxy::stop() {
  if (pid_ <= 0 || status_) return;
  ::kill(pid_, SIGTERM);
  if (!waitExit(5s)) {
    ::kill(pid_, SIGKILL);
    waitExit(5s);
  }
}

std::string Proxy::log() const {
  return readFile(logPath_);
}

void Proxy::signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

bool Proxy::logShows(const std::string& text, Ms timeout) const {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (contains(log(), text)) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
}

void Proxy::rewriteConfig(const std::string& tomlTemplate) const {
  std::ofstream out(configPath_, std::ios::trunc);
  out << substitute(tomlTemplate, port_, mysqlPort_);
}

bool Proxy::running() {
  if (status_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    status_ = decodeStatus(status);
    return false;
  }
  return r == 0;
}

std::optional<int> Proxy::waitExit(Ms timeout) {
  auto deadline = Clock::now() + timeout;
  while (running()) {
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(10ms);
  }
  return status_;
}

long Proxy::rssKiB() const {
  return procStatusKiB(pid_, "VmRSS");
}
long Proxy::peakRssKiB() const {
  return procStatusKiB(pid_, "VmHWM");
}

std::string Proxy::conninfo(const std::string& user, const std::string& password,
                            const std::string& dbname) const {
  std::string info = "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=" + dbname +
                     " user=" + user + " application_name=shardpool_it";
  if (!password.empty()) info += " password=" + password;
  return info;
}
}  // namespace shardpool::integration
