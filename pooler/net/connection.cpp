#include "pooler/net/connection.h"

#include <arpa/inet.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>


namespace shardpool::pooler {

Connection::Connection(EventLoop& loop, uint64_t id) : loop_(&loop), id_(id) {}

void Connection::rebind(EventLoop& loop) {
  if (!handle_) loop_ = &loop;
}

Connection::~Connection() {
  closeHandle();
  if (building_) loop_->writeReqs().put(building_);
}

namespace {
// Each stream is allocated as its own type (a uv_tcp_t is 16 bytes smaller than a uv_pipe_t, and
// there is one per client); the close callback frees it by the handle's type.
uv_stream_t* newTcp(uv_loop_t* loop, void* owner) {
  auto* h = new uv_tcp_t;
  uv_tcp_init(loop, h);
  h->data = owner;
  return reinterpret_cast<uv_stream_t*>(h);
}

uv_stream_t* newPipe(uv_loop_t* loop, void* owner) {
  auto* h = new uv_pipe_t;
  uv_pipe_init(loop, h, 0);
  h->data = owner;
  return reinterpret_cast<uv_stream_t*>(h);
}

uv_tcp_t* asTcp(uv_stream_t* s) { return reinterpret_cast<uv_tcp_t*>(s); }
}  // namespace

namespace {
Connection::Endpoint describeAddress(const sockaddr_storage& ss) {
  Connection::Endpoint e;
  char host[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    e.port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    e.port = ntohs(a->sin6_port);
  } else {
    return {"unix", 0};
  }
  e.host = host;
  return e;
}
}  // namespace

bool Connection::endpoints(Endpoint& peer, Endpoint& local) const {
  uv_os_fd_t fd;
  if (!handle_ || uv_fileno(reinterpret_cast<const uv_handle_t*>(handle_), &fd) != 0)
    return false;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) peer = describeAddress(ss);
  len = sizeof ss;
  ss = {};
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) local = describeAddress(ss);
  return true;
}

std::optional<Connection::PeerIp> Connection::peerIp() const {
  int sock = fd();
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (sock < 0 || ::getpeername(sock, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return std::nullopt;
  PeerIp ip;
  const void* addr = nullptr;
  if (ss.ss_family == AF_INET) {
    addr = &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr;
    std::memcpy(ip.bytes.data(), addr, 4);
  } else if (ss.ss_family == AF_INET6) {
    ip.v6 = true;
    addr = &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr;
    std::memcpy(ip.bytes.data(), addr, 16);
  } else {
    return std::nullopt;
  }
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(ss.ss_family, addr, text, sizeof text);
  ip.text = text;
  return ip;
}

int Connection::acceptFrom(uv_stream_t* listener) {
  bool unixSocket = listener->type == UV_NAMED_PIPE;
  handle_ = unixSocket ? newPipe(loop_->loop(), this) : newTcp(loop_->loop(), this);
  int rc = uv_accept(listener, handle_);
  if (rc == 0 && !unixSocket) uv_tcp_nodelay(asTcp(handle_), 1);
  return rc;
}

int Connection::fd() const {
  uv_os_fd_t fd = -1;
  if (!handle_ || uv_fileno(reinterpret_cast<const uv_handle_t*>(handle_), &fd) != 0) return -1;
  return fd;
}

int Connection::openFd(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  bool unixSocket = ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0 &&
                    ss.ss_family == AF_UNIX;
  int rc;
  if (unixSocket) {
    handle_ = newPipe(loop_->loop(), this);
    rc = uv_pipe_open(reinterpret_cast<uv_pipe_t*>(handle_), fd);
  } else {
    handle_ = newTcp(loop_->loop(), this);
    rc = uv_tcp_open(asTcp(handle_), fd);
  }
  if (rc != 0) ::close(fd);
  return rc;
}

int Connection::connectTo(const sockaddr* addr) {
  handle_ = newTcp(loop_->loop(), this);
  auto* req = new uv_connect_t;
  int rc = uv_tcp_connect(req, asTcp(handle_), addr, connectCb);
  if (rc != 0) delete req;
  return rc;
}

void Connection::connectToPath(const std::string& path) {
  handle_ = newPipe(loop_->loop(), this);
  auto* req = new uv_connect_t;
  uv_pipe_connect(req, reinterpret_cast<uv_pipe_t*>(handle_), path.c_str(), connectCb);
}

void Connection::connectCb(uv_connect_t* req, int status) {
  auto* self = static_cast<Connection*>(req->handle->data);
  delete req;
  if (!self) return;
  if (status == 0 && self->handle_->type == UV_TCP) uv_tcp_nodelay(asTcp(self->handle_), 1);
  self->onConnected(status);
}

int Connection::detachFd() {
  if (!handle_) return -1;
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(handle_), &fd) != 0) return -1;
  int copy = ::dup(fd);
  closeHandle();
  return copy;
}

