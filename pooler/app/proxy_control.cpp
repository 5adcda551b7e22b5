// The proxy's control plane: reload and live SET, DISABLE/ENABLE, shutdown requests from the
// admin console, error counters and the stats samples behind SHOW STATS averages.
#include <fmt/format.h>

#include "pooler/net/log.h"
#include "pooler/app/proxy.h"

namespace shardpool::pooler {

namespace {

// The warnings a configuration was accepted with: logged, and returned to the caller.
void logWarnings(const std::string& why, const config::LoadResult& loaded,
                 std::vector<std::string>& warnings) {
  for (const auto& w : loaded.warnings) {
    log::warn("", "{}: {}", why, w.format());
    warnings.push_back(w.format());
  }
}

}  // namespace

bool Proxy::reload(const std::string& why, std::vector<std::string>& errors,
                   std::vector<std::string>& warnings) {
  std::lock_guard serial(reloadMutex_);
  auto running = config();
  config::LoadResult next = config::reloadConfig(*running);
  if (!next.ok()) {
    reloadFailures_.fetch_add(1, std::memory_order_relaxed);
    log::error("", "{}: the new configuration has {} error(s); keeping the running one", why,
               next.errors.size());
    for (const auto& e : next.errors) {
      log::error("", "  {}", e.format());
      errors.push_back(e.format());
    }
    return false;
  }
  logWarnings(why, next, warnings);
  auto applied = std::make_shared<config::Config>(*next.config);
  for (const auto& key : config::restartOnlyChanges(*running, *applied))
    log::warn("", "{}: {} changed; it takes effect after a restart", why, key);
  config::keepRestartOnly(*applied, *running);
  // Client TLS files are read again at every reload (a renewed certificate under the same name).
  std::shared_ptr<const TlsContext> tls;
  std::string tlsError;
  if (!buildClientTls(applied->general, tls, tlsError)) {
    reloadFailures_.fetch_add(1, std::memory_order_relaxed);
    log::error("", "{}: client TLS: {}; keeping the running configuration", why, tlsError);
    errors.push_back("client TLS: " + tlsError);
    return false;
  }
  publish(applied, std::move(tls));
  for (size_t p = 0; p < config::kProtocolCount; ++p)
    if (Engine* e = engine(static_cast<config::Protocol>(p))) e->reloaded();
  reloads_.fetch_add(1, std::memory_order_relaxed);
  log::info("", "{}: configuration reloaded ({} database(s), {} user(s))", why,
            applied->databases.size(), applied->users.size());
  return true;
}

bool Proxy::setLive(const std::string& requestedKey, const std::string& requestedValue,
                    std::string& error, std::vector<std::string>& warnings) {
  std::string keyPath = requestedKey;
  std::string value = requestedValue;
  if (!config::translateLiveSet(keyPath, value, error)) return false;  // PgBouncer's spellings
  if (config::needsRestart(keyPath)) {
    error = fmt::format(
        "{} cannot change while shardpool runs; edit the configuration and "
        "restart",
        keyPath);
    return false;
  }
  std::lock_guard serial(reloadMutex_);
  auto running = config();
  config::LoadResult next = config::reloadConfig(*running, {{keyPath, value}});
  if (!next.ok()) {
    for (const auto& e : next.errors) error += (error.empty() ? "" : "; ") + e.format();
    return false;
  }
  auto applied = std::make_shared<config::Config>(*next.config);
  config::keepRestartOnly(*applied, *running);
  std::shared_ptr<const TlsContext> tls = acceptTls();
  if (keyPath.starts_with("general.client_tls_") && !buildClientTls(applied->general, tls, error)) {
    error = "client TLS: " + error;
    return false;
  }
  logWarnings(fmt::format("SET {}", keyPath), next, warnings);
  publish(applied, std::move(tls));
  log::info("", "SET {} = {}", keyPath, value);
  return true;
}

bool Proxy::buildClientTls(const config::General& g, std::shared_ptr<const TlsContext>& out,
                           std::string& error) {
  if (g.clientTlsSslmode == config::TlsMode::Disable) {
    out = nullptr;
    return true;
  }
  // A CA file asks clients for certificates (auth "cert" checks them) in every mode; verify-ca
  // and verify-full refuse clients without one.
  out = TlsContext::forAccept(g.clientTlsCertFile, g.clientTlsKeyFile, g.clientTlsCaFile,
                              g.clientTlsSslmode >= config::TlsMode::VerifyCa, error);
  return out != nullptr;
}

void Proxy::publish(std::shared_ptr<const config::Config> next,
                    std::shared_ptr<const TlsContext> tls) {
  // A context that appears goes in before the configuration that may require it, one that goes
  // away after the configuration that stops offering it: a client never finds TLS required but
  // unavailable. Clients already connected keep the TLS session they have.
  bool disabling = tls == nullptr;
  if (!disabling) setAcceptTls(tls);
  publishConfig(next);
  if (disabling) setAcceptTls(nullptr);
  log::setLevel(next->general.logLevel);
  pools().applyConfig(*next);
  reconfigureFailover(next);
}

void Proxy::reconfigureFailover(std::shared_ptr<const config::Config> cfg) {
  // The failover manager and the directory loader live on the control loop.
  postControl([this, cfg] {
    if (failover_) failover_->configure(*cfg);
    if (directoryLoader_) directoryLoader_->configure(*cfg);
  });
}

void Proxy::sampleStats() {
  std::map<std::string, PoolTotals> byDb;
  for (Pool* p : pools().all()) byDb[p->database()] += p->totals();
  std::lock_guard lock(statsMutex_);
  stats_.from = stats_.to;
  stats_.fromTotals = std::move(stats_.toTotals);
  stats_.to = Clock::now();
  stats_.toTotals = std::move(byDb);
}

Proxy::StatsWindow Proxy::statsWindow() {
  std::lock_guard lock(statsMutex_);
  return stats_;
}

void Proxy::requestShutdown(ShutdownMode mode, const std::string& who) {
  postControl([this, mode, who] {
    switch (mode) {
      case ShutdownMode::Immediate:
        log::info("", "SHUTDOWN from {}: exiting now", who);
        exitNow();
        break;
      case ShutdownMode::WaitForServers:
        log::info("", "SHUTDOWN WAIT_FOR_SERVERS from {}", who);
        beginShutdown(true);
        break;
      case ShutdownMode::WaitForClients:
        log::info("", "SHUTDOWN WAIT_FOR_CLIENTS from {}: waiting for every client to leave", who);
        waitForever_ = true;
        beginShutdown(false);
        break;
    }
  });
}

void Proxy::postControl(std::function<void()> task) {
  {
    std::lock_guard lock(controlTasksMutex_);
    controlTasks_.push_back(std::move(task));
  }
  uv_async_send(&controlAsync_);
}

void Proxy::onControlAsync(uv_async_t* a) {
  auto* self = static_cast<Proxy*>(a->data);
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard lock(self->controlTasksMutex_);
    tasks.swap(self->controlTasks_);
  }
  for (auto& t : tasks) t();
}

void Proxy::onStatsTick(uv_timer_t* t) {
  static_cast<Proxy*>(t->data)->sampleStats();
}

}  // namespace shardpool::pooler
