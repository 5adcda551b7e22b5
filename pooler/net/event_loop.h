// The thread-owned context a connection lives in: the libuv loop and that thread's recycled read
// chunks and write requests. A pooler worker is one (pooler/worker.h); a connection never sees
// more of its owner than this.
#pragma once

#include <uv.h>

#include "pooler/net/buffers.h"

namespace shardpool::pooler {

class EventLoop {
 public:
  EventLoop() = default;
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  uv_loop_t* loop() { return &loop_; }
  ChunkPool& chunks() { return chunks_; }
  WriteReqPool& writeReqs() { return writeReqs_; }

 protected:
  ~EventLoop() = default;

  uv_loop_t loop_{};
  ChunkPool chunks_;
  WriteReqPool writeReqs_;
};

}  // namespace shardpool::pooler
