#include "router/mysql_lexer.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <optional>

namespace shardpool::router::mysql {

// ---- characters and words ------------------------------------------------------------------

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool isDigit(char c) {
  return c >= '0' && c <= '9';
}
bool isAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
// Unquoted identifier characters: letters, digits, _ and $, and any byte >= 0x80 (UTF-8).
bool isIdentChar(char c) {
  return isAlpha(c) || isDigit(c) || c == '_' || c == '$' || static_cast<unsigned char>(c) >= 0x80;
}
char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}
std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}
// `lowerWord` must be lower case.
bool equalsWord(std::string_view text, std::string_view lowerWord) {
  if (text.size() != lowerWord.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (lower(text[i]) != lowerWord[i]) return false;
  }
  return true;
}
bool startsWithWord(std::string_view text, std::string_view lowerPrefix) {
  return text.size() >= lowerPrefix.size() &&
         equalsWord(text.substr(0, lowerPrefix.size()), lowerPrefix);
}

using detail::hintsInComment;

bool isWord(const Token& t, std::string_view lowerWord) {
  return t.type == Tok::Word && equalsWord(t.raw, lowerWord);
}
bool isPunct(const Token& t, std::string_view p) {
  return t.type == Tok::Punct && t.raw == p;
}

std::string unquote(const Token& t) {
  if (!t.escaped) return std::string(t.raw);
  std::string out;
  out.reserve(t.raw.size());
  std::string_view s = t.raw;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == t.quote && i + 1 < s.size() && s[i + 1] == t.quote) {
      out += c;
      ++i;
    } else if (c == '\\' && t.quote != '`' && i + 1 < s.size()) {
      char e = s[++i];
      switch (e) {
        case '0':
          out += '\0';
          break;
        case 'b':
          out += '\b';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'Z':
          out += '\x1a';
          break;
        case '%':
        case '_':
          out += '\\';
          out += e;
          break;
        default:
          out += e;
          break;
      }
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

class Lexer {
 public:
  explicit Lexer(std::string_view sql) : s_(sql) {}

  Lexed run() {
    while (i_ < s_.size() && out_.error.empty()) step();
    if (out_.error.empty() && inExecutable_) out_.error = "unterminated executable comment";
    return std::move(out_);
  }

 private:
  char at(size_t k) const { return k < s_.size() ? s_[k] : '\0'; }

  void push(Tok type, size_t begin, size_t end) {
    Token t;
    t.type = type;
    t.raw = s_.substr(begin, end - begin);
    out_.tokens.push_back(t);
  }

  // A quoted run from the quote at i_: '...' / "..." / `...`. Returns false when unterminated.
  bool quoted(Tok type, char quote) {
    size_t j = i_ + 1;
    bool escaped = false;
    while (j < s_.size()) {
      char c = s_[j];
      if (c == '\\' && quote != '`') {
        escaped = true;
        j += 2;
      } else if (c == quote) {
        if (at(j + 1) == quote) {
          escaped = true;
          j += 2;
        } else {
          break;
        }
      } else {
        ++j;
      }
    }
    if (j >= s_.size()) {
      out_.error = fmt::format("unterminated {} at offset {}",
                               quote == '`' ? "quoted identifier" : "string literal", i_);
      return false;
    }
    Token t;
    t.type = type;
    t.raw = s_.substr(i_ + 1, j - i_ - 1);
    t.escaped = escaped;
    t.quote = quote;
    out_.tokens.push_back(t);
    i_ = j + 1;
    return true;
  }

  void lineComment(size_t bodyBegin) {
    size_t end = s_.find('\n', bodyBegin);
    if (end == std::string_view::npos) end = s_.size();
    hintsInComment(s_.substr(bodyBegin, end - bodyBegin), out_.hints);
    i_ = end;
  }

  void number() {
    size_t j = i_;
    if (s_[j] == '0' && (at(j + 1) == 'x' || at(j + 1) == 'b')) {
      size_t k = j + 2;
      while (k < s_.size() && isIdentChar(s_[k])) ++k;
      push(Tok::Number, j, k);  // 0x1F, 0b101 (or an identifier like 0xyz: not a key either)
      i_ = k;
      return;
    }
    while (j < s_.size() && isDigit(s_[j])) ++j;
    bool integer = true;
    if (at(j) == '.' && (j > i_ || isDigit(at(j + 1)))) {
      integer = false;
      ++j;
      while (j < s_.size() && isDigit(s_[j])) ++j;
    }
    if ((at(j) == 'e' || at(j) == 'E') &&
        (isDigit(at(j + 1)) || ((at(j + 1) == '+' || at(j + 1) == '-') && isDigit(at(j + 2))))) {
      integer = false;
      j += 2;
      while (j < s_.size() && isDigit(s_[j])) ++j;
    }
    if (integer && j < s_.size() && isIdentChar(s_[j])) {
      // An identifier may begin with digits (1abc).
      while (j < s_.size() && isIdentChar(s_[j])) ++j;
      push(Tok::Word, i_, j);
    } else {
      push(Tok::Number, i_, j);
      out_.tokens.back().integer = integer;
    }
    i_ = j;
  }

  void variable() {
    if (at(i_ + 1) == '@') {
      size_t j = i_ + 2;
      while (j < s_.size() && (isIdentChar(s_[j]) || s_[j] == '.')) ++j;
      push(Tok::SysVar, i_ + 2, j);
      i_ = j;
      return;
    }
    char q = at(i_ + 1);
    if (q == '\'' || q == '"' || q == '`') {
      ++i_;
      if (quoted(Tok::UserVar, q)) return;
      return;
    }
    size_t j = i_ + 1;
    while (j < s_.size() && (isIdentChar(s_[j]) || s_[j] == '.')) ++j;
    push(Tok::UserVar, i_ + 1, j);
    i_ = j;
  }

  void step() {
    char c = s_[i_];
    char next = at(i_ + 1);
    if (isSpace(c)) {
      ++i_;
    } else if (inExecutable_ && c == '*' && next == '/') {
      inExecutable_ = false;
      i_ += 2;
    } else if (c == '#') {
      lineComment(i_ + 1);
    } else if (c == '-' && next == '-' &&
               (i_ + 2 >= s_.size() || static_cast<unsigned char>(s_[i_ + 2]) <= ' ')) {
      lineComment(i_ + 2);
    } else if (c == '/' && next == '*') {
      size_t k = i_ + 2;
      if (at(k) == 'M' && at(k + 1) == '!') ++k;
      if (at(k) == '!' && !inExecutable_) {
        ++k;
        for (int d = 0; d < 6 && isDigit(at(k)); ++d) ++k;
        inExecutable_ = true;
        i_ = k;
        return;
      }
      size_t end = s_.find("*/", i_ + 2);
      if (end == std::string_view::npos) {
        out_.error = fmt::format("unterminated comment at offset {}", i_);
        return;
      }
      hintsInComment(s_.substr(i_ + 2, end - i_ - 2), out_.hints);
      i_ = end + 2;
    } else if (c == '\'' || c == '"') {
      quoted(Tok::String, c);
    } else if (c == '`') {
      quoted(Tok::Ident, c);
    } else if (c == '?') {
      push(Tok::Param, i_, i_ + 1);
      out_.tokens.back().param = params_++;
      ++i_;
    } else if (c == '@') {
      variable();
    } else if (isDigit(c) || (c == '.' && isDigit(next) &&
                              (out_.tokens.empty() || out_.tokens.back().type == Tok::Punct))) {
      number();
    } else if (isIdentChar(c)) {
      size_t j = i_;
      while (j < s_.size() && isIdentChar(s_[j])) ++j;
      std::string_view word = s_.substr(i_, j - i_);
      if (at(j) == '\'' && (equalsWord(word, "x") || equalsWord(word, "b"))) {
        i_ = j;
        if (quoted(Tok::Number, '\'')) out_.tokens.back().raw = word;  // X'..': never a key
      } else if (at(j) == '\'' && (equalsWord(word, "n") || word[0] == '_')) {
        i_ = j;  // N'..', _utf8mb4'..': a string
        quoted(Tok::String, '\'');
      } else {
        push(Tok::Word, i_, j);
        i_ = j;
      }
    } else {
      static constexpr std::array<std::string_view, 12> kOperators{
          "<=>", "->>", "<=", ">=", "<>", "!=", ":=", "||", "&&", "<<", ">>", "->"};
      std::string_view rest = s_.substr(i_);
      for (std::string_view op : kOperators) {
        if (rest.substr(0, op.size()) == op) {
          push(Tok::Punct, i_, i_ + op.size());
          i_ += op.size();
          return;
        }
      }
      push(Tok::Punct, i_, i_ + 1);
      ++i_;
    }
  }

  std::string_view s_;
  size_t i_ = 0;
  bool inExecutable_ = false;
  int params_ = 0;
  Lexed out_;
};

}  // namespace

Lexed lex(std::string_view sql) { return Lexer(sql).run(); }

}  // namespace shardpool::router::mysql
