// A minimal JSON reader for libpg_query's parse-tree output (internal to router/pg_statement*).
//
// pg_statement reads pg_query_parse()'s JSON rather than pg_query_parse_protobuf()'s protobuf:
// on libpg_query 15-4.0 the protobuf path (encode + protobuf-c unpack) measured 10-25 times slower
// than the JSON path for short queries, and the parse dominates analyze().
//
// The reader parses in place: strings are unescaped inside the caller's buffer, and every
// string_view points into it, so the buffer must outlive the Document. Values live in one vector;
// an array's or object's children are contiguous. Nesting deeper than kMaxJsonDepth is refused
// (the walkers that read the tree are recursive).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace shardpool::router::pgjson {

inline constexpr int kMaxJsonDepth = 2000;

enum class Type : uint8_t { Null, False, True, Number, String, Array, Object };

struct Value {
  Type type = Type::Null;
  std::string_view key;   // the member name when this value is an object member
  std::string_view text;  // String: the unescaped contents; Number: the literal as written
  int64_t integer = 0;    // Number: the value when it is an integer in range, else 0
  const Value* children = nullptr;  // Array / Object
  uint32_t count = 0;               // Array / Object: number of children
  uint32_t first = 0;               // internal: index of the first child while parsing

  bool isObject() const { return type == Type::Object; }
  bool isArray() const { return type == Type::Array; }
  bool isString() const { return type == Type::String; }
  bool isTrue() const { return type == Type::True; }
  std::span<const Value> items() const { return {children, count}; }
  // The member `name` of an object; nullptr when absent or when this is not an object.
  const Value* get(std::string_view name) const;
  // The text of member `name` (a string's contents); "" when absent.
  std::string_view textOf(std::string_view name) const {
    const Value* v = get(name);
    return v != nullptr ? v->text : std::string_view{};
  }
  // A libpg_query Node is an object with one member named for its type: {"A_Expr": {...}}.
  // The type name, or "" when this is not such a wrapper.
  std::string_view nodeTag() const;
  // The wrapped body of a Node (nodeTag() != "" only).
  const Value& nodeBody() const { return children[0]; }
};

enum class ParseStatus : uint8_t { Ok, Malformed, TooDeep };

class Document {
 public:
  // Parses `text` (NUL-terminated, modified in place). On failure root() is a Null value.
  [[nodiscard]] ParseStatus parse(char* text);
  const Value& root() const { return root_; }

 private:
  struct Builder;
  std::vector<Value> values_;
  Value root_;
};

}  // namespace shardpool::router::pgjson
