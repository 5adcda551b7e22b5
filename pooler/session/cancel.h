// Cancel keys: every client gets shardpool's own (pid, key) in BackendKeyData. A CancelRequest
// naming them goes to the worker that owns that client, and from there, on a fresh connection,
// to the backend running the client's query, with that backend's real key; only while the query
// is in flight, and the server stays with the client until the cancel has been delivered, so it
// can never reach another client's query.
//
// MySQL has no cancel keys: a client stops another's query with `KILL QUERY <connection id>`
// (the mariadb CLI on Ctrl-C, Connector/J's cancel and timeouts), the id being the one of its
// greeting. MySQL clients get their pid here as that id, their user is noted once they have
// logged in, and kill() checks a KILL against both, as MySQL does, before their worker acts.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace shardpool::pooler {

class Worker;

class CancelRegistry {
 public:
  // A new unique (pid, key) for client `clientId` of worker `workerIndex`.
  std::pair<uint32_t, uint32_t> add(unsigned workerIndex, uint64_t clientId);
  void remove(uint32_t pid);
  // A CancelRequest arrived on `from`: when (pid, key) match a client, its worker is told
  // (ClientSession::cancelRequested decides whether a query of it is running).
  void cancel(Worker& from, uint32_t pid, uint32_t key);

  // MySQL: the client known by `pid` logged in as `user` (its KILLs and those aimed at it).
  void setOwner(uint32_t pid, std::string user);
  enum class Kill : uint8_t {
    Sent,      // its worker is told (ClientSession::killRequested)
    Unknown,   // no such client: ERR 1094
    NotOwner,  // another user's: ERR 1095
  };
  // KILL [QUERY] `pid` from a client logged in as `user`.
  Kill kill(Worker& from, uint32_t pid, const std::string& user, bool wholeConnection);

 private:
  struct Entry {
    uint32_t key = 0;
    unsigned worker = 0;
    uint64_t client = 0;
  };
  std::mutex mutex_;
  std::unordered_map<uint32_t, Entry> entries_;
  std::unordered_map<uint32_t, std::string> owners_;  // MySQL clients' users, by pid
};

}  // namespace shardpool::pooler
