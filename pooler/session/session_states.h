// The states of a client session and of a server link, and the transitions between them: one
// table each, consulted by the one setState() of ClientConn and of ServerConn (as PgBouncer's
// change_client_state / change_server_state). A transition not in the table is a bug in
// shardpool, never something a peer can cause.
#pragma once

#include <string_view>

namespace shardpool::pooler {

enum class ClientState {
  Startup,     // before the StartupMessage (SSLRequest, CancelRequest may come first)
  Auth,        // authentication exchange in progress
  WaitServer,  // queued in a pool, or a server is being opened for it
  Login,       // a server is linked and the client's session settings are being applied
  Active,      // logged in; in transaction pooling it may hold no server between transactions
  Scatter,     // one statement runs on several shards at once (pooler/pg/scatter.h)
  Console,     // logged in to the admin console
  Closing,     // terminal: closed, waiting for deferred deletion
};

enum class ServerState {
  Resolving,
  Connecting,
  TlsRequest,    // SSLRequest sent, waiting for 'S' or 'N'
  TlsHandshake,  // TLS handshake in progress
  Authenticating,
  Idle,       // logged in, parked in its pool (or on its way there)
  Login,      // linked to a client; the client's session settings are being applied
  Active,     // linked to a client (or a scatter leg)
  Resetting,  // the reset query runs before the server goes back to its pool
  Closed,     // terminal
};

std::string_view name(ClientState s);
std::string_view name(ServerState s);

// Whether `from` -> `to` is a transition of the state machine (a state to itself is one only
// where the machine re-enters it: a client asking its pool again, a server parked again).
bool allowed(ClientState from, ClientState to);
bool allowed(ServerState from, ServerState to);

}  // namespace shardpool::pooler
