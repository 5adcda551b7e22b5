// An engine whose server links never touch a socket, for tests of the core (pool, worker): each
// server opened is recorded with the client it was opened for, and can be parked or closed by
// the test as a real engine's server would be.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "pooler/session/client_session.h"
#include "pooler/session/engine.h"
#include "pooler/session/pool.h"
#include "pooler/session/server_link.h"

namespace shardpool::pooler::testing {

class FakeServer final : public ServerLink {
 public:
  FakeServer(Worker& worker, uint64_t id, Pool& pool) : ServerLink(worker, id, pool) {}

  uint64_t openedFor = 0;  // the client start() was given (0: the pool)
  std::string closedBecause;
  uint64_t kind = 0;  // its flavor() (what the MySQL engine sets from capabilities)
  uint64_t flavor() const override { return kind; }

  void start(uint64_t forClient) override { openedFor = forClient; }
  void close(std::string_view reason, bool = false) override {
    closedBecause = reason;
    if (state_ != State::Closed) setState(State::Closed);
  }
  void fail(std::string_view reason, std::string_view = "08006", bool = false) override {
    close(reason);
  }
  // As a real server does once logged in: idle, offered to the pool (or a client).
  void loggedIn(uint64_t forClient) {
    setState(State::Connecting);
    setState(State::Authenticating);
    offer(forClient);
  }

 protected:
  void onTick(Clock::time_point) override {}
  void describeMore(ConnRow&) const override {}
  void onData(Chunk*, size_t) override {}
  void onReadEnd(int) override {}
  void onWriteError(int) override {}
  void onTlsFailed(const std::string&) override {}
};

class FakeEngine final : public Engine {
 public:
  explicit FakeEngine(config::Protocol protocol = config::Protocol::Postgres)
      : protocol_(protocol) {}

  std::vector<FakeServer*> opened;  // owned by their workers

  config::Protocol protocol() const override { return protocol_; }
  std::unique_ptr<ClientSession> newClient(Worker&, uint64_t) override { return nullptr; }
  std::unique_ptr<ServerLink> newServer(Worker& worker, uint64_t id, Pool& pool) override {
    auto s = std::make_unique<FakeServer>(worker, id, pool);
    opened.push_back(s.get());
    return s;
  }
  std::unique_ptr<WorkerLocal> newWorkerLocal(Worker&) override { return nullptr; }

 private:
  config::Protocol protocol_;
};

}  // namespace shardpool::pooler::testing
