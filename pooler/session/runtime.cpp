#include "pooler/session/runtime.h"

#include <cassert>
#include <thread>

#include "pooler/net/log.h"

namespace shardpool::pooler {

namespace {
unsigned workerCountFor(const config::Config& cfg) {
  if (cfg.general.workers > 0) return cfg.general.workers;
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}
}  // namespace

namespace {
std::vector<std::unique_ptr<Engine>> one(std::unique_ptr<Engine> engine) {
  std::vector<std::unique_ptr<Engine>> engines;
  engines.push_back(std::move(engine));
  return engines;
}
}  // namespace

Runtime::Runtime(std::shared_ptr<const config::Config> config, std::unique_ptr<Engine> engine)
    : Runtime(std::move(config), one(std::move(engine))) {}

Runtime::Runtime(std::shared_ptr<const config::Config> config,
                 std::vector<std::unique_ptr<Engine>> engines)
    : config_(std::move(config)), pools_(workerCountFor(*config_)) {
  for (auto& e : engines) {
    auto& slot = engines_[static_cast<size_t>(e->protocol())];
    assert(!slot && "two engines for one protocol");
    slot = std::move(e);
  }
  unsigned n = workerCountFor(*config_);
  for (unsigned i = 0; i < n; ++i) workers_.push_back(std::make_unique<Worker>(*this, i));
}

Runtime::~Runtime() { workers_.clear(); }

std::shared_ptr<const config::Config> Runtime::config() const {
  std::lock_guard lock(configMutex_);
  return config_;
}

void Runtime::publishConfig(std::shared_ptr<const config::Config> config) {
  std::lock_guard lock(configMutex_);
  config_ = std::move(config);
}

std::shared_ptr<const TlsContext> Runtime::acceptTls() const {
  std::lock_guard lock(configMutex_);
  return acceptTls_;
}

void Runtime::setAcceptTls(std::shared_ptr<const TlsContext> tls) {
  std::lock_guard lock(configMutex_);
  acceptTls_ = std::move(tls);
}

bool Runtime::tryAddClient() {
  uint32_t max = config()->general.maxClientConn;
  uint32_t cur = clients_.load(std::memory_order_relaxed);
  while (cur < max) {
    if (clients_.compare_exchange_weak(cur, cur + 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

void Runtime::setDisabled(const std::string& db, bool disabled) {
  std::lock_guard lock(stateMutex_);
  if (disabled)
    disabled_.insert(db);
  else
    disabled_.erase(db);
  log::info("", "database {} {}", db, disabled ? "disabled" : "enabled");
}

bool Runtime::isDisabled(std::string_view db) {
  std::lock_guard lock(stateMutex_);
  return disabled_.find(db) != disabled_.end();
}

bool Runtime::suspend() {
  if (suspended_.exchange(true, std::memory_order_acq_rel)) return false;
  uint64_t epoch = suspendEpoch_.fetch_add(1, std::memory_order_acq_rel) + 1;
  log::warn("", "SUSPEND: no new connections are accepted and no socket is read until RESUME");
  for (auto& w : workers_) w->post([epoch](Worker& wk) { wk.suspend(epoch); });
  return true;
}

bool Runtime::resume() {
  if (!suspended_.exchange(false, std::memory_order_acq_rel)) return false;
  log::info("", "RESUME: accepting and reading sockets again");
  for (auto& w : workers_) w->post([](Worker& wk) { wk.resume(); });
  return true;
}

bool Runtime::suspendFlushed() const {
  uint64_t epoch = suspendEpoch_.load(std::memory_order_acquire);
  for (const auto& w : workers_)
    if (w->flushedEpoch() != epoch) return false;
  return true;
}

void Runtime::countError(std::string_view reason) {
  std::lock_guard lock(stateMutex_);
  auto it = errors_.find(std::string(reason));
  if (it == errors_.end())
    errors_.emplace(std::string(reason), 1);
  else
    ++it->second;
}

std::map<std::string, uint64_t> Runtime::errorCounts() {
  std::lock_guard lock(stateMutex_);
  return errors_;
}

}  // namespace shardpool::pooler
