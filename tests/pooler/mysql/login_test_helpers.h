// Small helpers shared by the MySQL engine's login tests.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "pooler/protocol/mysql_codec.h"

namespace shardpool::pooler::testing {

// One packet as a login state machine wrote it.
struct WrittenPacket {
  uint8_t seq = 0;
  std::string payload;
  protocol::mysql::Bytes bytes() const { return protocol::mysql::asBytes(payload); }
};

// The packets a Writer holds (whole packets only), emptying it.
inline std::vector<WrittenPacket> takePackets(protocol::mysql::Writer& w) {
  REQUIRE_FALSE(w.failed());
  std::string data = w.take();
  std::vector<WrittenPacket> out;
  protocol::mysql::Bytes rest = protocol::mysql::asBytes(data);
  while (!rest.empty()) {
    auto f = protocol::mysql::framePacket(rest);
    REQUIRE(f.status == protocol::mysql::FrameStatus::Ok);
    out.push_back({f.sequenceId, std::string(protocol::mysql::asText(f.payload))});
    rest = rest.subspan(f.totalSize);
  }
  return out;
}

// The one packet a Writer holds.
inline WrittenPacket takeOne(protocol::mysql::Writer& w) {
  auto packets = takePackets(w);
  REQUIRE(packets.size() == 1);
  return packets[0];
}

}  // namespace shardpool::pooler::testing
