#include "pooler/pg/session_guard.h"

#include <algorithm>
#include <array>
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

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Case-insensitive search for a lower-case needle.
size_t findNoCase(std::string_view hay, std::string_view needle, size_t from = 0) {
  for (size_t i = from; i + needle.size() <= hay.size(); ++i) {
    size_t j = 0;
    while (j < needle.size() && lower(hay[i + j]) == needle[j]) ++j;
    if (j == needle.size()) return i;
  }
  return std::string_view::npos;
}

bool containsNoCase(std::string_view hay, std::string_view needle) {
  return findNoCase(hay, needle) != std::string_view::npos;
}

// Characters of an unquoted SQL word (PostgreSQL's identifier characters).
constexpr std::array<bool, 256> kWordChar = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c)
    t[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '$' || c >= 0x80;
  return t;
}();

bool sameWord(std::string_view word, std::string_view lowerKeyword) {
  if (word.size() != lowerKeyword.size()) return false;
  for (size_t i = 0; i < word.size(); ++i)
    if (lower(word[i]) != lowerKeyword[i]) return false;
  return true;
}

uint32_t classifyWord(std::string_view w) {
  using W = StatementWords;
  switch (w.size()) {
    case 3: return sameWord(w, "set") ? W::Set : 0;
    case 4: return sameWord(w, "temp") ? W::Temp : sameWord(w, "drop") ? W::Drop : 0;
    case 5: return sameWord(w, "reset") ? W::Set : sameWord(w, "alter") ? W::Alter : 0;
    case 6: return sameWord(w, "listen") ? W::Listen : 0;
    case 7: return sameWord(w, "discard") ? W::Discard : sameWord(w, "replace") ? W::Replace : 0;
    case 9: return sameWord(w, "temporary") ? W::Temp : 0;
    case 10:
      return sameWord(w, "set_config") ? W::SetConfig : sameWord(w, "deallocate") ? W::Deallocate : 0;
    case 16: return sameWord(w, "pg_advisory_lock") ? W::AdvisoryLock : 0;
    case 20: return sameWord(w, "pg_try_advisory_lock") ? W::AdvisoryLock : 0;
    case 23: return sameWord(w, "pg_advisory_lock_shared") ? W::AdvisoryLock : 0;
    case 27: return sameWord(w, "pg_try_advisory_lock_shared") ? W::AdvisoryLock : 0;
    default: return 0;
  }
}

}  // namespace

StatementWords scanWords(std::string_view sql) {
  StatementWords out;
  const auto* p = reinterpret_cast<const unsigned char*>(sql.data());
  size_t n = sql.size();
  for (size_t i = 0; i < n;) {
    if (!kWordChar[p[i]]) {
      ++i;
      continue;
    }
    size_t start = i;
    while (i < n && kWordChar[p[i]]) ++i;
    if (i - start >= 3) out.bits |= classifyWord(sql.substr(start, i - start));
  }
  return out;
}

