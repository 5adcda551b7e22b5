#include "pooler/session/worker.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cstring>

#include "pooler/session/conn_rows.h"
#include "pooler/session/client_session.h"
#include "pooler/net/log.h"
#include "pooler/session/pool.h"
#include "pooler/session/runtime.h"
#include "pooler/session/server_link.h"
#include "pooler/session/engine.h"

namespace shardpool::pooler {

namespace {
constexpr uint64_t kTickMs = 100;

// A listening socket's handle (TCP, or a pipe for the unix socket), first so that the handle's
// address is the listener's, and the engine its clients speak to.
struct ListenHandle {
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  };
  Worker* worker;
  Engine* engine;
};

void freeListener(uv_handle_t* h) {
  delete reinterpret_cast<ListenHandle*>(h);
}

bool isUnixSocket(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  return ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0 && ss.ss_family == AF_UNIX;
}

// Descriptors kept in hand for servers, health checks and the like before the table counts as
// nearly full.
constexpr uint64_t kFileHeadroom = 16;
}

Worker::Worker(Runtime& runtime, unsigned index)
    : runtime_(runtime), index_(index) {
  for (size_t p = 0; p < config::kProtocolCount; ++p)
    if (Engine* e = runtime.engine(static_cast<config::Protocol>(p)))
      locals_[p] = e->newWorkerLocal(*this);
  uv_loop_init(&loop_);
  reserveFd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  uv_async_init(&loop_, &async_, onAsync);
  async_.data = this;
  uv_timer_init(&loop_, &timer_);
  timer_.data = this;
  uv_check_init(&loop_, &check_);
  check_.data = this;
  uv_idle_init(&loop_, &idle_);
  idle_.data = this;
  now_ = Clock::now();
  readFileLimit();
}

Worker::~Worker() {
  // stop() closed the handles; run the loop until their close callbacks are done.
  clients_.clear();
  servers_.clear();
  others_.clear();
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
  if (reserveFd_ >= 0) ::close(reserveFd_);
}

bool Worker::listen(const sockaddr* addr, Engine& engine, std::string& error) {
  int fd = ::socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::strerror(errno);
    return false;
  }
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  socklen_t len = addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (::bind(fd, addr, len) != 0) {
    error = std::strerror(errno);
    ::close(fd);
    return false;
  }
  return adoptListener(fd, engine, error);
}

bool Worker::adoptListener(int fd, Engine& engine, std::string& error) {
  auto* handle = new ListenHandle;
  handle->worker = this;
  handle->engine = &engine;
  int rc;
  if (isUnixSocket(fd)) {
    uv_pipe_init(&loop_, &handle->pipe, 0);
    rc = uv_pipe_open(&handle->pipe, fd);
  } else {
    uv_tcp_init(&loop_, &handle->tcp);
    rc = uv_tcp_open(&handle->tcp, fd);
  }
  handle->handle.data = handle;
  if (rc == 0) rc = uv_listen(&handle->stream, 1024, onConnection);
  if (rc != 0) {
    error = uv_strerror(rc);
    uv_close(&handle->handle, freeListener);
    return false;
  }
  listeners_.push_back(&handle->stream);
  listenerFds_.push_back(fd);
  return true;
}

void Worker::closeListeners() {
  for (uv_stream_t* l : listeners_) {
    auto* h = reinterpret_cast<uv_handle_t*>(l);
    if (!uv_is_closing(h)) uv_close(h, freeListener);
  }
  listeners_.clear();
}

void Worker::run() {
  uv_timer_start(&timer_, onTick, kTickMs, kTickMs);
  uv_check_start(&check_, onCheck);
  uv_run(&loop_, UV_RUN_DEFAULT);
}

void Worker::post(Task task) {
  {
    std::lock_guard lock(tasksMutex_);
    tasks_.push_back(std::move(task));
  }
  uv_async_send(&async_);
}

void Worker::onAsync(uv_async_t* a) {
  auto* self = static_cast<Worker*>(a->data);
  std::vector<Task> tasks;
  {
    std::lock_guard lock(self->tasksMutex_);
    tasks.swap(self->tasks_);
  }
  self->now_ = Clock::now();
  for (auto& t : tasks) t(*self);
}

