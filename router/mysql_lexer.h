// The MySQL dialect's lexer, for the analyzer (mysql_statement.cpp): tokens of MySQL's SQL
// (words, `quoted identifiers`, '...' and "..." strings with backslash escapes, numbers, `?`
// parameters, @user and @@system variables, operators), comments skipped and their shardpool
// hints read, executable comments (/*! ... */, MariaDB's /*M! ... */) read as SQL. Pure and
// allocation-light: tokens view the text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "router/pg_statement_hints.h"

namespace shardpool::router::mysql {

// ---- characters and words

bool isSpace(char c);
bool isDigit(char c);
bool isAlpha(char c);
// Unquoted identifier characters: letters, digits, _ and $, and any byte >= 0x80 (UTF-8).
bool isIdentChar(char c);
char lower(char c);
std::string lowered(std::string_view s);
// `lowerWord` must be lower case.
bool equalsWord(std::string_view text, std::string_view lowerWord);
bool startsWithWord(std::string_view text, std::string_view lowerPrefix);

// ---- tokens

enum class Tok : uint8_t {
  Word,     // unquoted identifier or keyword
  Ident,    // `quoted identifier`: raw is the text between the backticks
  String,   // '...' or "...": raw is the text between the quotes
  Number,   // integer (Token::integer) or any other numeric / hex / bit literal
  Param,    // ?
  UserVar,  // @name: raw is the name (unquoted)
  SysVar,   // @@name or @@scope.name: raw is what follows @@
  Punct,    // one operator or punctuation: ( ) , ; . = <=> := || && ...
};

struct Token {
  Tok type = Tok::Punct;
  std::string_view raw;
  bool escaped = false;  // String/Ident/UserVar: raw holds escapes or doubled quotes
  char quote = 0;        // String/Ident/UserVar: the quote character, 0 when unquoted
  bool integer = false;  // Number: only decimal digits
  int param = -1;        // Param: 0-based index among the text's `?`
  int partner = -1;      // '(' and ')': the index of the matching one
};

bool isWord(const Token& t, std::string_view lowerWord);
bool isPunct(const Token& t, std::string_view p);
// The value of a quoted token: quotes undoubled, and for strings MySQL's backslash escapes.
std::string unquote(const Token& t);

using detail::CommentHints;

struct Lexed {
  std::vector<Token> tokens;
  std::string error;  // the text does not lex: the tokens are those before the error
  CommentHints hints;
};

// The tokens of `sql`, and the shardpool hints of its comments.
Lexed lex(std::string_view sql);

}  // namespace shardpool::router::mysql
