#include "pooler/net/host_resolver.h"

#include <fmt/format.h>

namespace shardpool::pooler {

void HostResolver::resolve(uv_loop_t* loop, const std::string& host, uint16_t port, void* owner,
                           Done done) {
  cancel();
  sockaddr_storage numeric{};
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&numeric)) == 0 ||
      uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&numeric)) == 0) {
    done(owner, reinterpret_cast<sockaddr*>(&numeric), {});
    return;
  }
  host_ = host;
  owner_ = owner;
  done_ = done;
  request_ = new uv_getaddrinfo_t;
  request_->data = this;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = uv_getaddrinfo(loop, request_, onResolved, host.c_str(), std::to_string(port).c_str(),
                          &hints);
  if (rc != 0) {
    delete request_;
    request_ = nullptr;
    done(owner, nullptr, fmt::format("could not resolve host \"{}\": {}", host, uv_strerror(rc)));
  }
}

void HostResolver::cancel() {
  if (request_) request_->data = nullptr;  // onResolved frees it
  request_ = nullptr;
}

void HostResolver::onResolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
  auto* self = static_cast<HostResolver*>(req->data);
  delete req;
  if (self) {
    self->request_ = nullptr;
    if (status != 0 || !res)
      self->done_(
          self->owner_, nullptr,
          fmt::format("could not resolve host \"{}\": {}", self->host_, uv_strerror(status)));
    else
      self->done_(self->owner_, res->ai_addr, {});
  }
  uv_freeaddrinfo(res);
}

}  // namespace shardpool::pooler
