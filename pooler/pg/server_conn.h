// A connection from shardpool to a PostgreSQL backend: connects and logs in (trust, cleartext,
// md5, SCRAM), runs the reset query between clients, and while linked to a client frames the
// backend's replies on their way to it (tracking ReadyForQuery and ParameterStatus).
#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "pooler/auth/auth_crypto.h"
#include "pooler/net/connection.h"
#include "pooler/net/host_resolver.h"
#include "pooler/protocol/pg_requests.h"
#include "pooler/protocol/pg_scanner.h"
#include "pooler/session/pool.h"
#include "pooler/session/server_link.h"
#include "pooler/session/session_states.h"
#include "pooler/session/settings_list.h"
#include "pooler/session/statement_cache.h"
#include "pooler/session/worker.h"

namespace shardpool::pooler {

class ClientConn;
class Pool;
// Receives a server's replies during a scatter/gather run (pooler/scatter.h).
class ScatterSink {
 public:
  virtual void shardData(size_t index, protocol::pg::Bytes bytes) = 0;
  virtual void shardLost(size_t index, std::string_view reason) = 0;

 protected:
  ~ScatterSink() = default;
};
class PoolCounters;
struct ConnRow;

class ServerConn final : public ServerLink {
 public:
  using Params = SettingsList;

  ServerConn(Worker& worker, uint64_t id, Pool& pool);
  ~ServerConn() override;
  // A server of a PostgreSQL pool, as the core hands it out (every one is a ServerConn).
  static ServerConn* of(ServerLink* link) { return static_cast<ServerConn*>(link); }


  const Params& params() const { return params_; }  // as reported by ParameterStatus
  std::string_view param(std::string_view name) const;
  // A setting's current value: reported, or applied by shardpool (nullptr when unknown).
  const std::string* setting(std::string_view name) const;
  // The same, for a caller that looks names up in about the server's own order: `cursor` (start
  // at 0) says where the next name probably is, so that most look-ups compare one name.
  const std::string* setting(std::string_view name, size_t& cursor) const {
    size_t i = cursor < params_.size() && params_[cursor].first == name
                   ? cursor
                   : settingIndex(params_, name);
    if (i == params_.size()) {
      const std::string* v = findSetting(applied_, name);
      return v ? v : findSetting(baseline_, name);
    }
    cursor = i + 1;
    return &params_[i].second;
  }
  const Params& applied() const { return applied_; }
  // A client whose settings list is `profile` (an interned list, shared by the pool's clients
  // with the same settings) found nothing to apply on this server: until the server's settings
  // change, another client with that very list needs no comparison either. The list is kept
  // alive here, so a client cannot change it in place (SharedSettings copies on write).
  void noteSettingsMatch(std::shared_ptr<SettingsList> profile) {
    matchedProfile_ = std::move(profile);
    matchedVersion_ = settingsVersion_;
    matched_ = true;
  }
  bool settingsMatch(const std::shared_ptr<SettingsList>& profile) const {
    return matched_ && matchedProfile_ == profile && matchedVersion_ == settingsVersion_;
  }
  // The unreported settings connect_query left on this server (read back after it ran): what a
  // client that never set them expects, instead of the server's defaults.
  const Params& baseline() const { return baseline_; }
  uint32_t backendPid() const { return backendPid_; }
  uint32_t backendKey() const { return backendKey_; }
  const sockaddr_storage& address() const { return addr_; }
  void start(uint64_t forClient) override;

