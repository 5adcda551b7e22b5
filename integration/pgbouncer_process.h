// Debian's PgBouncer (/usr/sbin/pgbouncer, scripts/install-deps.sh) run by a test, for tests that
// compare shardpool with it. PgBouncer refuses to run as root: as root it runs as the `postgres`
// user, so the files it reads and writes must be that user's (handOver()).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "integration/harness.h"

namespace shardpool::integration {

inline constexpr const char* kPgbouncerBin = "/usr/sbin/pgbouncer";

// The first line of `pgbouncer --version` ("PgBouncer 1.18.0"); throws when it cannot run.
std::string pgbouncerVersion();

// Gives `dir` and everything in it to the user PgBouncer runs as (nothing to do unless root).
void handOver(const TempDir& dir);

// `pgbouncer INI` in the foreground, its output in `logPath`. The constructor waits (10 s at
// most) until `port` accepts TCP connections and throws with the log when it does not. The
// destructor stops it (SIGINT, then SIGKILL after 5 s); it also dies with the test process.
class PgBouncer {
 public:
  PgBouncer(const std::string& iniPath, uint16_t port, std::string logPath);
  ~PgBouncer();
  PgBouncer(const PgBouncer&) = delete;
  PgBouncer& operator=(const PgBouncer&) = delete;

  std::string log() const;
  // Stops it now (as the destructor does); returns its exit status, as Proxy::waitExit.
  std::optional<int> stop();

 private:
  bool running();

  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string logPath_;
};

}  // namespace shardpool::integration
