// The session settings a client expects on whatever server it is given: the query that brings a
// server's settings in line with the client's, and the settings the server reports.
#include <fmt/format.h>

#include "pooler/session/client_conn.h"
#include "pooler/session/server_conn.h"
#include "pooler/session/session_guard.h"
#include "pooler/session/settings_list.h"

namespace shardpool::pooler {

namespace {
// Reported by the server but not settable: never re-applied.
bool readOnlySetting(std::string_view name) {
  static constexpr std::string_view kReadOnly[] = {
      "server_version", "server_encoding", "integer_datetimes", "is_superuser",
      "session_authorization", "in_hot_standby"};
  for (auto r : kReadOnly)
    if (sameSettingName(r, name)) return true;
  return false;
}
}  // namespace

std::string ClientConn::buildSetQuery(
    const ServerConn& server, std::vector<std::pair<std::string, std::string>>& toApply) const {
  std::string resets;
  // Settings another client left on this server that this client never asked for.
  for (auto& [name, value] : server.applied()) {
    if (findSetting(params_, name)) continue;
    std::string ident = "\"";
    for (char c : name) ident += c == '"' ? std::string("\"\"") : std::string(1, c);
    resets += fmt::format("RESET {}\";", ident);
    toApply.emplace_back(name, "");
  }
  std::string q;
  for (auto& [name, value] : params_) {
    if (readOnlySetting(name)) continue;
    const std::string* current = server.setting(name);
    if (current && *current == value) continue;
    q += q.empty() ? "SELECT " : ", ";
    q += fmt::format("pg_catalog.set_config({}, {}, false)", quoteLiteral(name),
                     quoteLiteral(value));
    toApply.emplace_back(name, value);
  }
  return resets + q;
}

void ClientConn::noteParameter(std::string_view name, std::string_view value) {
  setSetting(params_, name, value);
}

}  // namespace shardpool::pooler
