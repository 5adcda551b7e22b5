// What a health probe of one backend reports, what it is pointed at, and the connection that
// runs it: PostgreSQL's (libpq, health_checker.cpp) or MySQL's (mysql_probe.h). A probe keeps
// its connection open between runs; a run that fails closes it and the next one reconnects.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "config/config.h"
#include "pooler/net/tls.h"

namespace shardpool::pooler::health {

using Clock = std::chrono::steady_clock;

struct ProbeResult {
  bool ok = false;
  // PostgreSQL: pg_is_in_recovery(). MySQL: read_only (or super_read_only) is on: the server
  // takes no writes, as a replica.
  bool inRecovery = false;
  // How far the server's data goes, comparable between the members of one cluster.
  // PostgreSQL: standbys the last replayed LSN, primaries the current LSN. MySQL: the number of
  // transactions in its executed GTID set (gtid_executed; MariaDB: the sum of the sequence
  // numbers of gtid_current_pos's domains).
  uint64_t walPosition = 0;
  std::string error;  // why the probe failed
  std::chrono::microseconds latency{0};
};

// A MySQL or MariaDB backend: where, who, and the TLS the database's pools use.
struct MysqlEndpoint {
  std::string host;
  uint16_t port = 3306;
  std::string user;
  std::string password;  // plaintext
  std::string dbname;
  config::TlsMode tlsMode = config::TlsMode::Disable;
  std::shared_ptr<TlsContext> tls;  // for tlsMode != Disable
  std::string tlsError;             // why `tls` is null
  friend bool operator==(const MysqlEndpoint& a, const MysqlEndpoint& b) {
    return a.host == b.host && a.port == b.port && a.user == b.user &&
           a.password == b.password && a.dbname == b.dbname && a.tlsMode == b.tlsMode;
  }
};

struct ProbeTarget {
  std::string key;       // stable identity, e.g. "app/shard0/10.0.0.1:5432"
  std::string conninfo;  // PostgreSQL: libpq conninfo (host, port, dbname, user, password, ...)
  std::optional<MysqlEndpoint> mysql;  // set for a MySQL backend (conninfo unused)
};

// One backend's connection and the probe (or one-shot action) running on it.
class ProbeConnection {
 public:
  using Done = std::function<void(ProbeConnection&, const ProbeResult&)>;
  virtual ~ProbeConnection() = default;
  // Starts a run bounded by `timeout` (connect included); ignored while one runs.
  virtual void begin(std::chrono::milliseconds timeout) = 0;
  virtual bool busy() const = 0;
  // Whether this connection serves `target` as it is (else a new one replaces it).
  virtual bool serves(const ProbeTarget& target) const = 0;
  const std::string& key() const { return key_; }

 protected:
  explicit ProbeConnection(std::string key) : key_(std::move(key)) {}

 private:
  std::string key_;
};

}  // namespace shardpool::pooler::health