std::optional<std::string> sessionOnlyFeature(std::string_view sql, StatementWords words) {
  using W = StatementWords;
  if (!words.any(W::Listen | W::Temp | W::AdvisoryLock)) return std::nullopt;
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

namespace {

bool isWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' ||
         static_cast<unsigned char>(c) >= 0x80;
}

// Tokens of SQL text, enough to read the head of each statement: words (with qualified names
// joined: a.b), quoted identifiers, and single punctuation characters; literals, dollar-quoted
// bodies and comments are skipped.
class SqlTokens {
 public:
  explicit SqlTokens(std::string_view sql) : s_(sql) {}
  struct Token {
    enum Kind { End, Word, Quoted, Punct } kind = End;
    std::string text;  // Word: lower case; Quoted: as written; Punct: the character
  };
  Token next() {
    for (;;) {
      skipSpaceAndComments();
      if (i_ >= s_.size()) return {};
      char c = s_[i_];
      if (c == '\'') {
        skipQuoted('\'');
        continue;
      }
      if ((c == 'e' || c == 'E') && i_ + 1 < s_.size() && s_[i_ + 1] == '\'') {
        ++i_;
        skipEscapedLiteral();
        continue;
      }
      if (c == '$' && skipDollarQuoted()) continue;
      if (c == '"') {
        ++i_;
        std::string text;
        while (i_ < s_.size()) {
          if (s_[i_] == '"') {
            if (i_ + 1 < s_.size() && s_[i_ + 1] == '"') {
              text.push_back('"');
              i_ += 2;
              continue;
            }
            ++i_;
            return {Token::Quoted, text};
          }
          text.push_back(s_[i_++]);
        }
        return {Token::Quoted, text};
      }
      if (isWordChar(c) && c != '$') {
        std::string text;
        while (i_ < s_.size()) {
          if (isWordChar(s_[i_])) {
            text.push_back(lower(s_[i_++]));
          } else if (s_[i_] == '.' && i_ + 1 < s_.size() && isWordChar(s_[i_ + 1])) {
            text.push_back(s_[i_++]);
          } else {
            break;
          }
        }
        return {Token::Word, text};
      }
      ++i_;
      return {Token::Punct, std::string(1, c)};
    }
  }

 private:
  void skipSpaceAndComments() {
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++i_;
      } else if (c == '-' && i_ + 1 < s_.size() && s_[i_ + 1] == '-') {
        while (i_ < s_.size() && s_[i_] != '\n') ++i_;
      } else if (c == '/' && i_ + 1 < s_.size() && s_[i_ + 1] == '*') {
        int depth = 0;
        do {
          if (s_.compare(i_, 2, "/*") == 0) {
            ++depth;
            i_ += 2;
          } else if (s_.compare(i_, 2, "*/") == 0) {
            --depth;
            i_ += 2;
          } else {
            ++i_;
          }
        } while (i_ < s_.size() && depth > 0);
      } else {
        return;
      }
    }
  }
  void skipQuoted(char q) {
    ++i_;
    while (i_ < s_.size()) {
      if (s_[i_] == q) {
        if (i_ + 1 < s_.size() && s_[i_ + 1] == q) {
          i_ += 2;
          continue;
        }
        ++i_;
        return;
      }
      ++i_;
    }
  }
  void skipEscapedLiteral() {
    ++i_;
    while (i_ < s_.size()) {
      if (s_[i_] == '\\') {
        i_ += 2;
      } else if (s_[i_] == '\'') {
        if (i_ + 1 < s_.size() && s_[i_ + 1] == '\'') {
          i_ += 2;
          continue;
        }
        ++i_;
        return;
      } else {
        ++i_;
      }
    }
    i_ = std::min(i_, s_.size());
  }
  bool skipDollarQuoted() {
    size_t end = i_ + 1;
    while (end < s_.size() && s_[end] != '$' && (std::isalnum(static_cast<unsigned char>(s_[end])) ||
                                                 s_[end] == '_'))
      ++end;
    if (end >= s_.size() || s_[end] != '$') return false;
    std::string_view tag = s_.substr(i_, end - i_ + 1);
    size_t close = s_.find(tag, end + 1);
    i_ = close == std::string_view::npos ? s_.size() : close + tag.size();
    return true;
  }

  std::string_view s_;
  size_t i_ = 0;
};

void addName(SettingChanges& out, std::string name, bool reset = false) {
  for (char& c : name) c = lower(c);
  if (!name.empty()) out.add(std::move(name), reset);
}

