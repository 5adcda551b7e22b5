#include "pooler/admin/snapshot.h"

#include <condition_variable>
#include <mutex>

#include "pooler/net/connection.h"
#include "pooler/session/runtime.h"
#include "pooler/session/worker.h"

namespace shardpool::pooler::admin {

namespace {
struct GatherState {
  std::mutex mutex;
  std::shared_ptr<Snapshot> snapshot = std::make_shared<Snapshot>();
  unsigned remaining;
  std::function<void(std::shared_ptr<Snapshot>)> done;
};
}  // namespace

void gatherSnapshot(Runtime& runtime, std::function<void(std::shared_ptr<Snapshot>)> done) {
  auto state = std::make_shared<GatherState>();
  state->remaining = runtime.workerCount();
  state->done = std::move(done);
  for (unsigned i = 0; i < runtime.workerCount(); ++i) {
    runtime.worker(i).post([state](Worker& w) {
      Snapshot part;
      w.describeConnections(part.clients, part.servers);
      std::unique_lock lock(state->mutex);
      auto& all = *state->snapshot;
      all.clients.insert(all.clients.end(), std::make_move_iterator(part.clients.begin()),
                         std::make_move_iterator(part.clients.end()));
      all.servers.insert(all.servers.end(), std::make_move_iterator(part.servers.begin()),
                         std::make_move_iterator(part.servers.end()));
      if (--state->remaining > 0) return;
      lock.unlock();
      state->done(state->snapshot);
    });
  }
}

std::shared_ptr<Snapshot> gatherSnapshotBlocking(Runtime& runtime, std::chrono::milliseconds timeout) {
  struct Waiter {
    std::mutex mutex;
    std::condition_variable cv;
    std::shared_ptr<Snapshot> result;
  };
  auto waiter = std::make_shared<Waiter>();
  gatherSnapshot(runtime, [waiter](std::shared_ptr<Snapshot> s) {
    std::lock_guard lock(waiter->mutex);
    waiter->result = std::move(s);
    waiter->cv.notify_all();
  });
  std::unique_lock lock(waiter->mutex);
  waiter->cv.wait_for(lock, timeout, [&] { return waiter->result != nullptr; });
  return waiter->result;
}

}  // namespace shardpool::pooler::admin
