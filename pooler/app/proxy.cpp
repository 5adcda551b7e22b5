#include "pooler/app/proxy.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <optional>

#include "pooler/admin/console.h"
#include "pooler/mysql/mysql_engine.h"
#include "pooler/pg/pg_engine.h"
#include "pooler/admin/metrics.h"
#include "pooler/admin/snapshot.h"
#include "pooler/app/unix_listener.h"
#include "pooler/net/log.h"

namespace shardpool::pooler {

namespace {
// SHOW STATS averages are taken over this period, as PgBouncer's stats_period.
constexpr uint64_t kStatsPeriodMs = 15000;

bool resolveListen(const std::string& host, uint16_t port, sockaddr_storage& out,
                   std::string& error) {
  std::string h = (host == "*" || host.empty()) ? "0.0.0.0" : host;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  std::string portStr = std::to_string(port);
  int rc = getaddrinfo(h.c_str(), portStr.c_str(), &hints, &res);
  if (rc != 0 || !res) {
    error = gai_strerror(rc);
    return false;
  }
  std::memcpy(&out, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  return true;
}
}  // namespace

Proxy::Proxy(std::shared_ptr<const config::Config> config, bool takeover)
    : Runtime(std::move(config), engines()), takeoverRequested_(takeover) {}

std::vector<std::unique_ptr<Engine>> Proxy::engines() {
  std::vector<std::unique_ptr<Engine>> out;
  out.push_back(makePgEngine());
  out.push_back(makeMysqlEngine());
  return out;
}

Proxy::~Proxy() {
  stopWorkers();
  workers_.clear();
}

std::unique_ptr<ConsoleSession> Proxy::openConsole(ClientSession& client, bool fullAccess) {
  return std::make_unique<admin::Console>(client, fullAccess, *this);
}

namespace {
uint16_t boundPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return 0;
}
}  // namespace

// Each worker listens on its own SO_REUSEPORT socket. With a takeover grant, the sockets of the
// old process are spread over the workers first (worker i takes sockets i, i+N, ...); workers
// left without one bind a new socket, which joins the same SO_REUSEPORT group. The unix socket
// (unix_socket_dir) is one socket that every worker accepts on (each with its own dup).
bool Proxy::openListeners(const config::General& g, TakeoverGrant* grant) {
  Engine& pg = *engine(config::Protocol::Postgres);
  std::string error;
  std::vector<int> tcpFds, unixFds;
  if (grant)
    for (int fd : grant->fds) (boundUnixPath(fd).empty() ? tcpFds : unixFds).push_back(fd);
  auto closeAll = [](const std::vector<int>& fds, size_t from = 0) {
    for (size_t i = from; i < fds.size(); ++i) ::close(fds[i]);
  };
  // Handed-over MySQL listeners (mysql_listen_port) go to the MySQL engine.
  std::vector<int> mysqlFds;
  if (g.mysqlListenPort != 0) {
    auto isMysql = [&](int fd) { return boundPort(fd) == g.mysqlListenPort; };
    std::copy_if(tcpFds.begin(), tcpFds.end(), std::back_inserter(mysqlFds), isMysql);
    tcpFds.erase(std::remove_if(tcpFds.begin(), tcpFds.end(), isMysql), tcpFds.end());
  }
  for (int fd : tcpFds) {
    if (boundPort(fd) != g.listenPort) {
      log::error("",
                 "takeover: the running shardpool listens on port {}, this configuration "
                 "says {}; start without --takeover, or fix listen_port",
                 boundPort(fd), g.listenPort);
      closeAll(tcpFds);
      closeAll(unixFds);
      closeAll(mysqlFds);
      return false;
    }
  }
  for (size_t i = 0; i < tcpFds.size(); ++i) {
    if (!workers_[i % workers_.size()]->adoptListener(tcpFds[i], pg, error)) {
      log::error("", "takeover: cannot accept on a handed-over socket: {}", error);
      closeAll(tcpFds, i + 1);
      closeAll(unixFds);
      return false;
    }
  }
  if (!openMysqlListeners(g, mysqlFds)) {
    closeAll(unixFds);
    return false;
  }
  sockaddr_storage addr{};
  if (!resolveListen(g.listenAddr, g.listenPort, addr, error)) {
    log::error("", "cannot resolve listen_addr \"{}\": {}", g.listenAddr, error);
    closeAll(unixFds);
    return false;
  }
  for (size_t i = 0; i < workers_.size(); ++i) {
    Worker* w = workers_[i].get();
    if (i < tcpFds.size()) continue;  // has a handed-over one
    if (!w->listen(reinterpret_cast<sockaddr*>(&addr), pg, error)) {
      log::error("", "cannot listen on {}:{}: {}", g.listenAddr, g.listenPort, error);
      closeAll(unixFds);
      return false;
    }
  }
  return openUnixListener(g, unixFds);
}

// The MySQL port (mysql_listen_port), as the PostgreSQL one: handed-over sockets first, then
// one new SO_REUSEPORT socket for each worker left without one.
bool Proxy::openMysqlListeners(const config::General& g, const std::vector<int>& handedOver) {
  if (g.mysqlListenPort == 0) return true;
  Engine& mysql = *engine(config::Protocol::MySql);
  std::string error;
  for (size_t i = 0; i < handedOver.size(); ++i) {
    if (!workers_[i % workers_.size()]->adoptListener(handedOver[i], mysql, error)) {
      log::error("", "takeover: cannot accept on a handed-over MySQL socket: {}", error);
      for (size_t j = i + 1; j < handedOver.size(); ++j) ::close(handedOver[j]);
      return false;
    }
  }
  sockaddr_storage addr{};
  if (!resolveListen(g.listenAddr, g.mysqlListenPort, addr, error)) {
    log::error("", "cannot resolve listen_addr \"{}\": {}", g.listenAddr, error);
    return false;
  }
  for (size_t i = handedOver.size(); i < workers_.size(); ++i) {
    if (!workers_[i]->listen(reinterpret_cast<sockaddr*>(&addr), mysql, error)) {
      log::error("", "cannot listen on {}:{} (mysql_listen_port): {}", g.listenAddr,
                 g.mysqlListenPort, error);
      return false;
    }
  }
  return true;
}

bool Proxy::openUnixListener(const config::General& g, std::vector<int>& handedOver) {
  Engine& pg = *engine(config::Protocol::Postgres);
  std::string path = g.unixSocketDir.empty() ? std::string() : unixSocketPath(g);
  int fd = -1;
  // The old process's socket (each of its workers sent a dup of it): kept when it is ours.
  for (int h : handedOver) {
    if (fd < 0 && boundUnixPath(h) == path) {
      fd = h;
      continue;
    }
    ::close(h);
  }
  if (!handedOver.empty() && fd < 0)
    log::warn("", "takeover: the old process's unix socket is not {}; not used",
              path.empty() ? "wanted (unix_socket_dir is empty)" : path);
  if (path.empty()) return true;
  std::string error;
  if (fd < 0 && (fd = bindUnixListener(g, error)) < 0) {
    log::error("", "cannot listen on the unix socket: {}", error);
    return false;
  }
  unixSocketPath_ = path;  // ours now, also when handed over: removed when we exit
  for (size_t i = 0; i < workers_.size(); ++i) {
    int mine = i + 1 == workers_.size() ? fd : ::dup(fd);
    if (mine < 0 || !workers_[i]->adoptListener(mine, pg, error)) {
      log::error("", "cannot accept on the unix socket {}: {}", path,
                 mine < 0 ? std::strerror(errno) : error);
      if (i + 1 < workers_.size()) ::close(fd);
      return false;
    }
  }
  return true;
}

void Proxy::startTakeoverServer(const config::General& g) {
  if (g.takeoverSocket.empty()) return;
  takeover_ = std::make_unique<TakeoverServer>(
      &control_,
      [this] {
        std::vector<int> fds;
        for (auto& w : workers_)
          for (int fd : w->listenerFds()) fds.push_back(fd);
        return fds;
      },
      [this](int pid) {
        // Connections accepted just before the switch must not fail: serve every client until
        // it leaves (up to shutdown_timeout), as SHUTDOWN WAIT_FOR_CLIENTS does.
        log::info("", "takeover: pid {} now accepts on our sockets; draining", pid);
        unixSocketPath_.clear();  // its socket file now, not ours to remove
        takeover_->close();
        beginShutdown(false);
      });
  std::string error = takeover_->listen(g.takeoverSocket);
  if (!error.empty()) log::error("", "upgrades by takeover are off: {}", error);
}

int Proxy::run() {
  auto cfg = config();
  std::string error;
  std::optional<TakeoverGrant> grant;
  if (takeoverRequested_) {
    if (cfg->general.takeoverSocket.empty()) {
      log::error("", "--takeover needs general.takeover_socket (the running shardpool's socket)");
      return 1;
    }
    grant = requestTakeover(cfg->general.takeoverSocket, std::chrono::seconds(10));
    if (!grant->error.empty()) {
      log::error("", "takeover: {}", grant->error);
      return 1;
    }
    log::info("", "takeover: received {} listening socket(s)", grant->fds.size());
  }
  std::shared_ptr<const TlsContext> clientTls;
  if (!buildClientTls(cfg->general, clientTls, error)) {
    log::error("", "client TLS: {}", error);
    if (grant)
      for (int fd : grant->fds) ::close(fd);
    return 1;
  }
  setAcceptTls(std::move(clientTls));
  if (!openListeners(cfg->general, grant ? &*grant : nullptr)) {
    removeUnixSocket();
    return 1;
  }
  ::signal(SIGPIPE, SIG_IGN);
  uv_loop_init(&control_);
  uv_signal_init(&control_, &sigterm_);
  uv_signal_init(&control_, &sigint_);
  uv_signal_init(&control_, &sigquit_);
  uv_signal_init(&control_, &sighup_);
  uv_signal_init(&control_, &sigusr1_);
  uv_signal_init(&control_, &sigusr2_);
  uv_timer_init(&control_, &controlTimer_);
  uv_timer_init(&control_, &statsTimer_);
  uv_async_init(&control_, &controlAsync_, onControlAsync);
  sigterm_.data = sigint_.data = sigquit_.data = sighup_.data = controlTimer_.data = this;
  sigusr1_.data = sigusr2_.data = this;
  statsTimer_.data = controlAsync_.data = this;
  sampleStats();
  uv_timer_start(&statsTimer_, onStatsTick, kStatsPeriodMs, kStatsPeriodMs);
  if (!startMetrics(cfg->general)) {
    closeControlHandles();
    metrics_.reset();
    uv_run(&control_, UV_RUN_DEFAULT);
    uv_loop_close(&control_);
    return 1;
  }
  uv_signal_start(&sigterm_, onSignal, SIGTERM);
  uv_signal_start(&sigint_, onSignal, SIGINT);
  uv_signal_start(&sigquit_, onSignal, SIGQUIT);
  uv_signal_start(&sighup_, onSignal, SIGHUP);
  uv_signal_start(&sigusr1_, onSignal, SIGUSR1);
  uv_signal_start(&sigusr2_, onSignal, SIGUSR2);

  // Databases with a forced backend user have one pool each: create those now so that
  // min_pool_size warms them before the first client arrives.
  for (auto& [name, db] : cfg->databases)
    if (db.user && name != "*") pools().get(*cfg, db, name, *db.user);
  // Directory maps: file-only ones are published before the first client; tables load async.
  directoryLoader_ = std::make_unique<DirectoryLoader>(&control_, directories());
  directoryLoader_->configure(*cfg);
  for (auto& w : workers_) threads_.emplace_back([wp = w.get()] { wp->run(); });
  log::info("", "shardpool listening on {}:{}{} with {} worker thread(s), pool_mode {}",
            cfg->general.listenAddr, cfg->general.listenPort,
            unixSocketPath_.empty() ? std::string() : " and " + unixSocketPath_, workers_.size(),
            config::toString(cfg->general.poolMode));
  if (cfg->general.mysqlListenPort != 0)
    log::info("", "MySQL clients on {}:{} (mysql_listen_port)", cfg->general.listenAddr,
              cfg->general.mysqlListenPort);
  if (grant) {
    confirmTakeover(*grant);
    log::info("", "takeover: confirmed; the old process stops accepting");
  }
  startTakeoverServer(cfg->general);
  failover_ = std::make_unique<health::FailoverManager>(*this, &control_);
  failover_->configure(*cfg);
  setHealth(failover_.get());

  uv_run(&control_, UV_RUN_DEFAULT);
  metrics_.reset();
  takeover_.reset();
  setHealth(nullptr);
  failover_.reset();
  directoryLoader_.reset();
  uv_run(&control_, UV_RUN_DEFAULT);  // close callbacks of the metrics server's handles
  uv_loop_close(&control_);
  stopWorkers();
  removeUnixSocket();
  log::info("", "shardpool stopped");
  return 0;
}

void Proxy::removeUnixSocket() {
  if (unixSocketPath_.empty()) return;
  ::unlink(unixSocketPath_.c_str());
  unixSocketPath_.clear();
}

void Proxy::onSignal(uv_signal_t* s, int signum) {
  auto* self = static_cast<Proxy*>(s->data);
  switch (signum) {
    case SIGINT:
    case SIGTERM: {
      // PgBouncer's "safe shutdown" (SIGINT, SHUTDOWN WAIT_FOR_SERVERS): stop accepting, let
      // transactions in flight finish, exit once the clients are gone. A second signal while a
      // shutdown (or a takeover's drain) is under way exits at once, as in PgBouncer.
      const char* name = signum == SIGINT ? "SIGINT" : "SIGTERM";
      if (self->shuttingDown_) {
        log::info("", "{} during shutdown: exiting now", name);
        self->exitNow();
        break;
      }
      log::info("", "{}: shutting down once transactions in flight have finished", name);
      self->beginShutdown(true);
      break;
    }
    case SIGQUIT:
      log::info("", "SIGQUIT: exiting now");
      self->exitNow();
      break;
    case SIGHUP: {
      std::vector<std::string> errors, warnings;
      (void)self->reload("SIGHUP", errors, warnings);  // both are logged
      break;
    }
    case SIGUSR1:
      // PgBouncer's PAUSE: no server is handed out or opened; clients queue until SIGUSR2.
      log::warn("", "SIGUSR1: pausing every pool (SIGUSR2 or the console's RESUME resumes)");
      self->pools().setPaused("", true);
      break;
    case SIGUSR2:
      if (self->resume()) break;  // as the console's RESUME: a SUSPEND is undone first
      log::info("", "SIGUSR2: resuming every pool");
      self->pools().setPaused("", false);
      // A pool hands its queued clients servers from a worker's loop.
      self->worker(0).post([self](Worker& w) {
        for (Pool* p : self->pools().forDatabase(""))
          if (!self->pools().isPaused(p->database())) p->resume(w);
      });
      break;
    default:
      break;
  }
}

void Proxy::closeControlHandles() {
  if (metrics_) metrics_->close();
  if (failover_) failover_->stop();
  if (directoryLoader_) directoryLoader_->stop();
  if (takeover_) takeover_->close();
  uv_walk(
      &control_,
      [](uv_handle_t* h, void*) {
        if (!uv_is_closing(h)) uv_close(h, nullptr);
      },
      nullptr);
}

void Proxy::exitNow() {
  shuttingDown_ = true;
  uv_stop(&control_);
  closeControlHandles();
}

bool Proxy::startMetrics(const config::General& g) {
  if (g.metricsPort == 0) return true;
  HttpServer::Options options;
  options.reusePort = true;  // a new process may take over during an upgrade
  metrics_ = std::make_unique<HttpServer>(
      &control_,
      [this](std::string_view, std::string_view path) {
        HttpServer::Response r;
        if (path == "/metrics") {
          auto snapshot = admin::gatherSnapshotBlocking(runtime(), std::chrono::seconds(2));
          r.contentType = "text/plain; version=0.0.4; charset=utf-8";
          r.body = admin::renderMetrics(*this, snapshot.get());
        } else if (path == "/") {
          r.body = "shardpool: metrics at /metrics\n";
        } else {
          r.status = 404;
          r.body = "not found; try /metrics\n";
        }
        return r;
      },
      options);
  std::string error = metrics_->listen(g.metricsAddr, g.metricsPort);
  if (!error.empty()) {
    log::error("", "cannot serve metrics: {}", error);
    return false;
  }
  log::info("", "Prometheus metrics at http://{}:{}/metrics", g.metricsAddr, metrics_->port());
  return true;
}

void Proxy::beginShutdown(bool closeIdleClients) {
  if (shuttingDown_) return;
  shuttingDown_ = true;
  auto timeout = config()->general.shutdownTimeout;
  shutdownDeadline_ = Clock::now() + timeout;
  if (closeIdleClients) {
    log::info("", "no longer accepting connections; waiting up to {} ms for {} client(s)",
              timeout.count(), liveClients());
    for (auto& w : workers_) w->post([](Worker& wk) { wk.beginShutdown(); });
  } else {
    if (waitForever_)
      log::info("", "no longer accepting connections; waiting for {} client(s) to disconnect",
                liveClients());
    else
      log::info("",
                "no longer accepting connections; waiting up to {} ms for {} client(s) to "
                "disconnect",
                timeout.count(), liveClients());
    for (auto& w : workers_) w->post([](Worker& wk) { wk.stopAccepting(); });
  }
  uv_timer_start(&controlTimer_, onControlTick, 50, 50);
}

size_t Proxy::liveClients() {
  size_t n = 0;
  for (auto& w : workers_) n += w->clientCount();
  return n;
}

void Proxy::onControlTick(uv_timer_t* t) {
  auto* self = static_cast<Proxy*>(t->data);
  size_t live = self->liveClients();
  bool expired = !self->waitForever_ && Clock::now() >= self->shutdownDeadline_;
  if (live > 0 && !expired) return;
  if (expired && live > 0)
    log::warn("", "shutdown_timeout expired with {} client(s) still connected; closing them", live);
  self->closeControlHandles();
}

void Proxy::stopWorkers() {
  if (threads_.empty()) {
    // Start-up failed before the threads ran: close their handles here so that each worker's
    // destructor can run its loop to the end.
    for (auto& w : workers_) w->stop();
    return;
  }
  for (auto& w : workers_) w->post([](Worker& wk) { wk.stop(); });
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace shardpool::pooler
