// Extended-query frontend messages, the replies the pooler synthesizes for them, server-side
// statement names, and DEALLOCATE ALL / DISCARD ALL detection.
#include "pooler/protocol/pg_extended.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace shardpool::protocol::pg {

namespace {

// The Writer has no public "fail" call; cstring() refuses a string with an embedded NUL by
// setting the sticky failure flag without writing anything, in any state.
void markFailed(Writer& w) {
  w.cstring(std::string_view("\0", 1));
}

bool validTargetKind(char kind) {
  return kind == 'S' || kind == 'P';
}

std::optional<TargetMsg> decodeTarget(Bytes body) {
  Reader r(body);
  TargetMsg out;
  out.kind = char(r.u8());
  out.name = r.cstring();
  if (!r.ok() || r.remaining() != 0 || !validTargetKind(out.kind)) return std::nullopt;
  return out;
}

void putTarget(Writer& w, char type, char kind, std::string_view name) {
  if (!validTargetKind(kind)) {
    markFailed(w);
    return;
  }
  w.start(type);
  w.u8(uint8_t(kind));
  w.cstring(name);
  w.finish();
}

void putEmpty(Writer& w, char type) {
  w.start(type);
  w.finish();
}

// Unsigned 16-bit count, as the server reads it.
size_t count16(Reader& r) {
  return size_t(uint16_t(r.i16()));
}

// ---- SHA-256 (FIPS 180-4), just enough for statement names ----

class Sha256 {
 public:
  void update(const uint8_t* p, size_t n) {
    total_ += n;
    while (n > 0) {
      size_t take = std::min(n, block_.size() - used_);
      std::memcpy(block_.data() + used_, p, take);
      used_ += take;
      p += take;
      n -= take;
      if (used_ == block_.size()) {
        compress();
        used_ = 0;
      }
    }
  }

  void updateU32(uint32_t v) {
    const uint8_t b[4] = {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)};
    update(b, 4);
  }

  void updateU64(uint64_t v) {
    updateU32(uint32_t(v >> 32));
    updateU32(uint32_t(v));
  }

  std::array<uint8_t, 32> finish() {
    uint64_t bits = total_ * 8;
    const uint8_t pad = 0x80;
    update(&pad, 1);
    const uint8_t zero = 0;
    while (used_ != 56) update(&zero, 1);
    updateU64(bits);
    std::array<uint8_t, 32> out{};
    for (size_t i = 0; i < 8; ++i) {
      out[4 * i] = uint8_t(h_[i] >> 24);
      out[4 * i + 1] = uint8_t(h_[i] >> 16);
      out[4 * i + 2] = uint8_t(h_[i] >> 8);
      out[4 * i + 3] = uint8_t(h_[i]);
    }
    return out;
  }

 private:
  static uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

  void compress() {
    static constexpr uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2};
    uint32_t w[64];
    for (size_t i = 0; i < 16; ++i) {
      const uint8_t* b = block_.data() + 4 * i;
      w[i] = (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | b[3];
    }
    for (size_t i = 16; i < 64; ++i) {
      uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6], h = h_[7];
    for (size_t i = 0; i < 64; ++i) {
      uint32_t t1 =
          h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
      uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h_[0] += a;
    h_[1] += b;
    h_[2] += c;
    h_[3] += d;
    h_[4] += e;
    h_[5] += f;
    h_[6] += g;
    h_[7] += h;
  }

  std::array<uint32_t, 8> h_ = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::array<uint8_t, 64> block_{};
  size_t used_ = 0;
  uint64_t total_ = 0;
};

// ---- SQL keyword scanning ----

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool isIdentStart(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || u >= 0x80;
}

bool isIdentChar(char c) {
  return isIdentStart(c) || (c >= '0' && c <= '9') || c == '$';
}

// ASCII case-insensitive comparison with a lower-case keyword.
bool isKeyword(std::string_view word, std::string_view keyword) {
  if (word.size() != keyword.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    char c = word[i];
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    if (c != keyword[i]) return false;
  }
  return true;
}

// Walks SQL text the way the server's lexer does for the few tokens needed here.
class SqlScanner {
 public:
  explicit SqlScanner(std::string_view s) : s_(s) {}

