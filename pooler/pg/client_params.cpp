// The session settings a client expects on whatever server it is given: the query that brings a
// server's settings in line with the client's, and the settings the server reports.
#include <fmt/format.h>

#include "pooler/pg/client_conn.h"
#include "pooler/pg/server_conn.h"
#include "pooler/pg/session_guard.h"
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
  std::string q;
  auto set = [&](const std::string& name, const std::string& value) {
    q += q.empty() ? "SELECT " : ", ";
    q += fmt::format("pg_catalog.set_config({}, {}, false)", quoteLiteral(name),
                     quoteLiteral(value));
    toApply.emplace_back(name, value);
  };
  // Settings another client left on this server that this client never asked for: back to what
  // connect_query set, else to the server's default.
  for (auto& [name, value] : server.applied()) {
    if (findSetting(*params_, name)) continue;
    if (const std::string* base = findSetting(server.baseline(), name)) {
      if (*base != value) set(name, *base);
      continue;
    }
    std::string ident = "\"";
    for (char c : name) ident += c == '"' ? std::string("\"\"") : std::string(1, c);
    resets += fmt::format("RESET {}\";", ident);
    toApply.emplace_back(name, "");
  }
  size_t cursor = 0;
  for (auto& [name, value] : *params_) {
    const std::string* current = server.setting(name, cursor);
    if ((current && *current == value) || readOnlySetting(name)) continue;
    set(name, value);
  }
  return resets + q;
}

void ClientConn::noteParameter(std::string_view name, std::string_view value) {
  params_.set(name, value);
}

bool ClientConn::captureSettings(ServerConn& server) {
  // Each entry: a setting and the expression that yields its value for this client now.
  std::vector<std::pair<std::string, std::string>> reads;
  auto add = [&](std::string_view name, bool reset) {
    if (readOnlySetting(name)) return;
    // A sharded database's shardpool.* hints are the router's, never a server's.
    if (routing_ && name.starts_with("shardpool.")) return;
    for (auto& [n, e] : reads)
      if (sameSettingName(n, name)) return;
    const std::string* startup = findSetting(*startup_, name);
    if (reset && startup) {
      // RESET goes back to the server's own login value: put the client's back instead.
      reads.emplace_back(name, fmt::format("pg_catalog.set_config({}, {}, false)",
                                           quoteLiteral(name), quoteLiteral(*startup)));
    } else if (!server.reports(name)) {  // reported ones arrive by ParameterStatus
      reads.emplace_back(name,
                         fmt::format("pg_catalog.current_setting({}, true)", quoteLiteral(name)));
    }
  };
  // Latest first: a name's last change decides; everything before a RESET ALL was undone by it.
  for (auto it = touched_.changes.rbegin(); it != touched_.changes.rend(); ++it) {
    if (!it->name.empty()) {
      add(it->name, it->reset);
      continue;
    }
    for (auto& [n, v] : *startup_) add(n, true);
    for (auto& [n, v] : *params_) add(n, true);
    for (auto& [n, v] : server.applied()) add(n, true);
    for (auto& [n, v] : server.baseline()) add(n, true);  // connect_query's: undone too
  }
  touched_.clear();
  if (reads.empty()) return false;
  std::string q;
  capturing_.clear();
  for (auto& [n, e] : reads) {
    q += q.empty() ? "SELECT " : ", ";
    q += e;
    capturing_.push_back(n);
  }
  server.capture(std::move(q));
  return true;
}

void ClientConn::settingsCaptured(const std::vector<std::optional<std::string>>& values) {
  if (values.size() != capturing_.size()) return;
  for (size_t i = 0; i < values.size(); ++i) {
    const std::string& name = capturing_[i];
    if (values[i])
      params_.set(name, *values[i]);
    else
      params_.erase(name);
    if (server_) server_->noteSetting(name, values[i] ? &*values[i] : nullptr);
  }
  capturing_.clear();
}

}  // namespace shardpool::pooler