  // Linking with a client. `setQuery` re-applies the client's parameters first ("" for none):
  // `toApply` are the settings it sets (an empty value in `toApply` means RESET). The client
  // hears loginComplete() when the server is ready for it: at once when the query can go in
  // the same round trip as the client's messages (pipelineSettings), else at its reply.
  void link(ClientConn* client, std::string setQuery, Params toApply);
  ClientConn* client() const { return client_; }
  // Transaction/statement pooling: the client's transaction is over; back to the pool as is.
  void releaseToPool();
  // Scatter/gather (pooler/scatter.h): while linked to a sink, every reply byte goes to it
  // untouched, and the sink drives the exchange. unlinkSink(): back to the pool when clean,
  // else closed.
  void linkSink(ScatterSink* sink, size_t index);
  void unlinkSink();
  // What the sink learnt from the replies: a ParameterStatus, the transaction status, and
  // that the session settings sent with setQuery (see link) are applied.
  void noteServerParam(std::string_view name, std::string_view value) { setParam(name, value); }
  void setTransactionStatus(char status) { txStatus_ = status; }
  void noteApplied(const Params& applied);
  // The client is done with this server: reset and return it to the pool, or close it when it
  // is not in a clean state.
  // `clientMidMessage`: the client left with a message partly forwarded; the server closes.
  // `settingsUnknown`: the client changed settings shardpool has not read back.
  void unlink(bool clientMidMessage = false, bool settingsUnknown = false);
  // Requests sent (or answered by shardpool) and not yet replied to; pushing drains replies
  // that shardpool synthesizes once they are due.
  void pushRequest(protocol::pg::Request&& r);
  bool awaitingReady() const { return !requests_.empty(); }
  Clock::time_point busySince() const { return busySince_; }    // oldest outstanding request
  Clock::time_point readySince() const { return readySince_; }  // last time nothing was pending
  // query_timeout: cancel the running query; its error will name the timeout.
  void cancelForTimeout(config::Duration timeout);
  // Sends a CancelRequest for this backend's query. Until the backend has taken it
  // (cancelDelivered, or a bound of kCancelHold), the server is not given to another client.
  void sendCancel();
  void cancelDelivered();
  bool cancelInFlight() const { return cancelsInFlight_ > 0; }
  static constexpr std::chrono::seconds kCancelHold{5};
  bool timeoutCancelSent() const { return timeoutCancel_.count() > 0; }
  StatementCache& statements() { return statements_; }
  // Runs a query of shardpool's own whose rows go to the linked client's settingsCaptured().
  void capture(std::string query);
  // A client changed a setting the server does not report: `value` is what it is now (nullptr:
  // not set, a custom name never defined).
  void noteSetting(std::string_view name, const std::string* value);
  bool reports(std::string_view name) const { return findSetting(params_, name) != nullptr; }
  // Whose unnamed statement this server holds: a client id and that client's count of unnamed
  // Parses. A simple Query, another client's Parse(""), or shardpool's own use of the unnamed
  // statement changes it, so a client's Bind("") never reaches another client's statement.
  bool holdsUnnamed(uint64_t client, uint64_t generation) const {
    return unnamedClient_ == client && unnamedGeneration_ == generation;
  }
  void setUnnamed(uint64_t client, uint64_t generation) {
    unnamedClient_ = client;
    unnamedGeneration_ = generation;
  }
  // Idle at a message boundary with nothing outstanding, outside any transaction.
  bool clean() const;
  char transactionStatus() const { return txStatus_; }

  // `socketDead`: the backend already hung up (EOF, read or write error), or nothing more may be
  // sent to it (a client's message is half through): no Terminate, the socket closes and the
  // slot is free at once.
  void close(std::string_view reason, bool socketDead = false) override;
  // Connect/login failure: tell the waiting client (with the server's SQLSTATE when it refused).
  void fail(std::string_view reason, std::string_view sqlstate = "08006",
            bool socketDead = false) override;


  // Scanner callbacks.
  void onForward(protocol::pg::Bytes bytes, bool inInput);
  protocol::pg::Disposition onHeader(char type, uint32_t length);
  bool onMessage(char type, protocol::pg::Bytes body);
  // Request queue callbacks.
  void completed(const protocol::pg::Request& r);
  void dropped(const protocol::pg::Request& r);
  void synthesize(const protocol::pg::Request& r);

