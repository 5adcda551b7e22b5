// Per-worker read chunks and write requests, recycled through free lists so that the data path
// allocates nothing per message. A chunk is reference counted: the read that filled it holds one
// reference and every write that forwards a slice of it holds another.
#pragma once

#include <uv.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace shardpool::pooler {

class ChunkPool;

struct Chunk {
  ChunkPool* pool;
  uint32_t refs;
  uint32_t size;
  uint8_t* data() { return reinterpret_cast<uint8_t*>(this + 1); }
};

class ChunkPool {
 public:
  static constexpr uint32_t kChunkSize = 64 * 1024;
  static constexpr size_t kMaxFree = 256;

  ChunkPool() = default;
  ChunkPool(const ChunkPool&) = delete;
  ChunkPool& operator=(const ChunkPool&) = delete;
  ~ChunkPool() {
    for (Chunk* c : free_) std::free(c);
  }

  Chunk* get() {
    Chunk* c;
    if (!free_.empty()) {
      c = free_.back();
      free_.pop_back();
    } else {
      c = static_cast<Chunk*>(std::malloc(sizeof(Chunk) + kChunkSize));
      if (!c) std::abort();
      c->pool = this;
      c->size = kChunkSize;
    }
    c->refs = 1;
    return c;
  }
  static void ref(Chunk* c) { ++c->refs; }
  static void unref(Chunk* c) {
    if (--c->refs == 0) c->pool->recycle(c);
  }
  // Finds the chunk whose data starts at `base` (as handed to libuv by alloc_cb).
  static Chunk* fromData(char* base) { return reinterpret_cast<Chunk*>(base) - 1; }

 private:
  void recycle(Chunk* c) {
    if (free_.size() < kMaxFree)
      free_.push_back(c);
    else
      std::free(c);
  }
  std::vector<Chunk*> free_;
};

// One uv_write: up to kMaxBufs slices of chunks, small copied bytes, or an owned string.
struct WriteReq {
  static constexpr int kMaxBufs = 16;
  uv_write_t req;
  uv_buf_t bufs[kMaxBufs];
  Chunk* chunks[kMaxBufs];
  int nbufs = 0;
  int nchunks = 0;
  uint8_t scratch[16];
  size_t scratchUsed = 0;
  std::string owned;
  // Bufs that point into `owned` hold an offset until submit (the string may still grow).
  bool fromOwned[kMaxBufs];
  size_t ownedOffset[kMaxBufs];
  WriteReq* nextFree = nullptr;

  // Turns offsets into `owned` into pointers: call once nothing more is appended.
  void fixOwnedPointers() {
    for (int i = 0; i < nbufs; ++i)
      if (fromOwned[i]) bufs[i].base = owned.data() + ownedOffset[i];
  }

  void reset() {
    for (bool& f : fromOwned) f = false;
    nbufs = 0;
    nchunks = 0;
    scratchUsed = 0;
    owned.clear();
  }
};

class WriteReqPool {
 public:
  WriteReqPool() = default;
  WriteReqPool(const WriteReqPool&) = delete;
  WriteReqPool& operator=(const WriteReqPool&) = delete;
  ~WriteReqPool() {
    while (free_) {
      WriteReq* n = free_->nextFree;
      delete free_;
      free_ = n;
    }
  }
  WriteReq* get() {
    WriteReq* r = free_;
    if (r) {
      free_ = r->nextFree;
      --count_;
      r->nextFree = nullptr;
    } else {
      r = new WriteReq();
    }
    r->reset();
    return r;
  }
  void put(WriteReq* r) {
    for (int i = 0; i < r->nchunks; ++i) ChunkPool::unref(r->chunks[i]);
    r->reset();
    if (r->owned.capacity() > 64 * 1024) std::string().swap(r->owned);
    if (count_ >= 1024) {
      delete r;
      return;
    }
    r->nextFree = free_;
    free_ = r;
    ++count_;
  }

 private:
  WriteReq* free_ = nullptr;
  size_t count_ = 0;
};

}  // namespace shardpool::pooler
