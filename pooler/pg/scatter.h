// Scatter/gather: one unit of a client's messages (a Query, or extended-protocol messages
// through their Sync) run on several shards at once, outside any transaction, and the replies
// merged into the one reply the client expects (pooler/protocol/pg_merge.h). Owned by the
// client session while it runs; each shard's server is linked to it as a sink.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "pooler/merge/pg_merge.h"
#include "pooler/pg/server_conn.h"
#include "pooler/session/worker.h"

namespace shardpool::pooler {

class ClientConn;
class Pool;

// A statement the shards' servers must have prepared before the unit runs.
struct ScatterStatement {
  std::string serverName, query;
  std::vector<uint32_t> paramTypes;
  bool parsedInUnit = false;  // the unit's own Parse creates it: close a cached copy first
};

class ScatterRun final : public ScatterSink {
 public:
  struct Leg {
    uint32_t shard = 0;
    Pool* pool = nullptr;
    ServerConn* server = nullptr;
    size_t preExpected = 0;  // ReadyForQuery replies of the preamble (session settings, Parses)
    size_t preSeen = 0;
    std::string pre;         // preamble replies not yet framed
    std::string preError;    // the preamble failed: its error
    ServerConn::Params toApply;  // the session settings the preamble applies
    char lastByte = 'I';         // of the reply so far: the status of its last ReadyForQuery
    bool done = false;
  };

  // `unit`: the client's messages with statement names already mapped to the servers' names.
  ScatterRun(ClientConn& client, std::vector<Leg> legs, std::vector<std::string> shardNames,
             std::string unit, std::vector<ScatterStatement> statements,
             std::vector<protocol::pg::SegmentPlans> plans, protocol::pg::MergeOptions options,
             size_t maxBytes);
  ~ScatterRun();

  // Asks every shard's pool for a server (some may arrive at once).
  void start();
  // From the client: a server for one of the legs' pools; a connect that failed; a server that
  // vanished on its way (ask again).
  void serverArrived(ServerConn* server);
  void serverFailed(std::string_view reason);
  void serverWithdrawn();
  bool waiting() const;  // some leg still has no server
  void cancel();         // the client's CancelRequest: every leg still running
  Clock::time_point since() const { return since_; }

  void shardData(size_t index, protocol::pg::Bytes bytes) override;
  void shardLost(size_t index, std::string_view reason) override;

 private:
  void acquire(size_t index);
  void send(size_t index);
  void checkDone();
  void fail(std::string_view sqlstate, std::string message);  // ends the run with an error
  // Finished legs' servers back to their pools, the others closed, waits cancelled.
  void releaseServers();

  ClientConn& client_;
  std::vector<Leg> legs_;
  std::vector<std::string> names_;
  std::string unit_;
  std::vector<ScatterStatement> statements_;
  protocol::pg::ReplyMerger merger_;
  size_t maxBytes_;
  Clock::time_point since_;
  bool finished_ = false;
};

}  // namespace shardpool::pooler
