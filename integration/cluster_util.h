// A throwaway PostgreSQL server of a test's own (scripts/pg-cluster.sh), next to the shared "pg"
// fixture: for tests that need several servers (shards) or kill one (failover).
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>

#include "integration/harness.h"

namespace shardpool::integration {

class Cluster {
 public:
  // Primary: `scripts/pg-cluster.sh start`; standby: `standby PRIMARY DIR`.
  explicit Cluster(const Cluster* primary = nullptr) {
    std::string script = sourceDir() + "/scripts/pg-cluster.sh";
    auto r = primary ? runCommand({script, "standby", primary->dir(), dir()}, {}, 120s)
                     : runCommand({script, "start", dir()}, {}, 120s);
    if (r.exitCode != 0) throw std::runtime_error("pg-cluster.sh failed:\n" + r.all());
    env_ = readEnvFile(dir() + "/env");
  }
  ~Cluster() { runCommand({sourceDir() + "/scripts/pg-cluster.sh", "stop", dir()}, {}, 60s); }
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  std::string dir() const { return tmp_.path() + "/cluster"; }
  uint16_t port() const { return static_cast<uint16_t>(std::stoi(env_.at("PGPORT"))); }
  std::string value(const std::string& k) const { return env_.at(k); }
  // sp_admin (superuser) on `dbname`.
  std::string conninfo(const std::string& dbname = "sp_db") const {
    return "host=127.0.0.1 port=" + std::to_string(port()) + " dbname=" + dbname +
           " user=sp_admin password=admin_pass";
  }
  Conn admin(const std::string& dbname = "sp_db") const { return Conn(conninfo(dbname)); }
  void run(const std::string& command) const {
    auto r = runCommand({sourceDir() + "/scripts/pg-cluster.sh", command, dir()}, {}, 60s);
    if (r.exitCode != 0) throw std::runtime_error("pg-cluster.sh " + command + ":\n" + r.all());
  }

 private:
  TempDir tmp_;
  std::map<std::string, std::string> env_;
};

}  // namespace shardpool::integration
