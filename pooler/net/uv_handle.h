// Closing a heap-allocated libuv handle: its `data` is cleared first (a callback already queued
// finds no owner), the handle is freed in its close callback, and the owner's pointer is
// nulled. Safe on a null pointer and on a handle already closing.
#pragma once

#include <uv.h>

namespace shardpool::pooler {

template <class Handle>
void closeAndDelete(Handle*& h) {
  if (!h) return;
  auto* base = reinterpret_cast<uv_handle_t*>(h);
  base->data = nullptr;
  if (!uv_is_closing(base))
    uv_close(base, [](uv_handle_t* x) { delete reinterpret_cast<Handle*>(x); });
  h = nullptr;
}

}  // namespace shardpool::pooler
