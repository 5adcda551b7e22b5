// Shared state of one PgBouncer import: the shardpool tables being built, the facts that one
// section needs from another, and value readers that turn a bad value into a note.
// Internal to config/ (includes toml++).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "config/config.h"
#include "config/pgbouncer_import.h"
#include "config/pgbouncer_ini.h"

namespace shardpool::config::pgbouncer {

// PgBouncer's unix-socket directory on Debian and most packages; shardpool uses it for a
// database without `host` unless the ini sets unix_socket_dir.
inline constexpr std::string_view kDefaultSocketDir = "/var/run/postgresql";

struct UserlistPassword {
  std::string password;
  std::string file;
  uint32_t line = 0;
};

// admin_users / stats_users as listed, and where.
struct ListedUsers {
  std::vector<std::string> names;
  const IniEntry* entry = nullptr;
};

struct Importer {
  std::string iniName;
  std::vector<ImportNote> notes;
  toml::table general;
  toml::table databases;
  toml::table users;

  // From the userlist (the last line wins for a user listed twice).
  std::map<std::string, UserlistPassword, std::less<>> userlist;
  bool haveUserlist = false;
  // From [pgbouncer], needed by the other sections.
  AuthType authType = AuthType::Md5;  // PgBouncer's default
  // auth_type hba/pam/ldap: users whose stored password cannot do authType get the auth type
  // it can do, instead of being left out.
  bool perUserAuthFallback = false;
  std::string unixSocketDir;  // empty: not set
  ListedUsers adminUsers;
  ListedUsers statsUsers;
  // [users] entries by name, for notes about them.
  std::map<std::string, const IniEntry*, std::less<>> userEntries;
  // Some database logs in to its servers as the client's user (no forced user with password):
  // those logins need each user's password in a form shardpool can send.
  bool serversUseClientPasswords = false;

  void note(const IniEntry& at, std::string key, std::string message);
  void note(const std::string& file, uint32_t line, std::string key, std::string message);

  // Readers: the value, or nullopt after a note at `key` saying it was ignored.
  std::optional<int64_t> integer(const IniEntry& at, const std::string& key, std::string_view text,
                                 int64_t min, int64_t max);
  std::optional<PoolMode> poolMode(const IniEntry& at, const std::string& key,
                                   std::string_view text);
  std::optional<TlsMode> tlsMode(const IniEntry& at, const std::string& key, std::string_view text);
  // Seconds (fractional allowed), written into `table[target]` as whole seconds or as "<n>ms".
  // `zeroAllowed` false: 0 is noted and skipped. Returns whether a value was written.
  bool seconds(const IniEntry& at, const std::string& key, std::string_view text,
               toml::table& table, std::string_view target, bool zeroAllowed);
};

// [pgbouncer]: every setting, in file order (the last of a repeated key wins).
void importGeneral(Importer& im, const std::vector<const IniEntry*>& entries);
// [databases] and [users] (connection-string values).
void importDatabases(Importer& im, const std::vector<const IniEntry*>& entries);
void importUserSettings(Importer& im, const std::vector<const IniEntry*>& entries);
// Adds the userlist's users (and those only named in admin_users / stats_users), checks each
// password against the auth type, and writes general.admin_users / stats_users.
void finishUsers(Importer& im);

// `${` -> `$${`, so that shardpool's ${NAME} substitution gives back the text as it was.
std::string escapeEnv(std::string_view text);
// "a, b,c" -> {"a", "b", "c"} (blanks trimmed, empty items dropped).
std::vector<std::string> splitList(std::string_view text);
std::optional<double> parseNumber(std::string_view text);

}  // namespace shardpool::config::pgbouncer
