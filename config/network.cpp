#include "config/network.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace shardpool::config {

namespace {

bool prefixMatches(const uint8_t* a, const uint8_t* b, unsigned bits) {
  unsigned whole = bits / 8, rest = bits % 8;
  if (std::memcmp(a, b, whole) != 0) return false;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

}  // namespace

std::optional<Network> parseNetwork(std::string_view text) {
  Network n;
  n.text = std::string(text);
  std::string addr(text.substr(0, text.find('/')));
  if (inet_pton(AF_INET, addr.c_str(), n.addr.data()) == 1) {
    n.v6 = false;
  } else if (inet_pton(AF_INET6, addr.c_str(), n.addr.data()) == 1) {
    n.v6 = true;
  } else {
    return std::nullopt;
  }
  const unsigned maxBits = n.v6 ? 128 : 32;
  unsigned bits = maxBits;
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    bits = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      bits = bits * 10 + unsigned(c - '0');
    }
    if (bits > maxBits) return std::nullopt;
  }
  n.prefixLen = static_cast<uint8_t>(bits);
  // Clear the host bits so that "10.1.2.3/8" means 10.0.0.0/8.
  for (unsigned i = 0; i < maxBits / 8; ++i) {
    unsigned keep = bits > i * 8 ? std::min(8u, bits - i * 8) : 0;
    n.addr[i] &= static_cast<uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
  }
  return n;
}

bool Network::contains(bool isV6, const uint8_t* bytes) const {
  if (isV6 && !v6 && std::memcmp(bytes, kMappedPrefix, sizeof kMappedPrefix) == 0)
    return prefixMatches(addr.data(), bytes + 12, prefixLen);
  if (isV6 != v6) return false;
  return prefixMatches(addr.data(), bytes, prefixLen);
}

}  // namespace shardpool::config
