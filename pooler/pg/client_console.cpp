// ClientConn's admin-console side: logging in to the virtual database, feeding the console its
// messages, and describing a client for SHOW CLIENTS.
#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>

#include "pooler/session/conn_rows.h"
#include "pooler/session/console_session.h"
#include "pooler/session/cancel.h"
#include "pooler/pg/client_conn.h"
#include "pooler/net/log.h"
#include "pooler/session/runtime.h"
#include "pooler/pg/server_conn.h"
#include "pooler/session/settings_list.h"

namespace shardpool::pooler {

namespace pg = protocol::pg;

namespace {
constexpr size_t kMaxConsoleInput = 1 << 20;
}

bool ClientConn::peerConsoleLogin() {
  if (database_ != "shardpool" && database_ != "pgbouncer") return false;
  std::optional<PeerUser> peer = peerUser();
  if (!peer) return false;
  auto cfg = worker().runtime().config();
  auto listed = [&](const std::vector<std::string>& names) {
    return std::find(names.begin(), names.end(), user_) != names.end();
  };
  if (user_ == "pgbouncer" && peer->uid == ::geteuid())
    peerAdmin_ = true;
  else if (peer->name != user_ ||
           !(listed(cfg->general.adminUsers) || listed(cfg->general.statsUsers)))
    return false;
  log::info(who(), "admitted by peer credentials (OS user \"{}\", pid {})", peer->name, peer->pid);
  return true;
}

bool ClientConn::startConsole() {
  auto cfg = worker().runtime().config();
  auto listed = [&](const std::vector<std::string>& names) {
    return std::find(names.begin(), names.end(), user_) != names.end();
  };
  bool admin = peerAdmin_ || listed(cfg->general.adminUsers);
  if (!admin && !listed(cfg->general.statsUsers)) {
    fatal("28000",
          fmt::format("user \"{}\" may not use the admin console (see admin_users and stats_users)",
                      user_),
          "admin console refused");
    return false;
  }
  pg::Writer w;
  pg::putAuthOk(w);
  send(w.take());
  takeCancelKey();
  console_ = worker().runtime().openConsole(*this, admin);
  setState(State::Console);
  loggedIn_ = true;
  console_->greet(cancelPid_, cancelKey_);
  log::info(who(), "admin console login ({})", admin ? "admin" : "stats");
  consoleInput();
  return true;
}

void ClientConn::consoleInput() {
  while (state_ == State::Console && !console_->busy()) {
    pg::Frame f =
        pg::frameMessage(pg::Bytes(reinterpret_cast<const uint8_t*>(inbuf_.data()), inbuf_.size()));
    if (f.status == pg::FrameStatus::NeedMore) break;
    if (f.status == pg::FrameStatus::Invalid) {
      fatal("08P01", "invalid message length", "protocol violation");
      return;
    }
    std::string body(reinterpret_cast<const char*>(f.body.data()), f.body.size());
    char type = f.type;
    inbuf_.erase(0, f.totalSize);
    if (!console_->onMessage(type, body)) {
      close("client sent Terminate");
      return;
    }
  }
  if (state_ != State::Console) return;
  if (inbuf_.size() > kMaxConsoleInput)
    stopReading();
  else if (!reading())
    startReading();
}

void ClientConn::consoleSnapshot(const Snapshot& snapshot) {
  if (state_ == State::Console) console_->onSnapshot(snapshot);
}

void ClientConn::consoleIdle() {
  if (state_ == State::Console) consoleInput();
}

void ClientConn::describeMore(ConnRow& row) const {
  row.link = server_ ? server_->id() : 0;
  if (tls()) row.tls = tls()->description();
  if (const std::string* app = findSetting(*params_, "application_name")) row.applicationName = *app;
  row.preparedStatements = static_cast<uint32_t>(statements_.size());
}

}  // namespace shardpool::pooler
