// Integration-test harness: the throwaway PostgreSQL started by scripts/pg-cluster.sh (ctest
// fixture "pg"), a running shardpool binary (`Proxy`), libpq helpers and a bounded command runner.
// Everything here may throw std::runtime_error: Catch2 reports it as a test failure.
#pragma once

#include <libpq-fe.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shardpool::integration {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

// ---- environment ---------------------------------------------------------------------------

// KEY=value pairs from $SHARDPOOL_IT_ENV (written by `pg-cluster.sh start`), loaded once.
const std::map<std::string, std::string>& clusterEnv();
// KEY=value lines of an env file (pg-cluster.sh, mariadb-cluster.sh); throws when unreadable.
std::map<std::string, std::string> readEnvFile(const std::string& path);
std::string clusterValue(const std::string& key);  // throws when missing
uint16_t pgPort();
std::string shardpoolBin();  // $SHARDPOOL_BIN
std::string sourceDir();     // $SHARDPOOL_SOURCE_DIR
// A file of the test CA and certificates (scripts/make-test-certs.sh, ctest fixture "certs"):
// $SHARDPOOL_IT_CERTS/name.
std::string testCert(const std::string& name);

// A loopback port that was free a moment ago.
uint16_t freePort();
// A unique suffix for names of tables, roles and channels made by this test process.
std::string uniqueSuffix();
// A fresh directory under /tmp, removed (recursively) with the object.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string write(const std::string& name, std::string_view content) const;  // returns path

 private:
  std::string path_;
};

std::string readFile(const std::string& path);
bool contains(std::string_view haystack, std::string_view needle);
bool containsNoCase(std::string_view haystack, std::string_view needle);

// ---- processes -----------------------------------------------------------------------------

struct CommandResult {
  int exitCode = -1;  // exit status, or 128 + signal number
  bool timedOut = false;
  std::string out;
  std::string err;
  std::string all() const { return out + err; }
};

// Runs argv[0] (PATH lookup) with `env` added to this process's environment; stdin is /dev/null.
// After `timeout` the whole process group is killed (SIGKILL) and timedOut is set.
CommandResult runCommand(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env = {}, Ms timeout = 30s);
// `/bin/sh -c script`.
CommandResult runShell(const std::string& script,
                       const std::map<std::string, std::string>& env = {}, Ms timeout = 30s);

// A shardpool process. The config text (or each extra argument) may contain placeholders:
//   @LISTEN_PORT@  a free port picked for the proxy     @PGPORT@  the test cluster's port
//   @PGHOST@       127.0.0.1                            @SOCKET_DIR@  the cluster's socket dir
//   @MYSQL_LISTEN_PORT@  a free port picked for the proxy's MySQL clients (mysql_listen_port)
// With config text the proxy runs as `shardpool -c FILE [args...]`; with empty text as
// `shardpool [args...]` (sidecar mode). The constructor waits (10 s at most) until the port accepts
// TCP connections, and throws with the proxy's log when it does not. On destruction the log's
// tail goes to stdout (ctest shows it for failed tests), and the whole log is copied into
// $SHARDPOOL_IT_LOG_DIR when that is set.
class Proxy {
 public:
  // `port` 0 picks a free port for @LISTEN_PORT@; another value is used as is (a second
  // process on the same port, for upgrade tests).
  explicit Proxy(std::string tomlTemplate, std::vector<std::string> extraArgs = {},
                 uint16_t port = 0);
  ~Proxy();  // SIGTERM, then SIGKILL after 5 s
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  uint16_t port() const { return port_; }
  // The port picked for @MYSQL_LISTEN_PORT@; 0 when the config has none.
  uint16_t mysqlPort() const { return mysqlPort_; }
  pid_t pid() const { return pid_; }
  const std::string& configPath() const { return configPath_; }
  std::string log() const;  // everything the proxy wrote to stdout/stderr so far
  // Whether the log shows `text` within `timeout` (what the proxy logs after answering a client
  // may come a moment after the client saw the answer).
  bool logShows(const std::string& text, Ms timeout = 3s) const;
  void signal(int sig) const;
  // Writes a new config file in place of the one it runs with (placeholders substituted with
  // the same ports), for a reload.
  void rewriteConfig(const std::string& tomlTemplate) const;
  // Exit status (code, or 128 + signal) once the process has exited; nullopt on timeout.
  std::optional<int> waitExit(Ms timeout);
  bool running();
  // Resident set size (VmRSS) and its peak (VmHWM) in KiB, from /proc/<pid>/status.
  long rssKiB() const;
  long peakRssKiB() const;
  // libpq conninfo for this proxy: "host=127.0.0.1 port=P dbname=DB user=U password=PW ..."
  std::string conninfo(const std::string& user, const std::string& password,
                       const std::string& dbname = "sp_db") const;

