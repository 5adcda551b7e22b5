#include "integration/harness.h"

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
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace shardpool::integration {

namespace {

std::runtime_error fail(const std::string& what) { return std::runtime_error(what); }

std::string requiredEnv(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  if (v && *v) return v;
  if (fallback && *fallback) return fallback;
  throw fail(std::string("environment variable ") + name +
             " is not set (run the integration tests through ctest)");
}

int remainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

int decodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

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

void replaceAll(std::string& s, std::string_view from, std::string_view to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
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

long procStatusKiB(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  std::string prefix = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return std::strtol(line.c_str() + prefix.size(), nullptr, 10);
  }
  return -1;
}

std::string withDefaults(const std::string& conninfo) {
  std::string info = conninfo;
  if (info.find("sslmode") == std::string::npos) info += " sslmode=disable";
  if (info.find("gssencmode") == std::string::npos) info += " gssencmode=disable";
  return info;
}

}  // namespace

// ---- environment ---------------------------------------------------------------------------

const std::map<std::string, std::string>& clusterEnv() {
  static std::once_flag once;
  static std::map<std::string, std::string> env;
  std::call_once(once, [] {
#ifdef SHARDPOOL_IT_ENV_DEFAULT
    std::string path = requiredEnv("SHARDPOOL_IT_ENV", SHARDPOOL_IT_ENV_DEFAULT);
#else
    std::string path = requiredEnv("SHARDPOOL_IT_ENV", nullptr);
#endif
    std::ifstream in(path);
    if (!in) {
      throw fail("cannot read " + path +
                 " (is the test cluster running? `scripts/pg-cluster.sh start DIR`)");
    }
    std::string line;
    while (std::getline(in, line)) {
      auto eq = line.find('=');
      if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
      env[line.substr(0, eq)] = line.substr(eq + 1);
    }
  });
  return env;
}

std::string clusterValue(const std::string& key) {
  const auto& env = clusterEnv();
  auto it = env.find(key);
  if (it == env.end()) throw fail("cluster env has no " + key);
  return it->second;
}

uint16_t pgPort() { return static_cast<uint16_t>(std::stoi(clusterValue("PGPORT"))); }

std::string shardpoolBin() {
#ifdef SHARDPOOL_BIN_DEFAULT
  return requiredEnv("SHARDPOOL_BIN", SHARDPOOL_BIN_DEFAULT);
#else
  return requiredEnv("SHARDPOOL_BIN", nullptr);
#endif
}

std::string sourceDir() {
#ifdef SHARDPOOL_SOURCE_DIR_DEFAULT
  return requiredEnv("SHARDPOOL_SOURCE_DIR", SHARDPOOL_SOURCE_DIR_DEFAULT);
#else
  return requiredEnv("SHARDPOOL_SOURCE_DIR", nullptr);
#endif
}

uint16_t freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw fail("socket(): " + std::string(std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw fail("bind(127.0.0.1:0): " + std::string(std::strerror(errno)));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string uniqueSuffix() {
  static std::atomic<int> counter{0};
  return std::to_string(::getpid()) + "_" + std::to_string(counter++);
}

TempDir::TempDir() {
  std::string tmpl = "/tmp/shardpool-it.XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw fail("mkdtemp: " + std::string(std::strerror(errno)));
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, std::string_view content) const {
  std::string p = path_ + "/" + name;
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw fail("cannot write " + p);
  return p;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

bool containsNoCase(std::string_view haystack, std::string_view needle) {
  auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                        [](char a, char b) { return std::tolower(a) == std::tolower(b); });
  return it != haystack.end();
}

// ---- processes -----------------------------------------------------------------------------

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

std::string substitute(std::string text, uint16_t listenPort) {
  if (listenPort != 0) replaceAll(text, "@LISTEN_PORT@", std::to_string(listenPort));
  replaceAll(text, "@PGPORT@", std::to_string(pgPort()));
  replaceAll(text, "@PGHOST@", "127.0.0.1");
  if (text.find("@SOCKET_DIR@") != std::string::npos) {
    replaceAll(text, "@SOCKET_DIR@", clusterValue("SOCKET_DIR"));
  }
  return text;
}

Proxy::Proxy(std::string tomlTemplate, std::vector<std::string> extraArgs) {
  port_ = freePort();
  std::vector<std::string> args{shardpoolBin()};
  if (!tomlTemplate.empty()) {
    configPath_ = dir_.write("shardpool.toml", substitute(tomlTemplate, port_));
    args.push_back("-c");
    args.push_back(configPath_);
  }
  for (auto& a : extraArgs) args.push_back(substitute(a, port_));
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
    if (portAccepts(port_)) break;
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

std::string Proxy::log() const { return readFile(logPath_); }

void Proxy::signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
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

long Proxy::rssKiB() const { return procStatusKiB(pid_, "VmRSS"); }
long Proxy::peakRssKiB() const { return procStatusKiB(pid_, "VmHWM"); }

std::string Proxy::conninfo(const std::string& user, const std::string& password,
                            const std::string& dbname) const {
  std::string info = "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=" + dbname +
                     " user=" + user + " application_name=shardpool_it";
  if (!password.empty()) info += " password=" + password;
  return info;
}

// ---- libpq ---------------------------------------------------------------------------------

PgError errorFrom(const PGresult* res) {
  PgError e;
  if (!res) return e;
  if (const char* s = PQresultErrorField(res, PG_DIAG_SQLSTATE)) e.sqlstate = s;
  if (const char* m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)) {
    e.message = m;
  } else {
    e.message = PQresultErrorMessage(res);
  }
  return e;
}

PgError errorFromText(std::string_view text) {
  static const std::regex re(R"((FATAL|ERROR|PANIC):  ([0-9A-Z]{5}): ([^\n]*))");
  PgError e;
  std::string s(text);
  std::smatch m;
  if (std::regex_search(s, m, re)) {
    e.sqlstate = m[2];
    e.message = m[3];
  } else {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    e.message = s;
  }
  return e;
}

Conn::Conn(const std::string& conninfo, Ms timeout) {
  auto start = Clock::now();
  auto deadline = start + timeout;
  std::string info = withDefaults(conninfo);
  conn_.reset(PQconnectStart(info.c_str()));
  if (!conn_) throw fail("PQconnectStart: out of memory");
  PQsetErrorVerbosity(conn_.get(), PQERRORS_VERBOSE);
  if (PQstatus(conn_.get()) == CONNECTION_BAD) {
    connectError_ = errorFromText(PQerrorMessage(conn_.get()));
    connectTime_ = std::chrono::duration_cast<Ms>(Clock::now() - start);
    return;
  }
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  for (;;) {
    if (st == PGRES_POLLING_OK || st == PGRES_POLLING_FAILED) break;
    pollfd p{PQsocket(conn_.get()), static_cast<short>(st == PGRES_POLLING_READING ? POLLIN : POLLOUT),
             0};
    int r = ::poll(&p, 1, remainingMs(deadline));
    if (r == 0) {
      connectError_.message = "timeout: connection not established within " +
                              std::to_string(timeout.count()) + " ms";
      conn_.reset();
      break;
    }
    if (r < 0 && errno != EINTR) {
      connectError_.message = std::string("poll: ") + std::strerror(errno);
      conn_.reset();
      break;
    }
    st = PQconnectPoll(conn_.get());
  }
  if (st == PGRES_POLLING_FAILED && conn_) {
    connectError_ = errorFromText(PQerrorMessage(conn_.get()));
  }
  connectTime_ = std::chrono::duration_cast<Ms>(Clock::now() - start);
}

bool Conn::waitReadable(Ms timeout) const {
  if (!conn_) return false;
  auto deadline = Clock::now() + timeout;
  for (;;) {
    pollfd p{PQsocket(conn_.get()), POLLIN, 0};
    int r = ::poll(&p, 1, remainingMs(deadline));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

std::vector<ResultPtr> Conn::collect(Ms timeout) {
  std::vector<ResultPtr> out;
  auto deadline = Clock::now() + timeout;
  for (;;) {
    while (PQisBusy(conn_.get())) {
      if (!waitReadable(Ms(remainingMs(deadline)))) {
        out.emplace_back(nullptr);  // timeout
        return out;
      }
      if (!PQconsumeInput(conn_.get())) break;  // connection lost: PQgetResult reports it
    }
    PGresult* r = PQgetResult(conn_.get());
    if (!r) return out;
    ExecStatusType st = PQresultStatus(r);
    out.emplace_back(r);
    if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) return out;
  }
}

std::vector<ResultPtr> Conn::exec(const std::string& sql, Ms timeout) {
  if (!ok()) throw fail("exec on a connection that is not open: " + connectError_.message);
  if (!PQsendQuery(conn_.get(), sql.c_str())) {
    std::vector<ResultPtr> out;
    out.emplace_back(PQmakeEmptyPGresult(conn_.get(), PGRES_FATAL_ERROR));
    return out;
  }
  return collect(timeout);
}

Rows Conn::query(const std::string& sql, Ms timeout) {
  auto results = exec(sql, timeout);
  if (results.empty()) throw fail("no result for: " + sql);
  if (!results.back()) throw fail("timeout after " + std::to_string(timeout.count()) + " ms: " + sql);
  for (auto& r : results) {
    auto st = PQresultStatus(r.get());
    if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE) {
      auto e = errorFrom(r.get());
      std::string text = e.message.empty() ? PQerrorMessage(conn_.get()) : e.message;
      throw fail("query failed [" + e.sqlstate + "] " + text + " -- " + sql);
    }
  }
  Rows rows;
  const PGresult* res = results.back().get();
  for (int i = 0; i < PQntuples(res); ++i) {
    Row row;
    for (int j = 0; j < PQnfields(res); ++j) {
      if (PQgetisnull(res, i, j)) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(std::string(PQgetvalue(res, i, j), PQgetlength(res, i, j)));
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string Conn::scalar(const std::string& sql, Ms timeout) {
  auto rows = query(sql, timeout);
  if (rows.empty() || rows[0].empty() || !rows[0][0]) throw fail("no value from: " + sql);
  return *rows[0][0];
}

PgError Conn::expectError(const std::string& sql, Ms timeout) {
  auto results = exec(sql, timeout);
  if (!results.empty() && !results.back()) {
    throw fail("timeout after " + std::to_string(timeout.count()) + " ms: " + sql);
  }
  for (auto& r : results) {
    auto st = PQresultStatus(r.get());
    if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE) {
      auto e = errorFrom(r.get());
      if (e.sqlstate.empty()) e = errorFromText(PQerrorMessage(conn_.get()));
      return e;
    }
  }
  if (PQstatus(conn_.get()) == CONNECTION_BAD) return errorFromText(PQerrorMessage(conn_.get()));
  throw fail("expected an error, but it succeeded: " + sql);
}

std::string directConninfo(const std::string& user, const std::string& password,
                           const std::string& dbname) {
  std::string info = "host=127.0.0.1 port=" + std::to_string(pgPort()) + " dbname=" + dbname +
                     " user=" + user + " application_name=shardpool_it_direct";
  if (!password.empty()) info += " password=" + password;
  return info;
}

Conn adminConn() {
  Conn c(directConninfo("sp_admin", clusterValue("SP_ADMIN_PASSWORD")));
  if (!c.ok()) throw fail("admin connection to the test cluster failed: " + c.connectError().message);
  return c;
}

int backendCount(const std::string& user) {
  Conn admin = adminConn();
  std::string u = user;
  const char* params[1] = {u.c_str()};
  ResultPtr r(PQexecParams(admin.get(),
                           "SELECT count(*) FROM pg_stat_activity WHERE usename = $1 "
                           "AND backend_type = 'client backend'",
                           1, nullptr, params, nullptr, nullptr, 0));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
    throw fail("backendCount: " + errorFrom(r.get()).message);
  }
  return std::atoi(PQgetvalue(r.get(), 0, 0));
}

TempRole::TempRole(const std::string& prefix, const std::string& password)
    : name_(prefix + "_" + uniqueSuffix()), password_(password) {
  Conn admin = adminConn();
  admin.query("CREATE ROLE " + name_ + " LOGIN PASSWORD '" + password_ + "'");
}

TempRole::~TempRole() {
  try {
    Conn admin = adminConn();
    for (int i = 0; i < 50; ++i) {
      admin.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '" +
                 name_ + "'");
      auto res = admin.exec("DROP OWNED BY " + name_ + "; DROP ROLE IF EXISTS " + name_);
      bool failed = false;
      for (auto& r : res) {
        if (!r || PQresultStatus(r.get()) == PGRES_FATAL_ERROR) failed = true;
      }
      if (!failed) return;
      std::this_thread::sleep_for(100ms);
    }
  } catch (...) {
    // Best effort: a leftover role in a throwaway cluster is harmless.
  }
}

std::string generalSection(const std::string& extra) {
  std::string s =
      "[general]\n"
      "listen_addr = \"127.0.0.1\"\n"
      "listen_port = @LISTEN_PORT@\n"
      "log_level = \"info\"\n";
  if (!extra.empty()) s += extra + "\n";
  return s + "\n";
}

std::string clusterDatabase(const std::string& name, const std::string& extra) {
  std::string s = "[databases." + name + "]\nhost = \"127.0.0.1\"\nport = " +
                  std::to_string(pgPort()) + "\ndbname = \"sp_db\"\n";
  if (!extra.empty()) s += extra + "\n";
  return s + "\n";
}

std::string userSection(const std::string& name, const std::string& password,
                        const std::string& extra) {
  std::string s = "[users." + name + "]\npassword = \"" + password + "\"\n";
  if (!extra.empty()) s += extra + "\n";
  return s + "\n";
}

std::string standardConfig(const std::string& generalExtra) {
  return generalSection(generalExtra) + clusterDatabase() + userSection("sp_scram", "scram_pass");
}

std::map<std::string, std::string> clientEnv(const std::string& password) {
  return {{"PGPASSWORD", password},
          {"PGSSLMODE", "disable"},
          {"PGGSSENCMODE", "disable"},
          {"PGCONNECT_TIMEOUT", "10"},
          {"PGAPPNAME", "shardpool_it"}};
}

std::vector<std::string> psqlArgs(uint16_t port, const std::string& user, const std::string& sql,
                                  const std::string& dbname) {
  return {"psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
          std::to_string(port), "-U", user, "-d", dbname, "-c", sql};
}

}  // namespace shardpool::integration
