#include "pooler/pg/auth_query.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include "pooler/net/conninfo.h"

namespace shardpool::pooler {

namespace {

// The lookup's state; it owns itself. Its uv handles point at it; it is freed in the timer's
// close callback, after every callback that could reach it has been stopped (never inside one).
class AuthQueryRun {
 public:
  AuthQueryRun(uv_loop_t* loop, AuthQueryTarget target, std::function<void(AuthSecret)> done)
      : loop_(loop), target_(std::move(target)), done_(std::move(done)) {
    uv_timer_init(loop_, &timer_);
    timer_.data = this;
  }

  void start() {
    uv_timer_start(&timer_, onTimeout, static_cast<uint64_t>(target_.timeout.count()), 0);
    if (target_.hosts.empty()) {
      finish(failed("no host to connect to"));
      return;
    }
    startHost();
  }

 private:
  static AuthSecret failed(std::string why) {
    return {AuthSecret::Kind::Failed, {}, why.empty() ? "connection failed" : std::move(why)};
  }

  const std::string& host() const { return target_.hosts[hostIndex_].host; }

  void startHost() {
    const std::string& host = this->host();
    if (host.empty() || host[0] == '/' || isIpAddress(host)) {
      connect("");
      return;
    }
    resolving_ = new uv_getaddrinfo_t;
    resolving_->data = this;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = uv_getaddrinfo(loop_, resolving_, onResolved, host.c_str(), nullptr, &hints);
    if (rc != 0) {
      delete resolving_;
      resolving_ = nullptr;
      connectFailed(fmt::format("could not resolve host \"{}\": {}", host, uv_strerror(rc)));
    }
  }

  // This host cannot be reached: the next one of the list, or the end with every host's reason.
  void connectFailed(std::string why) {
    reasons_ += (reasons_.empty() ? "" : "; ") + why;
    if (hostIndex_ + 1 >= target_.hosts.size()) {
      finish(failed(reasons_));
      return;
    }
    closePoll();  // before PQfinish: the next connection may get the same descriptor
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
    connecting_ = false;
    ++hostIndex_;
    startHost();
  }

  static void onResolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
    auto* self = static_cast<AuthQueryRun*>(req->data);
    delete req;
    if (self) {
      self->resolving_ = nullptr;
      char text[INET6_ADDRSTRLEN] = {};
      if (status == 0 && res) {
        const void* addr = res->ai_family == AF_INET6
                               ? static_cast<const void*>(
                                     &reinterpret_cast<sockaddr_in6*>(res->ai_addr)->sin6_addr)
                               : &reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr;
        inet_ntop(res->ai_family, addr, text, sizeof text);
      }
      if (text[0] == '\0')
        self->connectFailed(
            fmt::format("could not resolve host \"{}\": {}", self->host(), uv_strerror(status)));
      else
        self->connect(text);
    }
    uv_freeaddrinfo(res);
  }

  void connect(const std::string& hostaddr) {
    conn_ = PQconnectStart(authQueryConninfo(target_, hostIndex_, hostaddr).c_str());
    if (!conn_) {
      finish(failed("out of memory"));
      return;
    }
    if (PQstatus(conn_) == CONNECTION_BAD) {
      connectFailed(libpqMessage(PQerrorMessage(conn_)));
      return;
    }
    connecting_ = true;
    watch(UV_WRITABLE);
  }

  // Waits for `events` on libpq's socket (which may change while connecting).
  void watch(int events) {
    int fd = PQsocket(conn_);
    if (fd < 0) {
      finish(failed("no socket"));
      return;
    }
    if (poll_ && fd != pollFd_) closePoll();
    if (!poll_) {
      poll_ = new uv_poll_t;
      if (uv_poll_init_socket(loop_, poll_, fd) != 0) {
        delete poll_;
        poll_ = nullptr;
        finish(failed("cannot watch the socket"));
        return;
      }
      poll_->data = this;
      pollFd_ = fd;
    }
    uv_poll_start(poll_, events, onPoll);
  }

  void closePoll() {
    if (!poll_) return;
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }

  static void onPoll(uv_poll_t* p, int status, int events) {
    auto* self = static_cast<AuthQueryRun*>(p->data);
    if (!self) return;
    // On a socket error libpq says best what went wrong (a refused connect).
    self->step(status < 0 ? UV_READABLE | UV_WRITABLE : events);
  }

  static void onTimeout(uv_timer_t* t) {
    auto* self = static_cast<AuthQueryRun*>(t->data);
    if (self->finished_) return;
    self->finish(failed(self->connecting_ || !self->conn_ ? "connect timed out"
                                                          : "auth_query timed out"));
  }

