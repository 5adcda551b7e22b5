// Session settings as (name, value) pairs; names compare case-insensitively, as GUC names do.
#pragma once

#include <strings.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shardpool::pooler {

using SettingsList = std::vector<std::pair<std::string, std::string>>;

inline bool sameSettingName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// Where `name` is in `list` (list.size() when it is not).
inline size_t settingIndex(const SettingsList& list, std::string_view name) {
  size_t i = 0;
  while (i < list.size() && !sameSettingName(list[i].first, name)) ++i;
  return i;
}

inline const std::string* findSetting(const SettingsList& list, std::string_view name) {
  size_t i = settingIndex(list, name);
  return i < list.size() ? &list[i].second : nullptr;
}

inline void setSetting(SettingsList& list, std::string_view name, std::string_view value) {
  for (auto& [k, v] : list) {
    if (sameSettingName(k, name)) {
      v = value;
      return;
    }
  }
  list.emplace_back(name, value);
}

inline void eraseSetting(SettingsList& list, std::string_view name) {
  std::erase_if(list, [&](const auto& e) { return sameSettingName(e.first, name); });
}

}  // namespace shardpool::pooler