  // Skips whitespace, `--` line comments and (nested) block comments. False on an unterminated
  // block comment, which the server rejects as a syntax error.
  bool skipSpace() {
    while (pos_ < s_.size()) {
      if (isSpace(s_[pos_])) {
        ++pos_;
      } else if (startsWith("--")) {
        while (pos_ < s_.size() && s_[pos_] != '\n' && s_[pos_] != '\r') ++pos_;
      } else if (startsWith("/*")) {
        if (!skipBlockComment()) return false;
      } else {
        break;
      }
    }
    return true;
  }

  // Skips whitespace, comments and empty statements.
  bool skipSpaceAndSemicolons() {
    for (;;) {
      if (!skipSpace()) return false;
      if (pos_ < s_.size() && s_[pos_] == ';') {
        ++pos_;
        continue;
      }
      return true;
    }
  }

  // Consumes the next unquoted word (keyword or identifier) after any whitespace and comments.
  // Empty when the next token is something else (a quoted identifier, a string, punctuation).
  std::string_view word() {
    if (!skipSpace() || pos_ >= s_.size() || !isIdentStart(s_[pos_])) return {};
    size_t start = pos_;
    while (pos_ < s_.size() && isIdentChar(s_[pos_])) ++pos_;
    return s_.substr(start, pos_ - start);
  }

  // Consumes a double-quoted identifier ("" inside stands for one quote). Nullopt when the next
  // token is not one, or it is not terminated.
  std::optional<std::string> quotedIdentifier() {
    if (!skipSpace() || pos_ >= s_.size() || s_[pos_] != '"') return std::nullopt;
    std::string out;
    for (size_t i = pos_ + 1; i < s_.size(); ++i) {
      if (s_[i] != '"') {
        out.push_back(s_[i]);
      } else if (i + 1 < s_.size() && s_[i + 1] == '"') {
        out.push_back('"');
        ++i;
      } else {
        pos_ = i + 1;
        return out;
      }
    }
    return std::nullopt;
  }

  bool atEnd() const { return pos_ == s_.size(); }

 private:
  bool startsWith(std::string_view p) const { return s_.substr(pos_).starts_with(p); }