void Worker::onConnection(uv_stream_t* listener, int status) {
  auto* handle = static_cast<ListenHandle*>(listener->data);
  Worker* self = handle->worker;
  if (status != 0) {
    // Out of file descriptors, libuv accepts and drops the connection: say so, once a second.
    bool noFiles = status == UV_EMFILE || status == UV_ENFILE;
    Clock::time_point now = Clock::now();
    if (!noFiles || now - self->lastAcceptError_ >= std::chrono::seconds(1)) {
      self->lastAcceptError_ = now;
      if (noFiles)
        log::error("", "accept failed: {}: a new client was refused (raise the open files limit "
                   "or lower max_client_conn)", uv_strerror(status));
      else
        log::warn("", "accept failed: {}", uv_strerror(status));
    }
    if (noFiles) self->refusePending(listener);
    return;
  }
  self->accept(listener, *handle->engine);
}

void Worker::refusePending(uv_stream_t* listener) {
  // The connections waiting in the backlog cannot be served: refuse them, with the one
  // descriptor kept for this, so that accept stops failing and the loop gets on with the
  // clients it has (their disconnects free descriptors). Otherwise libuv, whose own reserve
  // may be missing, retries the accept without end and the worker serves nobody.
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(listener), &fd) != 0) return;
  if (reserveFd_ >= 0) {
    ::close(reserveFd_);
    reserveFd_ = -1;
  }
  for (int c; (c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) ::close(c);
  reserveFd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void Worker::accept(uv_stream_t* listener, Engine& engine) {
  now_ = Clock::now();
  uint64_t id = runtime_.nextId();
  std::unique_ptr<ClientSession> client = engine.newClient(*this, id);
  client->protocol_ = engine.protocol();
  if (client->acceptFrom(listener) != 0) return;
  // Descriptors are handed out lowest first, so a new socket's number tells how full the table
  // is. Once it is nearly full libuv drops new connections without a word: say it first.
  if (client->fd() >= 0 && fileLimit_ > 0 &&
      static_cast<uint64_t>(client->fd()) + kFileHeadroom >= fileLimit_ &&
      now_ - lastAcceptError_ >= std::chrono::seconds(1)) {
    lastAcceptError_ = now_;
    log::error("", "open files nearly exhausted (descriptor {} of limit {}): new clients will be "
               "dropped; raise the open files limit or lower max_client_conn",
               client->fd(), fileLimit_);
  }
  ClientSession* c = client.get();
  clients_.emplace(id, std::move(client));
  clientsAlive_.store(clients_.size(), std::memory_order_relaxed);
  if (shuttingDown_) {
    c->closeIfIdle();
    return;
  }
  if (suspended_) {  // waits, unread, for RESUME (as in PgBouncer)
    c->freeze();
    parked_.push_back(id);
    return;
  }
  c->start();
}

uint64_t Worker::nextId() {
  return runtime_.nextId();
}

ClientSession* Worker::findClient(uint64_t id) {
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : it->second.get();
}

ServerLink* Worker::findServer(uint64_t id) {
  auto it = servers_.find(id);
  return it == servers_.end() ? nullptr : it->second.get();
}

ServerLink* Worker::adoptServer(std::unique_ptr<ServerLink> server) {
  ServerLink* raw = server.get();
  if (suspended_) raw->freeze();
  servers_[raw->id()] = std::move(server);
  return raw;
}

Connection* Worker::adoptOther(std::unique_ptr<Connection> conn) {
  Connection* raw = conn.get();
  others_[raw->id()] = std::move(conn);
  return raw;
}

std::unique_ptr<ServerLink> Worker::releaseServer(ServerLink* server) {
  auto it = servers_.find(server->id());
  if (it == servers_.end()) return nullptr;
  std::unique_ptr<ServerLink> out = std::move(it->second);
  servers_.erase(it);
  return out;
}

void Worker::wake() {
  if (!idleActive_) {
    uv_idle_start(&idle_, [](uv_idle_t*) {});
    idleActive_ = true;
  }
}

void Worker::retire(Connection* conn) {
  retired_.push_back(conn->id());
  wake();
}

void Worker::queueGive(ServerLink* server, uint64_t clientId) {
  gives_.emplace_back(server->id(), clientId);
  wake();
}

void Worker::giveServer(ServerLink* server, uint64_t clientId) {
  if (clientId != 0) {
    ClientSession* c = findClient(clientId);
    if (c && c->waitingForServer()) {
      c->assignServer(server);
      return;
    }
  }
  server->pool().release(*this, server);
}

void Worker::connectFor(Pool& pool, uint64_t clientId) {
  // Every pool's protocol has its engine: a client draws only from pools of its own protocol
  // (ClientSession::askPool), and the process installs an engine for each.
  Engine* engine = runtime_.engine(pool.settings().protocol);
  assert(engine && "a pool of a protocol without an engine");
  ServerLink* s = adoptServer(engine->newServer(*this, runtime_.nextId(), pool));
  s->start(clientId);
}

void Worker::onCheck(uv_check_t* c) {
  static_cast<Worker*>(c->data)->sweep();
}

void Worker::sweep() {
  while (!gives_.empty()) {
    std::vector<std::pair<uint64_t, uint64_t>>& gives = givesRunning_;
    gives.swap(gives_);
    for (auto [serverId, clientId] : gives) {
      auto it = servers_.find(serverId);
      ServerLink* s = it == servers_.end() ? nullptr : it->second.get();
      if (!s || s->state() != ServerLink::State::Idle || !s->isOpen()) {
        // Closed before it could be given: the client it was meant for asks again.
        if (ClientSession* c = clientId ? findClient(clientId) : nullptr) c->serverWithdrawn();
        continue;
      }
      if (shuttingDown_) {
        s->close("shutting down");
        continue;
      }
      giveServer(s, clientId);
    }
    gives.clear();
  }
  if (!retired_.empty()) {
    std::vector<uint64_t> ids;
    ids.swap(retired_);
    for (uint64_t id : ids) {
      if (clients_.erase(id) == 0 && servers_.erase(id) == 0) others_.erase(id);
    }
    clientsAlive_.store(clients_.size(), std::memory_order_relaxed);
  }
  if (idleActive_ && gives_.empty() && retired_.empty()) {
    uv_idle_stop(&idle_);
    idleActive_ = false;
  }
}

void Worker::onTick(uv_timer_t* t) {
  static_cast<Worker*>(t->data)->tick();
}

void Worker::readFileLimit() {
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0)
    fileLimit_ = files.rlim_cur == RLIM_INFINITY ? 0 : static_cast<uint64_t>(files.rlim_cur);
}

