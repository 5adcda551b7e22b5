#include "pooler/directory/directory_registry.h"

namespace shardpool::pooler {

std::shared_ptr<const router::DirectoryMap> DirectoryRegistry::get(std::string_view db) const {
  std::lock_guard lock(mutex_);
  auto it = slots_.find(db);
  return it == slots_.end() ? nullptr : it->second.map;
}

std::vector<DirectoryRegistry::Status> DirectoryRegistry::status() const {
  std::lock_guard lock(mutex_);
  std::vector<Status> out;
  out.reserve(slots_.size());
  for (const auto& [name, slot] : slots_) out.push_back(slot.status);
  return out;
}

void DirectoryRegistry::declare(const std::string& db, const std::string& source) {
  std::lock_guard lock(mutex_);
  Slot& slot = slots_[db];
  slot.status.database = db;
  slot.status.source = source;
}

void DirectoryRegistry::publish(const std::string& db,
                                std::shared_ptr<const router::DirectoryMap> map) {
  std::lock_guard lock(mutex_);
  Slot& slot = slots_[db];
  slot.status.database = db;
  slot.status.entries = map ? map->entries() : 0;
  slot.status.ranges = map ? map->ranges() : 0;
  slot.status.textKeys = map ? map->textKeys() : 0;
  slot.status.loadedAt = std::chrono::system_clock::now();
  slot.status.lastError.clear();
  ++slot.status.version;
  slot.map = std::move(map);
  version_.fetch_add(1, std::memory_order_acq_rel);
}

void DirectoryRegistry::withdraw(const std::string& db) {
  std::lock_guard lock(mutex_);
  auto it = slots_.find(db);
  if (it == slots_.end() || !it->second.map) return;
  it->second.map.reset();
  it->second.status.entries = it->second.status.ranges = it->second.status.textKeys = 0;
  it->second.status.loadedAt = {};
  version_.fetch_add(1, std::memory_order_acq_rel);
}

bool DirectoryRegistry::setError(const std::string& db, const std::string& error) {
  std::lock_guard lock(mutex_);
  Slot& slot = slots_[db];
  slot.status.database = db;
  if (slot.status.lastError == error) return false;
  slot.status.lastError = error;
  return true;
}

void DirectoryRegistry::retain(const std::set<std::string, std::less<>>& keep) {
  std::lock_guard lock(mutex_);
  bool removed = false;
  for (auto it = slots_.begin(); it != slots_.end();) {
    if (keep.count(it->first)) {
      ++it;
      continue;
    }
    removed = removed || it->second.map != nullptr;
    it = slots_.erase(it);
  }
  if (removed) version_.fetch_add(1, std::memory_order_acq_rel);
}

}  // namespace shardpool::pooler
