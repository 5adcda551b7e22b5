// Collects a Snapshot (pooler/session/conn_rows.h) of every client and server connection from
// all workers, for SHOW CLIENTS / SERVERS / POOLS and /metrics. Each worker describes its own
// connections on its own thread; the last one to answer hands the merged snapshot on.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pooler/session/conn_rows.h"

namespace shardpool::pooler {
class Runtime;
}

namespace shardpool::pooler::admin {

// Asks every worker for its rows; `done` runs once, on the thread of the last worker to answer.
void gatherSnapshot(Runtime& runtime, std::function<void(std::shared_ptr<Snapshot>)> done);

// For the control thread (metrics): waits up to `timeout`; null when a worker did not answer.
std::shared_ptr<Snapshot> gatherSnapshotBlocking(Runtime& runtime, std::chrono::milliseconds timeout);

}  // namespace shardpool::pooler::admin
