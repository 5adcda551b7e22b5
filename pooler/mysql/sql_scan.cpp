#include "pooler/mysql/sql_scan.h"

#include <cctype>

namespace shardpool::pooler::sqlscan {

bool identChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' ||
         static_cast<unsigned char>(c) >= 0x80;
}

bool equalsWord(std::string_view word, std::string_view upper) {
  if (word.size() != upper.size()) return false;
  for (size_t i = 0; i < word.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(word[i])) != upper[i]) return false;
  return true;
}

// Past the string or quoted identifier that opens at sql[i] with `quote`.
size_t skipQuoted(std::string_view sql, size_t i, char quote) {
  for (++i; i < sql.size(); ++i) {
    if (sql[i] == '\\' && quote != '`') {
      ++i;
    } else if (sql[i] == quote) {
      if (i + 1 < sql.size() && sql[i + 1] == quote) {
        ++i;  // a doubled quote
      } else {
        return i + 1;
      }
    }
  }
  return sql.size();
}

// Where the comment at sql[i] ends, or i when none starts there. Executable comments
// (/*!50100 ... */, MariaDB's /*M! ... */) only lose their opening marker: what they hold is read.
size_t skipComment(std::string_view sql, size_t i) {
  char c = sql[i];
  char next = i + 1 < sql.size() ? sql[i + 1] : '\0';
  if (c == '#' || (c == '-' && next == '-' &&
                   (i + 2 >= sql.size() || std::isspace(static_cast<unsigned char>(sql[i + 2]))))) {
    size_t end = sql.find('\n', i);
    return end == std::string_view::npos ? sql.size() : end + 1;
  }
  if (c == '/' && next == '*') {
    size_t j = i + 2;
    if (j < sql.size() && sql[j] == 'M' && j + 1 < sql.size() && sql[j + 1] == '!') ++j;
    if (j < sql.size() && sql[j] == '!') {
      ++j;
      while (j < sql.size() && std::isdigit(static_cast<unsigned char>(sql[j]))) ++j;
      return j;
    }
    size_t end = sql.find("*/", i + 2);
    return end == std::string_view::npos ? sql.size() : end + 2;
  }
  if (c == '*' && next == '/') return i + 2;  // the end of an executable comment
  return i;
}

Leading leadingWords(std::string_view sql) {
  Leading out;
  size_t i = 0;
  size_t words = 0;
  while (i < sql.size()) {
    char c = sql[i];
    if (size_t end = skipComment(sql, i); end != i) {
      i = end;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == ';') {
      for (size_t j = i + 1; j < sql.size(); ++j) {
        if (std::isspace(static_cast<unsigned char>(sql[j]))) continue;
        size_t end = skipComment(sql, j);
        if (end == j) {
          out.more = true;
          break;
        }
        j = end - 1;
      }
      return out;
    } else if (identChar(c)) {
      size_t start = i;
      while (i < sql.size() && identChar(sql[i])) ++i;
      if (words == 0) out.first = sql.substr(start, i - start);
      if (words == 1) out.second = sql.substr(start, i - start);
      ++words;
    } else if (c == '\'' || c == '"' || c == '`') {
      i = skipQuoted(sql, i, c);
    } else {
      ++i;
    }
  }
  return out;
}

}  // namespace shardpool::pooler::sqlscan
