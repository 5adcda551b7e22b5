#include "router/pg_json.h"

#include <charconv>
#include <cstring>

namespace shardpool::router::pgjson {

const Value* Value::get(std::string_view name) const {
  if (type != Type::Object) return nullptr;
  for (const Value& member : items()) {
    if (member.key == name) return &member;
  }
  return nullptr;
}

std::string_view Value::nodeTag() const {
  if (type != Type::Object || count != 1) return {};
  std::string_view tag = children[0].key;
  if (tag.empty() || tag[0] < 'A' || tag[0] > 'Z') return {};
  return tag;
}

namespace {

bool isSpace(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Appends the UTF-8 encoding of `cp` at `out`; returns the new end.
char* putUtf8(char* out, uint32_t cp) {
  if (cp < 0x80) {
    *out++ = static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out++ = static_cast<char>(0xC0 | (cp >> 6));
    *out++ = static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out++ = static_cast<char>(0xE0 | (cp >> 12));
    *out++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out++ = static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out++ = static_cast<char>(0xF0 | (cp >> 18));
    *out++ = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    *out++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out++ = static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

}  // namespace

struct Document::Builder {
  Document& doc;
  char* p;
  std::vector<Value> scratch;  // children of the containers being parsed, innermost last
  ParseStatus status = ParseStatus::Ok;

  void skipSpace() {
    while (isSpace(*p)) ++p;
  }

  bool fail(ParseStatus s) {
    if (status == ParseStatus::Ok) status = s;
    return false;
  }

  bool readHex4(uint32_t& out) {
    out = 0;
    for (int i = 0; i < 4; ++i) {
      int d = hexDigit(p[i]);
      if (d < 0) return false;
      out = out * 16 + static_cast<uint32_t>(d);
    }
    p += 4;
    return true;
  }

  // At the opening quote. Unescapes in place: the output never overtakes the input.
  bool parseString(std::string_view& out) {
    ++p;
    char* start = p;
    while (*p != '"' && *p != '\\' && *p != '\0') ++p;  // the common case: nothing to unescape
    char* w = p;
    for (;;) {
      char c = *p;
      if (c == '\0') return fail(ParseStatus::Malformed);
      if (c == '"') break;
      if (c != '\\') {
        *w++ = *p++;
        continue;
      }
      ++p;
      char e = *p++;
      switch (e) {
        case '"':
          *w++ = '"';
          break;
        case '\\':
          *w++ = '\\';
          break;
        case '/':
          *w++ = '/';
          break;
        case 'b':
          *w++ = '\b';
          break;
        case 'f':
          *w++ = '\f';
          break;
        case 'n':
          *w++ = '\n';
          break;
        case 'r':
          *w++ = '\r';
          break;
        case 't':
          *w++ = '\t';
          break;
        case 'u': {
          uint32_t cp = 0;
          if (!readHex4(cp)) return fail(ParseStatus::Malformed);
          if (cp >= 0xD800 && cp < 0xDC00 && p[0] == '\\' && p[1] == 'u') {
            p += 2;
            uint32_t low = 0;
            if (!readHex4(low) || low < 0xDC00 || low >= 0xE000) {
              return fail(ParseStatus::Malformed);
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          w = putUtf8(w, cp);
          break;
        }
        default:
          return fail(ParseStatus::Malformed);
      }
    }
    out = std::string_view(start, static_cast<size_t>(w - start));
    ++p;  // closing quote
    return true;
  }

  bool parseNumber(Value& out) {
    char* start = p;
    bool integral = true;
    bool digits = false;
    while ((*p >= '0' && *p <= '9') || *p == '-' || *p == '+' || *p == '.' || *p == 'e' ||
           *p == 'E') {
      if (*p == '.' || *p == 'e' || *p == 'E') integral = false;
      if (*p >= '0' && *p <= '9') digits = true;
      ++p;
    }
    if (!digits) return fail(ParseStatus::Malformed);
    out.type = Type::Number;
    out.text = std::string_view(start, static_cast<size_t>(p - start));
    if (integral) {
      auto [ptr, ec] = std::from_chars(start, p, out.integer);
      if (ec != std::errc{} || ptr != p) out.integer = 0;
    }
    return true;
  }

  bool literal(std::string_view word, Type type, Value& out) {
    for (char c : word) {
      if (*p != c) return fail(ParseStatus::Malformed);  // also stops at the terminator
      ++p;
    }
    out.type = type;
    return true;
  }

  bool parseContainer(Value& out, int depth) {
    bool object = *p == '{';
    char close = object ? '}' : ']';
    ++p;
    size_t base = scratch.size();
    skipSpace();
    if (*p == close) {
      ++p;
    } else {
      for (;;) {
        Value child;
        skipSpace();
        if (object) {
          if (*p != '"' || !parseString(child.key)) return fail(ParseStatus::Malformed);
          skipSpace();
          if (*p++ != ':') return fail(ParseStatus::Malformed);
          skipSpace();
        }
        if (!parseValue(child, depth + 1)) return false;
        scratch.push_back(child);
        skipSpace();
        if (*p == ',') {
          ++p;
          continue;
        }
        if (*p == close) {
          ++p;
          break;
        }
        return fail(ParseStatus::Malformed);
      }
    }
    out.type = object ? Type::Object : Type::Array;
    out.first = static_cast<uint32_t>(doc.values_.size());
    out.count = static_cast<uint32_t>(scratch.size() - base);
    doc.values_.insert(doc.values_.end(), scratch.begin() + static_cast<std::ptrdiff_t>(base),
                       scratch.end());
    scratch.resize(base);
    return true;
  }

  bool parseValue(Value& out, int depth) {
    if (depth > kMaxJsonDepth) return fail(ParseStatus::TooDeep);
    skipSpace();
    switch (*p) {
      case '{':
      case '[':
        return parseContainer(out, depth);
      case '"':
        out.type = Type::String;
        return parseString(out.text);
      case 't':
        return literal("true", Type::True, out);
      case 'f':
        return literal("false", Type::False, out);
      case 'n':
        return literal("null", Type::Null, out);
      default:
        if (*p == '-' || (*p >= '0' && *p <= '9')) return parseNumber(out);
        return fail(ParseStatus::Malformed);
    }
  }
};

ParseStatus Document::parse(char* text) {
  values_.clear();
  root_ = Value{};
  Builder builder{*this, text, {}};
  values_.reserve(std::strlen(text) / 16);  // about one value per 16 bytes of libpg_query JSON
  builder.scratch.reserve(64);
  Value root;
  bool ok = builder.parseValue(root, 0);
  if (ok) {
    builder.skipSpace();
    if (*builder.p != '\0') ok = builder.fail(ParseStatus::Malformed);  // trailing text
  }
  if (!ok) {
    values_.clear();
    return builder.status == ParseStatus::Ok ? ParseStatus::Malformed : builder.status;
  }
  // Indices become pointers once the vector no longer grows.
  for (Value& v : values_) {
    if (v.count != 0) v.children = values_.data() + v.first;
  }
  if (root.count != 0) root.children = values_.data() + root.first;
  root_ = root;
  return ParseStatus::Ok;
}

}  // namespace shardpool::router::pgjson
