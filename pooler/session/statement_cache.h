// Server-side prepared statements one server connection holds, least recently used first out,
// so a long-lived server in transaction pooling keeps at most max_prepared_statements.
#pragma once

#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

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
  }
  void remove(const std::string& name) {
    auto it = index_.find(name);
    if (it == index_.end()) return;
    lru_.erase(it->second);
    index_.erase(it);
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
  }
  // The server refused to run the statement because its plan no longer fits (a schema change:
  // "cached plan must not change result type"): it is no longer offered as prepared, and the
  // next Parse of it closes the server's copy first (takeStale).
  void markStale(const std::string& name) {
    remove(name);
    stale_.insert(name);
  }
  bool takeStale(const std::string& name) { return stale_.erase(name) != 0; }

 private:
  std::list<std::string> lru_;
  std::unordered_map<std::string, std::list<std::string>::iterator> index_;
  std::unordered_set<std::string> stale_;
};

}  // namespace shardpool::pooler
