// Server-side prepared statements one server connection holds, least recently used first out,
// so a long-lived server in transaction pooling keeps at most max_prepared_statements.
#pragma once

#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <atomic>

namespace shardpool::pooler {

class StatementCache {
 public:
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  void touch(const std::string& name) {
    auto it = index_.find(name);
    if (it != index_.end()) lru_.splice(lru_.end(), lru_, it->second);
  }
  void add(const std::string& name) {
    if (contains(name)) {
      touch(name);
      return;
    }
    lru_.push_back(name);
    index_.emplace(name, std::prev(lru_.end()));
    preparedAt_[name] = nextSequence();
  }
  // When this server prepared `name` (see nextSequence); 0 when it does not hold it.
  uint64_t preparedAt(const std::string& name) const {
    auto it = preparedAt_.find(name);
    return it == preparedAt_.end() ? 0 : it->second;
  }
  // A process-wide order of prepares and schema-change discoveries.
  static uint64_t nextSequence() { return ++sequence_; }
  void remove(const std::string& name) {
    auto it = index_.find(name);
    if (it == index_.end()) return;
    lru_.erase(it->second);
    index_.erase(it);
    preparedAt_.erase(name);
  }
  // With `cap` entries or more, removes and returns the least recently used one.
  std::optional<std::string> evictIfFull(size_t cap) {
    if (cap == 0 || lru_.size() < cap) return std::nullopt;
    std::string victim = lru_.front();
    remove(victim);
    return victim;
  }
  size_t size() const { return lru_.size(); }
  void clear() {
    lru_.clear();
    index_.clear();
    stale_.clear();
    preparedAt_.clear();
  }
  // The server refused to run the statement because its plan no longer fits (a schema change:
  // "cached plan must not change result type"). The server keeps its copy, so that clients that
  // prepared it before the change keep getting that error, as on a dedicated connection; a new
  // Parse of the same text is prepared under another name (current()).
  void markStale(const std::string& name) {
    remove(name);
    stale_.emplace(name, std::string());
  }
  bool isStale(const std::string& name) const { return stale_.count(name) != 0; }
  // The name under which a new Parse of the statement named `name` is prepared on this server.
  std::string current(const std::string& name) {
    std::string n = name;
    for (auto it = stale_.find(n); it != stale_.end(); it = stale_.find(n)) {
      if (it->second.empty())
        it->second = n.substr(0, n.find('~')) + "~" + std::to_string(++renames_);
      n = it->second;
    }
    return n;
  }

 private:
  std::list<std::string> lru_;
  std::unordered_map<std::string, std::list<std::string>::iterator> index_;
  std::unordered_map<std::string, std::string> stale_;  // stale name -> its replacement
  // Suffixes of replacement names: unique in the process, so a client's replacement name
  // never meets a different statement of that name on another server.
  static inline std::atomic<uint64_t> renames_{0};
  static inline std::atomic<uint64_t> sequence_{0};
  std::unordered_map<std::string, uint64_t> preparedAt_;
};

}  // namespace shardpool::pooler
