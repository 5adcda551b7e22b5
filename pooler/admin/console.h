// One admin console session (a client that logged in to the virtual database "shardpool" or
// "pgbouncer"): runs PgBouncer-style commands sent with the simple query protocol. Commands that
// wait (PAUSE, WAIT_CLOSE, SHOW with connection lists) hold the session's input until done.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pooler/admin/admin_command.h"
#include "pooler/admin/control_plane.h"
#include "pooler/admin/snapshot.h"
#include "pooler/session/console_session.h"

namespace shardpool::pooler {
class ClientSession;
}

namespace shardpool::pooler::admin {

class ResultSet;

class Console final : public ConsoleSession {
 public:
  // `fullAccess`: an admin user; otherwise a stats user, limited to SHOW.
  Console(ClientSession& client, bool fullAccess, ControlPlane& control)
      : client_(client), fullAccess_(fullAccess), control_(control) {}

  // The login reply after AuthenticationOk: parameters, key data, ReadyForQuery.
  void greet(uint32_t cancelPid, uint32_t cancelKey) override;
  // One message from the client: Query runs a command; the extended protocol is refused.
  // Returns false when the session must end (Terminate).
  bool onMessage(char type, std::string_view body) override;
  bool busy() const override { return waiting_ != Waiting::None; }
  // Periodic check of a command that waits (PAUSE, WAIT_CLOSE, SUSPEND); from the worker's tick.
  void onTick() override;
  // The snapshot a SHOW asked for has arrived (on this client's worker).
  void onSnapshot(const Snapshot& snapshot) override;

 private:
  enum class Waiting { None, Snapshot, Pause, WaitClose, Suspend };
  void run(const Command& c);
  void runShow(const std::string& what);
  // CommandComplete and ReadyForQuery, after a NoticeResponse for each warning.
  void complete(std::string_view tag, const std::vector<std::string>& warnings = {});
  void reply(const ResultSet& rs);
  void error(std::string_view sqlstate, std::string_view message);
  void ready();
  bool knownDatabase(const std::string& db, bool allowAll);
  void killDatabase(const std::string& db);

  ClientSession& client_;
  bool fullAccess_;
  ControlPlane& control_;
  Waiting waiting_ = Waiting::None;
  std::string waitArg_;         // the SHOW name, or the database PAUSE/WAIT_CLOSE waits for
  bool extendedError_ = false;  // an extended-protocol message was refused; Sync ends it
};

}  // namespace shardpool::pooler::admin
