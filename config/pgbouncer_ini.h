// Readers for PgBouncer's file formats: the ini file (sections, `key = value`, `;`/`#` comments,
// %include), libpq-style `key=value` connection strings in [databases] and [users], and the
// `"user" "password"` lines of userlist.txt. Problems become notes, never exceptions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/pgbouncer_import.h"

namespace shardpool::config::pgbouncer {

struct IniEntry {
  std::string file;
  uint32_t line = 0;
  std::string section;  // lower-cased
  std::string key;    // lower-cased in [pgbouncer]; as written elsewhere (names are case-sensitive)
  std::string value;  // without surrounding blanks
};

struct IniSection {
  std::string name;  // lower-cased
  std::string file;
  uint32_t line = 0;  // of its first header
};

struct IniFile {
  std::vector<IniEntry> entries;
  std::vector<IniSection> sections;  // each distinct name once, in order of appearance
};

// Reads `text` (named `name`), following %include through `readFile` when it is set.
IniFile readIni(std::string_view text, std::string_view name, const FileReader& readFile,
                std::vector<ImportNote>& notes);

struct ConnParam {
  std::string key;  // lower-cased
  std::string value;
};

struct ConnParams {
  std::vector<ConnParam> params;
  std::string error;  // empty on success
};

// `host=db1 port=5433 password='it''s'`: blanks separate pairs, blanks around '=' are allowed,
// values may be single-quoted (with '' or \' for a quote and \\ for a backslash).
ConnParams parseConnParams(std::string_view text);

struct UserlistEntry {
  uint32_t line = 0;
  std::string user;
  std::string password;
};

// `"user" "password"` lines; "" inside quotes is one quote. Blank lines and lines starting with
// ';' or '#' are skipped; anything else that does not fit gets a note.
std::vector<UserlistEntry> readUserlist(std::string_view text, std::string_view name,
                                        std::vector<ImportNote>& notes);

// `target` taken relative to the directory of `namingFile` (unless it is absolute).
std::string resolvePath(std::string_view namingFile, std::string_view target);

// Well-formed UTF-8 (TOML files must be).
bool isValidUtf8(std::string_view text);
std::string lowerCase(std::string_view text);
std::string_view trim(std::string_view text);

}  // namespace shardpool::config::pgbouncer
