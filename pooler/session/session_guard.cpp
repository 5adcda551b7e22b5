#include "pooler/session/session_guard.h"

#include <cctype>
#include <vector>

#include "pooler/protocol/pg_codec.h"

namespace shardpool::pooler {

namespace {

// Upper-cased keywords of the first statement, skipping whitespace, comments and literals.
std::vector<std::string> leadingWords(std::string_view sql, size_t max) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < sql.size() && words.size() < max) {
    char c = sql[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      while (i < sql.size() && sql[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      int depth = 0;
      do {
        if (sql.compare(i, 2, "/*") == 0) {
          ++depth;
          i += 2;
        } else if (sql.compare(i, 2, "*/") == 0) {
          --depth;
          i += 2;
        } else {
          ++i;
        }
      } while (i < sql.size() && depth > 0);
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      std::string w;
      while (i < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[i])) || sql[i] == '_'))
        w.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i++]))));
      words.push_back(std::move(w));
    } else {
      break;  // punctuation, a literal or a quoted identifier ends the keyword run
    }
  }
  return words;
}

bool containsNoCase(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    size_t j = 0;
    while (j < needle.size() &&
           std::tolower(static_cast<unsigned char>(hay[i + j])) == needle[j])
      ++j;
    if (j == needle.size()) return true;
  }
  return false;
}

}  // namespace

std::optional<std::string> sessionOnlyFeature(std::string_view sql) {
  std::vector<std::string> w = leadingWords(sql, 4);
  if (!w.empty() && w[0] == "LISTEN")
    return std::string(
        "LISTEN is not supported in transaction pooling: notifications would reach whichever "
        "client uses this server next; connect this client to a session-mode pool");
  if (w.size() >= 3 && w[0] == "CREATE") {
    size_t k = 1;
    if (w[k] == "GLOBAL" || w[k] == "LOCAL") ++k;
    if (k < w.size() && (w[k] == "TEMP" || w[k] == "TEMPORARY") &&
        !containsNoCase(sql, "on commit drop"))
      return std::string(
          "temporary tables that outlive the transaction are not supported in transaction "
          "pooling: other clients would share them; use ON COMMIT DROP or a session-mode pool");
  }
  // Session-level advisory locks stay with the server after the transaction.
  for (std::string_view fn : {"pg_advisory_lock", "pg_advisory_lock_shared",
                              "pg_try_advisory_lock", "pg_try_advisory_lock_shared"}) {
    std::string call = std::string(fn) + "(";
    if (containsNoCase(sql, call))
      return std::string(
          "session-level advisory locks are not supported in transaction pooling: the lock "
          "would stay with a server other clients use; use pg_advisory_xact_lock or a "
          "session-mode pool");
  }
  return std::nullopt;
}

std::string quoteLiteral(std::string_view text) {
  std::string out = "E'";
  for (char c : text) {
    if (c == '\'' || c == '\\') out.push_back(c);
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string raiseFeatureNotSupported(std::string_view message) {
  return raiseError("0A000", message);
}

std::string raiseError(std::string_view sqlstate, std::string_view message,
                       std::string_view hint) {
  // The dollar-quote tag cannot occur in the literals.
  auto literal = [](std::string_view text) {
    std::string quoted = quoteLiteral(text);
    for (size_t at; (at = quoted.find("$shardpool$")) != std::string::npos;) quoted[at] = '?';
    return quoted;
  };
  bool validState = sqlstate.size() == 5;
  for (char c : sqlstate) validState = validState && (std::isdigit(static_cast<unsigned char>(c)) ||
                                                      (c >= 'A' && c <= 'Z'));
  std::string q = "DO $shardpool$ BEGIN RAISE EXCEPTION USING ERRCODE = " +
                  literal(validState ? sqlstate : "XX000") + ", MESSAGE = " + literal(message) +
                  ", SCHEMA = " + literal(protocol::pg::kRaisedErrorSchema);
  if (!hint.empty()) q += ", HINT = " + literal(hint);
  return q + "; END $shardpool$";
}

}  // namespace shardpool::pooler
