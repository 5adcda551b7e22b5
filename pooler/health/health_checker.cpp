#include "pooler/health/health_checker.h"

#include <fmt/format.h>

#include "pooler/net/uv_handle.h"

#include "pooler/health/mysql_probe.h"
#include "pooler/net/conninfo.h"
#include "pooler/net/log.h"

namespace shardpool::pooler::health {

namespace {

constexpr const char* kProbeSql =
    "SELECT pg_catalog.pg_is_in_recovery(), CASE WHEN pg_catalog.pg_is_in_recovery() "
    "THEN pg_catalog.pg_last_wal_replay_lsn() ELSE pg_catalog.pg_current_wal_lsn() END";

}  // namespace

uint64_t parseLsn(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size()) return 0;
  auto hex = [](std::string_view s, uint64_t& out) {
    out = 0;
    if (s.size() > 8) return false;
    for (char c : s) {
      int d = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                     : -1;
      if (d < 0) return false;
      out = out * 16 + static_cast<uint64_t>(d);
    }
    return true;
  };
  uint64_t hi, lo;
  if (!hex(text.substr(0, slash), hi) || !hex(text.substr(slash + 1), lo)) return 0;
  return hi << 32 | lo;
}

// A PostgreSQL backend's connection (libpq) and the probe (or one-shot statement) running on it.
class HealthChecker::PgProbe final : public ProbeConnection {
 public:
  enum class State { Disconnected, Connecting, Idle, Querying };

  PgProbe(uv_loop_t* loop, std::string key, std::string conninfo, std::string sql, Done done)
      : ProbeConnection(std::move(key)),
        loop_(loop),
        conninfo_(std::move(conninfo)),
        sql_(std::move(sql)),
        done_(std::move(done)) {}
  ~PgProbe() override { disconnect(); }

  bool serves(const ProbeTarget& target) const override {
    return !target.mysql && target.conninfo == conninfo_;
  }
  bool busy() const override {
    return state_ == State::Connecting || state_ == State::Querying;
  }

  void begin(std::chrono::milliseconds timeout) override {
    if (busy()) return;
    started_ = Clock::now();
    timer_ = timer_ ? timer_ : newTimer();
    uv_timer_start(timer_, onTimeout, static_cast<uint64_t>(timeout.count()), 0);
    if (state_ == State::Idle) {
      sendQuery();
      return;
    }
    conn_ = PQconnectStart(conninfo_.c_str());
    if (!conn_ || PQstatus(conn_) == CONNECTION_BAD) {
      fail(conn_ ? libpqMessage(PQerrorMessage(conn_)) : "out of memory");
      return;
    }
    state_ = State::Connecting;
    watch(UV_WRITABLE);
  }

 private:
  uv_timer_t* newTimer() {
    auto* t = new uv_timer_t;
    uv_timer_init(loop_, t);
    t->data = this;
    return t;
  }

  // Waits for `events` on the connection's socket (which libpq may change while connecting).
  void watch(int events) {
    int fd = PQsocket(conn_);
    if (fd < 0) {
      fail("no socket");
      return;
    }
    if (poll_ && fd != pollFd_) closeAndDelete(poll_);
    if (!poll_) {
      poll_ = new uv_poll_t;
      if (uv_poll_init_socket(loop_, poll_, fd) != 0) {
        delete poll_;
        poll_ = nullptr;
        fail("cannot watch the socket");
        return;
      }
      poll_->data = this;
      pollFd_ = fd;
    }
    uv_poll_start(poll_, events, onPoll);
  }

  static void onPoll(uv_poll_t* p, int status, int events) {
    auto* self = static_cast<PgProbe*>(p->data);
    if (!self) return;
    if (status < 0) {
      // libpq knows best what went wrong with its socket (a refused connect, say).
      if (self->state_ == State::Connecting) {
        self->step(UV_READABLE | UV_WRITABLE);
        return;
      }
      self->fail(fmt::format("socket error: {}", uv_strerror(status)));
      return;
    }
    self->step(events);
  }

  static void onTimeout(uv_timer_t* t) {
    auto* self = static_cast<PgProbe*>(t->data);
    if (self && self->busy())
      self->fail(self->state_ == State::Connecting ? "connect timed out" : "probe timed out");
  }

  void step(int events) {
    switch (state_) {
      case State::Connecting:
        switch (PQconnectPoll(conn_)) {
          case PGRES_POLLING_OK:
            PQsetnonblocking(conn_, 1);
            state_ = State::Idle;
            sendQuery();
            return;
          case PGRES_POLLING_READING:
            watch(UV_READABLE);
            return;
          case PGRES_POLLING_WRITING:
            watch(UV_WRITABLE);
            return;
          case PGRES_POLLING_FAILED:
          default:
            fail(libpqMessage(PQerrorMessage(conn_)));
            return;
        }
      case State::Querying:
        if ((events & UV_WRITABLE) && PQflush(conn_) < 0) {
          fail(libpqMessage(PQerrorMessage(conn_)));
          return;
        }
        if (events & UV_READABLE) readResults();
        return;
      case State::Idle:
        // Unprompted input while idle: a notice, or the server going away.
        if (!PQconsumeInput(conn_)) fail(libpqMessage(PQerrorMessage(conn_)));
        return;
      case State::Disconnected:
        return;
    }
  }

