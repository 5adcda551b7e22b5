// Validated, immutable configuration. Parsed once from TOML (or built from sidecar flags) and
// shared read-only; a reload builds a new Config and swaps the pointer.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/hba.h"
#include "config/network.h"
#include "config/sharding.h"

namespace shardpool::config {

enum class PoolMode { Session, Transaction, Statement };
// How clients prove who they are to shardpool.
// Cert and Hba may be configured; Peer and Reject come only from an hba rule (config/hba.h).
enum class AuthType : uint8_t { Trust, Password, Md5, ScramSha256, Cert, Hba, Peer, Reject };
enum class LogLevel { Debug, Info, Warn, Error };
// TLS on one side of shardpool, with PgBouncer's sslmode names. Ordered from weakest to
// strongest, so `mode >= TlsMode::Require` means "TLS is mandatory".
//   clients: Disable answers SSLRequest with 'N'; Allow and Prefer use TLS when the client asks;
//     Require refuses clients without TLS; VerifyCa also requires a client certificate signed by
//     client_tls_ca_file; VerifyFull also requires its CN to equal the user name.
//   servers: Allow and Prefer try TLS and fall back to plain when the server refuses; Require
//     uses TLS without checking the certificate; VerifyCa checks its chain against the CA file;
//     VerifyFull also checks the host name.
enum class TlsMode { Disable, Allow, Prefer, Require, VerifyCa, VerifyFull };
// Which host of a database's host list a new server connection tries first (PgBouncer's
// load_balance_hosts): the next one in turn, or the one that worked last. Either way a host
// that cannot be reached is skipped for the next.
enum class LoadBalanceHosts { RoundRobin, Disable };
// The wire protocol a database's clients and servers speak. Its clients connect on that
// protocol's port (listen_port; mysql_listen_port).
enum class Protocol : uint8_t { Postgres, MySql };
inline constexpr size_t kProtocolCount = 2;

std::string_view toString(PoolMode m);
std::string_view toString(AuthType a);
std::string_view toString(LogLevel l);
std::string_view toString(TlsMode m);  // "disable", "allow", ..., "verify-ca", "verify-full"
std::string_view toString(LoadBalanceHosts l);  // "round-robin", "disable"
std::string_view toString(Protocol p);          // "postgres", "mysql"

// PgBouncer's default auth_query (1.22+): no password once VALID UNTIL has passed, and only roles
// that may log in.
inline constexpr std::string_view kDefaultAuthQuery =
    "SELECT rolname, CASE WHEN rolvaliduntil < now() THEN NULL ELSE rolpassword END FROM "
    "pg_authid WHERE rolname=$1 AND rolcanlogin";

struct General {
  std::string listenAddr = "127.0.0.1";
  uint16_t listenPort = 6432;
  // The port MySQL clients connect on (databases with protocol = "mysql"), on listen_addr;
  // 0: none.
  uint16_t mysqlListenPort = 0;
  // The auth plugin the MySQL greeting proposes: false mysql_native_password (MariaDB's
  // default), true caching_sha2_password (MySQL 8's: its clients answer with it at once).
  bool mysqlCachingSha2 = false;
  unsigned workers = 0;  // 0: one per core
  // A unix socket for clients, <dir>/.s.PGSQL.<listen_port> (PgBouncer's); empty: none. Its
  // file mode and group (empty: shardpool's own).
  std::string unixSocketDir;
  uint32_t unixSocketMode = 0777;
  std::string unixSocketGroup;
  uint32_t maxClientConn = 1000;
  PoolMode poolMode = PoolMode::Session;
  uint32_t defaultPoolSize = 20;
  AuthType authType = AuthType::ScramSha256;
  // The rules auth_type "hba" takes each login's method from (PgBouncer's auth_hba_file, in the
  // pg_hba.conf format: config/hba.h); read when the configuration loads, so a reload re-reads
  // it. Empty: none (auth_type "hba" is then refused).
  std::string authHbaFile;
  std::shared_ptr<const HbaRules> hba;
  std::string serverResetQuery = "DISCARD ALL";
  // Run on each new server connection after its login, before any client uses it (PgBouncer's
  // connect_query, here also a default for databases that set none); empty: none.
  std::string connectQuery;
  Duration queryWaitTimeout = std::chrono::seconds(120);
  Duration serverIdleTimeout = std::chrono::seconds(600);
  Duration serverLifetime = std::chrono::seconds(3600);
  Duration serverConnectTimeout = std::chrono::seconds(15);
  Duration shutdownTimeout = std::chrono::seconds(30);
  // SUSPEND: sockets whose writes are not flushed this long after it are closed (0: wait).
  Duration suspendTimeout = std::chrono::seconds(10);
  LogLevel logLevel = LogLevel::Info;
  // Pool sizing and caps. 0 turns the reserve, the minimum and the caps off.
  uint32_t minPoolSize = 0;      // servers kept open per pool, even when idle
  uint32_t reservePoolSize = 0;  // extra servers per pool once a client waited reservePoolTimeout
  Duration reservePoolTimeout = std::chrono::seconds(5);  // 0: the reserve is never used
  uint32_t maxDbConnections = 0;    // per database, across all its pools (users)
  uint32_t maxUserConnections = 0;  // per user, across all databases
  // Client timeouts; 0 is off.
  Duration queryTimeout{0};            // cancel a query running longer; the client gets an error
  Duration idleTransactionTimeout{0};  // disconnect a client idle inside a transaction this long
  Duration clientLoginTimeout = std::chrono::seconds(60);  // startup + authentication
  Duration clientIdleTimeout{0};       // disconnect a client idle outside a transaction this long
  // Failed-login back-off, per client address (IPv6: per /64). Once an address has
  // authFailureThreshold failed logins, each new login from it waits authFailureDelay before
  // its authentication starts, doubling with every further failure up to authFailureMaxDelay;
  // logins from one address wait in turn. Its failures are forgotten authFailureWindow after
  // the last one. A threshold or delay of 0 turns it off; trusted networks never wait.
  uint32_t authFailureThreshold = 5;
  Duration authFailureDelay = std::chrono::milliseconds(500);
  Duration authFailureMaxDelay = std::chrono::seconds(10);
  Duration authFailureWindow = std::chrono::seconds(60);
  std::vector<Network> authFailureTrustedNetworks;
  // Named protocol-level prepared statements kept per server connection in transaction and
  // statement mode; 0 turns tracking off.
  uint32_t maxPreparedStatements = 200;
  // TLS with clients. Paths are checked for readability when the configuration loads.
  TlsMode clientTlsSslmode = TlsMode::Disable;
  std::string clientTlsCertFile;  // required unless clientTlsSslmode is Disable
  std::string clientTlsKeyFile;   // required unless clientTlsSslmode is Disable
  std::string clientTlsCaFile;    // required for VerifyCa and VerifyFull
  // TLS with servers: the default for databases that set no sslmode / sslrootcert.
  TlsMode serverTlsSslmode = TlsMode::Disable;
  std::string serverTlsCaFile;    // needed for VerifyCa and VerifyFull unless every database
                                  // sets sslrootcert
  std::string serverTlsCertFile;  // optional client certificate shown to servers, with its key
  std::string serverTlsKeyFile;
  // The admin console (virtual database "shardpool", also "pgbouncer"): admin users may run
  // every command; stats users only SHOW. Both must be configured users (they log in with
  // their [users] password).
  std::vector<std::string> adminUsers;
  std::vector<std::string> statsUsers;
  // Prometheus text endpoint at http://metrics_addr:metrics_port/metrics; port 0 turns it off.
  std::string metricsAddr = "127.0.0.1";
  uint16_t metricsPort = 0;
  // Unix socket a newer shardpool started with --takeover asks for the listening sockets
  // (zero-downtime upgrade); empty: no hand-over.
  std::string takeoverSocket;
  // Health checks of databases with standbys (replicas), and failover. Probes run every
  // interval (0: off), each bounded by the timeout; a backend is down after `failures` failed
  // probes in a row. They log in as the database's forced user, else as health_check_user.
  Duration healthCheckInterval = std::chrono::seconds(1);
  Duration healthCheckTimeout = std::chrono::seconds(1);
  uint32_t healthCheckFailures = 3;
  std::string healthCheckUser;
  std::string healthCheckPassword;
  // While a database has no primary, its clients wait this long for one (0: query_wait_timeout).
  Duration failoverWaitTimeout = std::chrono::seconds(30);
  // Promote the most advanced healthy standby (pg_promote()) when the primary is down; off: wait
  // for a promotion done elsewhere and follow it.
  bool autoPromote = false;
  // A standby marked down is not used for reads until this long has passed AND a probe has
  // succeeded after it (0: it rejoins at its first successful probe). PgCat's ban_time.
  Duration replicaBanTime = std::chrono::seconds(60);
  // PgBouncer settings with no effect in shardpool, kept as given (key -> value as text) so that
  // SHOW CONFIG shows what a PgBouncer script SET (config/pgbouncer_settings.h).
  std::map<std::string, std::string, std::less<>> pgbouncerOnly;
  // Password lookup in the database (PgBouncer's auth_user / auth_query / auth_dbname): a client
  // whose user has no password in [users] gets its secret from authQuery ($1: the user name),
  // run as authUser (whose password is in [users]) in authDbname (empty: the client's database)
  // on the database's server. Empty authUser: no lookup. Results are cached authQueryCacheTtl
  // (0: not cached); one lookup may take authQueryTimeout, connecting included.
  std::string authUser;
  std::string authQuery = std::string(kDefaultAuthQuery);
  std::string authDbname;
  Duration authQueryCacheTtl = std::chrono::seconds(60);
  Duration authQueryTimeout = std::chrono::seconds(5);
};

// A database clients can name in their startup packet. The name "*" is a fallback that serves
// any database name by passing it through to the backend. host, port, dbname, sslmode and
// sslrootcert are its server when unsharded, and the defaults for its shards when sharded;
// Config::shardsOf gives the effective servers either way.
struct Database {
  std::string name;
  // PostgreSQL or MySQL. A MySQL database is served to clients of mysql_listen_port only, and
  // has no sharding, replicas, auth_query or server TLS yet (config/validate_mysql.cpp).
  Protocol protocol = Protocol::Postgres;
  std::string host = "127.0.0.1";  // or a unix-socket directory starting with '/'
  uint16_t port = 5432;            // 3306 for a MySQL database
  // host = "a,b,c" (or an array): every host in order, `host` being the first; `port` may give
  // one port per host (`ports`, port being the first). Both empty for a single host.
  std::vector<std::string> hosts;
  std::vector<uint16_t> ports;
  LoadBalanceHosts loadBalanceHosts = LoadBalanceHosts::RoundRobin;
  std::string dbname;                   // backend database name; empty: same as `name`
  std::optional<std::string> user;      // forced backend user; unset: the client's user
  std::optional<std::string> password;  // backend password for the forced user
  std::optional<uint32_t> poolSize;
  std::optional<PoolMode> poolMode;
  // Unset: the [general] value. Set to 0, max_db_connections is unlimited for this database.
  std::optional<uint32_t> minPoolSize;
  std::optional<uint32_t> reservePoolSize;
  std::optional<uint32_t> maxDbConnections;
  std::optional<std::string> connectQuery;  // unset: general.connect_query; "": none
  // Password lookup for this database's clients (unset: general's auth_user / auth_query /
  // auth_dbname).
  std::optional<std::string> authUser;
  std::optional<std::string> authQuery;
  std::optional<std::string> authDbname;
  // Unset: general.server_tls_sslmode / general.server_tls_ca_file. TLS is never used to a
  // unix-socket host.
  std::optional<TlsMode> sslmode;
  std::optional<std::string> sslrootcert;
  // Sharding and replicas (sharding.h), backends as written. Unsharded: `shards` is empty and
  // `replicas` are read replicas of host. Sharded: `replicas` is empty; a shard's index is its
  // position. shardingFunction is set when there is more than one shard, and `directory`
  // exactly when it is Directory. defaultShard serves statements on tables without a rule;
  // allowUnkeyedWrites lets an UPDATE/DELETE on a sharded table without its key go everywhere.
  std::vector<Backend> replicas;
  std::vector<Shard> shards;
  ShardingFunction shardingFunction = ShardingFunction::None;
  std::optional<uint32_t> defaultShard;
  ReadFrom readFrom = ReadFrom::Primary;
  bool allowUnkeyedWrites = false;
  TableRules tables;
  std::optional<Directory> directory;