void Worker::tick() {
  now_ = Clock::now();
  if (now_ - lastLimitCheck_ >= std::chrono::seconds(1)) {  // prlimit may change it
    lastLimitCheck_ = now_;
    readFileLimit();
  }
  auto cfg = runtime_.config();
  if (suspended_) {
    suspendedTick(cfg->general);
    return;
  }
  std::vector<uint64_t> ids;
  ids.reserve(clients_.size());
  for (auto& [id, c] : clients_) ids.push_back(id);
  for (uint64_t id : ids) {
    auto it = clients_.find(id);
    if (it == clients_.end()) continue;
    if (shuttingDown_)
      it->second->closeIfIdle();
    else
      it->second->checkTimers(now_, cfg->general);
  }
  // Pool upkeep (min_pool_size, reserve pool, shared caps) runs on one worker, every second.
  if (index_ == 0 && !shuttingDown_ && now_ - lastMaintain_ >= std::chrono::seconds(1)) {
    lastMaintain_ = now_;
    for (Pool* p : runtime_.pools().all()) p->maintain(*this, now_);
  }
  ids.clear();
  for (auto& [id, s] : servers_) ids.push_back(id);
  for (uint64_t id : ids) {
    auto it = servers_.find(id);
    if (it != servers_.end()) it->second->checkTimers(now_);
  }
}

