// `shardpool import-pgbouncer`: turns a PgBouncer configuration (pgbouncer.ini and its
// userlist.txt) into an equivalent shardpool TOML file, with a note for every setting that has
// no equivalent or had to change. The conversion is a pure function of the texts; reading files
// (and %include) is left to the caller. See docs/migrate-from-pgbouncer.md.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shardpool::config {

// Something the user should know about one setting: it has no equivalent, or it was changed.
struct ImportNote {
  std::string file;
  uint32_t line = 0;  // 0: not tied to a line
  std::string key;    // PgBouncer's name: "unix_socket_dir", "databases.app.client_encoding"
  std::string message;
  std::string format() const;  // "file:line: key: message"; absent parts left out
};

struct ImportResult {
  std::string toml;  // the shardpool configuration, with a comment header
  std::vector<ImportNote> notes;
  // False when the ini is not a PgBouncer configuration at all (no [pgbouncer] or [databases]
  // section); `toml` is then empty.
  bool parsed = true;
  // The userlist that was used: userlistName, or the ini's auth_file when it was read.
  std::optional<std::string> userlistUsed;
};

// Reads a file that the ini names: a `%include PATH`, or auth_file when no userlist is given.
// PATH is already resolved against the directory of the file that names it. nullopt, with the
// reason in `error`: it could not be read (a note says so).
using FileReader =
    std::function<std::optional<std::string>(const std::string& path, std::string& error)>;

struct ImportInput {
  std::string_view ini;
  std::string_view iniName = "pgbouncer.ini";  // file name used in notes and for %include
  std::optional<std::string_view> userlist;    // userlist.txt contents, if any
  std::string_view userlistName = "userlist.txt";
  // Empty: %include lines and auth_file are not followed (a note says so).
  FileReader readFile;
};

ImportResult importPgbouncer(const ImportInput& input);

// Convenience form that reads no other file.
inline ImportResult importPgbouncer(std::string_view ini, std::string_view iniName,
                                    std::optional<std::string_view> userlist = std::nullopt,
                                    std::string_view userlistName = "userlist.txt") {
  return importPgbouncer(ImportInput{ini, iniName, userlist, userlistName, {}});
}

// The `shardpool import-pgbouncer` command: `args` are the words after the subcommand.
// Exit status: 0 on success (even with notes), 1 when a file cannot be read or written or the
// ini is not a PgBouncer configuration, 2 on usage errors.
int runImportPgbouncer(const std::vector<std::string>& args);

// One line per option, for `shardpool --help`.
extern const char* const kImportPgbouncerUsage;

}  // namespace shardpool::config
