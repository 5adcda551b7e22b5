// What a MySQL session carries from server to server in transaction pooling, without I/O: the
// session system variables changed from a fresh connection's values and the default schema, as
// the server reported them through session-state tracking (shardpool turns it on for every
// variable on each server it logs in to, see MysqlServer). A client has one (what its session
// should look like) and so has each server (what it looks like now); applyStatement() is the SET
// that makes a server's variables the client's, and nothing when they match.
//
// A variable absent from the set has the value a new connection gets, which `= DEFAULT` gives
// back, except for the character-set variables: a new connection takes them from its login
// packet, not from the global value. Those four are therefore always kept explicitly once known
// (see kCharsetVariables), and never set to DEFAULT.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pooler/protocol/mysql_codec.h"

namespace shardpool::pooler {

// The variables a login packet's collation sets, in the order a SET must assign them
// (collation_connection after character_set_connection, which resets it).
inline constexpr std::array<std::string_view, 4> kCharsetVariables = {
    "character_set_client", "character_set_connection", "character_set_results",
    "collation_connection"};

class MysqlSessionVars {
 public:
  // What one OK's session-state entries said.
  struct Noted {
    bool variables = false;  // system variables changed (recorded)
    bool schema = false;     // the default schema changed (recorded)
    bool stateChange = false;  // the state-change tracker fired (user variables, temporary
                               // tables, prepared statements... or any of the above)
    bool tracking = false;  // a session_track_* variable changed (not recorded)
    bool malformed = false;
  };
  // Records the entries of an OK's session state (OkPacket::sessionState).
  Noted note(protocol::mysql::Bytes entries);

  void set(std::string_view name, std::string_view value);
  void erase(std::string_view name);
  // nullptr when the variable has a new connection's value.
  const std::string* find(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& variables() const { return vars_; }
  void clear() { vars_.clear(); }

  const std::string& schema() const { return schema_; }
  void setSchema(std::string_view schema) { schema_ = schema; }

  bool sameVariables(const MysqlSessionVars& other) const { return vars_ == other.vars_; }

 private:
  std::vector<std::pair<std::string, std::string>> vars_;  // sorted by name
  std::string schema_;
};

// "SET @@SESSION.a=..., @@SESSION.b=DEFAULT" turning `current`'s variables into `target`'s;
// empty when they are the same. `noBackslashEscapes`: the server's sql_mode has
// NO_BACKSLASH_ESCAPES (its status flag), so a quote inside a value is doubled, never escaped.
std::string applyStatement(const MysqlSessionVars& target, const MysqlSessionVars& current,
                           bool noBackslashEscapes);

// A value as a SET expression: bare when numeric, NULL for an empty character_set_* value (how
// the tracker reports NULL there), else a quoted string.
std::string setValue(std::string_view name, std::string_view value, bool noBackslashEscapes);

}  // namespace shardpool::pooler
