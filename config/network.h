// IP networks in CIDR notation ("10.0.0.0/8", "2001:db8::/32", a bare address for one host), for
// lists of client addresses in the configuration. Pure: no sockets.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shardpool::config {

struct Network {
  bool v6 = false;
  std::array<uint8_t, 16> addr{};  // IPv4 in the first 4 bytes; host bits cleared
  uint8_t prefixLen = 0;
  std::string text;  // as written, for SHOW CONFIG

  // `bytes` is 4 bytes (IPv4) or 16 (IPv6). An IPv4-mapped IPv6 address (::ffff:a.b.c.d)
  // matches IPv4 networks.
  bool contains(bool isV6, const uint8_t* bytes) const;
};

// nullopt when `text` is not an address with an optional /prefix in range.
std::optional<Network> parseNetwork(std::string_view text);

}  // namespace shardpool::config