// The statement's head, from its first token: what it changes for the session.
void noteStatement(std::vector<SqlTokens::Token>& head, SettingChanges& out) {
  using T = SqlTokens::Token;
  auto word = [&](size_t i) -> std::string {
    return i < head.size() && head[i].kind == T::Word ? head[i].text : std::string();
  };
  auto name = [&](size_t i) -> std::string {
    return i < head.size() && (head[i].kind == T::Word || head[i].kind == T::Quoted)
               ? head[i].text
               : std::string();
  };
  std::string verb = word(0);
  if (verb == "discard") {
    if (word(1) == "all") out.add("", true);
    return;
  }
  bool reset = verb == "reset";
  if (!reset && verb != "set") return;
  std::string w1 = word(1);
  if (reset && w1 == "all") {
    out.add("", true);
    return;
  }
  if (w1 == "local" || w1 == "transaction" || w1 == "constraints") return;
  size_t at = 1;
  if (w1 == "session") {
    std::string w2 = word(2);
    if (w2 == "authorization" || (reset && w2.empty())) {
      addName(out, "session_authorization", reset || word(3) == "default");
      return;
    }
    if (w2 == "characteristics") {
      addName(out, "default_transaction_isolation");
      addName(out, "default_transaction_read_only");
      addName(out, "default_transaction_deferrable");
      return;
    }
    at = 2;
  }
  std::string w = word(at);
  auto toDefault = [&](size_t valueAt) {
    return reset || ((valueAt < head.size() && (head[valueAt].text == "to" ||
                                                head[valueAt].text == "=")) &&
                     word(valueAt + 1) == "default");
  };
  if (w == "role") return addName(out, "role", reset || word(at + 1) == "none");
  if (w == "schema") return addName(out, "search_path", reset);
  if (w == "names") return addName(out, "client_encoding", reset || word(at + 1) == "default");
  if (w == "time" && word(at + 1) == "zone")
    return addName(out, "timezone", reset || word(at + 2) == "default" || word(at + 2) == "local");
  if (w == "xml" && word(at + 1) == "option") return addName(out, "xmloption", reset);
  addName(out, name(at), toDefault(at + 1));
}

}  // namespace

void SettingChanges::add(std::string name, bool reset) {
  if (name.empty()) {
    changes.clear();
  } else {
    std::erase_if(changes, [&](const Change& c) { return c.name == name; });
  }
  changes.push_back({std::move(name), reset});
}

bool mayChangeResultTypes(std::string_view sql, StatementWords words) {
  using W = StatementWords;
  if (!words.any(W::Alter | W::Drop | W::Replace)) return false;
  SqlTokens tokens(sql);
  size_t position = 0;  // of the token in its statement
  std::string first;
  for (;;) {
    SqlTokens::Token t = tokens.next();
    if (t.kind == SqlTokens::Token::End) return false;
    if (t.kind == SqlTokens::Token::Punct && t.text == ";") {
      position = 0;
      continue;
    }
    if (position == 0) {
      first = t.kind == SqlTokens::Token::Word ? t.text : std::string();
      if (first == "alter" || first == "drop") return true;
    } else if (position == 2 && first == "create" && t.kind == SqlTokens::Token::Word &&
               t.text == "replace") {
      return true;  // CREATE OR REPLACE
    }
    ++position;
  }
}

void noteSettingChanges(std::string_view sql, StatementWords words, SettingChanges& out) {
  using W = StatementWords;
  if (!words.any(W::Set | W::Discard | W::SetConfig)) return;
  SqlTokens tokens(sql);
  std::vector<SqlTokens::Token> head;
  for (;;) {
    SqlTokens::Token t = tokens.next();
    bool end = t.kind == SqlTokens::Token::End;
    if (end || (t.kind == SqlTokens::Token::Punct && t.text == ";")) {
      noteStatement(head, out);
      head.clear();
      if (end) break;
      continue;
    }
    if (head.size() < 6) head.push_back(std::move(t));
  }
  // set_config('name', ...): anywhere, DO blocks and function calls in other statements too.
  for (size_t at = findNoCase(sql, "set_config"); at != std::string_view::npos;
       at = findNoCase(sql, "set_config", at + 10)) {
    size_t i = at + 10;
    while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
    if (i >= sql.size() || sql[i] != '(') continue;
    ++i;
    while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
    if (i < sql.size() && (sql[i] == 'e' || sql[i] == 'E')) ++i;
    // Inside a quoted body the literal's quotes are doubled ('' name '').
    size_t quotes = 0;
    while (i < sql.size() && sql[i] == '\'') {
      ++quotes;
      ++i;
    }
    if (quotes == 0) continue;
    size_t end = sql.find('\'', i);
    if (end == std::string_view::npos) continue;
    addName(out, std::string(sql.substr(i, end - i)));
  }
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
