// MysqlClient after its server was lost (a backend crash, a failover, KILL): in transaction
// pooling a client whose session held nothing but a transaction on that server keeps its
// connection; what it was doing gets the error that says what became of it.
#include <fmt/format.h>

#include "pooler/mysql/mysql_client.h"
#include "pooler/mysql/mysql_server.h"
#include "pooler/mysql/statement_effects.h"
#include "pooler/net/log.h"
#include "pooler/protocol/mysql_commands.h"

namespace shardpool::pooler {

namespace my = protocol::mysql;

bool MysqlClient::answerLostTransaction(my::Bytes payload, uint8_t sequenceId) {
  auto command = static_cast<my::Command>(payload[0]);
  if (command != my::Command::Query && command != my::Command::StmtExecute) return false;
  transactionLost_ = false;
  if (command == my::Command::Query && isRollback(my::asText(payload.subspan(1)))) {
    sendOk(sequenceId + 1);
    return true;
  }
  sendErr(sequenceId + 1, 1213, "40001",
          "Deadlock found when trying to get lock; try restarting transaction (shardpool: the "
          "transaction's server connection was lost; the transaction was rolled back)");
  return true;
}

void MysqlClient::serverLost(std::string_view reason) {
  MysqlServer* s = server_;
  server_ = nullptr;
  if (fanout_) {
    // Shards that ran it keep what it did; the client learns the outcome is unknown.
    if (!fanout_->out.empty()) send(std::move(fanout_->out));
    fanout_.reset();
  }
  // Transaction pooling, nothing of the session bound to that server but a transaction: the
  // client stays (a failover drops no client that can go on). A command in flight gets what
  // its outcome is: inside a transaction, a DML statement that cannot have committed it fails
  // as a rolled-back transaction (1213, as Galera reports a transaction the cluster aborted:
  // drivers and ORMs retry it); any other command's outcome is unknown (2013, what a driver
  // reports for a connection lost during a query). A transaction idle at that moment fails
  // its next statement as rolled back (a ROLLBACK is answered). The next command gets another
  // server (after a failover, the new primary's). Temporary tables, user variables, locks or
  // a cursor were on that server only: the client goes, as with a direct connection.
  if (s && state_ == State::Login) {
    // Lost while being linked (shardpool's own commands): nothing of the client's ran on it,
    // its command (or its login's OK) waits for another server.
    log::warn(who(), "server connection lost while linking ({}); asking for another", reason);
    setState(State::Active);
    askPool(true);
    return;
  }
  bool keep = s && transactionPooling_ && state_ == State::Active && portable(*s);
  if (!keep) {
    close(fmt::format("server connection lost: {}", reason));
    return;
  }
  bool inTransaction = (s->statusFlags() & my::kServerStatusInTrans) != 0;
  log::warn(who(), "server connection lost ({}){}; the session goes on with another server",
            reason, inTransaction ? ", its transaction with it" : "");
  if (s->clientAwaitsReply()) {
    if (inTransaction && inFlightCannotCommit_)
      sendErr(s->replySequence(), 1213, "40001",
              fmt::format("Deadlock found when trying to get lock; try restarting transaction "
                          "(shardpool: the transaction's server connection was lost: {}; the "
                          "transaction was rolled back)",
                          reason));
    else
      sendErr(s->replySequence(), 2013, "HY000",
              fmt::format("Lost connection to server during query (shardpool: {})", reason));
  } else if (inTransaction) {
    transactionLost_ = true;
  }
  if (!in_.empty()) readInput();
}

}  // namespace shardpool::pooler