void Connection::startReading() {
  wantRead_ = true;
  if (!handle_ || reading_ || throttledBy_ || frozen_) return;
  if (uv_read_start(handle_, allocCb, readCb) == 0) reading_ = true;
}

void Connection::stopReading() {
  wantRead_ = false;
  if (!handle_ || !reading_) return;
  uv_read_stop(handle_);
  reading_ = false;
}

void Connection::freeze() {
  frozen_ = true;
  if (!handle_ || !reading_) return;
  uv_read_stop(handle_);
  reading_ = false;
}

void Connection::thaw() {
  frozen_ = false;
  if (wantRead_) startReading();
}

void Connection::allocCb(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(h->data);
  if (!self) {
    buf->base = nullptr;
    buf->len = 0;
    return;
  }
  Chunk* c = self->loop_->chunks().get();
  buf->base = reinterpret_cast<char*>(c->data());
  buf->len = c->size;
}

void Connection::readCb(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  Chunk* chunk = buf->base ? ChunkPool::fromData(buf->base) : nullptr;
  auto* self = static_cast<Connection*>(s->data);
  if (self && nread > 0) {
    if (self->tls_) {
      self->onCiphertext(chunk, static_cast<size_t>(nread));
    } else {
      self->onData(chunk, static_cast<size_t>(nread));
      if (self->isOpen()) self->flushForward();
    }
  } else if (self && nread < 0) {
    self->onReadEnd(static_cast<int>(nread));
  }
  if (chunk) ChunkPool::unref(chunk);
}

void Connection::send(std::string&& bytes) {
  if (!handle_ || bytes.empty()) return;
  flushForward();
  WriteReq* r = loop_->writeReqs().get();
  r->owned = std::move(bytes);
  r->bufs[0] = uv_buf_init(r->owned.data(), static_cast<unsigned>(r->owned.size()));
  r->nbufs = 1;
  submit(r);
}

void Connection::forwardSlice(Chunk* chunk, const uint8_t* data, size_t len) {
  if (!handle_ || len == 0) return;
  if (building_) {
    uv_buf_t& last = building_->bufs[building_->nbufs - 1];
    if (building_->nchunks > 0 && building_->chunks[building_->nchunks - 1] == chunk &&
        reinterpret_cast<const uint8_t*>(last.base) + last.len == data) {
      last.len += len;  // contiguous with the previous slice of the same chunk
      return;
    }
    if (building_->nbufs == WriteReq::kMaxBufs) flushForward();
  }
  if (!building_) building_ = loop_->writeReqs().get();
  ChunkPool::ref(chunk);
  building_->chunks[building_->nchunks++] = chunk;
  building_->bufs[building_->nbufs++] =
      uv_buf_init(reinterpret_cast<char*>(const_cast<uint8_t*>(data)), static_cast<unsigned>(len));
}

void Connection::forwardCopy(const uint8_t* data, size_t len) {
  if (!handle_ || len == 0) return;
  if (building_ && (building_->nbufs == WriteReq::kMaxBufs ||
                    building_->scratchUsed + len > sizeof(building_->scratch)))
    flushForward();
  if (!building_) building_ = loop_->writeReqs().get();
  if (len > sizeof(building_->scratch)) {
    // Rare: larger copies go in their own request.
    flushForward();
    send(std::string(reinterpret_cast<const char*>(data), len));
    return;
  }
  uint8_t* dst = building_->scratch + building_->scratchUsed;
  std::memcpy(dst, data, len);
  building_->scratchUsed += len;
  building_->bufs[building_->nbufs++] = uv_buf_init(reinterpret_cast<char*>(dst), unsigned(len));
}

