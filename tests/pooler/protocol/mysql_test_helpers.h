// Small helpers shared by the MySQL codec tests.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "pooler/protocol/mysql_codec.h"
#include "pooler/protocol/mysql_handshake.h"
#include "tests/pooler/protocol/mysql_recorded.h"

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

// A string literal's bytes, embedded NULs included (without the terminating one).
template <size_t N>
Bytes lit(const char (&s)[N]) {
  return {reinterpret_cast<const uint8_t*>(s), N - 1};
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

// The `occurrence`-th recorded exchange with this name (names repeat: "FETCH 2", "STMT_CLOSE").
template <size_t N>
const recorded::Exchange& exchange(const recorded::Exchange (&list)[N], std::string_view name,
                                   int occurrence = 0) {
  for (const recorded::Exchange& ex : list) {
    if (name == ex.name && occurrence-- == 0) return ex;
  }
  FAIL("no recorded exchange named " << name);
  return list[0];
}

// The capabilities a recorded session negotiated: the client's and the server's in common.
inline Capabilities negotiated(Bytes greeting, Bytes response) {
  auto g = decodeHandshake(firstPayload(greeting));
  auto r = decodeHandshakeResponse(firstPayload(response));
  REQUIRE(g);
  REQUIRE(r);
  return g->capabilities & r->capabilities;
}
inline Capabilities cliCaps() {
  return negotiated(recorded::kCliGreeting, recorded::kCliHandshakeResponse);
}
inline Capabilities rawEofCaps() {
  return negotiated(recorded::kRawEofGreeting, recorded::kRawEofHandshakeResponse);
}
inline Capabilities rawDeprecateEofCaps() {
  return negotiated(recorded::kRawDeprecateEofGreeting,
                    recorded::kRawDeprecateEofHandshakeResponse);
}

// The payload of the index-th packet of a recorded stream.
inline Bytes nthPayload(Bytes stream, size_t index) {
  std::vector<Bytes> all = payloads(stream);
  REQUIRE(index < all.size());
  return all[index];
}

}  // namespace shardpool::protocol::mysql::testing
