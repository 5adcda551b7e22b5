// Transaction and statement pooling hand a server to another client after each transaction, so
// features whose state outlives a transaction on the server (LISTEN, session advisory locks,
// temporary tables kept past commit) would leak to, or be lost by, other clients. The guard
// recognises them in the query text and names the problem instead. Heuristic by design: it
// reads keywords, not a full parse, and says so in the docs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shardpool::pooler {

// Which of the words the checks below act on occur in `sql`: whole words, in any case,
// anywhere in the text (literals and comments included, so it may say yes in vain, never no in
// vain). One pass over the text per statement; each check then runs only when its words occur,
// which almost no statement of a busy application has.
struct StatementWords {
  static constexpr uint32_t Listen = 1u << 0;
  static constexpr uint32_t Temp = 1u << 1;          // TEMP, TEMPORARY
  static constexpr uint32_t AdvisoryLock = 1u << 2;  // session-level pg_(try_)advisory_lock(_shared)
  static constexpr uint32_t Set = 1u << 3;           // SET, RESET
  static constexpr uint32_t Discard = 1u << 4;
  static constexpr uint32_t SetConfig = 1u << 5;
  static constexpr uint32_t Alter = 1u << 6;
  static constexpr uint32_t Drop = 1u << 7;
  static constexpr uint32_t Replace = 1u << 8;
  static constexpr uint32_t Deallocate = 1u << 9;
  uint32_t bits = 0;
  bool any(uint32_t mask) const { return (bits & mask) != 0; }
};
StatementWords scanWords(std::string_view sql);

// The reason `sql` must not run in transaction/statement pooling, or nullopt when it may.
std::optional<std::string> sessionOnlyFeature(std::string_view sql, StatementWords words);
inline std::optional<std::string> sessionOnlyFeature(std::string_view sql) {
  return sessionOnlyFeature(sql, scanWords(sql));
}

// The session settings a query may change beyond its transaction, in statement order: what SET /
// RESET / DISCARD ALL statements name (SET LOCAL, SET TRANSACTION and SET CONSTRAINTS do not
// count) and the first argument of set_config() calls written as a literal, anywhere in the text
// (DO blocks included). Names are lower case, as PostgreSQL compares them. Only the last change
// of each name is kept; RESET ALL and DISCARD ALL (name "") replace everything before them.
struct SettingChanges {
  struct Change {
    std::string name;  // "": every setting (RESET ALL, DISCARD ALL)
    bool reset = false;  // RESET, SET ... TO DEFAULT: back to the session's default
  };
  std::vector<Change> changes;
  bool empty() const { return changes.empty(); }
  void clear() { changes.clear(); }
  void add(std::string name, bool reset);
};
void noteSettingChanges(std::string_view sql, StatementWords words, SettingChanges& out);
inline void noteSettingChanges(std::string_view sql, SettingChanges& out) {
  noteSettingChanges(sql, scanWords(sql), out);
}

// True when a statement of `sql` may change the result columns of prepared statements: it begins
// with ALTER, DROP or CREATE OR REPLACE.
bool mayChangeResultTypes(std::string_view sql, StatementWords words);
inline bool mayChangeResultTypes(std::string_view sql) {
  return mayChangeResultTypes(sql, scanWords(sql));
}

// A query that makes the server raise `message` with SQLSTATE 0A000 (feature_not_supported), so
// the error arrives in order and aborts the transaction like any other error.
std::string raiseFeatureNotSupported(std::string_view message);
// `text` as an SQL string literal, E'...', which reads the same whatever
// standard_conforming_strings says.
std::string quoteLiteral(std::string_view text);
// The same with any SQLSTATE (five characters [0-9A-Z]) and an optional hint.
std::string raiseError(std::string_view sqlstate, std::string_view message,
                       std::string_view hint = {});

}  // namespace shardpool::pooler