  bool sharded() const { return !shards.empty(); }
};

struct User {
  std::string name;
  // Plaintext, "md5" + 32 hex digits (md5 of password+username), or a SCRAM secret
  // "SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>". Empty with auth trust.
  std::string password;
  std::optional<AuthType> authType;
  std::optional<uint32_t> poolSize;
  std::optional<PoolMode> poolMode;
  std::optional<uint32_t> maxUserConnections;  // unset: general's; 0: unlimited for this user
};

// A `--set key.path=value` override, applied on top of the file (or of sidecar defaults).
struct Override {
  std::string keyPath;
  std::string value;  // parsed as a TOML value; bare words are taken as strings
};

// Sidecar mode: one backend from a URL, no file.
struct SidecarOptions {
  std::string listen;      // "host:port"
  std::string backendUrl;  // postgres://user:pass@host:port/db (password may come from PGPASSWORD)
};

// Where a Config came from, so that RELOAD and a live SET can build the next one the same way.
struct ConfigOrigin {
  enum class Kind { Text, File, Sidecar };
  Kind kind = Kind::Text;
  std::string path;                 // Kind::File
  SidecarOptions sidecar;           // Kind::Sidecar
  std::vector<Override> overrides;  // --set flags, then live SETs, in order
};

struct Config {
  std::string sourcePath;  // file it came from; empty for sidecar flags
  ConfigOrigin origin;
  General general;
  std::map<std::string, Database, std::less<>> databases;
  std::map<std::string, User, std::less<>> users;

