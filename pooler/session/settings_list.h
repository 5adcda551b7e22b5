// Session settings as (name, value) pairs; names compare case-insensitively, as GUC names do.
#pragma once

#include <strings.h>

#include <algorithm>
#include <memory>
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

// A client's settings list, shared with the other clients of its pool that have the same
// settings (most have: Pool::internSettings), and copied on its holder's first change. Reads
// never touch the reference count. A list is changed in place only while its holder is its only
// owner, and the pool keeps a reference to every list it hands out, so a shared list is never
// changed.
class SharedSettings {
 public:
  const SettingsList& operator*() const { return list_ ? *list_ : empty(); }
  const SettingsList* operator->() const { return &**this; }
  // Nothing when the value is already so (a ParameterStatus repeating it keeps the sharing).
  void set(std::string_view name, std::string_view value) {
    const std::string* current = findSetting(**this, name);
    if (current && *current == value) return;
    setSetting(own(), name, value);
  }
  void erase(std::string_view name) {
    if (findSetting(**this, name)) eraseSetting(own(), name);
  }
  void add(std::string name, std::string value) {  // appended without a look-up
    own().emplace_back(std::move(name), std::move(value));
  }
  void assign(SettingsList list) { list_ = std::make_shared<SettingsList>(std::move(list)); }
  // `list` must hold what this one holds (an interned equal list).
  void share(std::shared_ptr<SettingsList> list) { list_ = std::move(list); }
  // The list itself (null when empty): equal pointers mean equal settings.
  const std::shared_ptr<SettingsList>& shared() const { return list_; }

 private:
  SettingsList& own() {
    if (!list_)
      list_ = std::make_shared<SettingsList>();
    else if (list_.use_count() > 1)
      list_ = std::make_shared<SettingsList>(*list_);
    return *list_;
  }
  static const SettingsList& empty() {
    static const SettingsList none;
    return none;
  }
  std::shared_ptr<SettingsList> list_;
};

}  // namespace shardpool::pooler