  bool skipBlockComment() {
    size_t depth = 0;
    while (pos_ < s_.size()) {
      if (startsWith("/*")) {
        ++depth;
        pos_ += 2;
      } else if (startsWith("*/")) {
        pos_ += 2;
        if (--depth == 0) return true;
      } else {
        ++pos_;
      }
    }
    return false;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

// ---- Parse ----

std::optional<ParseMsg> decodeParse(Bytes body) {
  Reader r(body);
  ParseMsg out;
  out.name = r.cstring();
  out.query = r.cstring();
  size_t n = count16(r);
  if (!r.ok() || r.remaining() != n * 4) return std::nullopt;
  out.paramTypes.reserve(n);
  for (size_t i = 0; i < n; ++i) out.paramTypes.push_back(uint32_t(r.i32()));
  return out;
}

void putParse(Writer& w, std::string_view name, std::string_view query,
              const std::vector<uint32_t>& paramTypes) {
  if (paramTypes.size() > kMaxCount16) {
    markFailed(w);
    return;
  }
  w.start('P');
  w.cstring(name);
  w.cstring(query);
  w.i16(int16_t(uint16_t(paramTypes.size())));
  for (uint32_t oid : paramTypes) w.i32(int32_t(oid));
  w.finish();
}

// ---- Bind ----

std::optional<BindMsg> decodeBind(Bytes body) {
  Reader r(body);
  BindMsg out;
  out.portal = r.cstring();
  out.statement = r.cstring();
  if (!r.ok()) return std::nullopt;
  out.rest = r.rest();

  Reader v(out.rest);
  v.bytes(count16(v) * 2);  // parameter format codes
  size_t params = count16(v);
  for (size_t i = 0; i < params && v.ok(); ++i) {
    int32_t len = v.i32();
    if (len == -1) continue;  // NULL
    if (len < 0) return std::nullopt;
    v.bytes(size_t(len));
  }
  v.bytes(count16(v) * 2);  // result format codes
  if (!v.ok() || v.remaining() != 0) return std::nullopt;
  return out;
}

void putBindRenamed(Writer& w, const BindMsg& orig, std::string_view newStatement) {
  w.start('B');
  w.cstring(orig.portal);
  w.cstring(newStatement);
  w.bytes(orig.rest);
  w.finish();
}

std::optional<BindValues> decodeBindValues(Bytes rest) {
  Reader r(rest);
  BindValues out;
  size_t formats = count16(r);
  for (size_t i = 0; i < formats && r.ok(); ++i) out.formats.push_back(r.i16());
  size_t params = count16(r);
  for (size_t i = 0; i < params && r.ok(); ++i) {
    int32_t len = r.i32();
    if (len == -1) {
      out.values.emplace_back(std::nullopt);
      continue;
    }
    if (len < 0) return std::nullopt;
    Bytes b = r.bytes(size_t(len));
    out.values.emplace_back(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
  }
  if (!r.ok()) return std::nullopt;
  return out;
}

void putBindEmpty(Writer& w, std::string_view portal, std::string_view statement) {
  w.start('B');
  w.cstring(portal);
  w.cstring(statement);
  w.i16(0);  // parameter formats
  w.i16(0);  // parameters
  w.i16(0);  // result formats: all text
  w.finish();
}

void putExecute(Writer& w, std::string_view portal) {
  w.start('E');
  w.cstring(portal);
  w.i32(0);
  w.finish();
}

// ---- Describe / Close / Sync / Flush ----

std::optional<TargetMsg> decodeDescribe(Bytes body) {
  return decodeTarget(body);
}

std::optional<TargetMsg> decodeClose(Bytes body) {
  return decodeTarget(body);
}

void putDescribe(Writer& w, char kind, std::string_view name) {
  putTarget(w, 'D', kind, name);
}

void putClose(Writer& w, char kind, std::string_view name) {
  putTarget(w, 'C', kind, name);
}

void putSync(Writer& w) {
  putEmpty(w, 'S');
}

void putFlush(Writer& w) {
  putEmpty(w, 'H');
}

void putParseComplete(Writer& w) {
  putEmpty(w, '1');
}

void putCloseComplete(Writer& w) {
  putEmpty(w, '3');
}

void putBindComplete(Writer& w) { putEmpty(w, '2'); }

void putNoData(Writer& w) { putEmpty(w, 'n'); }

// ---- Server statement names ----

// Hashes the query's length, the query, the type count and each type, all big-endian, so no two
// distinct (query, types) pairs share an encoding.
std::string serverStatementName(std::string_view query, const std::vector<uint32_t>& paramTypes) {
  Sha256 sha;
  sha.updateU64(uint64_t(query.size()));
  sha.update(reinterpret_cast<const uint8_t*>(query.data()), query.size());
  sha.updateU64(uint64_t(paramTypes.size()));
  for (uint32_t oid : paramTypes) sha.updateU32(oid);
  std::array<uint8_t, 32> digest = sha.finish();

  static constexpr char kHex[] = "0123456789abcdef";
  std::string name = "sp_";
  for (size_t i = 0; i < 8; ++i) {
    name.push_back(kHex[digest[i] >> 4]);
    name.push_back(kHex[digest[i] & 0xf]);
  }
  return name;
}

// ---- DEALLOCATE ALL / DISCARD ALL ----

bool isDeallocateAllOrDiscardAll(std::string_view sql) {
  SqlScanner s(sql);
  if (!s.skipSpaceAndSemicolons()) return false;
  std::string_view verb = s.word();
  if (isKeyword(verb, "discard")) {
    if (!isKeyword(s.word(), "all")) return false;
  } else if (isKeyword(verb, "deallocate")) {
    std::string_view next = s.word();
    if (isKeyword(next, "prepare")) next = s.word();
    if (!isKeyword(next, "all")) return false;
  } else {
    return false;
  }
  return s.skipSpaceAndSemicolons() && s.atEnd();
}

std::optional<std::string> deallocateTarget(std::string_view sql) {
  SqlScanner s(sql);
  if (!s.skipSpaceAndSemicolons() || !isKeyword(s.word(), "deallocate")) return std::nullopt;
  std::optional<std::string> name = s.quotedIdentifier();
  if (!name) {
    std::string_view next = s.word();
    if (isKeyword(next, "prepare")) {
      name = s.quotedIdentifier();
      if (!name) next = s.word();
    }
    if (!name) {
      if (next.empty() || isKeyword(next, "all")) return std::nullopt;
      // An unquoted identifier is folded to lower case, as PostgreSQL folds it.
      name.emplace(next);
      for (char& c : *name)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
  }
  if (name->empty() || !s.skipSpaceAndSemicolons() || !s.atEnd()) return std::nullopt;
  return name;
}

}  // namespace shardpool::protocol::pg
