// Integration harness, MySQL side: the throwaway MariaDB primary and replica that the ctest
// fixture "mariadb" starts (scripts/mariadb-cluster.sh), and the `mariadb` CLI as a client.
// Everything here may throw std::runtime_error: Catch2 reports it as a test failure.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "integration/harness.h"

namespace shardpool::integration {

// One server as its env file describes it (MYSQL_PORT, MYSQL_SOCKET, ROLE, SP_*_PASSWORD, ...).
class MariaDbServer {
 public:
  explicit MariaDbServer(std::map<std::string, std::string> env) : env_(std::move(env)) {}
  std::string value(const std::string& key) const;  // throws when missing
  uint16_t port() const;

 private:
  std::map<std::string, std::string> env_;
};

// The fixture's servers, loaded once: $SHARDPOOL_IT_MARIADB_ENV and
// $SHARDPOOL_IT_MARIADB_REPLICA_ENV (a replica of the primary, read_only=ON).
const MariaDbServer& mariadbPrimary();
const MariaDbServer& mariadbReplica();

// An error as the mariadb CLI prints it: "ERROR 1045 (28000) at line 1: Access denied ...".
struct MyError {
  int code = 0;          // 0: no ERROR line in the output (e.g. the client itself failed)
  std::string sqlstate;  // "28000"
  std::string message;   // the text after the colon
};
MyError myErrorFromText(const std::string& text);

using MyRow = std::vector<std::string>;  // columns as batch mode prints them (NULL as "NULL")

// `mariadb --no-defaults` over TCP to 127.0.0.1:port as one user, in batch mode without column
// names; each call is one client process (one connection) with a bounded run time.
class MariaDbCli {
 public:
  MariaDbCli(uint16_t port, std::string user, std::string password, std::string database = "sp_db");

  // Send comments to the server (--comments): the CLI strips them by default.
  MariaDbCli& keepComments() {
    comments_ = true;
    return *this;
  }
  // The CLI's exit code and output for `sql` (several statements allowed).
  CommandResult run(const std::string& sql, Ms timeout = 30s) const;
  // The rows `sql` prints (of every result set, in order); throws on an error.
  std::vector<MyRow> query(const std::string& sql, Ms timeout = 30s) const;
  // The single value `sql` returns; throws unless there is exactly one row of one column.
  std::string scalar(const std::string& sql, Ms timeout = 30s) const;
  // The error `sql` must fail with; throws when it succeeds.
  MyError expectError(const std::string& sql, Ms timeout = 30s) const;

 private:
  uint16_t port_;
  std::string user_;
  std::string password_;
  std::string database_;
  bool comments_ = false;
};

// A throwaway MariaDB server of a test's own (scripts/mariadb-cluster.sh), beside the shared
// fixture: for tests that kill one (failover). Given a primary, a replica of it (binlog
// replication by GTID, read_only=ON).
class MariaDbCluster {
 public:
  explicit MariaDbCluster(const MariaDbCluster* primary = nullptr);
  ~MariaDbCluster();
  MariaDbCluster(const MariaDbCluster&) = delete;
  MariaDbCluster& operator=(const MariaDbCluster&) = delete;

  std::string dir() const { return tmp_.path() + "/cluster"; }
  uint16_t port() const;
  std::string value(const std::string& key) const { return env_.at(key); }
  MariaDbCli admin() const;  // sp_admin (every privilege) on sp_db
  // `scripts/mariadb-cluster.sh COMMAND DIR` (crash, restart, promote); throws on failure.
  void run(const std::string& command) const;

 private:
  TempDir tmp_;
  std::map<std::string, std::string> env_;
};

}  // namespace shardpool::integration
