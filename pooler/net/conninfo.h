// Text for the libpq connections shardpool opens of its own (health checks, the failover
// manager, auth_query lookups, directory loading): conninfo values, libpq's messages, and
// whether a host is already a numeric address (no resolution needed).
#pragma once

#include <arpa/inet.h>

#include <string>
#include <string_view>

namespace shardpool::pooler {

// A conninfo value, quoted: 'it''s' as libpq reads it (backslash-escaped quote and backslash).
inline std::string conninfoValue(std::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "'";
}

// A libpq error message without its trailing newline (null: "").
inline std::string libpqMessage(const char* text) {
  std::string s = text ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

inline bool isIpAddress(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace shardpool::pooler
