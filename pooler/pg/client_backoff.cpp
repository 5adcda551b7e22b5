// ClientConn's failed-login back-off (auth_failure_* in [general]; the table is
// pooler/auth/login_backoff.h). A login from a source with too many recent failures waits before
// its first authentication request: reading stops, and the worker's tick resumes it when its turn
// comes, so nothing blocks. The wait depends only on the source address, and comes before the
// user name or password is looked at.
#include <fmt/format.h>

#include "pooler/net/log.h"
#include "pooler/pg/client_conn.h"
#include "pooler/session/runtime.h"

namespace shardpool::pooler {

namespace {

// A login that would wait longer than this is refused at once (its source's queue is full).
// client_login_timeout would close it anyway; when that is off, one minute.
constexpr auto kMaxWaitWithoutLoginTimeout = std::chrono::seconds(60);

auth::LoginBackoff::Policy policyOf(const config::General& g) {
  auth::LoginBackoff::Policy p;
  p.threshold = g.authFailureThreshold;
  p.delay = g.authFailureDelay;
  p.maxDelay = g.authFailureMaxDelay;
  p.window = g.authFailureWindow;
  p.maxWait = g.clientLoginTimeout.count() > 0
                  ? g.clientLoginTimeout
                  : std::chrono::duration_cast<auth::LoginBackoff::Duration>(
                        kMaxWaitWithoutLoginTimeout);
  return p;
}

// The peer's address as the back-off counts it; nullopt for a trusted network or a socket
// without an IP peer.
std::optional<auth::SourceKey> sourceOf(const std::optional<Connection::PeerIp>& ip,
                                        const config::General& g) {
  if (!ip) return std::nullopt;
  for (const config::Network& n : g.authFailureTrustedNetworks)
    if (n.contains(ip->v6, ip->bytes.data())) return std::nullopt;
  return auth::sourceKey(ip->v6, ip->bytes.data());
}

}  // namespace

bool ClientConn::admitLogin() {
  Runtime& runtime = worker().runtime();
  auto cfg = runtime.config();
  const config::General& g = cfg->general;
  auth::LoginBackoff::Policy policy = policyOf(g);
  if (!policy.enabled()) return true;
  LoginState& login = this->login();
  login.source = sourceOf(peerIp(), g);
  if (!login.source) return true;
  // The clock itself, not the loop's cached time: a wait must not come out short.
  Clock::time_point now = Clock::now();
  auth::LoginBackoff::Admission a = runtime.loginBackoff().admit(*login.source, now, policy);
  switch (a.verdict) {
    case auth::LoginBackoff::Verdict::Now:
      return true;
    case auth::LoginBackoff::Verdict::Wait:
      login.heldUntil = a.at;
      stopReading();
      log::info(who(), "login waits {} ms: too many failed logins from this address",
                std::chrono::duration_cast<std::chrono::milliseconds>(a.at - now).count());
      return false;
    case auth::LoginBackoff::Verdict::Refuse:
      fatal("53300", "too many failed logins from this address; try again later",
            "failed-login back-off");
      return false;
  }
  return true;
}

void ClientConn::resumeLogin() {
  login().heldUntil.reset();
  startReading();
  // Bytes that came with the startup packet were held with it.
  if (beginAuth() && (state_ == State::Startup || state_ == State::Auth)) handleStartupBytes();
}

void ClientConn::noteAuthFailure() {
  if (!login_ || !login_->source) return;
  Runtime& runtime = worker().runtime();
  runtime.loginBackoff().failed(*login_->source, Clock::now(),
                                policyOf(runtime.config()->general));
}

}  // namespace shardpool::pooler
