// Parsing of the sidecar flags: `--backend postgres://...` (or mysql://...) and
// `--listen host:port`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shardpool::config {

template <class T>
struct Parsed {
  std::optional<T> value;
  std::string error;  // set when value is empty; never contains a password
};

struct BackendUrl {
  bool mysql = false;  // mysql:// or mariadb://: a MySQL backend (port 3306 unless given)
  std::string user;
  std::optional<std::string> password;
  std::string host;  // name, IP (IPv6 without brackets), or a unix-socket directory
  uint16_t port = 5432;
  std::string dbname;  // defaults to user
};

// postgres://user[:password]@host[:port][/dbname][?params], also postgresql://, and mysql:// or
// mariadb:// for a MySQL backend (no unix-socket host there). User, password,
// host and dbname are percent-decoded (a host of "%2Fvar%2Frun%2Fpostgresql" is a unix-socket
// directory); "[::1]" is an IPv6 host; query parameters are accepted and ignored.
Parsed<BackendUrl> parseBackendUrl(std::string_view url);

struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};

// "host:port", "[::1]:port", or ":port" (meaning 127.0.0.1).
Parsed<ListenAddress> parseListen(std::string_view text);

}  // namespace shardpool::config
