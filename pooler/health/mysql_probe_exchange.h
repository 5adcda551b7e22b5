// A MySQL health probe's conversation with one server, without I/O: the login (the MySQL
// engine's MysqlServerLogin), then a short series of text-protocol statements whose answers
// decide the next one. The socket side (mysql_probe.h) feeds it one packet at a time and sends
// what it writes; unit tests drive it with recorded server packets.
//
// Two goals, on MariaDB or MySQL (told apart by the greeting's version, "...-MariaDB..."):
//  - Probe: is the server read-only (a replica), and how far its data goes:
//      MariaDB  SELECT @@global.read_only, @@global.gtid_current_pos
//      MySQL    SELECT @@global.read_only OR @@global.super_read_only, @@global.gtid_executed
//  - Promote (auto_promote on a replica): stop receiving, wait until every transaction already
//    received is applied (what its primary acknowledged under semi-synchronous replication is
//    then not lost), stop replication, forget the primary, and take writes:
//      MariaDB  STOP SLAVE IO_THREAD; SHOW SLAVE STATUS; SELECT MASTER_GTID_WAIT('<Gtid_IO_Pos>', 30);
//               STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0
//      MySQL    STOP REPLICA IO_THREAD; SHOW REPLICA STATUS;
//               SELECT WAIT_FOR_EXECUTED_GTID_SET('<Retrieved_Gtid_Set>', 30);
//               STOP REPLICA; RESET REPLICA ALL; SET GLOBAL super_read_only = 0;
//               SET GLOBAL read_only = 0
//    The wait is skipped when the server replicates from nothing (no status row, or nothing
//    received); a wait that times out fails the promotion.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pooler/health/probe.h"
#include "pooler/mysql/server_login.h"

namespace shardpool::pooler::health {

// A GTID position as a count comparable between a primary and its replicas: MariaDB's
// "domain-server-seq" list sums the sequence numbers; MySQL's GTID set ("uuid:1-5:7,uuid2:1-3")
// counts the transactions. 0 for empty or unreadable text.
uint64_t gtidPosition(std::string_view text);

class MysqlProbeExchange {
 public:
  enum class Goal { Probe, Promote };
  enum class Status {
    Continue,  // a packet may have been written; feed the server's next one
    StartTls,  // start TLS, then send responseAfterTls() inside it
    Done,      // the goal is reached: result() (Probe), or promoted
    Failed,    // error() says why; the connection is of no further use
  };

  MysqlProbeExchange(std::string user, std::string password, std::string database, bool wantTls,
                     bool requireTls);

  // Login: feed the server's packets from its greeting on.
  Status onPacket(protocol::mysql::Bytes payload, uint8_t sequenceId,
                  protocol::mysql::Writer& out);
  std::string responseAfterTls() { return login_ ? login_->responseAfterTls() : std::string(); }
  // After a Done: runs `goal` on the connection that stays logged in (writes its first
  // statement).
  void again(Goal goal, protocol::mysql::Writer& out);
  // The goal of the first run, which starts once the login is done.
  void setGoal(Goal goal) { goal_ = goal; }

  bool loggedIn() const { return !login_; }
  bool mariadb() const { return mariadb_; }
  const ProbeResult& result() const { return result_; }
  const std::string& error() const { return error_; }

 private:
  // A text result being read: columns, then rows, until the end packet.
  enum class Read { Header, Columns, ColumnsEof, Rows };
  void sendStatement(protocol::mysql::Writer& out);
  // The statement after the one that just completed; empty when the goal is reached.
  std::optional<std::string> nextStatement();
  Status statementDone(protocol::mysql::Writer& out);
  Status fail(std::string why);
  std::optional<std::string> column(std::string_view name) const;

  std::optional<MysqlServerLogin> login_;
  protocol::mysql::Capabilities capabilities_ = 0;
  bool mariadb_ = false;
  Goal goal_ = Goal::Probe;
  size_t step_ = 0;  // statements of the goal completed
  std::string statement_;
  Read read_ = Read::Header;
  uint64_t columnsLeft_ = 0;
  std::vector<std::string> columnNames_;
  std::optional<std::vector<std::optional<std::string>>> firstRow_;
  std::string waitFor_;  // Promote: the GTID position the wait is for
  ProbeResult result_;
  std::string error_;
};

}  // namespace shardpool::pooler::health