  void step(int events) {
    if (finished_) return;
    if (connecting_) {
      switch (PQconnectPoll(conn_)) {
        case PGRES_POLLING_OK:
          connecting_ = false;
          PQsetnonblocking(conn_, 1);
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
          connectFailed(libpqMessage(PQerrorMessage(conn_)));
          return;
      }
    }
    if ((events & UV_WRITABLE) && PQflush(conn_) < 0) {
      finish(failed(libpqMessage(PQerrorMessage(conn_))));
      return;
    }
    if (events & UV_READABLE) readResults();
  }

  void sendQuery() {
    const char* values[] = {target_.lookedUp.c_str()};
    if (!PQsendQueryParams(conn_, target_.query.c_str(), 1, nullptr, values, nullptr, nullptr, 0)) {
      finish(failed(libpqMessage(PQerrorMessage(conn_))));
      return;
    }
    int more = PQflush(conn_);
    if (more < 0) {
      finish(failed(libpqMessage(PQerrorMessage(conn_))));
      return;
    }
    watch(more ? UV_READABLE | UV_WRITABLE : UV_READABLE);
  }

  void readResults() {
    if (!PQconsumeInput(conn_)) {
      finish(failed(libpqMessage(PQerrorMessage(conn_))));
      return;
    }
    while (!PQisBusy(conn_)) {
      PGresult* r = PQgetResult(conn_);
      if (!r) {
        finish(result_);
        return;
      }
      ExecStatusType st = PQresultStatus(r);
      if (st == PGRES_TUPLES_OK) {
        if (PQnfields(r) < 2) {
          result_ = failed(fmt::format("auth_query returned {} column(s); it must return the user "
                                       "name and its password",
                                       PQnfields(r)));
        } else if (PQntuples(r) > 1) {
          result_ = failed("auth_query returned more than one row");
        } else if (PQntuples(r) == 0 || PQgetisnull(r, 0, 1) || *PQgetvalue(r, 0, 1) == '\0') {
          result_ = {AuthSecret::Kind::NoUser, {}, {}};  // no such user, or no password
        } else {
          result_ = {AuthSecret::Kind::Found, PQgetvalue(r, 0, 1), {}};
        }
      } else {
        result_ = failed(st == PGRES_COMMAND_OK ? "auth_query returned no rows"
                                                : libpqMessage(PQresultErrorMessage(r)));
      }
      PQclear(r);
    }
  }

  // Reports once, then lets go of everything; the object goes with the timer's close callback.
  void finish(AuthSecret result) {
    if (finished_) return;
    finished_ = true;
    if (resolving_) {
      resolving_->data = nullptr;  // onResolved frees it
      resolving_ = nullptr;
    }
    closePoll();
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
    done_(std::move(result));
    uv_timer_stop(&timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_),
             [](uv_handle_t* h) { delete static_cast<AuthQueryRun*>(h->data); });
  }

  uv_loop_t* loop_;
  AuthQueryTarget target_;
  std::function<void(AuthSecret)> done_;
  uv_timer_t timer_{};
  uv_getaddrinfo_t* resolving_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  int pollFd_ = -1;
  PGconn* conn_ = nullptr;
  size_t hostIndex_ = 0;
  std::string reasons_;  // why each host tried so far could not be reached
  bool connecting_ = false;
  bool finished_ = false;
  AuthSecret result_ = failed("auth_query returned no result");
};

}  // namespace

std::string authQueryConninfo(const AuthQueryTarget& t, size_t host, const std::string& hostaddr) {
  const AuthQueryHost& h = t.hosts.at(host);
  std::string ci =
      fmt::format("host={} port={} dbname={} user={} password={}", conninfoValue(h.host), h.port,
                  conninfoValue(t.dbname), conninfoValue(t.user), conninfoValue(t.password));
  if (!hostaddr.empty()) ci += " hostaddr=" + conninfoValue(hostaddr);
  bool socketDir = !h.host.empty() && h.host[0] == '/';
  if (socketDir) {
    ci += " sslmode=disable";
  } else {
    if (!t.sslmode.empty()) ci += " sslmode=" + conninfoValue(t.sslmode);
    if (!t.sslrootcert.empty()) ci += " sslrootcert=" + conninfoValue(t.sslrootcert);
  }
  return ci + " gssencmode=disable application_name='shardpool auth_query'";
}

void runAuthQuery(uv_loop_t* loop, AuthQueryTarget target, std::function<void(AuthSecret)> done) {
  (new AuthQueryRun(loop, std::move(target), std::move(done)))->start();
}

}  // namespace shardpool::pooler
