// Small helpers shared by the MySQL codec tests.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "pooler/protocol/mysql_codec.h"

namespace shardpool::protocol::mysql::testing {

// One physical packet: header + payload (payload shorter than 0xFFFFFF bytes... or exactly it).
inline std::string packet(uint8_t seq, std::string_view payload) {
  std::string out(4, '\0');
  size_t n = payload.size();
  out[0] = char(uint8_t(n));
  out[1] = char(uint8_t(n >> 8));
  out[2] = char(uint8_t(n >> 16));
  out[3] = char(seq);
  out.append(payload);
  return out;
}

inline std::string str(Bytes b) {
  return std::string(asText(b));
}

inline Bytes bytesOf(std::string_view s) {
  return asBytes(s);
}

// The payloads of the physical packets in `stream` (which must be whole packets).
inline std::vector<Bytes> payloads(Bytes stream) {
  std::vector<Bytes> out;
  while (!stream.empty()) {
    PacketFrame f = framePacket(stream);
    REQUIRE(f.status == FrameStatus::Ok);
    out.push_back(f.payload);
    stream = stream.subspan(f.totalSize);
  }
  return out;
}

// The first packet's payload of a recorded array.
inline Bytes firstPayload(Bytes stream) {
  PacketFrame f = framePacket(stream);
  REQUIRE(f.status == FrameStatus::Ok);
  return f.payload;
}

// Builds one message with `build`, checks the Writer, and returns its single packet's payload.
template <class Build>
std::string buildPayload(Build build, uint8_t expectSeq = 0) {
  Writer w;
  build(w);
  REQUIRE_FALSE(w.failed());
  std::string bytes = w.take();
  PacketFrame f = framePacket(bytesOf(bytes));
  REQUIRE(f.status == FrameStatus::Ok);
  REQUIRE(f.totalSize == bytes.size());
  REQUIRE(f.sequenceId == expectSeq);
  return str(f.payload);
}

inline std::string randomBytes(std::mt19937& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = char(rng() & 0xFF);
  return s;
}

}  // namespace shardpool::protocol::mysql::testing
