// Loads the directory map of every database with sharding_function = "directory" and publishes
// it in the DirectoryRegistry. Runs on the control loop, never on a worker:
//   - a directory from the file only is built and published at once (at start and each reload);
//   - a directory with a table (conninfo + table) gets a DirectorySource, which keeps one libpq
//     connection, LISTENs on notify_channel, and reads the table at start, on each reload, on a
//     NOTIFY and, when a cheap check finds it changed, every refresh_interval
//     (directory_source.h). The rows, plus the file's entries, are built into a map on a libuv
//     thread-pool thread (uv_queue_work: a million rows take a while) and published from the loop.
// A failed read or a map that would not build changes nothing: the last good map stays, the
// error is shown in SHOW DIRECTORY and logged once each time it changes.
#pragma once

#include <uv.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"
#include "pooler/directory/directory_registry.h"
#include "pooler/directory/directory_source.h"
#include "router/directory.h"

namespace shardpool::pooler {

class DirectoryLoader {
 public:
  DirectoryLoader(uv_loop_t* loop, DirectoryRegistry& registry);
  ~DirectoryLoader();
  DirectoryLoader(const DirectoryLoader&) = delete;
  DirectoryLoader& operator=(const DirectoryLoader&) = delete;

  // At start and after each reload (control loop): databases added, removed or changed. A
  // database whose directory did not change keeps its connection and map, and reads its table
  // again.
  void configure(const config::Config& cfg);
  // Closes every connection; builds still running are dropped when they finish. The loop must
  // run once more for the handles.
  void stop();

 private:
  // What a database's map is made of; a change of any of it starts the database afresh.
  struct Spec {
    std::vector<std::string> shardNames;
    std::optional<uint32_t> defaultShard;
    std::vector<config::DirectoryEntry> fileEntries;
    std::optional<config::DirectorySource> source;
    bool operator==(const Spec& other) const;
  };
  struct Database {
    std::string name;
    uint64_t id = 0;  // tells a build for this Database from one for its predecessor
    Spec spec;
    std::unique_ptr<DirectorySource> source;
  };
  struct BuildJob;

  static Spec specOf(const config::Database& db);
  static router::DirectoryMap::Options optionsOf(const Spec& spec);
  void startSource(Database& db);
  void publishFileOnly(const Database& db);
  void startBuild(Database& db, std::vector<config::DirectoryEntry> rows);
  static void onWork(uv_work_t* req);
  static void onBuilt(uv_work_t* req, int status);
  void finishBuild(BuildJob& job);
  void reportError(const std::string& db, const std::string& error);

  uv_loop_t* loop_;
  DirectoryRegistry& registry_;
  std::map<std::string, std::unique_ptr<Database>> databases_;
  std::set<BuildJob*> jobs_;  // queued or running on the thread pool
  uint64_t nextId_ = 1;
  bool stopped_ = false;  // a configure() after stop() (a reload during shutdown) does nothing
};

}  // namespace shardpool::pooler
