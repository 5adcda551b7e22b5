#include "pooler/session/session_states.h"

#include <catch2/catch.hpp>

#include <set>
#include <vector>

using namespace shardpool::pooler;

namespace {

template <class State>
bool walk(const std::vector<State>& path) {
  for (size_t i = 1; i < path.size(); ++i)
    if (!allowed(path[i - 1], path[i])) return false;
  return true;
}

template <class State>
std::set<State> reachable(State from, State last) {
  std::set<State> seen{from};
  std::vector<State> todo{from};
  while (!todo.empty()) {
    State s = todo.back();
    todo.pop_back();
    for (int i = 0; i <= static_cast<int>(last); ++i) {
      auto t = static_cast<State>(i);
      if (allowed(s, t) && seen.insert(t).second) todo.push_back(t);
    }
  }
  return seen;
}

}  // namespace

TEST_CASE("client lifecycles of every pool mode are transitions of the state machine",
          "[session]") {
  using S = ClientState;
  // Session pooling: one server for the whole session.
  CHECK(walk<S>({S::Startup, S::Auth, S::WaitServer, S::Login, S::Active, S::Closing}));
  // Transaction pooling: a server per transaction, asked for again after a withdrawn one.
  CHECK(walk<S>({S::Startup, S::Auth, S::WaitServer, S::WaitServer, S::Login, S::Active,
                 S::WaitServer, S::Login, S::Active, S::Closing}));
  // Trust authentication goes straight to the pool; a sharded client scatters a statement.
  CHECK(walk<S>({S::Startup, S::WaitServer, S::Login, S::Active, S::Scatter, S::Active,
                 S::Closing}));
  CHECK(walk<S>({S::Startup, S::Auth, S::Console, S::Closing}));
  // A login answered from the pool's cached login: the server comes with the first query.
  CHECK(walk<S>({S::Startup, S::Auth, S::Active, S::WaitServer, S::Login, S::Active, S::Closing}));
  CHECK(walk<S>({S::Startup, S::Active, S::Closing}));
  // A client may be closed from any state but the terminal one.
  for (int i = 0; i < static_cast<int>(S::Closing); ++i)
    CHECK(allowed(static_cast<S>(i), S::Closing));
}

TEST_CASE("impossible client state changes are refused", "[session]") {
  using S = ClientState;
  for (int i = 0; i <= static_cast<int>(S::Closing); ++i) {
    auto s = static_cast<S>(i);
    CHECK_FALSE(allowed(S::Closing, s));   // terminal
    CHECK_FALSE(allowed(s, S::Startup));   // nothing goes back before the login
    if (s != S::Closing) CHECK_FALSE(allowed(S::Console, s));  // the console only ends
  }
  CHECK_FALSE(allowed(S::Startup, S::Login));     // a server is asked for first
  CHECK_FALSE(allowed(S::Login, S::WaitServer));  // a linked server is never dropped silently
  CHECK_FALSE(allowed(S::WaitServer, S::Active));
  CHECK_FALSE(allowed(S::Scatter, S::WaitServer));
  CHECK_FALSE(allowed(S::Active, S::Console));
  // Every state can be reached from a new connection.
  CHECK(reachable(S::Startup, S::Closing).size() == static_cast<size_t>(S::Closing) + 1);
}

TEST_CASE("server lifecycles are transitions of the state machine", "[session]") {
  using S = ServerState;
  CHECK(walk<S>({S::Resolving, S::Connecting, S::TlsRequest, S::TlsHandshake, S::Authenticating,
                 S::Idle, S::Login, S::Active, S::Resetting, S::Idle, S::Active, S::Idle,
                 S::Closed}));
  CHECK(walk<S>({S::Connecting, S::TlsRequest, S::Authenticating, S::Idle, S::Login, S::Idle}));
  for (int i = 0; i < static_cast<int>(S::Closed); ++i) CHECK(allowed(static_cast<S>(i), S::Closed));
  for (int i = 0; i <= static_cast<int>(S::Closed); ++i) {
    auto s = static_cast<S>(i);
    CHECK_FALSE(allowed(S::Closed, s));
    // Only before its startup packet may a server move on to the next host of a list.
    CHECK(allowed(s, S::Resolving) ==
          (s == S::Resolving || s == S::Connecting || s == S::TlsRequest || s == S::TlsHandshake));
  }
  CHECK(walk<S>({S::Resolving, S::Connecting, S::TlsRequest, S::Resolving, S::Connecting,
                 S::Authenticating, S::Idle}));
  CHECK_FALSE(allowed(S::Connecting, S::Idle));     // never pooled before it logged in
  CHECK_FALSE(allowed(S::Authenticating, S::Active));
  CHECK_FALSE(allowed(S::Resetting, S::Active));    // reset first, then pooled, then linked
  CHECK_FALSE(allowed(S::Idle, S::Resetting));
  CHECK(reachable(S::Resolving, S::Closed).size() == static_cast<size_t>(S::Closed) + 1);
}

TEST_CASE("state names are distinct", "[session]") {
  std::set<std::string_view> client, server;
  for (int i = 0; i <= static_cast<int>(ClientState::Closing); ++i)
    client.insert(name(static_cast<ClientState>(i)));
  for (int i = 0; i <= static_cast<int>(ServerState::Closed); ++i)
    server.insert(name(static_cast<ServerState>(i)));
  CHECK(client.size() == static_cast<size_t>(ClientState::Closing) + 1);
  CHECK(server.size() == static_cast<size_t>(ServerState::Closed) + 1);
}
