#include "router/pg_statement_hints.h"

#include <cctype>
#include <charconv>

#include "router/pg_statement_walker.h"

namespace shardpool::router::detail {
namespace {

bool isSpace(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

// Identifier characters as PostgreSQL's lexer sees them (bytes >= 0x80 are letters).
bool isIdentStart(char c) {
  auto u = static_cast<unsigned char>(c);
  return std::isalpha(u) || c == '_' || u >= 0x80;
}
bool isIdentChar(char c) {
  return isIdentStart(c) || std::isdigit(static_cast<unsigned char>(c)) || c == '$';
}

bool startsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && equalsIgnoreCase(text.substr(0, prefix.size()), prefix);
}

// Index just past the literal or quoted identifier opening at `i`. A doubled quote is part of it;
// with `backslash` (E'...'), so is any character after a backslash.
size_t skipQuoted(std::string_view sql, size_t i, char quote, bool backslash) {
  size_t j = i + 1;
  while (j < sql.size()) {
    if (backslash && sql[j] == '\\') {
      j += 2;
    } else if (sql[j] == quote) {
      if (j + 1 < sql.size() && sql[j + 1] == quote) {
        j += 2;
      } else {
        return j + 1;
      }
    } else {
      ++j;
    }
  }
  return sql.size();
}

// Index just past a block comment opening at `i` (comments nest); `bodyEnd` is where its text
// ends.
size_t skipBlockComment(std::string_view sql, size_t i, size_t& bodyEnd) {
  int depth = 1;
  size_t j = i + 2;
  while (j < sql.size()) {
    if (sql[j] == '/' && j + 1 < sql.size() && sql[j + 1] == '*') {
      ++depth;
      j += 2;
    } else if (sql[j] == '*' && j + 1 < sql.size() && sql[j + 1] == '/') {
      j += 2;
      if (--depth == 0) {
        bodyEnd = j - 2;
        return j;
      }
    } else {
      ++j;
    }
  }
  bodyEnd = sql.size();
  return sql.size();
}

}  // namespace

void hintsInComment(std::string_view body, CommentHints& out) {
  for (size_t i = 0; i < body.size(); ++i) {
    if (i > 0 && isIdentChar(body[i - 1])) continue;
    std::string_view rest = body.substr(i);
    bool isKey = startsWithIgnoreCase(rest, "sharding_key");
    bool isShard = !isKey && startsWithIgnoreCase(rest, "shard");
    if (!isKey && !isShard) continue;
    size_t j = i + (isKey ? 12 : 5);
    if (j < body.size() && isIdentChar(body[j])) continue;
    while (j < body.size() && isSpace(body[j])) ++j;
    if (j == body.size() || (body[j] != ':' && body[j] != '=')) continue;
    ++j;
    while (j < body.size() && isSpace(body[j])) ++j;
    std::string value;
    if (j < body.size() && (body[j] == '\'' || body[j] == '"')) {
      char quote = body[j++];
      while (j < body.size()) {
        if (body[j] == quote) {
          if (j + 1 < body.size() && body[j + 1] == quote) {
            value += quote;
            j += 2;
            continue;
          }
          ++j;
          break;
        }
        value += body[j++];
      }
    } else {
      while (j < body.size() && !isSpace(body[j]) && body[j] != ',' && body[j] != ';') {
        value += body[j++];
      }
    }
    i = j - 1;
    if (isShard) {
      if (out.shard) continue;
      if (auto shard = parseShardNumber(value)) {
        out.shard = shard;
      } else if (out.error.empty()) {
        out.error = "comment hint shard: '" + value + "' is not a shard number";
      }
    } else {
      if (out.shardingKey) continue;
      if (!value.empty()) {
        out.shardingKey = std::move(value);
      } else if (out.error.empty()) {
        out.error = "comment hint sharding_key: no value";
      }
    }
  }
}


std::optional<uint32_t> parseShardNumber(std::string_view text) {
  size_t b = 0, e = text.size();
  while (b < e && isSpace(text[b])) ++b;
  while (e > b && isSpace(text[e - 1])) --e;
  if (b == e) return std::nullopt;
  uint32_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data() + b, text.data() + e, value);
  if (ec != std::errc{} || ptr != text.data() + e) return std::nullopt;
  return value;
}