void Worker::suspend(uint64_t epoch) {
  suspended_ = true;
  suspendEpoch_ = epoch;
  suspendSince_ = now_ = Clock::now();
  for (auto& [id, c] : clients_)
    if (!c->isConsole()) c->freeze();
  for (auto& [id, s] : servers_) s->freeze();
  suspendedTick(runtime_.config()->general);
}

void Worker::resume() {
  if (!suspended_) return;
  suspended_ = false;
  now_ = Clock::now();
  for (auto& [id, c] : clients_) c->thaw();
  for (auto& [id, s] : servers_) s->thaw();
  std::vector<uint64_t> parked;
  parked.swap(parked_);
  for (uint64_t id : parked)
    if (ClientSession* c = findClient(id)) c->start();
}

// While suspended only the admin console runs its timers (a waiting command, RESUME from
// another session); every other timeout stands still. Sockets whose writes cannot be flushed
// within suspend_timeout are closed, as PgBouncer drops them.
void Worker::suspendedTick(const config::General& g) {
  std::vector<ClientSession*> consoles, clients;
  std::vector<ServerLink*> servers;
  for (auto& [id, c] : clients_) {
    if (c->isConsole())
      consoles.push_back(c.get());
    else if (c->isOpen() && c->writeQueueSize() > 0)
      clients.push_back(c.get());
  }
  for (auto& [id, s] : servers_)
    if (s->isOpen() && s->writeQueueSize() > 0) servers.push_back(s.get());
  bool flushed = clients.empty() && servers.empty();
  if (!flushed && g.suspendTimeout.count() > 0 && now_ - suspendSince_ >= g.suspendTimeout) {
    std::string reason =
        fmt::format("suspend_timeout ({} ms): its socket could not be flushed for SUSPEND",
                    g.suspendTimeout.count());
    for (ClientSession* c : clients) c->close(reason);
    for (ServerLink* s : servers) s->close(reason, true);
    flushed = true;
  }
  if (flushed) flushedEpoch_.store(suspendEpoch_, std::memory_order_release);
  for (ClientSession* c : consoles) c->checkTimers(now_, g);
}

void Worker::stopAccepting() {
  closeListeners();
}

void Worker::beginShutdown() {
  if (shuttingDown_) return;
  shuttingDown_ = true;
  stopAccepting();
  tick();
}

void Worker::describeConnections(std::vector<ConnRow>& clients,
                                 std::vector<ConnRow>& servers) {
  for (auto& [id, c] : clients_) {
    if (c->state() == ClientSession::State::Closing) continue;
    clients.emplace_back();
    c->describe(clients.back());
  }
  for (auto& [id, s] : servers_) {
    if (s->state() == ServerLink::State::Closed) continue;
    servers.emplace_back();
    s->describe(servers.back());
  }
}

void Worker::killDatabase(const std::string& db, const std::vector<Pool*>& pools) {
  std::vector<ClientSession*> victims;
  for (auto& [id, c] : clients_)
    if (c->database() == db && !c->isConsole()) victims.push_back(c.get());
  for (ClientSession* c : victims)
    c->terminate("57P01", "terminating connection due to administrator command (KILL)", "KILL");
  std::vector<ServerLink*> servers;
  for (auto& [id, s] : servers_)
    if (std::find(pools.begin(), pools.end(), &s->pool()) != pools.end())
      servers.push_back(s.get());
  for (ServerLink* s : servers) s->close("KILL from the admin console");
}

void Worker::stop() {
  if (stopping_) return;
  stopping_ = true;
  for (auto& [id, c] : clients_) c->closeHandle();
  for (auto& [id, s] : servers_) s->closeHandle();
  for (auto& [id, o] : others_) o->closeHandle();
  auto closeIfOpen = [](uv_handle_t* h) {
    if (!uv_is_closing(h)) uv_close(h, nullptr);
  };
  closeListeners();
  closeIfOpen(reinterpret_cast<uv_handle_t*>(&async_));
  closeIfOpen(reinterpret_cast<uv_handle_t*>(&timer_));
  closeIfOpen(reinterpret_cast<uv_handle_t*>(&check_));
  closeIfOpen(reinterpret_cast<uv_handle_t*>(&idle_));
}

}  // namespace shardpool::pooler
