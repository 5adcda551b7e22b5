#include "pooler/mysql/session_vars.h"

#include <algorithm>

#include "pooler/protocol/mysql_results.h"

namespace shardpool::pooler {

namespace my = protocol::mysql;

namespace {

bool isCharsetVariable(std::string_view name) {
  return std::find(kCharsetVariables.begin(), kCharsetVariables.end(), name) !=
         kCharsetVariables.end();
}

bool isNumber(std::string_view v) {
  size_t i = 0;
  if (i < v.size() && v[i] == '-') ++i;
  size_t digits = 0;
  while (i < v.size() && v[i] >= '0' && v[i] <= '9') ++i, ++digits;
  if (digits == 0) return false;
  if (i < v.size() && v[i] == '.') {
    ++i;
    size_t fraction = 0;
    while (i < v.size() && v[i] >= '0' && v[i] <= '9') ++i, ++fraction;
    if (fraction == 0) return false;
  }
  return i == v.size();
}

template <class Vars>
auto lowerBound(Vars& vars, std::string_view name) {
  return std::lower_bound(vars.begin(), vars.end(), name,
                          [](const auto& entry, std::string_view n) { return entry.first < n; });
}

}  // namespace

MysqlSessionVars::Noted MysqlSessionVars::note(my::Bytes entries) {
  Noted noted;
  my::SessionStateReader reader(entries);
  my::SessionStateChange change;
  while (reader.next(change)) {
    switch (change.type) {
      case my::SessionTrackType::SystemVariables:
        if (change.name.starts_with("session_track_")) {
          noted.tracking = true;
        } else if (change.name == "last_gtid") {
          // MariaDB reports the GTID of each write: read-only, nothing to carry.
        } else {
          set(change.name, change.value);
          noted.variables = true;
        }
        break;
      case my::SessionTrackType::Schema:
        schema_ = change.value;
        noted.schema = true;
        break;
      case my::SessionTrackType::StateChange:
        noted.stateChange = true;
        break;
      case my::SessionTrackType::Gtids:
      case my::SessionTrackType::TransactionCharacteristics:
      case my::SessionTrackType::TransactionState:
        break;
    }
  }
  noted.malformed = !reader.ok();
  return noted;
}

void MysqlSessionVars::set(std::string_view name, std::string_view value) {
  auto it = lowerBound(vars_, name);
  if (it != vars_.end() && it->first == name)
    it->second = value;
  else
    vars_.emplace(it, std::string(name), std::string(value));
}

void MysqlSessionVars::erase(std::string_view name) {
  auto it = lowerBound(vars_, name);
  if (it != vars_.end() && it->first == name) vars_.erase(it);
}

const std::string* MysqlSessionVars::find(std::string_view name) const {
  auto it = lowerBound(vars_, name);
  return it != vars_.end() && it->first == name ? &it->second : nullptr;
}

std::string setValue(std::string_view name, std::string_view value, bool noBackslashEscapes) {
  if (value.empty() && name.starts_with("character_set_")) return "NULL";
  if (isNumber(value)) return std::string(value);
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') {
      out += "''";
    } else if (c == '\\' && !noBackslashEscapes) {
      out += "\\\\";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

std::string applyStatement(const MysqlSessionVars& target, const MysqlSessionVars& current,
                           bool noBackslashEscapes) {
  std::string sql;
  auto add = [&](std::string_view name, std::string_view expr) {
    sql += sql.empty() ? "SET @@SESSION." : ", @@SESSION.";
    sql += name;
    sql += '=';
    sql += expr;
  };
  // Both lists are sorted by name: one merge walk.
  const auto& want = target.variables();
  const auto& have = current.variables();
  size_t i = 0, j = 0;
  while (i < want.size() || j < have.size()) {
    if (j == have.size() || (i < want.size() && want[i].first < have[j].first)) {
      add(want[i].first, setValue(want[i].first, want[i].second, noBackslashEscapes));
      ++i;
    } else if (i == want.size() || have[j].first < want[i].first) {
      // The server has a value its next client never set. A character-set variable is never
      // DEFAULTed (the global value is not a login's): a client always has them explicitly.
      if (!isCharsetVariable(have[j].first)) add(have[j].first, "DEFAULT");
      ++j;
    } else {
      if (want[i].second != have[j].second)
        add(want[i].first, setValue(want[i].first, want[i].second, noBackslashEscapes));
      ++i;
      ++j;
    }
  }
  return sql;
}

}  // namespace shardpool::pooler
