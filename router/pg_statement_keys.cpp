// Key constraints: which values a WHERE / JOIN condition allows for each sharded reference, and
// constants as key values.
#include <cctype>
#include <charconv>
#include <string>

#include "router/pg_int8.h"
#include "router/pg_statement_walker.h"

namespace shardpool::router::detail {
namespace {

// The operator of an A_Expr ("=", "<>", ...): the last part of its (possibly qualified) name.
std::string_view operatorName(const Value& aExpr) {
  const Value* name = aExpr.get("name");
  if (name == nullptr || !name->isArray() || name->count == 0) return {};
  const Value& last = name->items().back();
  if (last.nodeTag() != "String") return {};
  return last.nodeBody().textOf("sval");
}

KeyFact* findFact(Conditions& c, size_t relation) {
  for (KeyFact& f : c.facts) {
    if (f.relation == relation) return &f;
  }
  return nullptr;
}

// Splits a one-dimensional array literal ('{1,2,"a b"}') into its elements; nullopt for NULL
// elements, nesting, or anything malformed.
std::optional<std::vector<std::string>> arrayElements(std::string_view text) {
  size_t b = text.find_first_not_of(" \t\n\r");
  size_t e = text.find_last_not_of(" \t\n\r");
  if (b == std::string_view::npos || text[b] != '{' || text[e] != '}') return std::nullopt;
  std::string_view body = text.substr(b + 1, e - b - 1);
  std::vector<std::string> out;
  size_t i = 0;
  auto skipSpace = [&] {
    while (i < body.size() && std::isspace(static_cast<unsigned char>(body[i]))) ++i;
  };
  skipSpace();
  if (i == body.size()) return out;
  for (;;) {
    skipSpace();
    std::string element;
    if (i < body.size() && body[i] == '"') {
      ++i;
      while (i < body.size() && body[i] != '"') {
        if (body[i] == '\\' && i + 1 < body.size()) ++i;
        element += body[i++];
      }
      if (i == body.size()) return std::nullopt;
      ++i;
    } else {
      size_t start = i;
      while (i < body.size() && body[i] != ',') {
        if (body[i] == '{' || body[i] == '}' || body[i] == '"' || body[i] == '\\') {
          return std::nullopt;
        }
        ++i;
      }
      std::string_view raw = body.substr(start, i - start);
      size_t last = raw.find_last_not_of(" \t\n\r");
      raw = last == std::string_view::npos ? std::string_view{} : raw.substr(0, last + 1);
      if (raw.empty() || equalsIgnoreCase(raw, "null")) return std::nullopt;
      element.assign(raw);
    }
    out.push_back(std::move(element));
    skipSpace();
    if (i == body.size()) return out;
    if (body[i] != ',') return std::nullopt;
    ++i;
  }
}

}  // namespace

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::optional<int64_t> parseInt64(std::string_view text) {
  int64_t value = 0;
  if (parseInt8(text, value) != Int8Status::Ok) return std::nullopt;
  return value;
}

// ---- Conditions algebra ----------------------------------------------------------------------

Conditions andConditions(Conditions a, Conditions b) {
  for (KeyFact& f : b.facts) {
    KeyFact* mine = findFact(a, f.relation);
    if (mine == nullptr) {
      a.facts.push_back(std::move(f));
    } else if (f.values.size() < mine->values.size()) {
      mine->values = std::move(f.values);  // both hold; keep the narrower
    }
  }
  a.edges.insert(a.edges.end(), b.edges.begin(), b.edges.end());
  return a;
}

Conditions orConditions(Conditions a, Conditions b) {
  Conditions out;
  for (KeyFact& f : a.facts) {
    KeyFact* other = findFact(b, f.relation);
    if (other == nullptr) continue;  // one branch leaves this reference unconstrained
    f.values.insert(f.values.end(), other->values.begin(), other->values.end());
    out.facts.push_back(std::move(f));
  }
  return out;  // equalities inside one branch do not hold for the whole OR
}

void propagate(Conditions& c) {
  for (bool changed = !c.edges.empty(); changed;) {
    changed = false;
    for (const KeyEdge& e : c.edges) {
      for (int pass = 0; pass < (e.bothWays ? 2 : 1); ++pass) {
        size_t from = pass == 0 ? e.from : e.to;
        size_t to = pass == 0 ? e.to : e.from;
        const KeyFact* source = findFact(c, from);
        if (source == nullptr || findFact(c, to) != nullptr) continue;
        std::vector<KeyRef> values = source->values;  // copy: push_back may move `source`
        c.facts.push_back({to, std::move(values)});
        changed = true;
      }
    }
  }
}

// ---- conditions of one level -------------------------------------------------------------------

Conditions Analyzer::condition(const Value& node, const Level& level) const {
  std::string_view tag = node.nodeTag();
  if (tag.empty()) return {};
  const Value& body = node.nodeBody();
  if (tag == "BoolExpr") {
    std::string_view op = body.textOf("boolop");
    const Value* args = body.get("args");
    if (args == nullptr || args->count == 0 || op == "NOT_EXPR") return {};
    if (op == "AND_EXPR") {
      Conditions all;
      for (const Value& arg : args->items())
        all = andConditions(std::move(all), condition(arg, level));
      propagate(all);
      return all;
    }
    if (op == "OR_EXPR") {
      Conditions any = condition(args->items()[0], level);
      propagate(any);
      for (const Value& arg : args->items().subspan(1)) {
        Conditions branch = condition(arg, level);
        propagate(branch);
        any = orConditions(std::move(any), std::move(branch));
      }
      return any;
    }
    return {};
  }
  if (tag != "A_Expr" || operatorName(body) != "=") return {};
  const Value* left = body.get("lexpr");
  const Value* right = body.get("rexpr");
  if (left == nullptr || right == nullptr) return {};
  std::string_view kind = body.textOf("kind");
  if (kind == "AEXPR_OP") return equality(*left, *right, level);
  if (kind == "AEXPR_IN") return inList(*left, *right, level);
  if (kind == "AEXPR_OP_ANY") return anyArray(*left, *right, level);
  return {};
}

Conditions Analyzer::equality(const Value& left, const Value& right, const Level& level) const {
  Conditions out;
  std::optional<size_t> l = resolveKey(left, level);
  std::optional<size_t> r = resolveKey(right, level);
  auto current = [&](size_t i) { return i >= level.first && i < level.end; };
  if (l && r) {
    const Relation& lr = relations_[*l];
    const Relation& rr = relations_[*r];
    if (lr.sharded->keyType != rr.sharded->keyType) return out;
    if (current(*l) && current(*r)) {
      out.edges.push_back({*l, *r, true});
    } else if (current(*l) && rr.known) {
      out.facts.push_back({*l, rr.keys});  // from an enclosing level
    } else if (current(*r) && lr.known) {
      out.facts.push_back({*r, lr.keys});
    }
    return out;
  }
  std::optional<size_t> column = l ? l : r;
  if (!column || !current(*column)) return out;
  const Value& other = l ? right : left;
  if (auto v = keyValue(other, relations_[*column].sharded->keyType)) {
    out.facts.push_back({*column, {std::move(*v)}});
  }
  return out;
}

Conditions Analyzer::inList(const Value& column, const Value& list, const Level& level) const {
  std::optional<size_t> rel = resolveKey(column, level);
  if (!rel || *rel < level.first || *rel >= level.end || list.nodeTag() != "List") return {};
  const Value* items = list.nodeBody().get("items");
  if (items == nullptr || items->count == 0) return {};
  KeyKind type = relations_[*rel].sharded->keyType;
  KeyFact fact{*rel, {}};
  for (const Value& item : items->items()) {
    auto v = keyValue(item, type);
    if (!v) return {};  // one unknown alternative could be any shard
    fact.values.push_back(std::move(*v));
  }
  return {{std::move(fact)}, {}};
}

Conditions Analyzer::anyArray(const Value& column, const Value& array, const Level& level) const {
  std::optional<size_t> rel = resolveKey(column, level);
  if (!rel || *rel < level.first || *rel >= level.end) return {};
  KeyKind type = relations_[*rel].sharded->keyType;
  const Value* a = &array;
  while (a->nodeTag() == "TypeCast") {
    a = a->nodeBody().get("arg");
    if (a == nullptr) return {};
  }
  KeyFact fact{*rel, {}};
  if (a->nodeTag() == "A_ArrayExpr") {
    const Value* elements = a->nodeBody().get("elements");
    if (elements == nullptr) return {};
    for (const Value& e : elements->items()) {
      auto v = keyValue(e, type);
      if (!v) return {};
      fact.values.push_back(std::move(*v));
    }
  } else if (a->nodeTag() == "A_Const") {
    const Value* sval = a->nodeBody().get("sval");
    if (sval == nullptr) return {};
    auto elements = arrayElements(sval->textOf("sval"));
    if (!elements) return {};
    for (std::string& e : *elements) {
      if (type == KeyKind::Text) {
        fact.values.push_back(KeyRef::ofText(std::move(e)));
      } else if (auto i = parseInt64(e)) {
        fact.values.push_back(KeyRef::ofInteger(*i));
      } else {
        return {};
      }
    }
  } else {
    return {};  // = ANY($1) and other arrays: values unknown here
  }
  if (fact.values.empty()) return {};
  return {{std::move(fact)}, {}};
}

Conditions Analyzer::joinConditions(const Join& join, const Level& level) const {
  const Value& body = *join.body;
  Conditions c;
  if (const Value* quals = body.get("quals")) c = condition(*quals, level);
  if (const Value* cols = body.get("usingClause")) {
    for (const Value& col : cols->items()) {
      if (col.nodeTag() != "String") continue;
      std::string_view name = col.nodeBody().textOf("sval");
      std::optional<size_t> l, r;
      for (size_t i = join.leftBegin; i < join.rightEnd; ++i) {
        const Relation& rel = relations_[i];
        if (rel.sharded == nullptr || rel.sharded->keyColumn != name) continue;
        std::optional<size_t>& side = i < join.leftEnd ? l : r;
        if (!side) side = i;
      }
      if (l && r && relations_[*l].sharded->keyType == relations_[*r].sharded->keyType) {
        c.edges.push_back({*l, *r, true});
      }
    }
  }
  std::string_view type = body.textOf("jointype");
  if (type == "JOIN_INNER") return c;
  if (type != "JOIN_LEFT" && type != "JOIN_RIGHT") return {};  // FULL: no side is filtered
  // Only the nullable side's rows are filtered by ON; the preserved side passes its key over.
  bool left = type == "JOIN_LEFT";
  auto nullable = [&](size_t i) {
    return left ? i >= join.leftEnd && i < join.rightEnd : i >= join.leftBegin && i < join.leftEnd;
  };
  Conditions out;
  for (KeyFact& f : c.facts) {
    if (nullable(f.relation)) out.facts.push_back(std::move(f));
  }
  for (const KeyEdge& e : c.edges) {
    bool fromNullable = nullable(e.from), toNullable = nullable(e.to);
    if (fromNullable && toNullable) {
      out.edges.push_back(e);
    } else if (!fromNullable && toNullable) {
      out.edges.push_back({e.from, e.to, false});
    } else if (fromNullable && !toNullable) {
      out.edges.push_back({e.to, e.from, false});
    }
  }
  return out;
}

// ---- columns and constants -------------------------------------------------------------------

std::optional<size_t> Analyzer::resolveKey(const Value& column, const Level& level) const {
  if (column.nodeTag() != "ColumnRef") return std::nullopt;
  const Value* fields = column.nodeBody().get("fields");
  if (fields == nullptr || fields->count == 0) return std::nullopt;
  auto part = [&](size_t i) -> std::optional<std::string_view> {
    const Value& f = fields->items()[i];
    if (f.nodeTag() != "String") return std::nullopt;
    return f.nodeBody().textOf("sval");
  };
  std::optional<std::string_view> name = part(fields->count - 1);
  if (!name) return std::nullopt;  // tbl.*
  if (fields->count == 1) {
    for (size_t i = level.first; i < level.end; ++i) {
      const Relation& rel = relations_[i];
      if (rel.sharded != nullptr && rel.sharded->keyColumn == *name) return i;
    }
    return std::nullopt;
  }
  std::optional<std::string_view> qualifier = part(fields->count - 2);
  if (!qualifier) return std::nullopt;
  for (const Level* l = &level; l != nullptr; l = l->parent) {
    for (size_t i = l->first; i < l->end; ++i) {
      const Relation& rel = relations_[i];
      if (rel.refName != *qualifier) continue;
      if (rel.sharded != nullptr && rel.sharded->keyColumn == *name) return i;
      return std::nullopt;  // the innermost reference of that name is not a sharded key
    }
  }
  return std::nullopt;
}

std::optional<KeyRef> Analyzer::keyValue(const Value& node, KeyKind type) const {
  std::string_view tag = node.nodeTag();
  if (tag == "TypeCast") {
    const Value* arg = node.nodeBody().get("arg");
    return arg != nullptr ? keyValue(*arg, type) : std::nullopt;
  }
  if (tag == "ParamRef") {
    const Value* number = node.nodeBody().get("number");
    if (number == nullptr || number->integer < 1) return std::nullopt;
    return KeyRef::ofParam(static_cast<int>(number->integer - 1), type == KeyKind::Text);
  }
  if (tag != "A_Const") return std::nullopt;
  const Value& c = node.nodeBody();
  if (type == KeyKind::Integer) {
    auto v = constInteger(c);
    return v ? std::optional<KeyRef>(KeyRef::ofInteger(*v)) : std::nullopt;
  }
  auto text = constText(c);
  return text ? std::optional<KeyRef>(KeyRef::ofText(std::move(*text))) : std::nullopt;
}

// libpg_query 15-4.0 writes a zero or negative integer constant as "ival": {} in its JSON, so
// those are read back from the statement text at the constant's location: "0", "-5", "- (5)".
std::optional<int64_t> Analyzer::integerAt(int location) const {
  if (location < 0 || static_cast<size_t>(location) >= sql_.size()) return std::nullopt;
  std::string_view t = sql_.substr(static_cast<size_t>(location));
  bool negative = !t.empty() && t[0] == '-';
  if (negative) {
    t.remove_prefix(1);
    while (!t.empty() && (std::isspace(static_cast<unsigned char>(t[0])) || t[0] == '(')) {
      t.remove_prefix(1);
    }
  }
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (ec != std::errc{} || ptr == t.data()) return std::nullopt;
  return negative ? -value : value;
}

std::optional<int64_t> Analyzer::constInteger(const Value& c) const {
  if (const Value* ival = c.get("ival")) {
    if (const Value* v = ival->get("ival")) {
      if (v->integer > 0) return v->integer;
    }
    const Value* location = c.get("location");
    return location != nullptr ? integerAt(static_cast<int>(location->integer)) : std::nullopt;
  }
  if (const Value* fval = c.get("fval")) return parseInt64(fval->textOf("fval"));
  if (const Value* sval = c.get("sval")) return parseInt64(sval->textOf("sval"));
  return std::nullopt;  // NULL, booleans, bit strings
}

std::optional<std::string> Analyzer::constText(const Value& c) const {
  if (c.get("ival") != nullptr) {
    auto v = constInteger(c);
    return v ? std::optional<std::string>(std::to_string(*v)) : std::nullopt;
  }
  if (const Value* fval = c.get("fval")) return std::string(fval->textOf("fval"));
  if (const Value* sval = c.get("sval")) return std::string(sval->textOf("sval"));
  return std::nullopt;
}

}  // namespace shardpool::router::detail