 private:
  void stop();

  TempDir dir_;
  uint16_t port_ = 0;
  uint16_t mysqlPort_ = 0;
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string configPath_;
  std::string logPath_;
};

// Replaces the placeholders described above; `listenPort` 0 leaves @LISTEN_PORT@ alone, and
// `mysqlListenPort` 0 @MYSQL_LISTEN_PORT@.
std::string substitute(std::string text, uint16_t listenPort, uint16_t mysqlListenPort = 0);

// ---- libpq ---------------------------------------------------------------------------------

// An error reported by the server (or by the proxy speaking as one), or by libpq.
struct PgError {
  std::string sqlstate;  // empty when libpq failed locally (e.g. connection refused)
  std::string message;   // primary message (or libpq's text)
};

using Row = std::vector<std::optional<std::string>>;
using Rows = std::vector<Row>;

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

// Extracts SQLSTATE + message from a result, or from a verbose libpq error text
// ("...FATAL:  28P01: password authentication failed...").
PgError errorFrom(const PGresult* res);
PgError errorFromText(std::string_view text);

// One libpq connection (RAII). Connecting never takes longer than `timeout`.
class Conn {
 public:
  // `conninfo` gets sslmode=disable gssencmode=disable unless it sets them.
  explicit Conn(const std::string& conninfo, Ms timeout = 10s);
  Conn(Conn&&) = default;
  Conn& operator=(Conn&&) = default;

  bool ok() const { return conn_ && PQstatus(conn_.get()) == CONNECTION_OK; }
  void close() { conn_.reset(); }
  PGconn* get() const { return conn_.get(); }
  const PgError& connectError() const { return connectError_; }
  Ms connectTime() const { return connectTime_; }

  // Runs `sql` (simple protocol, may hold several statements) and returns the last result's rows;
  // throws std::runtime_error on an error or after `timeout`.
  Rows query(const std::string& sql, Ms timeout = 20s);
  // Single value of the first row/column.
  std::string scalar(const std::string& sql, Ms timeout = 20s);
  // Runs `sql` and returns the error it must produce; throws if it succeeds or times out.
  PgError expectError(const std::string& sql, Ms timeout = 20s);
  // Runs `sql`; returns every result (nullptr entry on timeout).
  std::vector<ResultPtr> exec(const std::string& sql, Ms timeout = 20s);
  // Waits for the results of an earlier PQsendQuery (bounded); last is nullptr on timeout.
  std::vector<ResultPtr> collect(Ms timeout);
  // Waits until the socket is readable or `timeout` passes; true when readable.
  bool waitReadable(Ms timeout) const;

 private:
  std::unique_ptr<PGconn, ConnDeleter> conn_;
  PgError connectError_;
  Ms connectTime_{0};
};

// Direct connection to the test cluster (bypassing the proxy).
std::string directConninfo(const std::string& user, const std::string& password,
                           const std::string& dbname = "sp_db");
Conn adminConn();  // sp_admin, superuser
// Client backends of `user` currently connected to the test cluster.
int backendCount(const std::string& user);

// A LOGIN role created on the test cluster for one test (isolates pg_stat_activity counts);
// dropped (after terminating its backends) on destruction.
class TempRole {
 public:
  explicit TempRole(const std::string& prefix, const std::string& password = "role_pass");
  ~TempRole();
  TempRole(const TempRole&) = delete;
  TempRole& operator=(const TempRole&) = delete;
  const std::string& name() const { return name_; }
  const std::string& password() const { return password_; }

 private:
  std::string name_;
  std::string password_;
};

// ---- config snippets -----------------------------------------------------------------------

// [general] listening on 127.0.0.1:@LISTEN_PORT@, then `extra` (TOML lines).
std::string generalSection(const std::string& extra = "");
// [databases.NAME] pointing at the test cluster's sp_db, then `extra`.
std::string clusterDatabase(const std::string& name = "sp_db", const std::string& extra = "");
// [users.NAME] with `password`, then `extra`.
std::string userSection(const std::string& name, const std::string& password,
                        const std::string& extra = "");
// generalSection(generalExtra) + clusterDatabase() + users sp_scram/scram_pass.
std::string standardConfig(const std::string& generalExtra = "");

// Environment for psql/pgbench: PGPASSWORD plus sslmode/gssencmode off and a connect timeout.
std::map<std::string, std::string> clientEnv(const std::string& password);
// psql -X -At -h 127.0.0.1 -p PORT -U USER -d DB -c SQL
std::vector<std::string> psqlArgs(uint16_t port, const std::string& user, const std::string& sql,
                                  const std::string& dbname = "sp_db");

}  // namespace shardpool::integration
