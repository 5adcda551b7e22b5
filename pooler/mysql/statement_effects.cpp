#include "pooler/mysql/statement_effects.h"

#include <cctype>

#include "pooler/mysql/sql_scan.h"

namespace shardpool::pooler {

using namespace sqlscan;

uint16_t scanStatementEffects(std::string_view sql) {
  uint16_t effects = 0;
  std::string_view first, second;  // the statement's first two words
  size_t words = 0;
  size_t i = 0;
  while (i < sql.size()) {
    char c = sql[i];
    if (size_t end = skipComment(sql, i); end != i) {
      i = end;
      continue;
    }
    if (c == '\'' || c == '"' || c == '`') {
      i = skipQuoted(sql, i, c);
      continue;
    }
    if (c == ';') {
      words = 0;
      first = second = {};
      ++i;
      continue;
    }
    if (c == '@') {
      if (i + 1 < sql.size() && sql[i + 1] == '@') {
        i += 2;  // a system variable: its name is read as a word below
        continue;
      }
      if (i + 1 < sql.size() && (identChar(sql[i + 1]) || sql[i + 1] == '\'' ||
                                 sql[i + 1] == '"' || sql[i + 1] == '`'))
        effects |= kUsesUserVariable;
      ++i;
      continue;
    }
    if (!identChar(c) || std::isdigit(static_cast<unsigned char>(c))) {
      ++i;
      if (std::isdigit(static_cast<unsigned char>(c)))
        while (i < sql.size() && identChar(sql[i])) ++i;  // 1e5, 0x1F: not a word
      continue;
    }
    size_t start = i;
    while (i < sql.size() && identChar(sql[i])) ++i;
    std::string_view word = sql.substr(start, i - start);
    if (words == 0) first = word;
    if (words == 1) second = word;
    ++words;
    if (equalsWord(word, "GET_LOCK")) effects |= kTakesNamedLock;
    if (equalsWord(word, "RELEASE_ALL_LOCKS")) effects |= kReleasesAllLocks;
    if (equalsWord(word, "SQL_CALC_FOUND_ROWS")) effects |= kCalcFoundRows;
    if (words == 1) {
      if (equalsWord(word, "KILL")) effects |= kRunsKill;
      if (equalsWord(word, "PREPARE")) effects |= kPreparesText;
      if (equalsWord(word, "HANDLER")) effects |= kOpensHandler;
      if (equalsWord(word, "XA")) effects |= kXaTransaction;
    } else if (equalsWord(first, "CREATE") && equalsWord(word, "TEMPORARY")) {
      effects |= kCreatesTemporaryTable;
    } else if (words == 2) {
      bool tables = equalsWord(word, "TABLES") || equalsWord(word, "TABLE");
      if (tables && equalsWord(first, "LOCK")) effects |= kLocksTables;
      if (tables && equalsWord(first, "UNLOCK")) effects |= kUnlocksTables;
      if (equalsWord(first, "SET") && equalsWord(word, "TRANSACTION"))
        effects |= kSetsNextTransaction;
    }
  }
  return effects;
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// A statement without the spaces around it and its one trailing `;`.
std::string_view trimStatement(std::string_view sql) {
  sql = trim(sql);
  if (!sql.empty() && sql.back() == ';') sql = trim(sql.substr(0, sql.size() - 1));
  return sql;
}

}  // namespace

std::optional<std::string_view> lastInsertIdQuery(std::string_view sql) {
  sql = trimStatement(sql);
  if (sql.size() < 7 || !equalsWord(sql.substr(0, 6), "SELECT") ||
      !std::isspace(static_cast<unsigned char>(sql[6])))
    return std::nullopt;
  std::string_view expr = trim(sql.substr(6));
  std::string_view rest = expr;
  constexpr std::string_view kName = "LAST_INSERT_ID";
  if (rest.size() < kName.size() || !equalsWord(rest.substr(0, kName.size()), kName))
    return std::nullopt;
  rest = trim(rest.substr(kName.size()));
  if (rest.empty() || rest.front() != '(') return std::nullopt;
  rest = trim(rest.substr(1));
  if (rest != ")") return std::nullopt;
  return expr;
}

bool cannotCommit(std::string_view sql) {
  Leading w = leadingWords(sql);
  if (w.more) return false;
  for (std::string_view dml : {"SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "WITH", "VALUES",
                               "TABLE"})
    if (equalsWord(w.first, dml)) return true;
  return false;
}

bool isRollback(std::string_view sql) {
  Leading w = leadingWords(sql);
  return !w.more && equalsWord(w.first, "ROLLBACK") && !equalsWord(w.second, "TO");
}

TransactionWord transactionWord(std::string_view sql) {
  Leading w = leadingWords(sql);
  if (w.more) return TransactionWord::None;
  // BEGIN NOT ATOMIC opens a compound statement (MariaDB), not a transaction.
  if (equalsWord(w.first, "BEGIN") && !equalsWord(w.second, "NOT")) return TransactionWord::Begin;
  if (equalsWord(w.first, "START") && equalsWord(w.second, "TRANSACTION"))
    return TransactionWord::Begin;
  if (equalsWord(w.first, "COMMIT")) return TransactionWord::Commit;
  if (equalsWord(w.first, "ROLLBACK") && !equalsWord(w.second, "TO"))
    return TransactionWord::Rollback;
  return TransactionWord::None;
}

std::optional<KillStatement> killStatement(std::string_view sql) {
  // Cheap test first: every COM_QUERY passes here.
  size_t start = 0;
  while (start < sql.size() && std::isspace(static_cast<unsigned char>(sql[start]))) ++start;
  if (start == sql.size() || (sql[start] != 'k' && sql[start] != 'K' && sql[start] != '/'))
    return std::nullopt;
  // The words (and at most one number) of the statement, past comments.
  std::string_view words[6];
  size_t count = 0;
  bool trailing = false;  // something after a `;`
  bool semicolon = false;
  for (size_t i = start; i < sql.size();) {
    char c = sql[i];
    if (size_t end = skipComment(sql, i); end != i) {
      i = end;
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (semicolon) {
      trailing = true;
      break;
    }
    if (c == ';') {
      semicolon = true;
      ++i;
      continue;
    }
    size_t end = i;
    if (identChar(c)) {
      while (end < sql.size() && identChar(sql[end])) ++end;
    } else if (c == '\'' || c == '"' || c == '`') {
      end = skipQuoted(sql, i, c);
    } else {
      end = i + 1;  // an operator or a parenthesis: an expression
    }
    if (count == std::size(words)) {
      if (!equalsWord(words[0], "KILL")) return std::nullopt;
      trailing = true;  // too many words for a KILL shardpool answers
      break;
    }
    words[count++] = sql.substr(i, end - i);
    i = end;
  }
  if (count == 0 || !equalsWord(words[0], "KILL")) return std::nullopt;
  KillStatement k;
  if (trailing) {  // KILL with more statements behind it: refused whole
    k.supported = false;
    return k;
  }
  size_t at = 1;
  if (at < count && (equalsWord(words[at], "HARD") || equalsWord(words[at], "SOFT"))) ++at;
  if (at < count && equalsWord(words[at], "CONNECTION")) {
    ++at;
  } else if (at < count && equalsWord(words[at], "QUERY")) {
    k.query = true;
    ++at;
  }
  auto number = [](std::string_view w, uint64_t& out) {
    if (w.empty() || w.size() > 19) return false;
    out = 0;
    for (char c : w) {
      if (c < '0' || c > '9') return false;
      out = out * 10 + static_cast<uint64_t>(c - '0');
    }
    return true;
  };
  if (at + 1 != count || !number(words[at], k.id)) k.supported = false;
  return k;
}

std::optional<std::string> useStatementTarget(std::string_view sql) {
  sql = trimStatement(sql);
  if (sql.size() < 5 || !equalsWord(sql.substr(0, 3), "USE") ||
      !std::isspace(static_cast<unsigned char>(sql[3])))
    return std::nullopt;
  std::string_view name = trim(sql.substr(4));
  if (name.size() >= 2 && name.front() == '`' && name.back() == '`') {
    std::string out;
    for (size_t i = 1; i + 1 < name.size(); ++i) {
      out += name[i];
      if (name[i] == '`') {
        if (name[i + 1] != '`' || i + 2 >= name.size()) return std::nullopt;
        ++i;  // a doubled backquote stands for one
      }
    }
    return out;
  }
  for (char c : name)
    if (!identChar(c)) return std::nullopt;
  if (name.empty()) return std::nullopt;
  return std::string(name);
}

std::string authLookupStatement(std::string_view query, std::string_view user) {
  std::string literal = "X'";
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : user) {
    literal += kHex[c >> 4];
    literal += kHex[c & 0xF];
  }
  literal += '\'';
  for (size_t i = 0; i < query.size();) {
    char c = query[i];
    if (size_t end = skipComment(query, i); end != i) {
      i = end;
    } else if (c == '\'' || c == '"' || c == '`') {
      i = skipQuoted(query, i, c);
    } else if (c == '?') {
      return std::string(query.substr(0, i)) + literal + std::string(query.substr(i + 1));
    } else {
      ++i;
    }
  }
  return std::string(query);  // no parameter: the query as written
}

}  // namespace shardpool::pooler
