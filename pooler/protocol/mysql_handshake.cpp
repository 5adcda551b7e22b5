// Connection-phase packets: greeting, handshake response, SSLRequest, auth exchange.
#include "pooler/protocol/mysql_handshake.h"

#include <algorithm>
#include <cstring>

namespace shardpool::protocol::mysql {

namespace {

constexpr size_t kScramblePart1 = 8;
constexpr size_t kMinScramblePart2 = 13;  // 12 bytes and a NUL, at the least
constexpr size_t kResponseFiller = 23;    // reserved bytes after the character set
constexpr size_t kMariaDbExtOffset = 19;  // extended capabilities within those reserved bytes

uint32_t lower32(Capabilities c) {
  return uint32_t(c & 0xFFFFFFFFu);
}
uint32_t upper32(Capabilities c) {
  return uint32_t(c >> 32);
}

// The 23 reserved bytes of a HandshakeResponse41/SSLRequest: MariaDB's extended capabilities in
// the last 4 when CLIENT_MYSQL is clear, zeros otherwise.
void putResponseFiller(Writer& w, Capabilities caps) {
  w.zeros(kMariaDbExtOffset);
  w.u32((caps & kClientMysql) ? 0 : upper32(caps));
}

Capabilities readResponseFiller(Reader& r, uint32_t lower) {
  r.skip(kMariaDbExtOffset);
  uint32_t ext = r.u32();
  Capabilities caps = lower;
  if (!(lower & kClientMysql)) caps |= Capabilities(ext) << 32;
  return caps;
}

}  // namespace

Capabilities shardpoolCapabilities(bool tls) {
  Capabilities caps = kClientLongPassword | kClientFoundRows | kClientLongFlag |
                      kClientConnectWithDb | kClientNoSchema | kClientOdbc | kClientLocalFiles |
                      kClientIgnoreSpace | kClientProtocol41 | kClientInteractive |
                      kClientIgnoreSigpipe | kClientTransactions | kClientReserved |
                      kClientSecureConnection | kClientMultiStatements | kClientMultiResults |
                      kClientPsMultiResults | kClientPluginAuth | kClientConnectAttrs |
                      kClientPluginAuthLenencClientData | kClientCanHandleExpiredPasswords |
                      kClientSessionTrack | kClientDeprecateEof;
  if (tls) caps |= kClientSsl;
  return caps;
}

// ---- Greeting ----

std::optional<Handshake> decodeHandshake(Bytes payload) {
  Reader r(payload);
  Handshake h;
  h.protocolVersion = r.u8();
  if (!r.ok() || h.protocolVersion != kProtocolVersion10) return std::nullopt;
  h.serverVersion = r.cstring();
  h.connectionId = r.u32();
  Bytes part1 = r.bytes(kScramblePart1);
  r.skip(1);  // filler
  uint32_t lower = r.u16();
  if (!r.ok()) return std::nullopt;
  h.authPluginData.assign(reinterpret_cast<const char*>(part1.data()), part1.size());
  h.capabilities = lower;
  if (r.atEnd()) return h;  // a minimal (pre-4.1 style) greeting ends here

  h.characterSet = r.u8();
  h.statusFlags = r.u16();
  uint32_t upper = r.u16();
  uint8_t authDataLen = r.u8();
  r.skip(6);
  uint32_t ext = r.u32();
  if (!r.ok()) return std::nullopt;
  Capabilities caps = Capabilities(lower) | (Capabilities(upper) << 16);
  if (!(caps & kClientMysql)) caps |= Capabilities(ext) << 32;
  h.capabilities = caps;

  if (caps & kClientSecureConnection) {
    size_t part2Len = kMinScramblePart2;
    if ((caps & kClientPluginAuth) && authDataLen > kScramblePart1)
      part2Len = std::max(part2Len, size_t(authDataLen) - kScramblePart1);
    Bytes part2 = r.bytes(part2Len);
    if (!r.ok()) return std::nullopt;
    size_t keep;
    if ((caps & kClientPluginAuth) && authDataLen > kScramblePart1) {
      keep = std::min(part2.size(), size_t(authDataLen) - kScramblePart1 - 1);  // drop the NUL
    } else {
      const void* nul = std::memchr(part2.data(), 0, part2.size());
      keep = nul ? size_t(static_cast<const uint8_t*>(nul) - part2.data()) : part2.size();
    }
    h.authPluginData.append(reinterpret_cast<const char*>(part2.data()), keep);
  }
  if (caps & kClientPluginAuth) {
    // MySQL 5.5.7-5.5.9 sent the name without its NUL: take the rest of the packet then.
    Bytes rest = r.rest();
    const void* nul = std::memchr(rest.data(), 0, rest.size());
    size_t len = nul ? size_t(static_cast<const uint8_t*>(nul) - rest.data()) : rest.size();
    h.authPluginName = asText(rest.first(len));
  }
  if (!r.ok()) return std::nullopt;
  return h;
}

void putHandshake(Writer& w, const Handshake& h) {
  const Capabilities caps = h.capabilities;
  const std::string_view data = h.authPluginData;
  if (data.size() < kScramblePart1 || data.size() > 254) {
    w.fail();
    return;
  }
  w.start(0);
  w.u8(h.protocolVersion);
  w.cstring(h.serverVersion);
  w.u32(h.connectionId);
  w.bytes(data.substr(0, kScramblePart1));
  w.u8(0);
  w.u16(uint16_t(caps));
  w.u8(h.characterSet);
  w.u16(h.statusFlags);
  w.u16(uint16_t(lower32(caps) >> 16));
  w.u8((caps & kClientPluginAuth) ? uint8_t(data.size() + 1) : 0);
  w.zeros(6);
  w.u32((caps & kClientMysql) ? 0 : upper32(caps));
  if (caps & kClientSecureConnection) {
    std::string_view part2 = data.substr(kScramblePart1);
    w.bytes(part2);
    w.u8(0);
    if (part2.size() + 1 < kMinScramblePart2) w.zeros(kMinScramblePart2 - part2.size() - 1);
  }
  if (caps & kClientPluginAuth) w.cstring(h.authPluginName);
  w.finish();
}

// ---- SSLRequest ----

bool isSslRequest(Bytes payload) {
  if (payload.size() != kSslRequestLength) return false;
  Reader r(payload);
  uint32_t caps = r.u32();
  return (caps & kClientSsl) && (caps & kClientProtocol41);
}

std::optional<SslRequest> decodeSslRequest(Bytes payload) {
  if (!isSslRequest(payload)) return std::nullopt;
  Reader r(payload);
  SslRequest out;
  uint32_t lower = r.u32();
  out.maxPacketSize = r.u32();
  out.characterSet = r.u8();
  out.capabilities = readResponseFiller(r, lower);
  if (!r.atEnd()) return std::nullopt;
  return out;
}

void putSslRequest(Writer& w, uint8_t sequenceId, const SslRequest& req) {
  w.start(sequenceId);
  w.u32(lower32(req.capabilities | kClientSsl));
  w.u32(req.maxPacketSize);
  w.u8(req.characterSet);
  putResponseFiller(w, req.capabilities);
  w.finish();
}

// ---- HandshakeResponse41 ----

std::optional<HandshakeResponse> decodeHandshakeResponse(Bytes payload) {
  if (payload.size() <= kSslRequestLength) return std::nullopt;  // SSLRequest or truncated
  Reader r(payload);
  HandshakeResponse out;
  uint32_t lower = r.u32();
  if (!(lower & kClientProtocol41)) return std::nullopt;  // HandshakeResponse320: unsupported
  out.maxPacketSize = r.u32();
  out.characterSet = r.u8();
  out.capabilities = readResponseFiller(r, lower);
  const Capabilities caps = out.capabilities;
  out.username = r.cstring();
  if (caps & kClientPluginAuthLenencClientData) {
    out.authResponse = asBytes(r.lenencString());
  } else if (caps & kClientSecureConnection) {
    out.authResponse = r.bytes(r.u8());
  } else {
    out.authResponse = asBytes(r.cstring());
  }
  if (!r.ok()) return std::nullopt;
  // Old clients stop after the auth response even with the later flags set; trailing fields
  // that are absent are left empty.
  if ((caps & kClientConnectWithDb) && !r.atEnd()) out.database = r.cstring();
  if ((caps & kClientPluginAuth) && !r.atEnd()) out.authPluginName = r.cstring();
  if ((caps & kClientConnectAttrs) && !r.atEnd()) {
    uint64_t n = r.lenenc();
    if (!r.ok() || n > r.remaining()) return std::nullopt;
    out.connectAttributes = r.bytes(size_t(n));
    if (!decodeConnectAttributes(out.connectAttributes)) return std::nullopt;
  }
  if (!r.ok()) return std::nullopt;
  // Anything after (MySQL 8's zstd compression level) is ignored: shardpool never offers zstd.
  return out;
}

void putHandshakeResponse(Writer& w, uint8_t sequenceId, const HandshakeResponse& resp) {
  const Capabilities caps = resp.capabilities;
  w.start(sequenceId);
  w.u32(lower32(caps));
  w.u32(resp.maxPacketSize);
  w.u8(resp.characterSet);
  putResponseFiller(w, caps);
  w.cstring(resp.username);
  if (caps & kClientPluginAuthLenencClientData) {
    w.lenencString(resp.authResponse);
  } else if (caps & kClientSecureConnection) {
    if (resp.authResponse.size() > 250) {
      w.fail();
    } else {
      w.u8(uint8_t(resp.authResponse.size()));
      w.bytes(resp.authResponse);
    }
  } else {
    w.cstring(asText(resp.authResponse));
  }
  if (caps & kClientConnectWithDb) w.cstring(resp.database);
  if (caps & kClientPluginAuth) w.cstring(resp.authPluginName);
  if (caps & kClientConnectAttrs) w.lenencString(resp.connectAttributes);
  w.finish();
}

std::optional<std::vector<ConnectAttribute>> decodeConnectAttributes(Bytes attributes) {
  std::vector<ConnectAttribute> out;
  Reader r(attributes);
  while (!r.atEnd()) {
    std::string_view key = r.lenencString();
    std::string_view value = r.lenencString();
    if (!r.ok()) return std::nullopt;
    out.emplace_back(key, value);
  }
  if (!r.ok()) return std::nullopt;
  return out;
}

std::string encodeConnectAttributes(std::span<const ConnectAttribute> attributes) {
  std::string out;
  auto put = [&out](std::string_view s) {
    uint64_t n = s.size();
    if (n < 0xFB) {
      out.push_back(char(n));
    } else {
      size_t width = n <= 0xFFFF ? 2 : n <= 0xFFFFFF ? 3 : 8;
      out.push_back(char(width == 2 ? 0xFC : width == 3 ? 0xFD : 0xFE));
      for (size_t i = 0; i < width; ++i) out.push_back(char(uint8_t(n >> (8 * i))));
    }
    out.append(s);
  };
  for (const auto& [key, value] : attributes) {
    put(key);
    put(value);
  }
  return out;
}

// ---- Auth exchange ----

std::optional<AuthSwitchRequest> decodeAuthSwitchRequest(Bytes payload) {
  Reader r(payload);
  if (r.u8() != kEofHeader || !r.ok()) return std::nullopt;
  AuthSwitchRequest out;
  if (r.atEnd()) return out;  // old one-byte form
  out.pluginName = r.cstring();
  out.pluginData = r.rest();
  if (!r.ok() || out.pluginName.empty()) return std::nullopt;
  return out;
}

void putAuthSwitchRequest(Writer& w, uint8_t sequenceId, std::string_view pluginName,
                          Bytes pluginData) {
  w.start(sequenceId);
  w.u8(kEofHeader);
  w.cstring(pluginName);
  w.bytes(pluginData);
  w.finish();
}

Bytes scrambleOf(Bytes pluginData) {
  if (!pluginData.empty() && pluginData.back() == 0) return pluginData.first(pluginData.size() - 1);
  return pluginData;
}

std::optional<Bytes> decodeAuthMoreData(Bytes payload) {
  if (payload.empty() || payload[0] != kAuthMoreDataHeader) return std::nullopt;
  return payload.subspan(1);
}

void putAuthMoreData(Writer& w, uint8_t sequenceId, Bytes data) {
  w.start(sequenceId);
  w.u8(kAuthMoreDataHeader);
  w.bytes(data);
  w.finish();
}

bool isFastAuthSuccess(Bytes payload) {
  return payload.size() == 2 && payload[0] == kAuthMoreDataHeader &&
         payload[1] == kCachingSha2FastAuthSuccess;
}

bool isPerformFullAuth(Bytes payload) {
  return payload.size() == 2 && payload[0] == kAuthMoreDataHeader &&
         payload[1] == kCachingSha2PerformFullAuth;
}

void putAuthSwitchResponse(Writer& w, uint8_t sequenceId, Bytes data) {
  w.start(sequenceId);
  w.bytes(data);
  w.finish();
}

}  // namespace shardpool::protocol::mysql
