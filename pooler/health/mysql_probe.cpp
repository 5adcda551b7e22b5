#include "pooler/health/mysql_probe.h"

#include <fmt/format.h>

#include "pooler/net/uv_handle.h"

#include "pooler/protocol/mysql_codec.h"

namespace shardpool::pooler::health {

namespace my = protocol::mysql;

struct MysqlProbe::Resolve {
  uv_getaddrinfo_t req{};
  MysqlProbe* owner = nullptr;
};

struct MysqlProbe::Connect {
  uv_connect_t req{};
  MysqlProbe* owner = nullptr;
};

namespace {

struct WriteReq {
  uv_write_t req{};
  std::string bytes;
};

}  // namespace

MysqlProbe::MysqlProbe(uv_loop_t* loop, std::string key, MysqlEndpoint endpoint, Goal goal,
                       Done done)
    : ProbeConnection(std::move(key)),
      loop_(loop),
      endpoint_(std::move(endpoint)),
      goal_(goal),
      done_(std::move(done)) {}

MysqlProbe::~MysqlProbe() {
  disconnect();
  closeAndDelete(timer_);
}

void MysqlProbe::begin(std::chrono::milliseconds timeout) {
  if (busy()) return;
  started_ = Clock::now();
  if (!timer_) {
    timer_ = new uv_timer_t;
    uv_timer_init(loop_, timer_);
    timer_->data = this;
  }
  uv_timer_start(timer_, onTimeout, static_cast<uint64_t>(timeout.count()), 0);
  if (state_ == State::Idle) {
    my::Writer w;
    exchange_->again(goal_, w);
    state_ = State::Running;
    sendPlain(w.take());
    return;
  }
  if (endpoint_.tlsMode != config::TlsMode::Disable && !endpoint_.tls) {
    fail(fmt::format("TLS to the server is not available: {}", endpoint_.tlsError));
    return;
  }
  exchange_.emplace(endpoint_.user, endpoint_.password, endpoint_.dbname,
                    endpoint_.tlsMode != config::TlsMode::Disable,
                    endpoint_.tlsMode >= config::TlsMode::Require);
  exchange_->setGoal(goal_);
  state_ = State::Resolving;
  resolving_ = new Resolve;
  resolving_->owner = this;
  resolving_->req.data = resolving_;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  std::string port = std::to_string(endpoint_.port);
  int rc = uv_getaddrinfo(loop_, &resolving_->req, onResolved, endpoint_.host.c_str(),
                          port.c_str(), &hints);
  if (rc != 0) {
    delete resolving_;
    resolving_ = nullptr;
    fail(fmt::format("cannot resolve {}: {}", endpoint_.host, uv_strerror(rc)));
  }
}

void MysqlProbe::onResolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
  auto* r = static_cast<Resolve*>(req->data);
  MysqlProbe* self = r->owner;
  delete r;
  if (!self) {
    uv_freeaddrinfo(res);
    return;
  }
  self->resolving_ = nullptr;
  if (status != 0 || !res) {
    uv_freeaddrinfo(res);
    self->fail(fmt::format("cannot resolve {}: {}", self->endpoint_.host, uv_strerror(status)));
    return;
  }
  self->connect(res->ai_addr);
  uv_freeaddrinfo(res);
}

void MysqlProbe::connect(const sockaddr* addr) {
  tcp_ = new uv_tcp_t;
  uv_tcp_init(loop_, tcp_);
  tcp_->data = this;
  uv_tcp_nodelay(tcp_, 1);
  connecting_ = new Connect;
  connecting_->owner = this;
  connecting_->req.data = connecting_;
  state_ = State::Connecting;
  int rc = uv_tcp_connect(&connecting_->req, tcp_, addr, onConnect);
  if (rc != 0) {
    delete connecting_;
    connecting_ = nullptr;
    fail(fmt::format("connect failed: {}", uv_strerror(rc)));
  }
}

void MysqlProbe::onConnect(uv_connect_t* req, int status) {
  auto* c = static_cast<Connect*>(req->data);
  MysqlProbe* self = c->owner;
  delete c;
  if (!self) return;
  self->connecting_ = nullptr;
  if (status != 0) {
    self->fail(fmt::format("could not connect to {}:{}: {}", self->endpoint_.host,
                           self->endpoint_.port, uv_strerror(status)));
    return;
  }
  self->state_ = State::Running;
  uv_read_start(reinterpret_cast<uv_stream_t*>(self->tcp_), onAlloc, onRead);
}

void MysqlProbe::onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* self = static_cast<MysqlProbe*>(h->data);
  *buf = uv_buf_init(self->readBuf_, sizeof self->readBuf_);
}

void MysqlProbe::onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<MysqlProbe*>(s->data);
  if (!self || nread == 0) return;
  if (nread < 0) {
    self->fail(nread == UV_EOF ? "the server closed the connection"
                               : fmt::format("read error: {}", uv_strerror(static_cast<int>(nread))));
    return;
  }
  self->received(buf->base, static_cast<size_t>(nread));
}

