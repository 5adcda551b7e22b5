// Small helpers shared by the MySQL engine's login tests.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pooler/protocol/mysql_codec.h"
#include "pooler/protocol/mysql_results.h"
#include "tests/pooler/protocol/mysql_recorded.h"
#include "tests/pooler/protocol/mysql_test_helpers.h"

namespace shardpool::pooler::testing {

namespace my = protocol::mysql;
namespace recorded = protocol::mysql::recorded;

// One packet as a login state machine wrote it.
struct WrittenPacket {
  uint8_t seq = 0;
  std::string payload;
  my::Bytes bytes() const { return my::asBytes(payload); }
};

// The packets a Writer holds (whole packets only), emptying it.
inline std::vector<WrittenPacket> takePackets(my::Writer& w) {
  REQUIRE_FALSE(w.failed());
  std::string data = w.take();
  std::vector<WrittenPacket> out;
  my::Bytes rest = my::asBytes(data);
  while (!rest.empty()) {
    auto f = my::framePacket(rest);
    REQUIRE(f.status == my::FrameStatus::Ok);
    out.push_back({f.sequenceId, std::string(my::asText(f.payload))});
    rest = rest.subspan(f.totalSize);
  }
  return out;
}

// The one packet a Writer holds.
inline WrittenPacket takeOne(my::Writer& w) {
  auto packets = takePackets(w);
  REQUIRE(packets.size() == 1);
  return packets[0];
}

// The recorded MariaDB greeting's payload (its scramble is the one the recorded client answered).
inline my::Bytes recordedGreeting() {
  return my::testing::firstPayload(recorded::kCliGreeting);
}

// Checks that `p` is an ERR packet with these fields.
inline void checkErr(const WrittenPacket& p, uint8_t seq, uint16_t code, std::string_view sqlState,
                     std::string_view message) {
  CHECK(p.seq == seq);
  auto err = my::decodeErr(p.bytes());
  REQUIRE(err);
  CHECK(err->code == code);
  CHECK(err->sqlState == sqlState);
  CHECK(err->message == message);
}

}  // namespace shardpool::pooler::testing
