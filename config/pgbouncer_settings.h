// PgBouncer settings that its admin console's SET changes while it runs and that shardpool has
// no counterpart for (server_login_retry, server_fast_close, log_connections, ...). So that
// scripts written for PgBouncer keep working, shardpool accepts each as a [general] key (and so
// in the console's SET and in --set), checks the value's type, keeps it, shows it in SHOW
// CONFIG, and warns that it has no effect. Internal to config/.
#pragma once

#include <span>
#include <string_view>

namespace shardpool::config {

struct PgbouncerOnlySetting {
  enum class Kind { Count, Seconds, Text };
  std::string_view key;
  Kind kind;
  std::string_view pgbouncerDefault;  // as SHOW CONFIG shows it (durations normalized: "15s")
  std::string_view instead;           // what shardpool does instead, for the warning
};

// In PgBouncer's (alphabetical) order.
std::span<const PgbouncerOnlySetting> pgbouncerOnlySettings();
const PgbouncerOnlySetting* findPgbouncerOnlySetting(std::string_view key);

}  // namespace shardpool::config