void MysqlProbe::onTimeout(uv_timer_t* t) {
  auto* self = static_cast<MysqlProbe*>(t->data);
  if (!self || !self->busy()) return;
  bool connecting = self->state_ != State::Running || !self->exchange_->loggedIn();
  self->fail(connecting ? "connect timed out" : "probe timed out");
}

void MysqlProbe::received(const char* data, size_t len) {
  if (!tls_) {
    in_.append(data, len);
    process();
    return;
  }
  tls_->feed(reinterpret_cast<const uint8_t*>(data), len);
  if (!tls_->established()) {
    TlsSession::Status st = tls_->handshake();
    flushTls();
    if (st == TlsSession::Status::Error || st == TlsSession::Status::Closed) {
      fail(fmt::format("TLS handshake failed: {}", tls_->error()));
      return;
    }
    if (!tls_->established()) return;
    sendPlain(exchange_->responseAfterTls());
  }
  uint8_t plain[16384];
  for (;;) {
    size_t n = 0;
    TlsSession::Status st = tls_->read(plain, sizeof plain, n);
    if (st == TlsSession::Status::WantMore) break;
    if (st != TlsSession::Status::Ok) {
      fail(st == TlsSession::Status::Closed ? "the server closed TLS"
                                            : fmt::format("TLS error: {}", tls_->error()));
      return;
    }
    in_.append(reinterpret_cast<const char*>(plain), n);
  }
  flushTls();
  process();
}

void MysqlProbe::process() {
  while (state_ == State::Running) {
    my::PacketFrame f = my::framePacket(my::asBytes(in_));
    if (f.status != my::FrameStatus::Ok) return;
    if (f.continued()) {
      fail("an answer larger than a health probe reads");
      return;
    }
    my::Writer w;
    MysqlProbeExchange::Status st = exchange_->onPacket(f.payload, f.sequenceId, w);
    in_.erase(0, f.totalSize);
    std::string out = w.take();
    switch (st) {
      case MysqlProbeExchange::Status::Continue:
        if (!out.empty()) sendPlain(std::move(out));
        break;
      case MysqlProbeExchange::Status::StartTls:
        sendRaw(std::move(out));  // the SSLRequest, in the clear
        tls_ = TlsSession::connect(*endpoint_.tls, endpoint_.host,
                                   endpoint_.tlsMode == config::TlsMode::VerifyFull);
        if (!tls_) {
          fail("cannot start TLS");
          return;
        }
        tls_->handshake();
        flushTls();
        break;
      case MysqlProbeExchange::Status::Done:
        if (!out.empty()) sendPlain(std::move(out));
        succeed();
        return;
      case MysqlProbeExchange::Status::Failed:
        fail(exchange_->error());
        return;
    }
  }
}

void MysqlProbe::sendPlain(std::string bytes) {
  if (bytes.empty()) return;
  if (!tls_) {
    sendRaw(std::move(bytes));
    return;
  }
  tls_->write(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  flushTls();
}

void MysqlProbe::flushTls() {
  std::string out;
  while (tls_ && tls_->takeOutput(out)) sendRaw(std::move(out));
}

void MysqlProbe::sendRaw(std::string bytes) {
  if (bytes.empty() || !tcp_) return;
  auto* w = new WriteReq;
  w->bytes = std::move(bytes);
  w->req.data = this;
  uv_buf_t buf = uv_buf_init(w->bytes.data(), static_cast<unsigned>(w->bytes.size()));
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(tcp_), &buf, 1,
                    [](uv_write_t* req, int) { delete reinterpret_cast<WriteReq*>(req); });
  if (rc != 0) {
    delete w;
    fail(fmt::format("write failed: {}", uv_strerror(rc)));
  }
}

void MysqlProbe::succeed() {
  if (timer_) uv_timer_stop(timer_);
  state_ = State::Idle;
  ProbeResult r = exchange_->result();
  r.latency = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started_);
  done_(*this, r);
}

void MysqlProbe::fail(std::string why) {
  disconnect();
  if (timer_) uv_timer_stop(timer_);
  ProbeResult r;
  r.error = why.empty() ? "connection failed" : std::move(why);
  r.latency = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started_);
  done_(*this, r);
}

void MysqlProbe::disconnect() {
  if (resolving_) {
    resolving_->owner = nullptr;
    uv_cancel(reinterpret_cast<uv_req_t*>(&resolving_->req));
    resolving_ = nullptr;
  }
  if (connecting_) {
    connecting_->owner = nullptr;  // its callback comes when the handle closes
    connecting_ = nullptr;
  }
  closeAndDelete(tcp_);
  tls_.reset();
  in_.clear();
  exchange_.reset();
  state_ = State::Disconnected;
}

}  // namespace shardpool::pooler::health
