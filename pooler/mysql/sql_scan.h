// Lexing MySQL text without a parser, for the engine's scans of COM_QUERY statements
// (statement_effects.h, shard_merge.h): words, quoted strings and identifiers, comments (an
// executable comment's content is read as SQL). Internal to pooler/mysql/.
#pragma once

#include <cstddef>
#include <string_view>

namespace shardpool::pooler::sqlscan {

bool identChar(char c);
// `word` equals `upper` (written in upper case) without regard to case.
bool equalsWord(std::string_view word, std::string_view upper);
// Past the string or quoted identifier that opens at sql[i] with `quote`.
size_t skipQuoted(std::string_view sql, size_t i, char quote);
// Where the comment at sql[i] ends, or i when none starts there. Executable comments
// (/*!50100 ... */, MariaDB's /*M! ... */) only lose their opening marker: what they hold is read.
size_t skipComment(std::string_view sql, size_t i);

// The first two words of `sql` (past spaces and comments; an executable comment is read as
// SQL), and whether anything but spaces, comments and one trailing `;` follows the statement.
struct Leading {
  std::string_view first, second;
  bool more = false;  // a `;` with a statement after it
};
Leading leadingWords(std::string_view sql);

}  // namespace shardpool::pooler::sqlscan