void Connection::appendOwned(std::string_view bytes) {
  if (!handle_ || bytes.empty()) return;
  if (building_ && building_->nbufs == WriteReq::kMaxBufs) flushForward();
  if (!building_) building_ = loop_->writeReqs().get();
  WriteReq* r = building_;
  size_t offset = r->owned.size();
  r->owned.append(bytes);
  int last = r->nbufs - 1;
  if (last >= 0 && r->fromOwned[last] && r->ownedOffset[last] + r->bufs[last].len == offset) {
    r->bufs[last].len += bytes.size();
    return;
  }
  r->fromOwned[r->nbufs] = true;
  r->ownedOffset[r->nbufs] = offset;
  r->bufs[r->nbufs++] = uv_buf_init(nullptr, static_cast<unsigned>(bytes.size()));
}

void Connection::flushForward() {
  if (!building_) return;
  WriteReq* r = building_;
  building_ = nullptr;
  r->fixOwnedPointers();
  if (!handle_ || r->nbufs == 0) {
    loop_->writeReqs().put(r);
    return;
  }
  submit(r);
}

void Connection::startTls(std::unique_ptr<TlsSession> session, std::string_view alreadyRead) {
  tls_ = std::move(session);
  if (tls_->handshake() == TlsSession::Status::Error) {
    onTlsFailed(tls_->error());
    return;
  }
  flushTls();
  if (!alreadyRead.empty()) {
    tls_->feed(reinterpret_cast<const uint8_t*>(alreadyRead.data()), alreadyRead.size());
    afterCiphertext();
  }
}

void Connection::flushTls() {
  std::string out;
  if (!tls_ || !handle_ || !tls_->takeOutput(out)) return;
  WriteReq* r = loop_->writeReqs().get();
  r->owned = std::move(out);
  r->bufs[0] = uv_buf_init(r->owned.data(), static_cast<unsigned>(r->owned.size()));
  r->nbufs = 1;
  submitRaw(r);
}

void Connection::onCiphertext(Chunk* chunk, size_t len) {
  tls_->feed(chunk->data(), len);
  afterCiphertext();
}

void Connection::afterCiphertext() {
  if (!tls_->established()) {
    TlsSession::Status st = tls_->handshake();
    flushTls();
    if (st == TlsSession::Status::Error) {
      onTlsFailed(tls_->error());
      return;
    }
    if (st != TlsSession::Status::Ok) return;
    onTlsReady();
    if (!isOpen()) return;
  }
  for (;;) {
    Chunk* plain = loop_->chunks().get();
    size_t n = 0;
    TlsSession::Status st = tls_->read(plain->data(), plain->size, n);
    if (n > 0) {
      onData(plain, n);
      if (isOpen()) flushForward();
    }
    ChunkPool::unref(plain);
    if (!isOpen()) return;
    if (st == TlsSession::Status::Closed) {
      onReadEnd(UV_EOF);
      return;
    }
    if (st == TlsSession::Status::Error) {
      onTlsFailed(tls_->error());
      return;
    }
    if (st == TlsSession::Status::WantMore) break;
  }
  flushTls();
}

void Connection::submit(WriteReq* r) {
  if (tls_) {
    // Encrypt what the request holds, then send the ciphertext instead.
    bool ok = true;
    for (int i = 0; i < r->nbufs && ok; ++i)
      ok = tls_->write(reinterpret_cast<const uint8_t*>(r->bufs[i].base), r->bufs[i].len);
    loop_->writeReqs().put(r);
    if (!ok) {
      onTlsFailed(tls_->error());
      return;
    }
    flushTls();
    return;
  }
  submitRaw(r);
}