 protected:
  void onData(Chunk* chunk, size_t len) override;
  void onReadEnd(int status) override;
  void onWriteError(int status) override;
  void onConnected(int status) override;
  void onTlsReady() override;
  void onTlsFailed(const std::string& error) override;

 private:
  // Host lists: connects to the host hosts_ points at; tryNextHost() moves on to the next one after
  // a failure before the startup packet went out (false: none left, or too late for that).
  void connectHost();
  bool tryNextHost(std::string_view reason);
  const std::string& targetHost() const;
  uint16_t targetPort() const;
  void connectResolved(const sockaddr* addr);
  void sendStartup();
  void onTlsAnswer(Chunk* chunk, size_t len);
  void finishClose();
  void onTick(Clock::time_point now) override;
  void describeMore(ConnRow& row) const override;
  void countReady();  // a ReadyForQuery: ends a query, and a transaction when idle
  PoolCounters& counters();
  void backToPool();
  bool handleAuth(protocol::pg::Bytes body);
  bool onActiveReply(char type, protocol::pg::Bytes body);
  bool onApplyReply(char type, protocol::pg::Bytes body);  // replies to the pipelined settings
  static bool pipelineSettings(const ClientConn& client, const Params& toApply);
  bool rewritesError() const;
  void noteStatementError(protocol::pg::Bytes body);  // an ErrorResponse in reply to the front  // the next ErrorResponse is rewritten before the client sees it
  void loginDone();
  // connect_query: sends it and the read-back of the settings it changed; false when the pool
  // has none. onSetupReply() takes their replies; true once the last ReadyForQuery is in.
  bool startConnectQuery();
  bool onSetupReply(char type, protocol::pg::Bytes body);
  void setParam(std::string_view name, std::string_view value);

  uint64_t forClient_ = 0;
  ClientConn* client_ = nullptr;
  ScatterSink* sink_ = nullptr;
  size_t sinkIndex_ = 0;
  protocol::pg::Scanner scanner_;
  Chunk* currentChunk_ = nullptr;
  Params params_;
  // Bumped by every change of params_, applied_ and baseline_ (settingsMatch()).
  uint64_t settingsVersion_ = 0;
  std::shared_ptr<SettingsList> matchedProfile_;  // see noteSettingsMatch()
  uint64_t matchedVersion_ = 0;
  bool matched_ = false;
  Params applied_;       // settings shardpool applied that the server does not report
  Params pendingApply_;  // being applied by the Login query
  Params baseline_;      // see baseline()
  uint32_t setupReplies_ = 0;  // ReadyForQuery still due from connect_query and its read-back
  uint32_t backendPid_ = 0;
  uint32_t backendKey_ = 0;
  sockaddr_storage addr_{};
  char txStatus_ = 'I';
  protocol::pg::RequestQueue requests_;
  StatementCache statements_;
  uint64_t unnamedClient_ = 0;  // see holdsUnnamed(); 0: nobody's
  uint64_t unnamedGeneration_ = 0;
  std::optional<auth::ScramClient> scram_;
  std::optional<protocol::pg::ErrorFields> loginError_;
  std::optional<protocol::pg::ErrorFields> applyError_;  // of the pipelined settings query
  bool cancelAfterApply_ = false;  // a cancel asked for while the settings query ran
  HostResolver resolver_;  // the host name's lookup in flight
  HostCursor hosts_;  // which host of the pool's list it connects to
  bool queryOpen_ = false;
  bool xactOpen_ = false;
  Clock::time_point queryStart_;
  Clock::time_point xactStart_;
  bool goneReported_ = false;
  bool awaitingEof_ = false;  // Terminate sent; the slot is held until the backend closes
  Clock::time_point closingSince_;
  Clock::time_point busySince_;
  Clock::time_point readySince_;
  config::Duration timeoutCancel_{0};
  uint32_t cancelsInFlight_ = 0;
  Clock::time_point cancelSince_;
};

}  // namespace shardpool::pooler
