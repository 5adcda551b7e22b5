// The published directory maps (directory sharding), one per database, and what the admin
// console shows of them. The control loop publishes (pooler/directory_loader.h); workers read.
//
// A worker keeps the shared_ptr it got and compares version() with the one it saw then: the
// version changes with every publication or removal, so an unchanged version means every
// pointer it holds is current, and reading it costs one atomic load.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "router/directory.h"

namespace shardpool::pooler {

class DirectoryRegistry {
 public:
  // One database's directory, for SHOW DIRECTORY.
  struct Status {
    std::string database;
    std::string source;  // the table as configured, or "file"
    size_t entries = 0, ranges = 0, textKeys = 0;
    uint64_t version = 0;  // publications of this database's map so far; 0: none yet
    std::chrono::system_clock::time_point loadedAt;  // of the published map
    std::string lastError;                           // empty once a load succeeds
  };

  // ---- readers (any thread) ----
  // The map of `db`; null when it has none (not a directory database, or its table has not
  // loaded yet).
  std::shared_ptr<const router::DirectoryMap> get(std::string_view db) const;
  uint64_t version() const { return version_.load(std::memory_order_acquire); }
  std::vector<Status> status() const;  // by database name

  // ---- the control loop ----
  // Declares `db` a directory database whose map comes from `source` (keeps a published map).
  void declare(const std::string& db, const std::string& source);
  void publish(const std::string& db, std::shared_ptr<const router::DirectoryMap> map);
  // Withdraws the map of `db` (its shards changed so that the map names one that is gone).
  void withdraw(const std::string& db);
  // Sets the error of the last attempt ("" after a success); returns whether it changed.
  bool setError(const std::string& db, const std::string& error);
  // Forgets every database not in `keep`.
  void retain(const std::set<std::string, std::less<>>& keep);

 private:
  struct Slot {
    std::shared_ptr<const router::DirectoryMap> map;
    Status status;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Slot, std::less<>> slots_;
  std::atomic<uint64_t> version_{0};
};

}  // namespace shardpool::pooler