CommentHints scanCommentHints(std::string_view sql) {
  CommentHints out;
  size_t i = 0;
  while (i < sql.size()) {
    char c = sql[i];
    char next = i + 1 < sql.size() ? sql[i + 1] : '\0';
    if (c == '-' && next == '-') {
      size_t end = sql.find('\n', i + 2);
      if (end == std::string_view::npos) end = sql.size();
      hintsInComment(sql.substr(i + 2, end - i - 2), out);
      i = end;
    } else if (c == '/' && next == '*') {
      size_t bodyEnd = 0;
      size_t after = skipBlockComment(sql, i, bodyEnd);
      hintsInComment(sql.substr(i + 2, bodyEnd - (i + 2)), out);
      i = after;
    } else if (c == '\'') {
      bool escapes =
          i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') && (i < 2 || !isIdentChar(sql[i - 2]));
      i = skipQuoted(sql, i, '\'', escapes);
    } else if (c == '"') {
      i = skipQuoted(sql, i, '"', false);
    } else if (c == '$' && (next == '$' || isIdentStart(next))) {
      // $tag$ ... $tag$ (a `$` inside an identifier was consumed with the identifier).
      size_t j = i + 1;
      while (j < sql.size() && isIdentChar(sql[j]) && sql[j] != '$') ++j;
      if (j < sql.size() && sql[j] == '$') {
        std::string_view tag = sql.substr(i, j - i + 1);
        size_t close = sql.find(tag, j + 1);
        i = close == std::string_view::npos ? sql.size() : close + tag.size();
      } else {
        i = j;
      }
    } else if (isIdentChar(c)) {
      while (i < sql.size() && isIdentChar(sql[i])) ++i;
    } else {
      ++i;
    }
  }
  return out;
}

StatementKind guessKind(std::string_view sql) {
  size_t i = 0;
  while (i < sql.size()) {
    char next = i + 1 < sql.size() ? sql[i + 1] : '\0';
    if (isSpace(sql[i]) || sql[i] == '(' || sql[i] == ';') {
      ++i;
    } else if (sql[i] == '-' && next == '-') {
      size_t end = sql.find('\n', i);
      i = end == std::string_view::npos ? sql.size() : end;
    } else if (sql[i] == '/' && next == '*') {
      size_t bodyEnd = 0;
      i = skipBlockComment(sql, i, bodyEnd);
    } else {
      break;
    }
  }
  size_t end = i;
  while (end < sql.size() && std::isalpha(static_cast<unsigned char>(sql[end]))) ++end;
  std::string_view word = sql.substr(i, end - i);
  if (word.empty()) return i == sql.size() ? StatementKind::Empty : StatementKind::Utility;
  auto is = [&](std::string_view w) { return equalsIgnoreCase(word, w); };
  if (is("select") || is("values") || is("table") || is("with")) return StatementKind::Select;
  if (is("insert")) return StatementKind::Insert;
  if (is("update")) return StatementKind::Update;
  if (is("delete")) return StatementKind::Delete;
  if (is("create") || is("alter") || is("drop") || is("truncate") || is("grant") || is("revoke") ||
      is("comment")) {
    return StatementKind::Ddl;
  }
  if (is("begin") || is("start") || is("commit") || is("end") || is("rollback") || is("abort") ||
      is("savepoint") || is("release")) {
    return StatementKind::TransactionControl;
  }
  if (is("set") || is("reset") || is("show")) return StatementKind::Set;
  return StatementKind::Utility;
}

}  // namespace shardpool::router::detail
