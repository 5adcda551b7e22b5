#include "pooler/admin/console.h"

#include <fmt/format.h>

#include <charconv>

#include "pooler/admin/result_set.h"
#include "pooler/admin/show.h"
#include "pooler/session/client_session.h"
#include "pooler/health/failover_manager.h"
#include "pooler/net/log.h"
#include "pooler/session/pool.h"
#include "pooler/protocol/pg_codec.h"
#include "pooler/session/runtime.h"
#include "pooler/net/version.h"
#include "pooler/session/worker.h"

namespace shardpool::pooler::admin {

namespace pg = protocol::pg;

void Console::greet(uint32_t cancelPid, uint32_t cancelKey) {
  pg::Writer w;
  pg::putParameterStatus(w, "server_version", fmt::format("15.0 (shardpool {})", kVersion));
  pg::putParameterStatus(w, "server_encoding", "UTF8");
  pg::putParameterStatus(w, "client_encoding", "UTF8");
  pg::putParameterStatus(w, "DateStyle", "ISO, MDY");
  pg::putParameterStatus(w, "integer_datetimes", "on");
  pg::putParameterStatus(w, "standard_conforming_strings", "on");
  pg::putParameterStatus(w, "application_name", "shardpool");
  pg::putBackendKeyData(w, cancelPid, cancelKey);
  pg::putReadyForQuery(w, 'I');
  client_.send(w.take());
}

bool Console::onMessage(char type, std::string_view body) {
  switch (type) {
    case 'Q': {
      std::string_view sql = body;
      if (!sql.empty() && sql.back() == '\0') sql.remove_suffix(1);
      Parsed p = parseCommand(sql);
      if (!p.command) {
        error("42601", p.error);
        return true;
      }
      if (changesState(p.command->verb) && !fullAccess_) {
        error("42501", "only admin_users may change anything; stats_users may only SHOW");
        return true;
      }
      log::info(client_.who(), "admin command: {}", sql);
      run(*p.command);
      return true;
    }
    case 'X':
      return false;
    case 'S':
      extendedError_ = false;
      ready();
      return true;
    case 'H':
      return true;
    default:
      // Parse, Bind, Describe, Execute, Close, ...: one error, then skip until Sync.
      if (!extendedError_) {
        extendedError_ = true;
        pg::Writer w;
        pg::putErrorResponse(w, "ERROR", "0A000",
                             "the admin console supports only the simple query protocol");
        client_.send(w.take());
      }
      return true;
  }
}

void Console::ready() {
  pg::Writer w;
  pg::putReadyForQuery(w, 'I');
  client_.send(w.take());
}

void Console::complete(std::string_view tag, const std::vector<std::string>& warnings) {
  pg::Writer w;
  for (const auto& warning : warnings) pg::putNoticeResponse(w, "01000", warning);
  pg::putCommandComplete(w, tag);
  pg::putReadyForQuery(w, 'I');
  client_.send(w.take());
}

void Console::reply(const ResultSet& rs) {
  pg::Writer w;
  rs.encode(w);
  pg::putReadyForQuery(w, 'I');
  client_.send(w.take());
}

void Console::error(std::string_view sqlstate, std::string_view message) {
  pg::Writer w;
  pg::putErrorResponse(w, "ERROR", sqlstate, message);
  pg::putReadyForQuery(w, 'I');
  client_.send(w.take());
}

bool Console::knownDatabase(const std::string& db, bool allowAll) {
  if (db.empty() && allowAll) return true;
  Runtime& runtime = control_.runtime();
  if (runtime.config()->databases.count(db) > 0 || !runtime.pools().forDatabase(db).empty())
    return true;
  error("3D000", fmt::format("no such database: {}", db));
  return false;
}

void Console::run(const Command& c) {
  ControlPlane& control = control_;
  Worker& worker = client_.worker();
  switch (c.verb) {
    case Verb::Empty: {
      pg::Writer w;
      pg::putEmptyQueryResponse(w);
      pg::putReadyForQuery(w, 'I');
      client_.send(w.take());
      return;
    }
    case Verb::Show:
      runShow(c.arg);
      return;
    case Verb::Pause:
      if (!knownDatabase(c.arg, true)) return;
      control.runtime().pools().setPaused(c.arg, true);
      log::warn(client_.who(), "PAUSE {}: waiting for server connections to be released",
                c.arg.empty() ? "(all)" : c.arg);
      waiting_ = Waiting::Pause;
      waitArg_ = c.arg;
      onTick();
      return;
    case Verb::Suspend:
      if (!control.runtime().suspend()) {
        error("55000", "already suspended; RESUME resumes");
        return;
      }
      waiting_ = Waiting::Suspend;
      onTick();
      return;
    case Verb::Resume: {
      if (!knownDatabase(c.arg, true)) return;
      if (control.runtime().suspended()) {
        if (!c.arg.empty()) {
          error("55000", "shardpool is suspended: RESUME without a database name resumes it");
          return;
        }
        // As in PgBouncer, RESUME undoes the SUSPEND first; a PAUSE under it needs another.
        (void)control.runtime().resume();
        complete("RESUME");
        return;
      }
      if (!control.runtime().pools().isPaused(c.arg) && !c.arg.empty()) {
        error("55000", fmt::format("database {} is not paused", c.arg));
        return;
      }
      control.runtime().pools().setPaused(c.arg, false);
      for (Pool* p : control.runtime().pools().forDatabase(c.arg))
        if (!control.runtime().pools().isPaused(p->database())) p->resume(worker);
      complete("RESUME");
      return;
    }
    case Verb::Reconnect:
      if (!knownDatabase(c.arg, true)) return;
      for (Pool* p : control.runtime().pools().forDatabase(c.arg)) p->reconnect();
      complete("RECONNECT");
      return;
    case Verb::Kill:
      if (!knownDatabase(c.arg, false)) return;
      killDatabase(c.arg);
      complete("KILL");
      return;
    case Verb::KillClient: {
      uint64_t id = 0;
      auto [end, ec] = std::from_chars(c.arg.data(), c.arg.data() + c.arg.size(), id);
      if (ec != std::errc() || end != c.arg.data() + c.arg.size()) {
        error("22023", "KILL_CLIENT needs a client id (the id column of SHOW CLIENTS)");
        return;
      }
      for (unsigned i = 0; i < control.runtime().workerCount(); ++i)
        control.runtime().worker(i).post([id](Worker& w) {
          if (ClientSession* target = w.findClient(id))
            target->terminate("57P01", "terminating connection due to administrator command",
                              "KILL_CLIENT");
        });
      complete("KILL_CLIENT");
      return;
    }
    case Verb::Disable:
    case Verb::Enable:
      if (!knownDatabase(c.arg, false)) return;
      control.runtime().setDisabled(c.arg, c.verb == Verb::Disable);
      complete(c.verb == Verb::Disable ? "DISABLE" : "ENABLE");
      return;
    case Verb::WaitClose:
      if (!knownDatabase(c.arg, true)) return;
      waiting_ = Waiting::WaitClose;
      waitArg_ = c.arg;
      onTick();
      return;
    case Verb::Reload: {
      std::vector<std::string> errors, warnings;
      if (!control.reload("RELOAD from " + client_.who().text(), errors, warnings)) {
        std::string msg = "configuration not reloaded:";
        for (const auto& e : errors) msg += "\n" + e;
        error("F0000", msg);
        return;
      }
      complete("RELOAD", warnings);
      return;
    }
    case Verb::Shutdown: {
      ControlPlane::ShutdownMode mode;
      if (c.arg.empty())
        mode = ControlPlane::ShutdownMode::Immediate;
      else if (c.arg == "WAIT_FOR_SERVERS")
        mode = ControlPlane::ShutdownMode::WaitForServers;
      else if (c.arg == "WAIT_FOR_CLIENTS")
        mode = ControlPlane::ShutdownMode::WaitForClients;
      else {
        error("42601", "syntax: SHUTDOWN [WAIT_FOR_SERVERS | WAIT_FOR_CLIENTS]");
        return;
      }
      complete("SHUTDOWN");
      control.requestShutdown(mode, client_.who().text());
      return;
    }
    case Verb::Unfence: {
      std::string problem;
      if (!control.failover() || !control.failover()->unfence(c.arg, problem)) {
        error("22023", problem.empty() ? "no health checks are running" : problem);
        return;
      }
      complete("UNFENCE");
      return;
    }
    case Verb::Set: {
      std::string key = c.arg.find('.') == std::string::npos ? "general." + c.arg : c.arg;
      std::string problem;
      std::vector<std::string> warnings;
      if (!control.setLive(key, c.value, problem, warnings)) {
        error("22023", problem);
        return;
      }
      complete("SET", warnings);
      return;
    }
  }
}

void Console::runShow(const std::string& what) {
  if (!showNeedsSnapshot(what)) {
    std::string problem;
    if (auto rs = show(what, control_, nullptr, problem))
      reply(*rs);
    else
      error("42601", problem);
    return;
  }
  waiting_ = Waiting::Snapshot;
  waitArg_ = what;
  ControlPlane& control = control_;
  unsigned home = client_.worker().index();
  uint64_t id = client_.id();
  gatherSnapshot(control.runtime(), [&control, home, id](std::shared_ptr<Snapshot> snap) {
    control.runtime().worker(home).post([id, snap](Worker& w) {
      if (ClientSession* c = w.findClient(id)) c->consoleSnapshot(*snap);
    });
  });
}

void Console::onSnapshot(const Snapshot& snapshot) {
  if (waiting_ != Waiting::Snapshot) return;
  waiting_ = Waiting::None;
  std::string problem;
  if (auto rs = show(waitArg_, control_, &snapshot, problem))
    reply(*rs);
  else
    error("42601", problem);
  client_.consoleIdle();
}

void Console::onTick() {
  ControlPlane& control = control_;
  if (waiting_ == Waiting::Suspend) {
    // Done once every worker has flushed its sockets (suspend_timeout closes those it cannot).
    if (control.runtime().suspended() && !control.runtime().suspendFlushed()) return;
    waiting_ = Waiting::None;
    if (control.runtime().suspended())
      complete("SUSPEND");
    else
      error("57014", "SUSPEND ended by a RESUME before every socket was flushed");
    client_.consoleIdle();
    return;
  }
  if (waiting_ != Waiting::Pause && waiting_ != Waiting::WaitClose) return;
  if (waiting_ == Waiting::Pause && !control.runtime().pools().isPaused(waitArg_)) {
    waiting_ = Waiting::None;
    error("57014", "PAUSE ended by a RESUME before all servers were released");
    client_.consoleIdle();
    return;
  }
  for (Pool* p : control.runtime().pools().forDatabase(waitArg_)) {
    if (waiting_ == Waiting::Pause && p->counts().total > 0) return;
    if (waiting_ == Waiting::WaitClose && p->staleServers() > 0) return;
  }
  const char* tag = waiting_ == Waiting::Pause ? "PAUSE" : "WAIT_CLOSE";
  waiting_ = Waiting::None;
  complete(tag);
  client_.consoleIdle();
}

void Console::killDatabase(const std::string& db) {
  ControlPlane& control = control_;
  control.runtime().pools().setPaused(db, true);
  std::vector<Pool*> pools = control.runtime().pools().forDatabase(db);
  for (unsigned i = 0; i < control.runtime().workerCount(); ++i)
    control.runtime().worker(i).post([db, pools](Worker& w) { w.killDatabase(db, pools); });
}

}  // namespace shardpool::pooler::admin
