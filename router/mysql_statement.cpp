// analyzeMysql(): a MySQL lexer, then recognizers for the statement shapes routing needs. See
// mysql_statement.h for the decisions.
#include "router/mysql_statement.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "router/mysql_lexer.h"
#include "router/pg_int8.h"
#include "router/pg_statement_hints.h"

namespace shardpool::router {
namespace {

constexpr int kMaxParenDepth = 200;

using namespace mysql;  // the lexer (mysql_lexer.h)

// ---- the analyzer --------------------------------------------------------------------------

// One table reference of a query level.
struct Ref {
  std::string name;   // lower case; empty for a CTE
  std::string alias;  // lower case; empty without one
  const ShardedTable* sharded = nullptr;
  bool known = false;  // the key is one of `keys`
  std::vector<KeyRef> keys;
};

// A value written in the text that may be a key: an integer (with its sign), a string, a `?`.
struct Literal {
  enum class Kind : uint8_t { Integer, String, Param } kind = Kind::Integer;
  std::string text;  // Integer: sign and digits; String: the value
  int param = -1;
};

// A column reference: the column and the part before it (the table or alias), if any.
struct Column {
  const Token* qualifier = nullptr;
  const Token* column = nullptr;
};

std::string nameOf(const Token& t) {
  return lowered(t.type == Tok::Word ? std::string(t.raw) : unquote(t));
}

// Words that end a table reference (no alias can be one of them) or a clause.
bool isClauseWord(const Token& t) {
  static constexpr std::array<std::string_view, 39> kWords{
      "where",     "group",     "having",    "order",  "limit",     "window",  "for",
      "lock",      "into",      "union",     "except", "intersect", "on",      "using",
      "join",      "inner",     "cross",     "left",   "right",     "natural", "straight_join",
      "set",       "returning", "procedure", "values", "value",     "select",  "partition",
      "use",       "ignore",    "force",     "as",     "outer",     "full",    "offset",
      "duplicate", "fetch",     "with",      "from"};
  if (t.type != Tok::Word) return false;
  return std::any_of(kWords.begin(), kWords.end(),
                     [&](std::string_view w) { return equalsWord(t.raw, w); });
}

// Words that end a WHERE / ON condition at its own level.
bool endsCondition(const Token& t) {
  static constexpr std::array<std::string_view, 22> kWords{
      "group",   "having",        "order",     "limit",     "window",    "for",   "lock", "into",
      "union",   "except",        "intersect", "join",      "inner",     "cross", "left", "right",
      "natural", "straight_join", "where",     "returning", "procedure", "set"};
  if (t.type != Tok::Word) return false;
  return std::any_of(kWords.begin(), kWords.end(),
                     [&](std::string_view w) { return equalsWord(t.raw, w); });
}

// The kind the first word of tokens [b, e) names (parentheses skipped); nullopt for a word no
// MySQL statement starts with.
std::optional<StatementKind> kindOf(const std::vector<Token>& t, size_t b, size_t e) {
  while (b < e && isPunct(t[b], "(")) ++b;
  if (b == e) return StatementKind::Empty;
  const Token& w = t[b];
  if (w.type != Tok::Word) return std::nullopt;
  auto is = [&](std::string_view s) { return equalsWord(w.raw, s); };
  if (is("with")) {  // WITH ... SELECT / UPDATE / DELETE: the first of them at depth 0
    for (size_t i = b + 1; i < e; ++i) {
      if (isPunct(t[i], "(") && t[i].partner > static_cast<int>(i)) {
        i = static_cast<size_t>(t[i].partner);
      } else if (isWord(t[i], "update")) {
        return StatementKind::Update;
      } else if (isWord(t[i], "delete")) {
        return StatementKind::Delete;
      } else if (isWord(t[i], "select") || isWord(t[i], "table") || isWord(t[i], "values")) {
        break;
      }
    }
    return StatementKind::Select;
  }
  if (is("select") || is("values") || is("table")) return StatementKind::Select;
  if (is("insert") || is("replace")) return StatementKind::Insert;
  if (is("update")) return StatementKind::Update;
  if (is("delete")) return StatementKind::Delete;
  if (is("create") || is("alter") || is("drop") || is("truncate") || is("rename") || is("grant") ||
      is("revoke")) {
    return StatementKind::Ddl;
  }
  if (is("begin") || is("commit") || is("rollback") || is("savepoint") || is("release") ||
      is("xa")) {
    return StatementKind::TransactionControl;
  }
  if (is("start")) {
    return b + 1 < e && isWord(t[b + 1], "transaction") ? StatementKind::TransactionControl
                                                        : StatementKind::Utility;
  }
  if (is("set") || is("show")) return StatementKind::Set;
  static constexpr std::array<std::string_view, 40> kUtility{
      "use",       "call",   "do",      "lock",     "unlock",   "handler",    "load",   "explain",
      "describe",  "desc",   "analyze", "check",    "checksum", "optimize",   "repair", "flush",
      "kill",      "reset",  "purge",   "prepare",  "execute",  "deallocate", "help",   "install",
      "uninstall", "change", "stop",    "signal",   "resignal", "get",        "cache",  "binlog",
      "clone",     "import", "restart", "shutdown", "backup",   "stage",      "show",   "replica"};
  if (std::any_of(kUtility.begin(), kUtility.end(), [&](std::string_view u) { return is(u); })) {
    return StatementKind::Utility;
  }
  return std::nullopt;
}

// CREATE ... PROCEDURE / FUNCTION / TRIGGER / EVENT: a body that may hold `;`.
bool isCompoundCreate(const std::vector<Token>& t, size_t b) {
  if (b >= t.size() || !isWord(t[b], "create")) return false;
  for (size_t i = b + 1; i < t.size() && i < b + 16; ++i) {
    if (isPunct(t[i], ";") || isPunct(t[i], "(")) return false;
    if (isWord(t[i], "procedure") || isWord(t[i], "function") || isWord(t[i], "trigger") ||
        isWord(t[i], "event")) {
      return true;
    }
  }
  return false;
}

class Analyzer {
 public:
  Analyzer(const std::vector<Token>& tokens, const TableRules& rules, StatementFacts& facts)
      : t_(tokens), rules_(rules), facts_(facts) {}

  // One statement: tokens [b, e), without its `;`. Returns false when not understood (error()).
  bool statement(size_t b, size_t e, bool first);
  const std::string& error() const { return error_; }

