#include "pooler/session/cancel.h"

#include "pooler/auth/auth_crypto.h"
#include "pooler/net/log.h"
#include "pooler/session/client_session.h"
#include "pooler/session/runtime.h"
#include "pooler/session/worker.h"

namespace shardpool::pooler {

std::pair<uint32_t, uint32_t> CancelRegistry::add(unsigned workerIndex, uint64_t clientId) {
  std::lock_guard lock(mutex_);
  for (;;) {
    uint32_t r[2];
    auth::randomBytes(reinterpret_cast<uint8_t*>(r), sizeof r);
    uint32_t pid = (r[0] & 0x7fffffff) | 1;  // positive, never 0
    if (entries_.count(pid)) continue;
    entries_[pid] = Entry{r[1], workerIndex, clientId};
    return {pid, r[1]};
  }
}

void CancelRegistry::remove(uint32_t pid) {
  std::lock_guard lock(mutex_);
  entries_.erase(pid);
  owners_.erase(pid);
}

void CancelRegistry::setOwner(uint32_t pid, std::string user) {
  std::lock_guard lock(mutex_);
  if (entries_.count(pid)) owners_[pid] = std::move(user);
}

CancelRegistry::Kill CancelRegistry::kill(Worker& from, uint32_t pid, const std::string& user,
                                          bool wholeConnection) {
  Entry e;
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(pid);
    auto owner = owners_.find(pid);
    if (it == entries_.end() || owner == owners_.end()) return Kill::Unknown;
    if (owner->second != user) return Kill::NotOwner;
    e = it->second;
  }
  auto deliver = [client = e.client, wholeConnection](Worker& w) {
    if (ClientSession* c = w.findClient(client)) c->killRequested(wholeConnection);
  };
  if (e.worker == from.index())
    deliver(from);
  else
    from.runtime().worker(e.worker).post(deliver);
  return Kill::Sent;
}

void CancelRegistry::cancel(Worker& from, uint32_t pid, uint32_t key) {
  Entry e;
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(pid);
    if (it == entries_.end() || it->second.key != key) {
      log::info("", "cancel request for an unknown client key ignored");
      return;
    }
    e = it->second;
  }
  auto deliver = [client = e.client](Worker& w) {
    if (ClientSession* c = w.findClient(client)) c->cancelRequested();
  };
  if (e.worker == from.index())
    deliver(from);
  else
    from.runtime().worker(e.worker).post(deliver);
}

}  // namespace shardpool::pooler
