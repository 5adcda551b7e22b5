// A client's protocol-level prepared statement in transaction/statement pooling: its text and
// parameter types, and the name the servers know it by (client_prepared.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace shardpool::pooler {

struct ClientStatement {
  std::string serverName;
  std::string query;
  std::vector<uint32_t> paramTypes;
  // The unnamed statement: scanWords(query).bits, so that a Parse of the same text again (most
  // drivers' one-shot queries) is not scanned again; kWordsUnknown when not known.
  static constexpr uint32_t kWordsUnknown = UINT32_MAX;
  uint32_t wordBits = kWordsUnknown;
};

// A client's statements by the names it gave them: a map allocated with the first one, so that a
// client that never prepares a statement (most idle ones) pays a pointer, not an empty map.
class ClientStatements {
 public:
  using Map = std::unordered_map<std::string, ClientStatement>;
  using iterator = Map::iterator;
  using const_iterator = Map::const_iterator;

  iterator find(const std::string& name) { return map_ ? map_->find(name) : none().end(); }
  const_iterator find(const std::string& name) const {
    return map_ ? map_->find(name) : none().cend();
  }
  iterator end() { return map_ ? map_->end() : none().end(); }
  const_iterator end() const { return map_ ? map_->cend() : none().cend(); }
  size_t count(const std::string& name) const { return map_ ? map_->count(name) : 0; }
  size_t size() const { return map_ ? map_->size() : 0; }

  template <class... Args>
  std::pair<iterator, bool> emplace(Args&&... args) {
    return map().emplace(std::forward<Args>(args)...);
  }
  ClientStatement& operator[](const std::string& name) { return map()[name]; }
  size_t erase(const std::string& name) { return map_ ? map_->erase(name) : 0; }
  iterator erase(iterator it) { return map_->erase(it); }  // `it` from find(), not end()
  void clear() { map_.reset(); }

 private:
  Map& map() {
    if (!map_) map_ = std::make_unique<Map>();
    return *map_;
  }
  // What lookups see before the first statement: always empty, never written to.
  static Map& none() {
    static Map empty;
    return empty;
  }

  std::unique_ptr<Map> map_;
};

}  // namespace shardpool::pooler