 private:
  // The state of the query level being read, saved while a nested one is read.
  struct Level {
    size_t firstRef = 0;
    std::vector<std::pair<size_t, std::vector<KeyRef>>> facts;  // ref, its key is one of these
    std::vector<std::pair<size_t, size_t>> edges;               // ref.key = ref.key
  };

  // ---- token helpers ----
  bool word(size_t i, std::string_view w) const { return i < end_ && isWord(t_[i], w); }
  bool punct(size_t i, std::string_view p) const { return i < end_ && isPunct(t_[i], p); }
  // The index after the token at i; a parenthesized group counts as one token.
  size_t next(size_t i) const {
    return isPunct(t_[i], "(") ? static_cast<size_t>(t_[i].partner) + 1 : i + 1;
  }
  size_t close(size_t open) const { return static_cast<size_t>(t_[open].partner); }
  bool isName(size_t i) const {
    return i < end_ &&
           (t_[i].type == Tok::Ident || (t_[i].type == Tok::Word && !isClauseWord(t_[i])));
  }
  bool isQueryStart(size_t i, size_t e) const;
  size_t findWord(size_t b, size_t e, std::string_view w) const;  // at depth 0; e when absent
  size_t conditionEnd(size_t b, size_t e) const;
  size_t fail(std::string reason, size_t resume) {
    if (error_.empty()) error_ = std::move(reason);
    return resume;
  }

  // ---- tables ----
  void touch(std::string_view name);  // a table named without a key: keyMissing when sharded
  size_t addRef(std::string name, std::string alias);
  size_t qualifiedName(size_t i, size_t e, std::string& last) const;  // past a.b.c; i if none
  size_t aliasAndHints(size_t i, size_t e, std::string& alias) const;
  size_t tableFactor(size_t i, size_t e);
  size_t tableRefs(size_t i, size_t e);
  size_t nameList(size_t i, size_t e, bool list, bool renamePairs);

  // ---- levels and conditions ----
  Level enterLevel();
  void leaveLevel(Level saved);
  void subqueries(size_t b, size_t e);
  size_t withClause(size_t b, size_t e);
  void query(size_t b, size_t e);
  void selectBlock(size_t b, size_t e);
  void conditions(size_t b, size_t e);
  void conjunct(size_t b, size_t e);
  size_t column(size_t i, size_t e, Column& out) const;
  size_t literal(size_t i, size_t e, Literal& out) const;
  std::optional<size_t> resolve(const Column& c) const;
  static std::optional<KeyRef> keyOf(const Literal& v, KeyKind type);
  bool assignsKey(size_t b, size_t e, size_t firstRef) const;
  std::vector<size_t> splitCommas(size_t b, size_t e) const;

  // ---- statements ----
  void selectStatement(size_t b, size_t e);
  void insertStatement(size_t b, size_t e);
  void updateStatement(size_t b, size_t e);
  void deleteStatement(size_t b, size_t e);
  void ddlStatement(size_t b, size_t e);
  void setStatement(size_t b, size_t e);
  void setHint(std::string_view name, size_t b, size_t e);
  void utilityStatement(size_t b, size_t e);
  void serverBoundCalls(size_t b, size_t e);

