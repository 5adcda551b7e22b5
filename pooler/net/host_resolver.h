// Resolving a backend's host:port on an event loop without blocking it: a numeric address at
// once, a name with uv_getaddrinfo. The owner is told through a plain function pointer; if it
// goes away first (or moves on), cancel() makes the pending lookup free itself unheard.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace shardpool::pooler {

class HostResolver {
 public:
  // `addr` on success, else null and `error` ("could not resolve host ...").
  using Done = void (*)(void* owner, const sockaddr* addr, std::string_view error);

  HostResolver() = default;
  HostResolver(const HostResolver&) = delete;
  HostResolver& operator=(const HostResolver&) = delete;
  ~HostResolver() { cancel(); }

  // Calls `done` once: before returning for a numeric address or a lookup that cannot start,
  // later from the loop for a name.
  void resolve(uv_loop_t* loop, const std::string& host, uint16_t port, void* owner, Done done);
  void cancel();
  bool pending() const { return request_ != nullptr; }

 private:
  static void onResolved(uv_getaddrinfo_t* req, int status, addrinfo* res);

  uv_getaddrinfo_t* request_ = nullptr;  // its data points back here until cancel()
  std::string host_;
  void* owner_ = nullptr;
  Done done_ = nullptr;
};

}  // namespace shardpool::pooler