  void sendQuery() {
    if (!PQsendQuery(conn_, sql_.c_str())) {
      fail(libpqMessage(PQerrorMessage(conn_)));
      return;
    }
    state_ = State::Querying;
    result_ = ProbeResult{};
    int more = PQflush(conn_);
    if (more < 0) {
      fail(libpqMessage(PQerrorMessage(conn_)));
      return;
    }
    watch(more ? UV_READABLE | UV_WRITABLE : UV_READABLE);
  }

  void readResults() {
    if (!PQconsumeInput(conn_)) {
      fail(libpqMessage(PQerrorMessage(conn_)));
      return;
    }
    while (!PQisBusy(conn_)) {
      PGresult* r = PQgetResult(conn_);
      if (!r) {
        succeed();
        return;
      }
      ExecStatusType st = PQresultStatus(r);
      if (st == PGRES_TUPLES_OK && PQntuples(r) > 0 && PQnfields(r) >= 1) {
        result_.inRecovery = std::string_view(PQgetvalue(r, 0, 0)) == "t";
        if (PQnfields(r) >= 2) result_.walPosition = parseLsn(PQgetvalue(r, 0, 1));
      } else if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        result_.error = libpqMessage(PQresultErrorMessage(r));
      }
      PQclear(r);
    }
  }

  void succeed() {
    uv_timer_stop(timer_);
    state_ = State::Idle;
    if (poll_) uv_poll_start(poll_, UV_READABLE, onPoll);  // notice a server that goes away
    result_.ok = result_.error.empty();
    result_.latency =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started_);
    if (!result_.ok) disconnect();
    done_(*this, result_);
  }

  void fail(std::string why) {
    bool wasBusy = busy();
    disconnect();
    if (timer_) uv_timer_stop(timer_);
    ProbeResult r;
    r.error = why.empty() ? "connection failed" : std::move(why);
    r.latency = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started_);
    // An idle connection that broke is reported too: the server went away.
    (void)wasBusy;
    done_(*this, r);
  }

  void disconnect() {
    closeAndDelete(poll_);
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
    state_ = State::Disconnected;
    if (timer_) {
      closeAndDelete(timer_);
    }
  }

  uv_loop_t* loop_;
  std::string conninfo_;
  std::string sql_;
  Done done_;
  State state_ = State::Disconnected;
  PGconn* conn_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  int pollFd_ = -1;
  uv_timer_t* timer_ = nullptr;
  Clock::time_point started_;
  ProbeResult result_;
};

HealthChecker::HealthChecker(uv_loop_t* loop, Options options, OnResult onResult)
    : loop_(loop), options_(options), onResult_(std::move(onResult)) {}

HealthChecker::~HealthChecker() {
  stop();
}

void HealthChecker::setTargets(const std::vector<ProbeTarget>& targets) {
  std::map<std::string, std::unique_ptr<Probe>> next;
  auto report = [this](ProbeConnection& p, const ProbeResult& r) { onResult_(p.key(), r); };
  for (const ProbeTarget& t : targets) {
    auto it = probes_.find(t.key);
    if (it != probes_.end() && it->second->serves(t)) {
      next[t.key] = std::move(it->second);
      continue;
    }
    if (t.mysql)
      next[t.key] = std::make_unique<MysqlProbe>(loop_, t.key, *t.mysql,
                                                 MysqlProbe::Goal::Probe, report);
    else
      next[t.key] = std::make_unique<PgProbe>(loop_, t.key, t.conninfo, kProbeSql, report);
  }
  for (auto& [key, probe] : probes_)
    if (probe) retired_.push_back(std::move(probe));
  probes_ = std::move(next);
}

void HealthChecker::setOptions(Options options) {
  options_ = options;
  if (timer_) uv_timer_set_repeat(timer_, static_cast<uint64_t>(options_.interval.count()));
}

void HealthChecker::start() {
  if (timer_) return;
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  uv_timer_start(timer_, onTick, 0, static_cast<uint64_t>(options_.interval.count()));
}

void HealthChecker::stop() {
  closeAndDelete(timer_);
  probes_.clear();
  oneShots_.clear();
  retired_.clear();
}

void HealthChecker::onTick(uv_timer_t* t) {
  if (auto* self = static_cast<HealthChecker*>(t->data)) self->tick();
}

void HealthChecker::tick() {
  retired_.clear();  // deferred deletion: none of these is on the stack now
  std::erase_if(oneShots_, [](const std::unique_ptr<Probe>& p) { return !p->busy(); });
  for (auto& [key, probe] : probes_) probe->begin(options_.timeout);
}

void HealthChecker::probeNow(const std::string& key) {
  auto it = probes_.find(key);
  if (it != probes_.end()) it->second->begin(options_.timeout);
}

void HealthChecker::promote(const ProbeTarget& target, std::chrono::milliseconds timeout,
                            std::function<void(std::string)> done) {
  auto report = [done = std::move(done)](ProbeConnection&, const ProbeResult& r) {
    done(r.ok ? "" : r.error);
  };
  std::unique_ptr<Probe> probe;
  if (target.mysql)
    probe = std::make_unique<MysqlProbe>(loop_, "promote", *target.mysql,
                                         MysqlProbe::Goal::Promote, std::move(report));
  else
    probe = std::make_unique<PgProbe>(loop_, "promote", target.conninfo,
                                      "SELECT pg_catalog.pg_promote(true, 30)", std::move(report));
  probe->begin(timeout);
  oneShots_.push_back(std::move(probe));
}

}  // namespace shardpool::pooler::health
