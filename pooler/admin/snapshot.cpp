#include "pooler/admin/snapshot.h"

#include <condition_variable>
#include <mutex>

#include "pooler/connection.h"
#include "pooler/proxy.h"
#include "pooler/worker.h"

namespace shardpool::pooler::admin {

std::string_view stateName(ConnRow::State s) {
  switch (s) {
    case ConnRow::State::Login:
      return "login";
    case ConnRow::State::Waiting:
      return "waiting";
    case ConnRow::State::Active:
      return "active";
    case ConnRow::State::Idle:
      return "idle";
    case ConnRow::State::Used:
      return "used";
    case ConnRow::State::Admin:
      return "active";
  }
  return "unknown";
}

namespace {
struct GatherState {
  std::mutex mutex;
  std::shared_ptr<Snapshot> snapshot = std::make_shared<Snapshot>();
  unsigned remaining;
  std::function<void(std::shared_ptr<Snapshot>)> done;
};
}  // namespace

void gatherSnapshot(Proxy& proxy, std::function<void(std::shared_ptr<Snapshot>)> done) {
  auto state = std::make_shared<GatherState>();
  state->remaining = proxy.workerCount();
  state->done = std::move(done);
  for (unsigned i = 0; i < proxy.workerCount(); ++i) {
    proxy.worker(i).post([state](Worker& w) {
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

std::shared_ptr<Snapshot> gatherSnapshotBlocking(Proxy& proxy, std::chrono::milliseconds timeout) {
  struct Waiter {
    std::mutex mutex;
    std::condition_variable cv;
    std::shared_ptr<Snapshot> result;
  };
  auto waiter = std::make_shared<Waiter>();
  gatherSnapshot(proxy, [waiter](std::shared_ptr<Snapshot> s) {
    std::lock_guard lock(waiter->mutex);
    waiter->result = std::move(s);
    waiter->cv.notify_all();
  });
  std::unique_lock lock(waiter->mutex);
  waiter->cv.wait_for(lock, timeout, [&] { return waiter->result != nullptr; });
  return waiter->result;
}

void describeSocket(const Connection& conn, ConnRow& row) {
  Connection::Endpoint peer, local;
  if (conn.endpoints(peer, local)) {
    row.addr = peer.host;
    row.port = peer.port;
    row.localAddr = local.host;
    row.localPort = local.port;
  }
  row.connectTime = conn.connectTime();
}

std::chrono::system_clock::time_point toWallClock(std::chrono::steady_clock::time_point t) {
  auto ago = std::chrono::steady_clock::now() - t;
  return std::chrono::system_clock::now() -
         std::chrono::duration_cast<std::chrono::system_clock::duration>(ago);
}

}  // namespace shardpool::pooler::admin
