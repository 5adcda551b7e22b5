#include "pooler/session/conn_rows.h"

#include "pooler/net/connection.h"

namespace shardpool::pooler {

std::string_view stateName(ConnRow::State s) {
  switch (s) {
    case ConnRow::State::Login:
      return "login";
    case ConnRow::State::Waiting:
      return "waiting";
    case ConnRow::State::Active:
      return "active";
    case ConnRow::State::Idle:
      return "idle";
    case ConnRow::State::Used:
      return "used";
    case ConnRow::State::Admin:
      return "active";
  }
  return "unknown";
}

void describeSocket(const Connection& conn, ConnRow& row) {
  Connection::Endpoint peer, local;
  if (conn.endpoints(peer, local)) {
    row.addr = peer.host;
    row.port = peer.port;
    row.localAddr = local.host;
    row.localPort = local.port;
  }
  row.connectTime = conn.connectTime();
}

std::chrono::system_clock::time_point toWallClock(std::chrono::steady_clock::time_point t) {
  auto ago = std::chrono::steady_clock::now() - t;
  return std::chrono::system_clock::now() -
         std::chrono::duration_cast<std::chrono::system_clock::duration>(ago);
}

}  // namespace shardpool::pooler
