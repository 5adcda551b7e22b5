#include <algorithm>

#include "router/statement_facts.h"

namespace shardpool::router {

StatementCache::StatementCache(size_t capacity, Analyzer analyzer, size_t maxSqlBytes)
    : capacity_(std::max<size_t>(capacity, 1)), maxSqlBytes_(maxSqlBytes), analyzer_(analyzer) {
  index_.reserve(capacity_);
}

const StatementFacts& StatementCache::get(std::string_view sql, const TableRules& rules,
                                          uint64_t rulesVersion) {
  if (rulesVersion != rulesVersion_) {
    clear();
    rulesVersion_ = rulesVersion;
  }
  if (auto it = index_.find(sql); it != index_.end()) {
    ++hits_;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->facts;
  }
  ++misses_;
  if (sql.size() > maxSqlBytes_) {
    uncached_ = analyzer_(sql, rules);
    return uncached_;
  }
  if (lru_.size() >= capacity_) {
    index_.erase(lru_.back().sql);
    lru_.pop_back();
  }
  lru_.push_front(Entry{std::string(sql), analyzer_(sql, rules)});
  index_.emplace(lru_.front().sql, lru_.begin());
  return lru_.front().facts;
}

void StatementCache::clear() {
  index_.clear();
  lru_.clear();
  uncached_ = StatementFacts{};
}

}  // namespace shardpool::router
