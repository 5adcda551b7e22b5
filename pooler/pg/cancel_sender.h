// PostgreSQL's cancel: a CancelRequest on a fresh connection to the backend running a query.
#pragma once

#include <sys/socket.h>

#include <cstdint>

namespace shardpool::pooler {

class Worker;

// Sends a CancelRequest for backend (pid, key) at `addr` from `worker`. With `serverId`, that
// server of `worker` hears cancelDelivered() once the backend has taken it (or it failed).
void sendCancelRequest(Worker& worker, const sockaddr_storage& addr, uint32_t backendPid,
                       uint32_t backendKey, uint64_t serverId = 0);

}  // namespace shardpool::pooler
