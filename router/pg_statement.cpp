// analyze(): parse with libpg_query, then read the tree (pg_statement_walker.cpp,
// pg_statement_keys.cpp) and the comments (pg_statement_hints.cpp).
#include "router/pg_statement.h"

#include <fmt/format.h>
#include <pg_query.h>

#include <algorithm>
#include <array>
#include <iterator>

#include "router/pg_json.h"
#include "router/pg_statement_hints.h"
#include "router/pg_statement_walker.h"

namespace shardpool::router {

namespace detail {
namespace {

bool startsWith(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

StatementKind classify(std::string_view tag) {
  if (tag == "SelectStmt") return StatementKind::Select;
  if (tag == "InsertStmt") return StatementKind::Insert;
  if (tag == "UpdateStmt") return StatementKind::Update;
  if (tag == "DeleteStmt") return StatementKind::Delete;
  if (tag == "TransactionStmt") return StatementKind::TransactionControl;
  if (tag == "VariableSetStmt" || tag == "VariableShowStmt") return StatementKind::Set;
  // Besides every Create*, Alter* and Drop* statement:
  // clang-format off
  static constexpr std::string_view kDdl[] = {
      "IndexStmt", "TruncateStmt", "ViewStmt", "RenameStmt", "CommentStmt", "GrantStmt",
      "GrantRoleStmt", "DefineStmt", "CompositeTypeStmt", "RuleStmt", "SecLabelStmt",
      "RefreshMatViewStmt", "ImportForeignSchemaStmt", "ReassignOwnedStmt"};
  // clang-format on
  if (startsWith(tag, "Create") || startsWith(tag, "Alter") || startsWith(tag, "Drop") ||
      std::find(std::begin(kDdl), std::end(kDdl), tag) != std::end(kDdl)) {
    return StatementKind::Ddl;
  }
  return StatementKind::Utility;
}

// Whether a utility statement writes. EXPLAIN, PREPARE and DECLARE write when the statement they
// wrap does (found while scanning it); COPY when it copies into a table.
bool utilityWrites(std::string_view tag, const Value& body) {
  static constexpr std::array<std::string_view, 9> kReadOnly{
      "ListenStmt",      "UnlistenStmt", "DiscardStmt", "DeallocateStmt",   "FetchStmt",
      "ClosePortalStmt", "ExplainStmt",  "PrepareStmt", "DeclareCursorStmt"};
  if (tag == "CopyStmt") return body.get("is_from") != nullptr && body.get("is_from")->isTrue();
  return std::find(kReadOnly.begin(), kReadOnly.end(), tag) == kReadOnly.end();
}

}  // namespace

void Analyzer::setHint(const Value& s) {
  std::string_view kind = s.textOf("kind");
  if (kind == "VAR_RESET_ALL") {
    facts_.setShard.reset();
    facts_.setShardingKey.reset();
    facts_.resetShard = facts_.resetShardingKey = true;
    return;
  }
  std::string_view name = s.textOf("name");
  constexpr std::string_view kPrefix = "shardpool.";
  if (name.size() <= kPrefix.size() || !equalsIgnoreCase(name.substr(0, kPrefix.size()), kPrefix)) {
    return;
  }
  std::string_view setting = name.substr(kPrefix.size());
  bool shard = equalsIgnoreCase(setting, "shard");
  if (!shard && !equalsIgnoreCase(setting, "sharding_key")) {
    facts_.hintError = fmt::format("unknown setting {}", name);
    return;
  }
  if (kind == "VAR_SET_DEFAULT" || kind == "VAR_RESET") {
    (shard ? facts_.resetShard : facts_.resetShardingKey) = true;
    if (shard) {
      facts_.setShard.reset();
    } else {
      facts_.setShardingKey.reset();
    }
    return;
  }
  if (kind != "VAR_SET_VALUE") return;
  const Value* args = s.get("args");
  const Value* arg = args != nullptr && args->count == 1 ? &args->items()[0] : nullptr;
  if (arg == nullptr || arg->nodeTag() != "A_Const") {
    facts_.hintError = fmt::format("{} takes one constant", name);
    return;
  }
  const Value& c = arg->nodeBody();
  facts_.setIsLocal = s.get("is_local") != nullptr && s.get("is_local")->isTrue();
  if (shard) {
    std::optional<uint32_t> n;
    if (c.get("sval") != nullptr) {
      n = parseShardNumber(c.get("sval")->textOf("sval"));
    } else if (auto v = constInteger(c); v && *v >= 0 && *v <= int64_t{UINT32_MAX}) {
      n = static_cast<uint32_t>(*v);
    }
    if (!n) {
      facts_.hintError = fmt::format("{}: not a shard number", name);
      return;
    }
    facts_.setShard = n;
    facts_.resetShard = false;
  } else {
    auto text = constText(c);
    if (!text) {
      facts_.hintError = fmt::format("{}: not a key value", name);
      return;
    }
    facts_.setShardingKey = std::move(text);
    facts_.resetShardingKey = false;
  }
}

void Analyzer::dropStatement(const Value& s) {
  std::string_view type = s.textOf("removeType");
  if (type != "OBJECT_TABLE" && type != "OBJECT_FOREIGN_TABLE") return;
  const Value* objects = s.get("objects");
  if (objects == nullptr) return;
  for (const Value& o : objects->items()) {
    const Value* parts = o.nodeTag() == "List" ? o.nodeBody().get("items") : nullptr;
    if (parts == nullptr || parts->count == 0) continue;
    const Value& last = parts->items().back();
    if (last.nodeTag() != "String") continue;
    if (addTable(last.nodeBody().textOf("sval")) != nullptr) facts_.keyMissing = true;
  }
}

void Analyzer::topStatement(const Value& node, bool first) {
  std::string_view tag = node.nodeTag();
  if (tag.empty()) return;
  const Value& body = node.nodeBody();
  StatementKind kind = classify(tag);
  if (first) facts_.kind = kind;
  switch (kind) {
    case StatementKind::Select:
      if (first) {
        selectFlags(body);
        facts_.selectShape = shapeOf(body);
        facts_.selectShape->subqueryNeedsMerge = walkSelect(node);
      } else {
        SelectShape shape = shapeOf(body);
        shape.subqueryNeedsMerge = walkSelect(node);
        if (shapeNeedsMerge(shape)) facts_.laterSelectNeedsMerge = true;
      }
      return;
    case StatementKind::Insert:
    case StatementKind::Update:
    case StatementKind::Delete:
      statement(node, nullptr);
      return;
    case StatementKind::TransactionControl:
    case StatementKind::Empty:
      return;
    case StatementKind::Set:
      if (tag == "VariableSetStmt") setHint(body);
      return;
    case StatementKind::Ddl:
      facts_.isWrite = true;
      if (tag == "DropStmt") {
        dropStatement(body);
      } else {
        scan(node, nullptr);
      }
      return;
    case StatementKind::Utility:
      if (utilityWrites(tag, body)) facts_.isWrite = true;
      scan(node, nullptr);
      return;
  }
}

}  // namespace detail

namespace {

// Frees libpg_query's result on every path out of analyze().
struct ParseResult {
  PgQueryParseResult result;
  ~ParseResult() { pg_query_free_parse_result(result); }
};

void notParsed(StatementFacts& facts, std::string_view sql, std::string error) {
  facts.parsed = false;
  facts.parseError = std::move(error);
  facts.kind = detail::guessKind(sql);
  facts.isWrite = true;
}

}  // namespace

StatementFacts analyze(std::string_view sql, const TableRules& rules) {
  StatementFacts facts;
  detail::CommentHints comments = detail::scanCommentHints(sql);
  facts.commentShard = comments.shard;
  facts.commentShardingKey = std::move(comments.shardingKey);
  facts.hintError = std::move(comments.error);

  std::string text(sql);  // libpg_query wants a terminator
  ParseResult parsed{pg_query_parse(text.c_str())};
  if (const PgQueryError* error = parsed.result.error) {
    notParsed(facts, sql, fmt::format("{} (position {})", error->message, error->cursorpos));
    return facts;
  }
  pgjson::Document tree;
  pgjson::ParseStatus status = tree.parse(parsed.result.parse_tree);
  if (status != pgjson::ParseStatus::Ok) {
    notParsed(facts, sql,
              status == pgjson::ParseStatus::TooDeep
                  ? fmt::format("statement nests too deeply to analyze (over {} levels)",
                                pgjson::kMaxJsonDepth)
                  : std::string("unreadable parse tree from libpg_query"));
    return facts;
  }
  const pgjson::Value* stmts = tree.root().get("stmts");
  if (stmts == nullptr || stmts->count == 0) {
    facts.kind = StatementKind::Empty;
    return facts;
  }
  facts.statementCount = stmts->count;
  detail::Analyzer analyzer(sql, rules, facts);
  bool first = true;
  for (const pgjson::Value& raw : stmts->items()) {
    if (const pgjson::Value* stmt = raw.get("stmt")) analyzer.topStatement(*stmt, first);
    first = false;
  }
  facts.resetHint = facts.resetShard || facts.resetShardingKey;
  return facts;
}

}  // namespace shardpool::router
