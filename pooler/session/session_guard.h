// Transaction and statement pooling hand a server to another client after each transaction, so
// features whose state outlives a transaction on the server (LISTEN, session advisory locks,
// temporary tables kept past commit) would leak to, or be lost by, other clients. The guard
// recognises them in the query text and names the problem instead. Heuristic by design: it
// reads keywords, not a full parse, and says so in the docs.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shardpool::pooler {

// The reason `sql` must not run in transaction/statement pooling, or nullopt when it may.
std::optional<std::string> sessionOnlyFeature(std::string_view sql);

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
void noteSettingChanges(std::string_view sql, SettingChanges& out);

// True when a statement of `sql` may change the result columns of prepared statements: it begins
// with ALTER, DROP or CREATE OR REPLACE.
bool mayChangeResultTypes(std::string_view sql);

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