  const std::vector<Token>& t_;
  const TableRules& rules_;
  StatementFacts& facts_;
  std::string error_;
  size_t end_ = 0;  // the end of the range being read: word() and punct() look no further
  std::vector<Ref> refs_;
  std::vector<std::string> ctes_;
  Level level_;
};

bool Analyzer::isQueryStart(size_t i, size_t e) const {
  if (i >= e) return false;
  if (isPunct(t_[i], "(")) return isQueryStart(i + 1, close(i));
  return isWord(t_[i], "select") || isWord(t_[i], "with") || isWord(t_[i], "values") ||
         isWord(t_[i], "table");
}

size_t Analyzer::findWord(size_t b, size_t e, std::string_view w) const {
  for (size_t i = b; i < e; i = next(i)) {
    if (isWord(t_[i], w)) return i;
  }
  return e;
}

size_t Analyzer::conditionEnd(size_t b, size_t e) const {
  size_t i = b;
  while (i < e && !isPunct(t_[i], ",") && !endsCondition(t_[i])) i = next(i);
  return i;
}

// ---- tables --------------------------------------------------------------------------------

void Analyzer::touch(std::string_view name) {
  if (name.empty()) return;
  if (noteTable(facts_, rules_, name) != nullptr) facts_.keyMissing = true;
}

// A table reference of the current level; its key is settled by leaveLevel().
size_t Analyzer::addRef(std::string name, std::string alias) {
  if (std::find(ctes_.begin(), ctes_.end(), name) != ctes_.end()) name.clear();
  Ref r;
  if (!name.empty()) {
    bool missing = facts_.keyMissing;
    touch(name);
    facts_.keyMissing = missing;
    if (auto it = rules_.sharded.find(name); it != rules_.sharded.end()) r.sharded = &it->second;
  }
  r.name = std::move(name);
  r.alias = std::move(alias);
  refs_.push_back(std::move(r));
  return refs_.size() - 1;
}

size_t Analyzer::qualifiedName(size_t i, size_t e, std::string& last) const {
  if (i >= e || !isName(i)) return i;
  last = nameOf(t_[i]);
  size_t j = i + 1;
  while (j + 1 < e && isPunct(t_[j], ".") &&
         (t_[j + 1].type == Tok::Ident || t_[j + 1].type == Tok::Word)) {
    last = nameOf(t_[j + 1]);
    j += 2;
  }
  return j;
}

// [AS] alias, PARTITION (...) and index hints, in any order.
size_t Analyzer::aliasAndHints(size_t i, size_t e, std::string& alias) const {
  while (i < e) {
    if (word(i, "partition") && punct(i + 1, "(")) {
      i = next(i + 1);
    } else if ((word(i, "use") || word(i, "ignore") || word(i, "force")) &&
               (word(i + 1, "index") || word(i + 1, "key"))) {
      i += 2;
      if (word(i, "for")) i += word(i + 1, "join") ? 2 : 3;  // FOR JOIN, FOR ORDER BY, ...
      if (!punct(i, "(")) return i;
      i = next(i);
    } else if (word(i, "as") && (isName(i + 1) || (i + 1 < e && t_[i + 1].type == Tok::String))) {
      alias = nameOf(t_[i + 1]);
      i += 2;
    } else if (alias.empty() && isName(i)) {
      alias = nameOf(t_[i]);
      ++i;
    } else {
      break;
    }
  }
  return i;
}

size_t Analyzer::tableFactor(size_t i, size_t e) {
  if (word(i, "lateral")) ++i;
  if (i >= e) return fail("a table name is missing", e);
  if (punct(i, "(")) {
    size_t c = close(i);
    std::string alias;
    if (isQueryStart(i + 1, c)) {  // a derived table: subqueries() reads it as its own level
      size_t j = aliasAndHints(c + 1, e, alias);
      return punct(j, "(") ? next(j) : j;  // its column names
    }
    size_t saveEnd = end_;
    end_ = c;
    size_t j = tableRefs(i + 1, c);
    end_ = saveEnd;
    if (j != c) return fail("unexpected text in a parenthesized join", e);
    return aliasAndHints(c + 1, e, alias);
  }
  if (word(i, "dual")) return i + 1;
  std::string name;
  size_t j = qualifiedName(i, e, name);
  if (j == i) return fail(fmt::format("a table name is missing before \"{}\"", t_[i].raw), e);
  std::string alias;
  if (punct(j, "(")) return aliasAndHints(next(j), e, alias);  // JSON_TABLE(...) alias
  j = aliasAndHints(j, e, alias);
  addRef(std::move(name), std::move(alias));
  return j;
}

// A FROM list: references joined by `,` or JOINs. Returns where it ends.
size_t Analyzer::tableRefs(size_t i, size_t e) {
  i = tableFactor(i, e);
  while (i < e && error_.empty()) {
    if (punct(i, ",")) {
      i = tableFactor(i + 1, e);
      continue;
    }
    bool inner = true;
    size_t j = i;
    if (word(j, "natural")) {
      inner = false;
      ++j;
    }
    if (word(j, "inner") || word(j, "cross")) {
      ++j;
    } else if (word(j, "left") || word(j, "right")) {
      inner = false;
      ++j;
      if (word(j, "outer")) ++j;
    }
    if (!word(j, "join") && !word(j, "straight_join")) break;
    i = tableFactor(j + 1, e);
    if (word(i, "using") && punct(i + 1, "(")) {
      i = next(i + 1);
    } else if (word(i, "on")) {
      size_t c = conditionEnd(i + 1, e);
      if (inner) conditions(i + 1, c);
      i = c;
    }
  }
  return i;
}

// Table names after TABLE, TRUNCATE, LOCK TABLES, ...: one name, or with `list` a
// comma-separated list whose items may carry more words (LOCK TABLES t AS a READ);
// renamePairs: RENAME TABLE a TO b, c TO d.
size_t Analyzer::nameList(size_t i, size_t e, bool list, bool renamePairs) {
  if (word(i, "if")) {
    ++i;
    if (word(i, "not")) ++i;
    if (word(i, "exists")) ++i;
  }
  while (i < e) {
    std::string name;
    size_t j = qualifiedName(i, e, name);
    if (j == i) return i;
    touch(name);
    i = j;
    if (renamePairs && word(i, "to")) {
      j = qualifiedName(i + 1, e, name);
      if (j == i + 1) return i;
      touch(name);
      i = j;
    }
    if (!list) return i;
    while (i < e && !punct(i, ",")) i = next(i);
    if (!punct(i, ",")) return i;
    ++i;
  }
  return i;
}

// ---- query levels --------------------------------------------------------------------------

Analyzer::Level Analyzer::enterLevel() {
  Level saved = std::move(level_);
  level_ = Level{};
  level_.firstRef = refs_.size();
  return saved;
}

// Settles the level's keys: its facts, then key equalities, then a key set (or keyMissing) for
// each sharded reference.
void Analyzer::leaveLevel(Level saved) {
  for (auto& [ref, values] : level_.facts) {
    Ref& r = refs_[ref];
    if (!r.known || values.size() < r.keys.size()) {
      r.keys = std::move(values);
      r.known = true;
    }
  }
  // A few rounds settle any realistic query; an unsettled reference keeps a larger set or none,
  // never a wrong one.
  for (int round = 0; round < 16; ++round) {
    bool changed = false;
    for (auto [a, b] : level_.edges) {
      for (int dir = 0; dir < 2; ++dir) {
        Ref& from = refs_[dir == 0 ? a : b];
        Ref& to = refs_[dir == 0 ? b : a];
        if (from.known && (!to.known || from.keys.size() < to.keys.size()) &&
            from.sharded->keyType == to.sharded->keyType) {
          to.keys = from.keys;
          to.known = true;
          changed = true;
        }
      }
    }
    if (!changed) break;
  }
  for (size_t i = level_.firstRef; i < refs_.size(); ++i) {
    const Ref& r = refs_[i];
    if (r.sharded == nullptr) continue;
    if (!r.known || r.keys.empty()) {
      facts_.keyMissing = true;
    } else if (std::find(facts_.keySets.begin(), facts_.keySets.end(), r.keys) ==
               facts_.keySets.end()) {
      facts_.keySets.push_back(r.keys);
    }
  }
  refs_.resize(level_.firstRef);  // a qualifier never names a finished level's reference
  level_ = std::move(saved);
}

// Every parenthesized subquery in [b, e), each its own level.
void Analyzer::subqueries(size_t b, size_t e) {
  for (size_t i = b; i < e && error_.empty(); ++i) {
    if (!isPunct(t_[i], "(")) continue;
    size_t c = close(i);
    if (isQueryStart(i + 1, c)) {
      size_t saveEnd = end_;
      end_ = c;
      query(i + 1, c);
      end_ = saveEnd;
    } else {
      subqueries(i + 1, c);
    }
    i = c;
  }
}

// WITH [RECURSIVE] name [(columns)] AS (query), ...: returns the index after the list.
size_t Analyzer::withClause(size_t b, size_t e) {
  size_t i = b + 1;
  if (word(i, "recursive")) ++i;
  while (i < e && error_.empty()) {
    if (!isName(i)) return fail("a CTE name is missing", e);
    ctes_.push_back(nameOf(t_[i]));
    ++i;
    if (punct(i, "(")) i = next(i);  // column names
    if (!word(i, "as") || !punct(i + 1, "(")) return fail("WITH name needs AS (...)", e);
    size_t c = close(i + 1);
    size_t saveEnd = end_;
    end_ = c;
    query(i + 2, c);
    end_ = saveEnd;
    i = c + 1;
    if (!punct(i, ",")) break;
    ++i;
  }
  return i;
}

// [WITH ...] SELECT blocks joined by UNION / EXCEPT / INTERSECT.
void Analyzer::query(size_t b, size_t e) {
  if (word(b, "with")) b = withClause(b, e);
  size_t start = b;
  for (size_t i = b; i < e && error_.empty(); i = next(i)) {
    if (word(i, "union") || word(i, "except") || word(i, "intersect")) {
      selectBlock(start, i);
      start = i + 1;
      if (word(start, "all") || word(start, "distinct")) ++start;
    }
  }
  if (error_.empty()) selectBlock(start, e);
}

// One SELECT, TABLE t, VALUES ... or parenthesized query: a level.
void Analyzer::selectBlock(size_t b, size_t e) {
  Level saved = enterLevel();
  if (word(b, "table")) {
    std::string name;
    if (qualifiedName(b + 1, e, name) == b + 1) fail("TABLE without a table name", e);
    addRef(std::move(name), {});
  } else if (word(b, "select")) {
    size_t from = findWord(b, e, "from");
    if (from < e) {
      size_t j = tableRefs(from + 1, e);
      if (j < e && !endsCondition(t_[j]) && !word(j, "where")) {
        fail(fmt::format("unexpected \"{}\" after a FROM list", t_[j].raw), e);
      }
    }
    subqueries(b, e);
    size_t where = findWord(b, e, "where");
    if (where < e) conditions(where + 1, conditionEnd(where + 1, e));
  } else if (b < e && !word(b, "values") && !punct(b, "(")) {
    fail(fmt::format("unexpected \"{}\" at the start of a query", t_[b].raw), e);
  } else {
    subqueries(b, e);
  }
  leaveLevel(std::move(saved));
}

// A condition's top-level AND chain: each conjunct on its own; OR, || or XOR: nothing.
void Analyzer::conditions(size_t b, size_t e) {
  if (b >= e) return (void)fail("a condition is missing", e);
  std::vector<std::pair<size_t, size_t>> conjuncts;
  int caseDepth = 0;
  bool between = false;
  size_t start = b;
  for (size_t i = b; i < e; i = next(i)) {
    const Token& t = t_[i];
    if (isWord(t, "case")) {
      ++caseDepth;
    } else if (isWord(t, "end") && caseDepth > 0) {
      --caseDepth;
    } else if (caseDepth > 0) {
      continue;
    } else if (isWord(t, "or") || isWord(t, "xor") || isPunct(t, "||")) {
      return;
    } else if (isWord(t, "between")) {
      between = true;
    } else if (isWord(t, "and") || isPunct(t, "&&")) {
      if (between) {
        between = false;
      } else {
        conjuncts.emplace_back(start, i);
        start = i + 1;
      }
    }
  }
  conjuncts.emplace_back(start, e);
  for (auto [cb, ce] : conjuncts) {
    if (cb < ce && isPunct(t_[cb], "(") && close(cb) + 1 == ce && !isQueryStart(cb + 1, ce - 1)) {
      conditions(cb + 1, ce - 1);
    } else {
      conjunct(cb, ce);
    }
  }
}

size_t Analyzer::column(size_t i, size_t e, Column& out) const {
  auto part = [&](size_t k) {
    return k < e && (t_[k].type == Tok::Ident || (t_[k].type == Tok::Word && !isClauseWord(t_[k]) &&
                                                  !isWord(t_[k], "null") && !isWord(t_[k], "not")));
  };
  if (!part(i)) return i;
  size_t qualifier = e, col = i, j = i + 1;
  for (int parts = 1; parts < 3 && j + 1 < e && isPunct(t_[j], ".") &&
                      (t_[j + 1].type == Tok::Ident || t_[j + 1].type == Tok::Word);
       ++parts) {
    qualifier = col;
    col = j + 1;
    j += 2;
  }
  if (j < e && isPunct(t_[j], "(")) return i;  // a function call
  out.column = &t_[col];
  out.qualifier = qualifier < e ? &t_[qualifier] : nullptr;
  return j;
}

size_t Analyzer::literal(size_t i, size_t e, Literal& out) const {
  if (i >= e) return i;
  const Token& t = t_[i];
  if (t.type == Tok::Param) {
    out.kind = Literal::Kind::Param;
    out.param = t.param;
    return i + 1;
  }
  if (t.type == Tok::String) {
    out.kind = Literal::Kind::String;
    out.text = unquote(t);
    return i + 1;  // 'a' 'b' (concatenated) leaves a token after the value: no key
  }
  size_t j = i;
  if (isPunct(t, "-") || isPunct(t, "+")) ++j;
  if (j < e && t_[j].type == Tok::Number && t_[j].integer) {
    out.kind = Literal::Kind::Integer;
    out.text = j > i ? std::string(t.raw) : std::string();
    out.text += t_[j].raw;
    return j + 1;
  }
  return i;
}

// The sharded reference of this level whose key column `c` names.
std::optional<size_t> Analyzer::resolve(const Column& c) const {
  std::string col = nameOf(*c.column);
  if (c.qualifier != nullptr) {
    std::string q = nameOf(*c.qualifier);
    for (size_t i = level_.firstRef; i < refs_.size(); ++i) {
      const Ref& r = refs_[i];
      if (r.alias == q || (r.alias.empty() && r.name == q)) {
        if (r.sharded != nullptr && r.sharded->keyColumn == col) return i;
        return std::nullopt;
      }
    }
    return std::nullopt;
  }
  for (size_t i = level_.firstRef; i < refs_.size(); ++i) {
    const Ref& r = refs_[i];
    if (r.sharded != nullptr && r.sharded->keyColumn == col) return i;
  }
  return std::nullopt;
}

std::optional<KeyRef> Analyzer::keyOf(const Literal& v, KeyKind type) {
  bool text = type == KeyKind::Text;
  if (v.kind == Literal::Kind::Param) return KeyRef::ofParam(v.param, text);
  if (v.kind == Literal::Kind::String && text) return KeyRef::ofText(v.text);
  int64_t n = 0;
  if (parseInt8(v.text, n) != Int8Status::Ok) return std::nullopt;
  return text ? KeyRef::ofText(std::to_string(n)) : KeyRef::ofInteger(n);
}

// `key = value`, `value = key`, `key <=> value`, `key IN (value, ...)`, `a.key = b.key`.
void Analyzer::conjunct(size_t b, size_t e) {
  auto addFact = [&](const Column& c, const Literal& v) {
    if (auto ref = resolve(c)) {
      if (auto key = keyOf(v, refs_[*ref].sharded->keyType)) {
        level_.facts.push_back({*ref, {std::move(*key)}});
      }
    }
  };
  Column left;
  size_t j = column(b, e, left);
  if (j > b) {
    if (punct(j, "=") || punct(j, "<=>")) {
      Literal v;
      if (size_t k = literal(j + 1, e, v); k > j + 1 && k == e) return addFact(left, v);
      Column right;
      if (size_t k = column(j + 1, e, right); k > j + 1 && k == e) {
        auto a = resolve(left);
        auto c = resolve(right);
        if (a && c && *a != *c) level_.edges.emplace_back(*a, *c);
      }
    } else if (word(j, "in") && punct(j + 1, "(") && close(j + 1) + 1 == e) {
      auto ref = resolve(left);
      if (!ref) return;
      std::vector<KeyRef> values;
      size_t c = e - 1;
      for (size_t i = j + 2; i < c;) {
        Literal v;
        size_t k = literal(i, c, v);
        if (k == i || (k < c && !isPunct(t_[k], ","))) return;
        auto key = keyOf(v, refs_[*ref].sharded->keyType);
        if (!key) return;
        if (std::find(values.begin(), values.end(), *key) == values.end()) {
          values.push_back(std::move(*key));
        }
        i = k + 1;
      }
      if (!values.empty()) level_.facts.push_back({*ref, std::move(values)});
    }
    return;
  }
  Literal v;
  j = literal(b, e, v);
  if (j > b && (punct(j, "=") || punct(j, "<=>"))) {
    Column right;
    if (size_t k = column(j + 1, e, right); k > j + 1 && k == e) addFact(right, v);
  }
}

std::vector<size_t> Analyzer::splitCommas(size_t b, size_t e) const {
  std::vector<size_t> starts;
  if (b >= e) return starts;
  starts.push_back(b);
  for (size_t i = b; i < e; i = next(i)) {
    if (isPunct(t_[i], ",")) starts.push_back(i + 1);
  }
  return starts;
}

// Whether the assignments `col = expr, ...` in [b, e) assign the key of a sharded reference
// from `firstRef` on.
bool Analyzer::assignsKey(size_t b, size_t e, size_t firstRef) const {
  for (size_t start : splitCommas(b, e)) {
    Column c;
    if (column(start, e, c) == start) continue;
    std::string col = nameOf(*c.column);
    std::string q = c.qualifier != nullptr ? nameOf(*c.qualifier) : std::string();
    for (size_t i = firstRef; i < refs_.size(); ++i) {
      const Ref& r = refs_[i];
      if (r.sharded == nullptr || r.sharded->keyColumn != col) continue;
      if (q.empty() || r.alias == q || r.name == q) return true;
    }
  }
  return false;
}

// ---- statements ----------------------------------------------------------------------------

// Functions bound to the server or session that runs them (mysql_statement.h, isWrite).
void Analyzer::serverBoundCalls(size_t b, size_t e) {
  static constexpr std::array<std::string_view, 11> kFunctions{
      "get_lock", "release_lock", "release_all_locks", "is_free_lock", "is_used_lock", "nextval",
      "setval",   "lastval",      "last_insert_id",    "found_rows",   "row_count"};
  for (size_t i = b; i < e; ++i) {
    const Token& t = t_[i];
    if (t.type == Tok::Word) {
      if (i + 1 < e && isPunct(t_[i + 1], "(") &&
          std::any_of(kFunctions.begin(), kFunctions.end(),
                      [&](std::string_view f) { return equalsWord(t.raw, f); })) {
        facts_.isWrite = true;
      }
      if ((equalsWord(t.raw, "next") || equalsWord(t.raw, "previous")) && i + 2 < e &&
          isWord(t_[i + 1], "value") && isWord(t_[i + 2], "for")) {
        facts_.isWrite = true;
      }
      if (equalsWord(t.raw, "sql_calc_found_rows")) facts_.isWrite = true;
    } else if (t.type == Tok::SysVar) {
      std::string_view name = t.raw;
      if (size_t dot = name.rfind('.'); dot != std::string_view::npos) name = name.substr(dot + 1);
      if (equalsWord(name, "identity") || equalsWord(name, "last_insert_id")) {
        facts_.isWrite = true;
      }
    }
  }
}

void Analyzer::selectStatement(size_t b, size_t e) {
  query(b, e);
  for (size_t i = b; i < e; ++i) {
    const Token& t = t_[i];
    bool next1 = i + 1 < e;
    if ((isWord(t, "for") && next1 &&
         (isWord(t_[i + 1], "update") || isWord(t_[i + 1], "share"))) ||
        (isWord(t, "lock") && next1 && isWord(t_[i + 1], "in")) || isWord(t, "into") ||
        isPunct(t, ":=")) {
      facts_.isWrite = true;
    }
  }
}

void Analyzer::insertStatement(size_t b, size_t e) {
  facts_.isWrite = true;
  size_t i = b + 1;
  while (word(i, "low_priority") || word(i, "delayed") || word(i, "high_priority") ||
         word(i, "ignore")) {
    ++i;
  }
  if (word(i, "into")) ++i;
  std::string name;
  size_t j = qualifiedName(i, e, name);
  if (j == i) return (void)fail("INSERT without a table name", e);
  bool missing = facts_.keyMissing;
  touch(name);
  facts_.keyMissing = missing;  // decided below
  const ShardedTable* sharded = nullptr;
  if (auto it = rules_.sharded.find(name); it != rules_.sharded.end()) sharded = &it->second;
  if (word(j, "partition") && punct(j + 1, "(")) j = next(j + 1);

  std::optional<size_t> keyPos;
  bool columns = false;
  if (punct(j, "(") && !isQueryStart(j + 1, close(j))) {
    columns = true;
    size_t c = close(j);
    size_t pos = 0;
    for (size_t start : splitCommas(j + 1, c)) {
      Column col;
      if (column(start, c, col) == start) return (void)fail("INSERT column list unreadable", e);
      if (sharded != nullptr && nameOf(*col.column) == sharded->keyColumn) keyPos = pos;
      ++pos;
    }
    j = c + 1;
  }

  // ON DUPLICATE KEY UPDATE: where the rows (or the query) end.
  size_t dup = e;
  for (size_t k = j; k < e; k = next(k)) {
    if (word(k, "on") && word(k + 1, "duplicate")) {
      dup = k;
      break;
    }
  }
  bool keyed = false;
  std::vector<KeyRef> keys;
  if (word(j, "values") || word(j, "value")) {
    subqueries(j, e);
    keyed = columns && keyPos.has_value();
    size_t rows = 0;
    for (++j; j < dup;) {
      if (word(j, "row")) ++j;
      if (!punct(j, "(")) return (void)fail("INSERT ... VALUES without a row", e);
      size_t c = close(j);
      ++rows;
      if (keyed) {
        std::vector<size_t> items = splitCommas(j + 1, c);
        std::optional<KeyRef> key;
        if (*keyPos < items.size()) {
          size_t itemEnd = *keyPos + 1 < items.size() ? items[*keyPos + 1] - 1 : c;
          Literal v;
          size_t k = literal(items[*keyPos], itemEnd, v);
          if (k == itemEnd && k > items[*keyPos]) key = keyOf(v, sharded->keyType);
        }
        if (key) {
          keys.push_back(std::move(*key));
        } else {
          keyed = false;
        }
      }
      j = c + 1;
      if (!punct(j, ",")) break;
      ++j;
    }
    if (rows > 1) facts_.multiRowInsert = true;
  } else if (word(j, "set")) {
    subqueries(j, e);
    for (size_t start : splitCommas(j + 1, dup)) {
      Column c;
      size_t k = column(start, dup, c);
      if (k == start || (!punct(k, "=") && !punct(k, ":="))) {
        return (void)fail("INSERT ... SET needs column = value", e);
      }
      if (sharded == nullptr || nameOf(*c.column) != sharded->keyColumn) continue;
      size_t itemEnd = k + 1;
      while (itemEnd < dup && !punct(itemEnd, ",")) itemEnd = next(itemEnd);
      Literal v;
      size_t m = literal(k + 1, itemEnd, v);
      std::optional<KeyRef> key;
      if (m == itemEnd && m > k + 1) key = keyOf(v, sharded->keyType);
      keyed = key.has_value();
      keys.clear();
      if (key) keys.push_back(std::move(*key));
    }
  } else if (isQueryStart(j, e)) {
    size_t saveEnd = end_;
    end_ = dup;
    query(j, dup);
    end_ = saveEnd;
    subqueries(dup, e);
  } else {
    return (void)fail("INSERT without VALUES, SET or a query", e);
  }
  if (dup < e && word(dup + 2, "key") && word(dup + 3, "update") && sharded != nullptr) {
    Ref target;
    target.name = name;
    target.sharded = sharded;
    refs_.push_back(std::move(target));
    if (assignsKey(dup + 4, e, refs_.size() - 1)) facts_.updatesKey = true;
    refs_.pop_back();
  }
  if (sharded == nullptr) return;
  if (keyed && !keys.empty()) {
    if (std::find(facts_.keySets.begin(), facts_.keySets.end(), keys) == facts_.keySets.end()) {
      facts_.keySets.push_back(std::move(keys));
    }
  } else {
    facts_.keyMissing = true;
  }
}

void Analyzer::updateStatement(size_t b, size_t e) {
  facts_.isWrite = true;
  size_t i = word(b, "with") ? withClause(b, e) : b;
  if (!word(i, "update")) return (void)fail("WITH ... UPDATE expected", e);
  size_t start = i++;
  while (word(i, "low_priority") || word(i, "ignore")) ++i;
  Level saved = enterLevel();
  size_t j = tableRefs(i, e);
  subqueries(start, e);
  if (!word(j, "set")) {
    fail("UPDATE without SET after its tables", e);
  } else {
    size_t where = findWord(j + 1, e, "where");
    size_t setEnd = std::min({where, findWord(j + 1, e, "order"), findWord(j + 1, e, "limit")});
    if (assignsKey(j + 1, setEnd, level_.firstRef)) facts_.updatesKey = true;
    if (where < e) conditions(where + 1, conditionEnd(where + 1, e));
  }
  leaveLevel(std::move(saved));
}

void Analyzer::deleteStatement(size_t b, size_t e) {
  facts_.isWrite = true;
  size_t i = word(b, "with") ? withClause(b, e) : b;
  if (!word(i, "delete")) return (void)fail("WITH ... DELETE expected", e);
  size_t start = i++;
  while (word(i, "low_priority") || word(i, "quick") || word(i, "ignore")) ++i;
  size_t where = findWord(i, e, "where");
  size_t stop = std::min(
      {where, findWord(i, e, "order"), findWord(i, e, "limit"), findWord(i, e, "returning")});
  size_t from = findWord(i, stop, "from");
  if (from == stop) return (void)fail("DELETE without FROM", e);
  // DELETE FROM t1, t2 USING <tables> (not a join's USING (col)): the tables follow USING.
  size_t refsAt = from + 1;
  size_t usingAt = findWord(from + 1, stop, "using");
  if (from == i && usingAt < stop && !punct(usingAt + 1, "(")) refsAt = usingAt + 1;
  Level saved = enterLevel();
  size_t j = tableRefs(refsAt, stop);
  subqueries(start, e);
  if (j != stop) fail(fmt::format("unexpected \"{}\" in DELETE", j < e ? t_[j].raw : ""), e);
  if (where < e) conditions(where + 1, conditionEnd(where + 1, e));
  leaveLevel(std::move(saved));
}

void Analyzer::ddlStatement(size_t b, size_t e) {
  facts_.isWrite = true;
  if (isCompoundCreate(t_, b)) {
    // The body runs later, not now; a trigger names its table.
    if (findWord(b, e, "trigger") < e) {
      size_t on = findWord(b, e, "on");
      if (on < e) nameList(on + 1, e, false, false);
    }
    if (facts_.touchesSharded) facts_.keyMissing = true;
    return;
  }
  size_t head = std::min(e, b + 6);  // CREATE [OR REPLACE] [TEMPORARY] TABLE ...
  bool drop = word(b, "drop"), rename = word(b, "rename");
  if (word(b, "truncate")) {
    nameList(word(b + 1, "table") ? b + 2 : b + 1, e, false, false);
  } else if (word(b, "grant") || word(b, "revoke") || findWord(b, head, "index") < head) {
    // GRANT ... ON [TABLE] db.t TO ..., CREATE INDEX i ON t (...), DROP INDEX i ON t.
    size_t on = findWord(b, e, "on");
    if (on < e) {
      size_t k = on + 1;
      if (word(k, "table")) ++k;
      std::string name;
      size_t j = qualifiedName(k, e, name);
      if (j > k && !punct(j, ".")) touch(name);  // not db.*
    }
  } else if (size_t table = std::min(findWord(b, head, "table"), findWord(b, head, "tables"));
             table < head) {
    size_t j = nameList(table + 1, e, drop || rename, rename);
    if (word(j, "like") || (punct(j, "(") && word(j + 1, "like"))) {
      nameList(word(j, "like") ? j + 1 : j + 2, e, false, false);
    }
  }
  // CREATE TABLE ... [AS] SELECT, CREATE VIEW ... AS SELECT.
  for (size_t k = b + 1; k < e && error_.empty(); k = next(k)) {
    bool cte =
        word(k, "with") && (word(k + 1, "recursive") || word(k + 2, "as") || punct(k + 2, "("));
    if (word(k, "select") || cte || (punct(k, "(") && isQueryStart(k + 1, close(k)))) {
      query(k, e);
      break;
    }
  }
  if (facts_.touchesSharded) facts_.keyMissing = true;
}

void Analyzer::setHint(std::string_view name, size_t b, size_t e) {
  std::string var = fmt::format("@{}", name);
  std::string_view setting = name.substr(10);  // after shardpool_
  bool shard = setting == "shard";
  if (!shard && setting != "sharding_key") {
    facts_.hintError = fmt::format("unknown setting {}", var);
    return;
  }
  if (!punct(b, "=") && !punct(b, ":=")) {
    facts_.hintError = fmt::format("{} takes = value", var);
    return;
  }
  if (b + 2 == e && (word(b + 1, "null") || word(b + 1, "default"))) {
    if (shard) {
      facts_.resetShard = true;
      facts_.setShard.reset();
    } else {
      facts_.resetShardingKey = true;
      facts_.setShardingKey.reset();
    }
    return;
  }
  Literal v;
  size_t k = literal(b + 1, e, v);
  if (k != e || k == b + 1 || v.kind == Literal::Kind::Param) {
    facts_.hintError = fmt::format("{} takes one constant", var);
    return;
  }
  if (shard) {
    std::optional<uint32_t> n = detail::parseShardNumber(v.text);
    if (!n) {
      facts_.hintError = fmt::format("{}: not a shard number", var);
      return;
    }
    facts_.setShard = n;
    facts_.resetShard = false;
  } else {
    std::optional<KeyRef> key = keyOf(v, KeyKind::Text);
    if (!key) {
      facts_.hintError = fmt::format("{}: not a key value", var);
      return;
    }
    facts_.setShardingKey = std::move(key->text);
    facts_.resetShardingKey = false;
  }
}

void Analyzer::setStatement(size_t b, size_t e) {
  size_t i = b + 1;
  if (word(i, "password") || (word(i, "default") && word(i + 1, "role"))) {
    facts_.isWrite = true;
    return;
  }
  if (word(i, "transaction") || word(i, "names") || word(i, "character") || word(i, "charset") ||
      word(i, "role") || word(i, "resource")) {
    return;
  }
  subqueries(i, e);
  std::vector<size_t> items = splitCommas(i, e);
  // Where each assignment's target is (after its scope word), and whether it is a hint.
  std::vector<size_t> targets;
  size_t hints = 0;
  for (size_t k : items) {
    if (word(k, "global") || word(k, "session") || word(k, "local") || word(k, "persist") ||
        word(k, "persist_only")) {
      ++k;
    }
    targets.push_back(k);
    if (k < e && t_[k].type == Tok::UserVar && startsWithWord(unquote(t_[k]), "shardpool_")) {
      ++hints;
    }
  }
  if (hints > 0 && hints < items.size()) {
    if (facts_.hintError.empty()) {
      facts_.hintError =
          "SET @shardpool_shard / @shardpool_sharding_key must be alone in its SET statement";
    }
    return;
  }
  for (size_t n = 0; n < items.size(); ++n) {
    size_t k = items[n];
    size_t itemEnd = n + 1 < items.size() ? items[n + 1] - 1 : e;
    if (word(k, "global") || word(k, "persist") || word(k, "persist_only")) facts_.isWrite = true;
    k = targets[n];
    if (hints > 0) {
      setHint(lowered(unquote(t_[k])), k + 1, itemEnd);
    } else if (k < e && t_[k].type == Tok::SysVar &&
               (startsWithWord(t_[k].raw, "global.") || startsWithWord(t_[k].raw, "persist"))) {
      facts_.isWrite = true;
    }
  }
}

void Analyzer::utilityStatement(size_t b, size_t e) {
  const Token& w = t_[b];
  auto is = [&](std::string_view s) { return equalsWord(w.raw, s); };
  if (is("use") || is("help") || is("deallocate") || is("get")) return;
  if (is("explain") || is("describe") || is("desc") || is("analyze")) {
    size_t i = b + 1;
    bool analyzeTable = is("analyze");
    while (word(i, "extended") || word(i, "partitions") || word(i, "analyze") ||
           word(i, "no_write_to_binlog") || word(i, "local") || word(i, "format")) {
      i += word(i, "format") && punct(i + 1, "=") ? 3 : 1;
    }
    if (word(i, "for") && word(i + 1, "connection")) return;
    std::optional<StatementKind> inner = kindOf(t_, i, e);
    if (analyzeTable && (word(i, "table") || word(i, "tables"))) {
      facts_.isWrite = true;
      nameList(i + 1, e, true, false);
    } else if (word(i, "insert") || word(i, "replace")) {
      insertStatement(i, e);
    } else if (inner == StatementKind::Update) {
      updateStatement(i, e);
    } else if (inner == StatementKind::Delete) {
      deleteStatement(i, e);
    } else if (isQueryStart(i, e)) {
      selectStatement(i, e);
    } else {
      nameList(i, e, false, false);  // DESCRIBE t [column]
    }
    return;
  }
  if (is("check") || is("checksum") || is("optimize") || is("repair")) {
    if (is("optimize") || is("repair")) facts_.isWrite = true;
    size_t i = b + 1;
    while (word(i, "no_write_to_binlog") || word(i, "local")) ++i;
    if (word(i, "table") || word(i, "tables")) nameList(i + 1, e, true, false);
    return;
  }
  facts_.isWrite = true;
  if (is("lock")) {
    if (word(b + 1, "table") || word(b + 1, "tables")) nameList(b + 2, e, true, false);
  } else if (is("handler")) {
    nameList(b + 1, e, false, false);
  } else if (is("load")) {
    size_t into = findWord(b, e, "into");
    if (into < e && word(into + 1, "table")) nameList(into + 2, e, false, false);
  }
}

// ---- one statement, and the entry points ---------------------------------------------------

bool Analyzer::statement(size_t b, size_t e, bool first) {
  end_ = e;
  refs_.clear();
  ctes_.clear();
  level_ = Level{};
  std::optional<StatementKind> kind = kindOf(t_, b, e);
  size_t w = b;
  while (w < e && isPunct(t_[w], "(")) ++w;
  if (!kind) {
    fail(fmt::format("unexpected \"{}\" at the start of a statement", t_[w].raw), e);
    return false;
  }
  if (first) facts_.kind = *kind;
  switch (*kind) {
    case StatementKind::Select:
      selectStatement(b, e);
      break;
    case StatementKind::Insert:
      insertStatement(b, e);
      break;
    case StatementKind::Update:
      updateStatement(b, e);
      break;
    case StatementKind::Delete:
      deleteStatement(b, e);
      break;
    case StatementKind::Ddl:
      ddlStatement(b, e);
      break;
    case StatementKind::Set:
      if (word(b, "set")) setStatement(b, e);
      break;
    case StatementKind::Utility:
      utilityStatement(w, e);
      break;
    case StatementKind::TransactionControl:
    case StatementKind::Empty:
      break;
  }
  serverBoundCalls(b, e);
  return error_.empty();
}

void notParsed(StatementFacts& facts, std::optional<StatementKind> kind, std::string error) {
  StatementFacts kept;
  kept.statementCount = facts.statementCount;
  kept.commentShard = facts.commentShard;
  kept.commentShardingKey = std::move(facts.commentShardingKey);
  kept.hintError =
      facts.hintError.rfind("comment hint", 0) == 0 ? std::move(facts.hintError) : std::string();
  facts = std::move(kept);
  facts.parsed = false;
  facts.parseError = std::move(error);
  facts.kind = kind.value_or(StatementKind::Utility);
  facts.isWrite = true;
}

}  // namespace

StatementFacts analyzeMysql(std::string_view sql, const TableRules& rules) {
  StatementFacts facts;
  Lexed lexed = lex(sql);
  facts.commentShard = lexed.hints.shard;
  facts.commentShardingKey = std::move(lexed.hints.shardingKey);
  facts.hintError = std::move(lexed.hints.error);
  std::vector<Token>& t = lexed.tokens;

  // Parentheses: partners, depth, and no `;` inside them.
  std::string error = std::move(lexed.error);
  std::vector<size_t> open;
  for (size_t i = 0; i < t.size() && error.empty(); ++i) {
    if (isPunct(t[i], "(")) {
      open.push_back(i);
      if (open.size() > kMaxParenDepth) {
        error = fmt::format("statement nests too deeply to analyze (over {} parentheses)",
                            kMaxParenDepth);
      }
    } else if (isPunct(t[i], ")")) {
      if (open.empty()) {
        error = "unbalanced parentheses";
        break;
      }
      t[open.back()].partner = static_cast<int>(i);
      t[i].partner = static_cast<int>(open.back());
      open.pop_back();
    } else if (isPunct(t[i], ";") && !open.empty()) {
      error = "unbalanced parentheses";
    }
  }
  if (error.empty() && !open.empty()) error = "unbalanced parentheses";

  // Statements: the non-empty runs between `;`.
  std::vector<std::pair<size_t, size_t>> statements;
  for (size_t b = 0; b < t.size();) {
    size_t e = b;
    if (error.empty() && isCompoundCreate(t, b)) {
      e = t.size();
      while (e > b && isPunct(t[e - 1], ";")) --e;
    } else {
      while (e < t.size() && !isPunct(t[e], ";")) ++e;
    }
    if (e > b) statements.emplace_back(b, e);
    b = e + 1;
  }
  facts.statementCount = statements.size();
  if (statements.empty()) {
    facts.kind = StatementKind::Empty;
    if (!error.empty()) notParsed(facts, StatementKind::Empty, std::move(error));
    return facts;
  }
  std::optional<StatementKind> firstKind;
  if (error.empty()) {
    firstKind = kindOf(t, statements.front().first, statements.front().second);
  } else {
    // Partners are unset: read only the first word.
    size_t b = statements.front().first;
    while (b < t.size() && isPunct(t[b], "(")) ++b;
    std::vector<Token> word(t.begin() + static_cast<std::ptrdiff_t>(b),
                            t.begin() + static_cast<std::ptrdiff_t>(std::min(t.size(), b + 2)));
    for (Token& w : word) w.partner = -1;
    firstKind = word.empty() ? StatementKind::Utility : kindOf(word, 0, word.size());
    if (firstKind && *firstKind == StatementKind::Empty) firstKind = StatementKind::Utility;
    notParsed(facts, firstKind, std::move(error));
    return facts;
  }
  Analyzer analyzer(t, rules, facts);
  bool first = true;
  for (auto [b, e] : statements) {
    if (!analyzer.statement(b, e, first)) {
      notParsed(facts, firstKind, analyzer.error());
      return facts;
    }
    first = false;
  }
  facts.resetHint = facts.resetShard || facts.resetShardingKey;
  return facts;
}

bool mysqlReadOnlySelect(const StatementFacts& facts) {
  return facts.parsed && facts.kind == StatementKind::Select && facts.statementCount == 1 &&
         !facts.isWrite;
}

}  // namespace shardpool::router