  // Exact name first, then the "*" fallback; nullptr when neither exists.
  const Database* findDatabase(std::string_view name) const;
  const User* findUser(std::string_view name) const;
  // Effective settings for a (database, user) pair: user overrides database overrides general.
  // A user's "session" does not apply to a database with more than one shard (its own mode does).
  PoolMode poolModeFor(const Database& db, const User* user) const;
  uint32_t poolSizeFor(const Database& db, const User* user) const;
  AuthType authTypeFor(const User* user) const;
  // The auth type a login as `user` runs: authTypeFor, except that md5 with a SCRAM secret runs
  // scram-sha-256 (as PgBouncer does).
  AuthType loginAuthTypeFor(const User* user) const;
  // The method a login as `user` over `client` runs: loginAuthTypeFor, except that "hba" gives
  // the method of the first auth_hba_file rule that matches (`rule`, when given, is set to it),
  // and Reject when none does.
  AuthType loginMethodFor(const User* user, const HbaClient& client,
                          const HbaRule** rule = nullptr) const;
  // Why `user` cannot log in with that auth type (no password; an md5 hash under
  // scram-sha-256), for the log at login and the warning at load; nullopt when it can. Such a
  // user is accepted in the configuration, as PgBouncer accepts it, and fails only its own
  // logins.
  std::optional<std::string> loginProblemFor(const User& user) const;
  // The same for a login running `auth` (a method an hba rule chose); `from` is appended to
  // the auth type's name in the message.
  static std::optional<std::string> loginProblem(const User& user, AuthType auth,
                                                 std::string_view from = "");
  // Per-database and per-user settings: the database's (or user's) value, else general's.
  uint32_t minPoolSizeFor(const Database& db) const;
  uint32_t reservePoolSizeFor(const Database& db) const;
  uint32_t maxDbConnectionsFor(const Database& db) const;  // 0: unlimited
  uint32_t maxUserConnectionsFor(const User* user) const;  // 0: unlimited
  const std::string& connectQueryFor(const Database& db) const;  // "": none
  // Password lookup for `db`'s clients: the database's auth_user, auth_query and auth_dbname,
  // else general's. authUserFor is "" when no lookup is configured; authDbnameFor is "" for the
  // client's own database.
  const std::string& authUserFor(const Database& db) const;
  const std::string& authQueryFor(const Database& db) const;
  const std::string& authDbnameFor(const Database& db) const;
  // TLS towards a database's servers: the database's sslmode / sslrootcert, else general's.
  // The CA file is empty when neither is set.
  TlsMode serverTlsModeFor(const Database& db) const;
  const std::string& serverTlsCaFileFor(const Database& db) const;
  // The database's servers with every default filled in. Unsharded: one shard named "shard0"
  // made of host, port, dbname, sslmode, sslrootcert and `replicas`. Sharded: its shards, each
  // unset field taken from the database (a replica's: from its shard). dbname is the database's
  // name when unset, and stays empty only for "*" (the client's database name). sslmode and
  // sslrootcert stay unset when general's apply. Allocates: call it at load, not per query.
  std::vector<Shard> shardsOf(const Database& db) const;
};

// One problem found while loading. `line`/`column` are 0 when unknown.
struct ConfigError {
  std::string file;
  uint32_t line = 0;
  uint32_t column = 0;
  std::string keyPath;  // e.g. "databases.app.pool_size"
  std::string message;
  std::string format() const;  // "file:line:col: key: message"
};


struct LoadResult {
  std::shared_ptr<const Config> config;  // null when errors is non-empty
  std::vector<ConfigError> errors;
  // Accepted, but worth a log line: a value shardpool capped (min_pool_size above the pool
  // size), a user who cannot log in with its auth type. Logged at start, reload and SET.
  std::vector<ConfigError> warnings;
  bool ok() const { return config != nullptr; }
};

// Parses and validates. `${NAME}` inside string values is replaced by the environment variable
// NAME (an error names the key when NAME is unset; `$${` escapes a literal "${").
LoadResult loadFile(const std::string& path, const std::vector<Override>& overrides = {});
LoadResult loadString(std::string_view toml, std::string_view sourceName,
                      const std::vector<Override>& overrides = {});

// Sidecar mode: one backend from a URL, no file (see SidecarOptions).
LoadResult fromSidecar(const SidecarOptions& opts, const std::vector<Override>& overrides = {});

// Builds the next configuration the way `current` was built (re-reading its file), with `extra`
// overrides added after its own. Text-built configurations cannot be reloaded (an error says so).
LoadResult reloadConfig(const Config& current, const std::vector<Override>& extra = {});

// Settings that only take effect at start-up (listen address, workers, metrics endpoint, client
// TLS files). A key path such as "general.listen_port"; `keyPath` without a section is taken as
// a [general] key.
bool needsRestart(std::string_view keyPath);
// The restart-only keys whose values differ between `running` and `next`.
std::vector<std::string> restartOnlyChanges(const Config& running, const Config& next);
// Copies the restart-only values of `running` into `next` (what a reload can apply).
void keepRestartOnly(Config& next, const Config& running);
// One [general] setting as text, for SHOW CONFIG: every key with its value and default.
struct SettingView {
  std::string key;
  std::string value;
  std::string defaultValue;
  bool changeable;  // false: restart-only
};
std::vector<SettingView> describeGeneral(const Config& config);

// A console SET of a PgBouncer key that shardpool spells differently, rewritten in place:
// general.verbose = N becomes general.log_level = "debug" (N > 0) or "info" (N = 0). False
// with `error` for a value the key does not take; other keys are left as they are.
bool translateLiveSet(std::string& keyPath, std::string& value, std::string& error);

// Parses "key.path=value" into an Override; nullopt on a malformed string.
std::optional<Override> parseOverride(std::string_view text);

}  // namespace shardpool::config
