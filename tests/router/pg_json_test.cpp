// The in-place JSON reader pg_statement uses for libpg_query's parse trees.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "router/pg_json.h"

namespace shardpool::router::pgjson {
namespace {

// Parses a copy of `json` (the reader writes into its buffer); the copy lives in `buffer`.
ParseStatus parse(Document& doc, std::string& buffer, std::string_view json) {
  buffer.assign(json);
  return doc.parse(buffer.data());
}

TEST_CASE("pg_json: objects, arrays and scalars", "[router][pg_json]") {
  Document doc;
  std::string buf;
  REQUIRE(
      parse(doc, buf,
            R"( {"a": 1, "b": [true, false, null, -42, "x"], "c": {}, "d": [], "e": 1.5e3} )") ==
      ParseStatus::Ok);
  const Value& root = doc.root();
  REQUIRE(root.isObject());
  CHECK(root.count == 5);
  REQUIRE(root.get("a") != nullptr);
  CHECK(root.get("a")->integer == 1);
  CHECK(root.get("a")->key == "a");
  const Value* b = root.get("b");
  REQUIRE(b != nullptr);
  REQUIRE(b->isArray());
  REQUIRE(b->count == 5);
  CHECK(b->items()[0].type == Type::True);
  CHECK(b->items()[1].type == Type::False);
  CHECK(b->items()[2].type == Type::Null);
  CHECK(b->items()[3].integer == -42);
  CHECK(b->items()[4].text == "x");
  CHECK(root.get("c")->isObject());
  CHECK(root.get("c")->count == 0);
  CHECK(root.get("d")->isArray());
  CHECK(root.get("e")->type == Type::Number);
  CHECK(root.get("e")->text == "1.5e3");
  CHECK(root.get("e")->integer == 0);
  CHECK(root.get("missing") == nullptr);
  CHECK(b->get("x") == nullptr);  // not an object
}

TEST_CASE("pg_json: string escapes are decoded in place", "[router][pg_json]") {
  struct Case {
    std::string_view json;
    std::string_view text;
  };
  const Case cases[] = {
      {R"("plain")", "plain"},
      {R"("")", ""},
      {R"("a\"b\\c\/d")", "a\"b\\c/d"},
      {R"("\n\r\t\b\f")", "\n\r\t\b\f"},
      {R"("\u0041\u00e9\u20ac")", "A\xc3\xa9\xe2\x82\xac"},
      {R"("\ud83d\ude00")", "\xf0\x9f\x98\x80"},
      {"\"caf\xc3\xa9\"", "caf\xc3\xa9"},
  };
  for (const Case& c : cases) {
    INFO(c.json);
    Document doc;
    std::string buf;
    REQUIRE(parse(doc, buf, c.json) == ParseStatus::Ok);
    CHECK(doc.root().isString());
    CHECK(doc.root().text == c.text);
  }
}

TEST_CASE("pg_json: node wrappers", "[router][pg_json]") {
  Document doc;
  std::string buf;
  REQUIRE(parse(doc, buf,
                R"([{"A_Expr": {"kind": "AEXPR_OP"}}, {"relname": "t"}, {"a": 1, "B": 2}])") ==
          ParseStatus::Ok);
  auto items = doc.root().items();
  CHECK(items[0].nodeTag() == "A_Expr");
  CHECK(items[0].nodeBody().get("kind")->text == "AEXPR_OP");
  CHECK(items[1].nodeTag().empty());  // lower-case: a field, not a node type
  CHECK(items[2].nodeTag().empty());  // two members
}

TEST_CASE("pg_json: malformed input is refused", "[router][pg_json]") {
  for (std::string_view json :
       {"", "{", "[1,", "{\"a\"}", "{\"a\":}", "[1 2]", "\"abc", "tru", "nul", "{\"a\":1}x",
        "\"\\x\"", "\"\\u12\"", "\"\\ud800\\u0041\"", "{1:2}", "[,]", "-"}) {
    INFO(json);
    Document doc;
    std::string buf;
    CHECK(parse(doc, buf, json) == ParseStatus::Malformed);
    CHECK(doc.root().type == Type::Null);
  }
}

TEST_CASE("pg_json: nesting deeper than the limit is refused", "[router][pg_json]") {
  Document doc;
  std::string buf;
  std::string ok(kMaxJsonDepth, '[');
  ok.append(kMaxJsonDepth, ']');
  CHECK(parse(doc, buf, ok) == ParseStatus::Ok);
  std::string deep(kMaxJsonDepth + 2, '[');
  deep.append(kMaxJsonDepth + 2, ']');
  CHECK(parse(doc, buf, deep) == ParseStatus::TooDeep);
}

}  // namespace
}  // namespace shardpool::router::pgjson
