// Harness: Debian's PgBouncer as a child process of the test (see pgbouncer_process.h).
#include "integration/pgbouncer_process.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "integration/harness_util.h"

namespace shardpool::integration {

using detail::fail;

namespace {

// The account PgBouncer runs as when the test runs as root; nullptr otherwise.
const passwd* pgbouncerAccount() {
  if (::geteuid() != 0) return nullptr;
  const passwd* pw = ::getpwnam("postgres");
  if (pw == nullptr) throw fail("running as root, and there is no postgres user to run PgBouncer");
  return pw;
}

// In the child, before exec: become `pw`, and die with the test process (set after the user
// change, which clears it). Returns false when something failed (the child then exits).
bool becomeAccount(const passwd* pw, pid_t parent) {
  if (pw != nullptr && (::initgroups(pw->pw_name, pw->pw_gid) != 0 || ::setgid(pw->pw_gid) != 0 ||
                        ::setuid(pw->pw_uid) != 0)) {
    return false;
  }
  return ::prctl(PR_SET_PDEATHSIG, SIGKILL) == 0 && ::getppid() == parent;
}

}  // namespace

std::string pgbouncerVersion() {
  auto r = runCommand({kPgbouncerBin, "--version"}, {}, 10s);
  if (r.exitCode != 0) {
    throw fail(std::string(kPgbouncerBin) +
               " --version failed (scripts/install-deps.sh installs "
               "it): " +
               r.all());
  }
  return r.out.substr(0, r.out.find('\n'));
}

void handOver(const TempDir& dir) {
  const passwd* pw = pgbouncerAccount();
  if (pw == nullptr) return;
  namespace fs = std::filesystem;
  auto give = [&](const fs::path& p) {
    if (::chown(p.c_str(), pw->pw_uid, pw->pw_gid) != 0)
      throw fail("chown " + p.string() + ": " + std::strerror(errno));
  };
  give(dir.path());
  for (const auto& entry : fs::recursive_directory_iterator(dir.path())) give(entry.path());
}

PgBouncer::PgBouncer(const std::string& iniPath, uint16_t port, std::string logPath)
    : logPath_(std::move(logPath)) {
  const passwd* pw = pgbouncerAccount();
  int logFd = ::open(logPath_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (logFd < 0) throw fail("open " + logPath_ + ": " + std::strerror(errno));
  std::string bin = kPgbouncerBin;
  std::string ini = iniPath;
  char* argv[] = {bin.data(), ini.data(), nullptr};
  pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) {
    ::close(logFd);
    throw fail("fork: " + std::string(std::strerror(errno)));
  }
  if (pid_ == 0) {
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(logFd, 1);
    ::dup2(logFd, 2);
    if (!becomeAccount(pw, parent)) {
      const char msg[] = "PgBouncer: cannot switch to the postgres user\n";
      (void)!::write(2, msg, sizeof msg - 1);
      ::_exit(126);
    }
    ::execv(argv[0], argv);
    const char msg[] = "PgBouncer: exec failed\n";
    (void)!::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::close(logFd);

  auto deadline = Clock::now() + 10s;
  while (!detail::portAccepts(port)) {
    if (!running() || Clock::now() >= deadline) {
      std::string why = "PgBouncer did not accept connections on port " + std::to_string(port) +
                        " within 10 s (exit status " + std::to_string(status_.value_or(-1)) +
                        ")\nlog:\n" + log();
      stop();
      throw fail(why);
    }
    std::this_thread::sleep_for(20ms);
  }
}

PgBouncer::~PgBouncer() {
  stop();
}

std::optional<int> PgBouncer::stop() {
  // SIGINT is PgBouncer's safe shutdown; its clients are gone by now.
  for (int sig : {SIGINT, SIGKILL}) {
    if (!running()) break;
    ::kill(pid_, sig);
    auto deadline = Clock::now() + 5s;
    while (running() && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
  }
  return status_;
}

bool PgBouncer::running() {
  if (status_ || pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) != pid_) return true;
  status_ = detail::decodeStatus(status);
  return false;
}

std::string PgBouncer::log() const {
  return readFile(logPath_);
}

}  // namespace shardpool::integration
