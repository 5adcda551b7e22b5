#include "pooler/session/session_states.h"

namespace shardpool::pooler {

std::string_view name(ClientState s) {
  switch (s) {
    case ClientState::Startup:
      return "startup";
    case ClientState::Auth:
      return "auth";
    case ClientState::WaitServer:
      return "wait-server";
    case ClientState::Login:
      return "login";
    case ClientState::Active:
      return "active";
    case ClientState::Scatter:
      return "scatter";
    case ClientState::Console:
      return "console";
    case ClientState::Closing:
      return "closing";
  }
  return "?";
}

std::string_view name(ServerState s) {
  switch (s) {
    case ServerState::Resolving:
      return "resolving";
    case ServerState::Connecting:
      return "connecting";
    case ServerState::TlsRequest:
      return "tls-request";
    case ServerState::TlsHandshake:
      return "tls-handshake";
    case ServerState::Authenticating:
      return "authenticating";
    case ServerState::Idle:
      return "idle";
    case ServerState::Login:
      return "login";
    case ServerState::Active:
      return "active";
    case ServerState::Resetting:
      return "resetting";
    case ServerState::Closed:
      return "closed";
  }
  return "?";
}

bool allowed(ClientState from, ClientState to) {
  using S = ClientState;
  if (to == S::Closing) return from != S::Closing;
  switch (from) {
    case S::Startup:
    case S::Auth:
      // A login goes on to the admin console, asks its pool for a first server, or is
      // answered from the pool's cached login (no server until the first query).
      return to == S::Auth || to == S::Console || to == S::WaitServer || to == S::Active;
    case S::WaitServer:
      // Asked again (a server withdrawn, a replica failed over to the primary), or given one.
      return to == S::WaitServer || to == S::Login;
    case S::Login:
      return to == S::Active;
    case S::Active:
      // Transaction pooling asks for a server per transaction; a sharded one may scatter.
      return to == S::WaitServer || to == S::Scatter;
    case S::Scatter:
      return to == S::Active;
    case S::Console:
    case S::Closing:
      return false;
  }
  return false;
}

bool allowed(ServerState from, ServerState to) {
  using S = ServerState;
  if (to == S::Closed) return from != S::Closed;
  switch (from) {
    // Before the startup packet a host list may move on to its next host (Resolving again).
    case S::Resolving:
      return to == S::Connecting || to == S::Resolving;
    case S::Connecting:
      return to == S::TlsRequest || to == S::Authenticating || to == S::Resolving;
    case S::TlsRequest:
      return to == S::TlsHandshake || to == S::Authenticating || to == S::Resolving;
    case S::TlsHandshake:
      return to == S::Authenticating || to == S::Resolving;
    case S::Authenticating:
      return to == S::Idle;
    case S::Idle:
      // Linked to a client (with or without settings to apply) or a scatter leg; parked again.
      return to == S::Idle || to == S::Login || to == S::Active;
    case S::Login:
      // The settings are applied; or the client left before they were and it goes back.
      return to == S::Active || to == S::Idle;
    case S::Active:
      return to == S::Resetting || to == S::Idle;
    case S::Resetting:
      return to == S::Idle;
    case S::Closed:
      return false;
  }
  return false;
}

}  // namespace shardpool::pooler
