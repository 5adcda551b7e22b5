// A client's protocol-level prepared statement in transaction/statement pooling: its text and
// parameter types, and the name the servers know it by (client_prepared.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace shardpool::pooler {

struct ClientStatement {
  std::string serverName;
  std::string query;
  std::vector<uint32_t> paramTypes;
};

// A client's statements by the names it gave them.
using ClientStatements = std::unordered_map<std::string, ClientStatement>;

}  // namespace shardpool::pooler
