// Harness, MySQL side: the fixture's MariaDB servers and the mariadb CLI.
#include "integration/mariadb_client.h"

#include <regex>

#include "integration/harness_util.h"

namespace shardpool::integration {

using detail::fail;

namespace {

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

MyRow columns(const std::string& line) {
  MyRow row;
  size_t start = 0;
  for (;;) {
    size_t tab = line.find('\t', start);
    row.push_back(line.substr(start, tab - start));
    if (tab == std::string::npos) return row;
    start = tab + 1;
  }
}

}  // namespace

std::string MariaDbServer::value(const std::string& key) const {
  auto it = env_.find(key);
  if (it == env_.end()) throw fail("MariaDB env has no " + key);
  return it->second;
}

uint16_t MariaDbServer::port() const {
  return static_cast<uint16_t>(std::stoi(value("MYSQL_PORT")));
}

#ifndef SHARDPOOL_IT_MARIADB_ENV_DEFAULT
#define SHARDPOOL_IT_MARIADB_ENV_DEFAULT nullptr
#endif
#ifndef SHARDPOOL_IT_MARIADB_REPLICA_ENV_DEFAULT
#define SHARDPOOL_IT_MARIADB_REPLICA_ENV_DEFAULT nullptr
#endif

// A static initialized once (thread-safe); a throw leaves it to the next call.
const MariaDbServer& mariadbPrimary() {
  static const MariaDbServer server(readEnvFile(
      detail::requiredEnv("SHARDPOOL_IT_MARIADB_ENV", SHARDPOOL_IT_MARIADB_ENV_DEFAULT)));
  return server;
}

const MariaDbServer& mariadbReplica() {
  static const MariaDbServer server(readEnvFile(detail::requiredEnv(
      "SHARDPOOL_IT_MARIADB_REPLICA_ENV", SHARDPOOL_IT_MARIADB_REPLICA_ENV_DEFAULT)));
  return server;
}

MyError myErrorFromText(const std::string& text) {
  static const std::regex line(R"(ERROR (\d+) \(([0-9A-Z]{5})\)[^:]*: (.*))");
  MyError error;
  std::smatch m;
  for (const auto& l : lines(text)) {
    if (std::regex_search(l, m, line)) {
      error.code = std::stoi(m[1]);
      error.sqlstate = m[2];
      error.message = m[3];
      break;
    }
  }
  return error;
}

MariaDbCli::MariaDbCli(uint16_t port, std::string user, std::string password, std::string database)
    : port_(port),
      user_(std::move(user)),
      password_(std::move(password)),
      database_(std::move(database)) {}

CommandResult MariaDbCli::run(const std::string& sql, Ms timeout) const {
  // --no-defaults first: nothing of /etc/mysql (its socket, its charset) applies.
  std::vector<std::string> argv = {"mariadb", "--no-defaults", "--protocol=tcp", "-h",
                                   "127.0.0.1", "-P", std::to_string(port_), "-u", user_,
                                   "--password=" + password_, "--batch", "--skip-column-names",
                                   "--connect-timeout=10", "-D", database_};
  if (comments_) argv.push_back("--comments");
  argv.insert(argv.end(), {"-e", sql});
  return runCommand(argv, {}, timeout);
}

std::vector<MyRow> MariaDbCli::query(const std::string& sql, Ms timeout) const {
  auto r = run(sql, timeout);
  if (r.exitCode != 0 || r.timedOut) {
    throw fail("mariadb -P " + std::to_string(port_) + " -u " + user_ + " failed (exit " +
               std::to_string(r.exitCode) + (r.timedOut ? ", timed out" : "") + ") on: " + sql +
               "\n" + r.all());
  }
  std::vector<MyRow> rows;
  for (const auto& l : lines(r.out)) rows.push_back(columns(l));
  return rows;
}

std::string MariaDbCli::scalar(const std::string& sql, Ms timeout) const {
  auto rows = query(sql, timeout);
  if (rows.size() != 1 || rows[0].size() != 1) {
    throw fail("expected one value from: " + sql + " (got " + std::to_string(rows.size()) +
               " rows)");
  }
  return rows[0][0];
}

MyError MariaDbCli::expectError(const std::string& sql, Ms timeout) const {
  auto r = run(sql, timeout);
  if (r.timedOut) throw fail("mariadb timed out on: " + sql);
  if (r.exitCode == 0) throw fail("expected an error, but it succeeded: " + sql + "\n" + r.out);
  auto error = myErrorFromText(r.err);
  if (error.code == 0) throw fail("no ERROR line from mariadb for: " + sql + "\n" + r.all());
  return error;
}

MariaDbCluster::MariaDbCluster(const MariaDbCluster* primary) {
  std::string script = sourceDir() + "/scripts/mariadb-cluster.sh";
  auto r = primary ? runCommand({script, "replica", primary->dir(), dir()}, {}, 120s)
                   : runCommand({script, "start", dir()}, {}, 120s);
  if (r.exitCode != 0) throw fail("mariadb-cluster.sh failed:\n" + r.all());
  env_ = readEnvFile(dir() + "/env");
}

MariaDbCluster::~MariaDbCluster() {
  runCommand({sourceDir() + "/scripts/mariadb-cluster.sh", "stop", dir()}, {}, 60s);
}

uint16_t MariaDbCluster::port() const {
  return static_cast<uint16_t>(std::stoi(env_.at("MYSQL_PORT")));
}

MariaDbCli MariaDbCluster::admin() const {
  return MariaDbCli(port(), "sp_admin", value("SP_ADMIN_PASSWORD"));
}

void MariaDbCluster::run(const std::string& command) const {
  auto r = runCommand({sourceDir() + "/scripts/mariadb-cluster.sh", command, dir()}, {}, 60s);
  if (r.exitCode != 0) throw fail("mariadb-cluster.sh " + command + ":\n" + r.all());
}

}  // namespace shardpool::integration
