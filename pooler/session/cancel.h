// Cancel keys: every client gets shardpool's own (pid, key) in BackendKeyData. A CancelRequest
// naming them is forwarded, on a fresh connection, to the backend that client is linked to, with
// that backend's real key; it can never reach another client's backend.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

namespace shardpool::pooler {

class Worker;

class CancelRegistry {
 public:
  std::pair<uint32_t, uint32_t> add();  // new unique (pid, key)
  void remove(uint32_t pid);
  void setTarget(uint32_t pid, const sockaddr_storage& addr, uint32_t backendPid,
                 uint32_t backendKey);
  void clearTarget(uint32_t pid);
  // Sends the cancel from `worker` when (pid, key) match a client linked to a server.
  void cancel(Worker& worker, uint32_t pid, uint32_t key);
  // Sends a CancelRequest for backend (pid, key) at `addr` from `worker`.
  static void send(Worker& worker, const sockaddr_storage& addr, uint32_t backendPid,
                   uint32_t backendKey);

 private:
  struct Entry {
    uint32_t key = 0;
    bool hasTarget = false;
    sockaddr_storage addr{};
    uint32_t backendPid = 0;
    uint32_t backendKey = 0;
  };
  std::mutex mutex_;
  std::unordered_map<uint32_t, Entry> entries_;
};

}  // namespace shardpool::pooler
