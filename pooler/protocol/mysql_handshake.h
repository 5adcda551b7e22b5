// MySQL/MariaDB connection phase: the server greeting (Initial Handshake v10), the client's
// HandshakeResponse41 and SSLRequest, and the authentication exchange packets (AuthSwitchRequest,
// AuthMoreData, AuthSwitchResponse). Decoders take one logical payload (a single packet's, or
// reassembled); string and byte fields are views into it. Builders append one complete packet to
// a Writer with the given sequence id.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pooler/protocol/mysql_codec.h"
#include "pooler/protocol/mysql_constants.h"

namespace shardpool::protocol::mysql {

constexpr uint8_t kProtocolVersion10 = 10;
constexpr size_t kScrambleLength = 20;  // what MySQL and MariaDB send in the greeting
constexpr size_t kSslRequestLength = 32;

// The capabilities shardpool offers: every feature its codec and result tracker handle, never
// COMPRESS, QUERY_ATTRIBUTES, OPTIONAL_RESULTSET_METADATA, ZSTD, MULTI_FACTOR_AUTHENTICATION
// nor MariaDB's extended ones (progress reports, bulk, metadata cache change what the server
// sends). SSL only when shardpool has a TLS certificate. Used both in shardpool's greeting to
// clients and (intersected with the server's) in its handshake responses to backends.
Capabilities shardpoolCapabilities(bool tls);

// ---- Initial Handshake v10 (server -> client, sequence id 0) ----
struct Handshake {
  uint8_t protocolVersion = kProtocolVersion10;
  std::string_view serverVersion;
  uint32_t connectionId = 0;
  // Auth plugin data, parts 1 and 2 joined, without the terminating NUL (20 bytes from real
  // servers): the scramble for mysql_native_password and caching_sha2_password.
  std::string authPluginData;
  // Lower and upper capability flags; MariaDB's extended capabilities in the upper 32 bits when
  // the server clears CLIENT_MYSQL (kClientLongPassword).
  Capabilities capabilities = 0;
  uint8_t characterSet = 0;
  uint16_t statusFlags = 0;
  std::string_view authPluginName;  // with PLUGIN_AUTH
};
// nullopt on a malformed greeting or another protocol version (an ERR packet in its place is the
// caller's to check: first byte 0xFF).
std::optional<Handshake> decodeHandshake(Bytes payload);
// Writes the greeting. authPluginData must be at least 8 bytes and at most 254; the MariaDB
// extended capabilities are written only when kClientMysql is clear.
void putHandshake(Writer& w, const Handshake& h);

// ---- HandshakeResponse41 and SSLRequest (client -> server) ----
struct HandshakeResponse {
  Capabilities capabilities =
      0;  // MariaDB extended ones in the upper bits when kClientMysql is clear
  uint32_t maxPacketSize = 0;
  uint8_t characterSet = 0;
  std::string_view username;
  Bytes authResponse;
  std::string_view database;        // with CONNECT_WITH_DB
  std::string_view authPluginName;  // with PLUGIN_AUTH
  Bytes connectAttributes;  // with CONNECT_ATTRS: the key/value pairs, without their total length
};

// True when `payload` is an SSLRequest: the 32-byte prefix of a HandshakeResponse41 with
// CLIENT_SSL set; the client starts TLS next and sends its HandshakeResponse over it.
bool isSslRequest(Bytes payload);
struct SslRequest {
  Capabilities capabilities = 0;
  uint32_t maxPacketSize = 0;
  uint8_t characterSet = 0;
};
std::optional<SslRequest> decodeSslRequest(Bytes payload);
void putSslRequest(Writer& w, uint8_t sequenceId, const SslRequest& r);

// nullopt on a malformed response, an SSLRequest, or a pre-4.1 (HandshakeResponse320) one.
// Each field is read according to the capability flags the client sent.
std::optional<HandshakeResponse> decodeHandshakeResponse(Bytes payload);
// Writes the response laid out by r.capabilities. An auth response over 250 bytes needs
// PLUGIN_AUTH_LENENC_CLIENT_DATA (otherwise the Writer fails).
void putHandshakeResponse(Writer& w, uint8_t sequenceId, const HandshakeResponse& r);

using ConnectAttribute = std::pair<std::string_view, std::string_view>;
// Key/value pairs of HandshakeResponse::connectAttributes, in order; nullopt when malformed.
std::optional<std::vector<ConnectAttribute>> decodeConnectAttributes(Bytes attributes);
// The encoding of `attributes` as HandshakeResponse::connectAttributes expects it.
std::string encodeConnectAttributes(std::span<const ConnectAttribute> attributes);

// ---- Authentication exchange ----
// AuthSwitchRequest: 0xFE, plugin name, plugin data (for mysql_native_password and
// caching_sha2_password: the 20-byte scramble and a NUL; see scrambleOf()).
struct AuthSwitchRequest {
  std::string_view pluginName;  // empty for the pre-4.1 one-byte form (switch to old passwords)
  Bytes pluginData;
};
std::optional<AuthSwitchRequest> decodeAuthSwitchRequest(Bytes payload);
// pluginData is written as given (append the NUL yourself where the plugin expects one).
void putAuthSwitchRequest(Writer& w, uint8_t sequenceId, std::string_view pluginName,
                          Bytes pluginData);

// A scramble carried in plugin data: the data without one trailing NUL.
Bytes scrambleOf(Bytes pluginData);

// AuthMoreData: 0x01 then plugin-specific data (caching_sha2_password: one status byte, or the
// server's PEM public key).
constexpr uint8_t kCachingSha2RequestPublicKey = 0x02;  // client -> server, alone in a packet
constexpr uint8_t kCachingSha2FastAuthSuccess = 0x03;
constexpr uint8_t kCachingSha2PerformFullAuth = 0x04;
std::optional<Bytes> decodeAuthMoreData(Bytes payload);  // the data after 0x01
void putAuthMoreData(Writer& w, uint8_t sequenceId, Bytes data);
// caching_sha2_password's one-byte AuthMoreData statuses.
bool isFastAuthSuccess(Bytes payload);
bool isPerformFullAuth(Bytes payload);

// AuthSwitchResponse and the other client auth packets: the payload is the raw auth data.
void putAuthSwitchResponse(Writer& w, uint8_t sequenceId, Bytes data);

}  // namespace shardpool::protocol::mysql
