// Connections described as rows, in PgBouncer's SHOW CLIENTS / SHOW SERVERS vocabulary: what each
// worker reports of its own clients and servers for the admin console and /metrics.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shardpool::pooler {

class Connection;
class Pool;

struct ConnRow {
  enum class Kind { Client, Server };
  // Client: login (startup/auth), waiting (for a server), active (logged in), admin (console).
  // Server: login (connecting), active (linked to a client), idle (parked), used (resetting).
  enum class State { Login, Waiting, Active, Idle, Used, Admin };

  Kind kind = Kind::Client;
  State state = State::Login;
  uint64_t id = 0;
  unsigned worker = 0;
  std::string user, database;
  std::string addr, localAddr;
  int port = 0, localPort = 0;
  std::chrono::system_clock::time_point connectTime, requestTime;
  std::chrono::microseconds wait{0};  // clients: how long it has been waiting for a server
  bool closeNeeded = false;           // servers: stale after RECONNECT or a reload
  uint64_t link = 0;                  // the paired connection's id, 0 when none
  uint32_t remotePid = 0;             // clients: the cancel pid we gave it; servers: backend pid
  std::string tls;
  std::string applicationName;
  uint32_t preparedStatements = 0;
  const Pool* pool = nullptr;
};

std::string_view stateName(ConnRow::State s);

// A point-in-time list of every client and server connection, merged from all workers.
struct Snapshot {
  std::vector<ConnRow> clients;
  std::vector<ConnRow> servers;
  std::chrono::system_clock::time_point taken = std::chrono::system_clock::now();
};

// Fills the row's addresses, ports and connect time from the connection's socket.
void describeSocket(const Connection& conn, ConnRow& row);

// Converts a steady-clock instant to wall-clock time, for display.
std::chrono::system_clock::time_point toWallClock(std::chrono::steady_clock::time_point t);

}  // namespace shardpool::pooler
