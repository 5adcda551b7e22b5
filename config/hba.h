// Host-based authentication rules (PgBouncer's auth_hba_file, in the pg_hba.conf format): which
// authentication method a client gets, by connection type, database, user and address. Pure:
// the caller reads the files (`readInclude` for @file lists).
//
// The subset PgBouncer supports, plus what it leaves out where the meaning is clear:
//  - connection types local (the unix socket), host, hostssl, hostnossl;
//  - databases: all, sameuser, replication (never matches: shardpool takes no replication
//    connections), names, "quoted" names, comma lists, @file; not samerole / samegroup;
//  - users: all, names, comma lists, @file; not +group;
//  - addresses: all, an address with /prefix, an address with a separate netmask field;
//    not host names, samehost, samenet;
//  - methods: trust, reject, md5, password, scram-sha-256, cert (hostssl only), peer (local
//    only); no options (map=, clientcert=, ...): a rule that relies on one is refused rather
//    than read without it.
// The first rule that matches decides; none matching rejects the login, as in PostgreSQL.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/network.h"

namespace shardpool::config {

enum class AuthType : uint8_t;

enum class HbaConnType : uint8_t { Local, Host, HostSsl, HostNoSsl };

// A database or user field: `all`, or a list of names (sameuser / replication for databases).
struct HbaNames {
  bool all = false;
  bool sameUser = false;     // databases: the database named as the user
  bool replication = false;  // databases: a replication connection (never here)
  std::vector<std::string> names;
};

struct HbaRule {
  uint32_t line = 0;  // in the hba file (its first line, for a continued record)
  HbaConnType type = HbaConnType::Host;
  HbaNames databases, users;
  std::optional<Network> network;  // host types; nullopt: all addresses
  AuthType method{};
};

// The facts a rule is matched against. `address` is 4 bytes (IPv4) or 16 (IPv6); null for a
// unix-socket client.
struct HbaClient {
  bool unixSocket = false;
  bool tls = false;
  bool v6 = false;
  const uint8_t* address = nullptr;
  std::string_view database, user;
};

struct HbaRules {
  std::string path;  // for messages
  std::vector<HbaRule> rules;
  // The first rule that matches, or null.
  const HbaRule* match(const HbaClient& client) const;
};

struct HbaError {
  std::string file;
  uint32_t line = 0;
  std::string message;
};

// Reads a file named by @name (relative to the hba file's folder); nullopt with `error` set when
// it cannot be read.
using HbaIncludeReader =
    std::function<std::optional<std::string>(const std::string& path, std::string& error)>;

// Parses the text of the hba file at `path`. Every problem found is appended to `errors`; the
// rules are only usable when none was.
HbaRules parseHba(std::string_view text, const std::string& path,
                  const HbaIncludeReader& readInclude, std::vector<HbaError>& errors);

// Reads and parses the file at `path` (and its @files) from disk.
HbaRules loadHbaFile(const std::string& path, std::vector<HbaError>& errors);

std::string_view toString(HbaConnType type);  // "local", "host", "hostssl", "hostnossl"

}  // namespace shardpool::config