void Connection::submitRaw(WriteReq* r) {
  // Write at once when the socket takes it all (the usual case for replies of a few kB): no
  // request is queued, so libuv neither polls for writability nor re-arms epoll afterwards.
  // libuv refuses (UV_EAGAIN) while earlier writes are queued, which keeps the order.
  // A failure (the peer gone) is left to uv_write, which reports it later through writeCb:
  // callers of send() never see their connection close under them.
  int sent = uv_try_write(handle_, r->bufs, static_cast<unsigned>(r->nbufs));
  if (sent > 0) {
    int first = 0;
    size_t left = static_cast<size_t>(sent);
    while (first < r->nbufs && left >= r->bufs[first].len) left -= r->bufs[first++].len;
    if (first == r->nbufs) {
      loop_->writeReqs().put(r);
      afterWrite();
      return;
    }
    // The rest goes through uv_write as usual.
    r->bufs[first].base += left;
    r->bufs[first].len -= left;
    if (first > 0) {
      std::memmove(r->bufs, r->bufs + first, sizeof(uv_buf_t) * static_cast<size_t>(r->nbufs - first));
      r->nbufs -= first;
    }
  }
  r->req.data = loop_;
  int rc = uv_write(&r->req, handle_, r->bufs,
                    static_cast<unsigned>(r->nbufs), writeCb);
  if (rc != 0) {
    loop_->writeReqs().put(r);
    onWriteError(rc);
  }
}

void Connection::writeCb(uv_write_t* req, int status) {
  auto* r = reinterpret_cast<WriteReq*>(reinterpret_cast<char*>(req) - offsetof(WriteReq, req));
  auto* loop = static_cast<EventLoop*>(req->data);
  auto* self = static_cast<Connection*>(req->handle->data);
  loop->writeReqs().put(r);
  if (!self) return;
  if (status < 0) {
    if (status != UV_ECANCELED) self->onWriteError(status);
    return;
  }
  self->afterWrite();
}

size_t Connection::writeQueueSize() const {
  return handle_ ? uv_stream_get_write_queue_size(handle_) : 0;
}

void Connection::throttle(Connection& source) {
  if (throttledSource_ == &source || source.throttledBy_) return;
  if (throttledSource_) return;  // one paired source at a time
  throttledSource_ = &source;
  source.throttledBy_ = this;
  if (source.reading_ && source.handle_) {
    uv_read_stop(source.handle_);
    source.reading_ = false;
  }
}

void Connection::afterWrite() {
  if (throttledSource_ && writeQueueSize() < kLowWater) {
    Connection* src = throttledSource_;
    throttledSource_ = nullptr;
    src->throttledBy_ = nullptr;
    if (src->wantRead_) src->startReading();
  }
}

void Connection::clearThrottle() {
  if (throttledSource_) {
    Connection* src = throttledSource_;
    throttledSource_ = nullptr;
    src->throttledBy_ = nullptr;
    if (src->wantRead_) src->startReading();
  }
  if (throttledBy_) {
    throttledBy_->throttledSource_ = nullptr;
    throttledBy_ = nullptr;
  }
}

void Connection::closeHandle() {
  if (!handle_) return;
  clearThrottle();
  if (building_) {
    loop_->writeReqs().put(building_);
    building_ = nullptr;
  }
  handle_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(handle_), closeCb);
  handle_ = nullptr;
  reading_ = false;
}

void Connection::resetSocket() {
  closeHandle();
  tls_.reset();
  wantRead_ = false;
}

void Connection::closeAfterFlush() {
  if (!handle_) return;
  flushForward();
  clearThrottle();
  stopReading();
  auto* req = new uv_shutdown_t;
  uv_stream_t* h = handle_;
  h->data = nullptr;
  handle_ = nullptr;
  if (uv_shutdown(req, h, shutdownCb) != 0) {
    delete req;
    uv_close(reinterpret_cast<uv_handle_t*>(h), closeCb);
  }
}

void Connection::shutdownCb(uv_shutdown_t* req, int) {
  uv_handle_t* h = reinterpret_cast<uv_handle_t*>(req->handle);
  delete req;
  if (!uv_is_closing(h)) uv_close(h, closeCb);
}

void Connection::closeCb(uv_handle_t* h) {
  if (h->type == UV_NAMED_PIPE)
    delete reinterpret_cast<uv_pipe_t*>(h);
  else
    delete reinterpret_cast<uv_tcp_t*>(h);
}

}  // namespace shardpool::pooler
