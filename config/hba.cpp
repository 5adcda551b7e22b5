#include "config/hba.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/config.h"

namespace shardpool::config {

namespace {

// One word of a field: quoted words are never keywords.
struct Token {
  std::string text;
  bool quoted = false;
  bool is(std::string_view keyword) const { return !quoted && text == keyword; }
};
using Field = std::vector<Token>;  // a comma list

struct Record {
  uint32_t line = 0;
  std::vector<Field> fields;
};

// Splits the text into records: `#` starts a comment outside quotes, a backslash at the end of a
// line continues the record on the next one, fields are separated by blanks and hold comma
// lists of (optionally "quoted") words.
class Tokenizer {
 public:
  Tokenizer(std::string_view text, const std::string& file, std::vector<HbaError>& errors)
      : text_(text), file_(file), errors_(errors) {}

  std::vector<Record> records() {
    std::vector<Record> out;
    while (pos_ < text_.size()) {
      Record r;
      r.line = line_;
      readRecord(r);
      if (!r.fields.empty()) out.push_back(std::move(r));
    }
    return out;
  }

 private:
  bool atEnd() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }
  static bool blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

  // A backslash that ends its line (blanks after it allowed): skipped with the newline.
  bool continuation() {
    if (atEnd() || peek() != '\\') return false;
    size_t p = pos_ + 1;
    while (p < text_.size() && blank(text_[p])) ++p;
    if (p < text_.size() && text_[p] != '\n') return false;
    pos_ = p + (p < text_.size() ? 1 : 0);
    ++line_;
    return true;
  }

  void skipBlanks() {
    while (!atEnd() && (blank(peek()) || continuation())) {
      if (!atEnd() && blank(peek())) ++pos_;
    }
  }

  void skipComment() {
    while (!atEnd() && peek() != '\n') ++pos_;
  }

  void readRecord(Record& r) {
    for (;;) {
      skipBlanks();
      if (atEnd()) return;
      if (peek() == '\n') {
        ++pos_;
        ++line_;
        return;
      }
      if (peek() == '#') {
        skipComment();
        continue;
      }
      r.fields.push_back(readField());
    }
  }

  Field readField() {
    Field f;
    for (;;) {
      f.push_back(readToken());
      if (atEnd() || peek() != ',') return f;
      ++pos_;
      skipBlanks();  // "a, b" is one list
      if (atEnd() || peek() == '\n' || peek() == '#') {
        error("a list ends with a comma");
        return f;
      }
    }
  }

  Token readToken() {
    Token t;
    bool inQuotes = false;
    while (!atEnd()) {
      char c = peek();
      if (c == '\n') break;
      if (inQuotes) {
        ++pos_;
        if (c == '"') {
          inQuotes = false;
        } else {
          t.text += c;
        }
        continue;
      }
      if (blank(c) || c == ',' || c == '#') break;
      if (c == '\\' && continuation()) break;
      ++pos_;
      if (c == '"') {
        inQuotes = true;
        t.quoted = true;
      } else {
        t.text += c;
      }
    }
    if (inQuotes) error("a quoted word is not closed");
    return t;
  }

  void error(std::string message) { errors_.push_back({file_, line_, std::move(message)}); }

  std::string_view text_;
  const std::string& file_;
  std::vector<HbaError>& errors_;
  size_t pos_ = 0;
  uint32_t line_ = 1;
};

struct MethodName {
  std::string_view name;
  AuthType method;
};
constexpr MethodName kMethods[] = {
    {"trust", AuthType::Trust},   {"reject", AuthType::Reject},
    {"md5", AuthType::Md5},       {"password", AuthType::Password},
    {"scram-sha-256", AuthType::ScramSha256}, {"cert", AuthType::Cert},
    {"peer", AuthType::Peer},
};

class Parser {
 public:
  Parser(const std::string& path, const HbaIncludeReader& readInclude,
         std::vector<HbaError>& errors)
      : path_(path), readInclude_(readInclude), errors_(errors) {}

  HbaRules parse(std::string_view text) {
    HbaRules out;
    out.path = path_;
    for (Record& r : Tokenizer(text, path_, errors_).records()) {
      line_ = r.line;
      if (auto rule = parseRecord(r)) out.rules.push_back(std::move(*rule));
    }
    return out;
  }

 private:
  std::optional<HbaRule> parseRecord(const Record& r) {
    HbaRule rule;
    rule.line = r.line;
    const std::vector<Field>& f = r.fields;
    const Field& typeField = f[0];
    if (typeField.size() != 1 || typeField[0].quoted) return fail("a connection type is one word");
    const std::string& type = typeField[0].text;
    if (type == "local") {
      rule.type = HbaConnType::Local;
    } else if (type == "host") {
      rule.type = HbaConnType::Host;
    } else if (type == "hostssl") {
      rule.type = HbaConnType::HostSsl;
    } else if (type == "hostnossl") {
      rule.type = HbaConnType::HostNoSsl;
    } else if (type == "hostgssenc" || type == "hostnogssenc") {
      return fail(fmt::format("connection type \"{}\" is not supported (no GSSAPI)", type));
    } else {
      return fail(fmt::format(
          "unknown connection type \"{}\"; expected local, host, hostssl or hostnossl", type));
    }
    size_t next = 1;
    auto field = [&](std::string_view what) -> const Field* {
      if (next < f.size()) return &f[next++];
      fail(fmt::format("the rule ends before its {}", what));
      return nullptr;
    };
    const Field* db = field("database");
    const Field* user = db ? field("user") : nullptr;
    if (!user) return std::nullopt;
    if (!names(*db, true, rule.databases) || !names(*user, false, rule.users)) return std::nullopt;
    if (rule.type != HbaConnType::Local) {
      const Field* address = field("address");
      if (!address || !parseAddress(*address, f, next, rule)) return std::nullopt;
    }
    const Field* method = field("authentication method");
    if (!method) return std::nullopt;
    if (!parseMethod(*method, rule)) return std::nullopt;
    if (next < f.size()) {
      const Token& option = f[next][0];
      return fail(fmt::format(
          "authentication option \"{}\" is not supported; shardpool's hba rules take none",
          option.text));
    }
    return rule;
  }

  bool names(const Field& field, bool databases, HbaNames& out) {
    for (const Token& t : field) {
      if (t.is("all")) {
        out.all = true;
      } else if (databases && t.is("sameuser")) {
        out.sameUser = true;
      } else if (databases && t.is("replication")) {
        out.replication = true;
      } else if (databases && (t.is("samerole") || t.is("samegroup"))) {
        fail(fmt::format("\"{}\" is not supported (no roles here)", t.text));
        return false;
      } else if (!databases && !t.quoted && !t.text.empty() && t.text[0] == '+') {
        fail(fmt::format("group membership (\"{}\") is not supported: list the users", t.text));
        return false;
      } else if (!t.quoted && !t.text.empty() && t.text[0] == '@') {
        if (!include(t.text.substr(1), out.names)) return false;
      } else if (t.text.empty()) {
        fail(databases ? "an empty database name" : "an empty user name");
        return false;
      } else {
        out.names.push_back(t.text);
      }
    }
    return true;
  }

  // The names of an @file: words separated by blanks, commas or lines; `#` comments.
  bool include(const std::string& name, std::vector<std::string>& out) {
    if (name.empty()) {
      fail("\"@\" needs a file name");
      return false;
    }
    std::filesystem::path p(name);
    if (p.is_relative()) p = std::filesystem::path(path_).parent_path() / p;
    std::string error;
    std::optional<std::string> text = readInclude_ ? readInclude_(p.string(), error) : std::nullopt;
    if (!text) {
      fail(fmt::format("cannot read \"{}\": {}", p.string(), error));
      return false;
    }
    std::vector<HbaError> inner;
    for (const Record& r : Tokenizer(*text, p.string(), inner).records())
      for (const Field& f : r.fields)
        for (const Token& t : f)
          if (!t.text.empty()) out.push_back(t.text);
    errors_.insert(errors_.end(), inner.begin(), inner.end());
    return inner.empty();
  }

  bool parseAddress(const Field& field, const std::vector<Field>& f, size_t& next,
                    HbaRule& rule) {
    if (field.size() != 1) return fail("an address is one word, not a list"), false;
    const Token& t = field[0];
    if (t.is("all")) return true;
    if (t.is("samehost") || t.is("samenet"))
      return fail(fmt::format("\"{}\" is not supported: write the network", t.text)), false;
    if (t.text.find('/') != std::string::npos) {
      rule.network = parseNetwork(t.text);
      if (!rule.network)
        return fail(fmt::format("\"{}\" is not an address with a prefix length", t.text)), false;
      return true;
    }
    std::optional<Network> host = parseNetwork(t.text);
    if (!host) {
      return fail(fmt::format("\"{}\" is not an IP address (host names are not supported)",
                              t.text)),
             false;
    }
    // An address without /prefix takes its netmask from the next field.
    if (next >= f.size() || f[next].size() != 1)
      return fail("an address without /prefix needs a netmask field"), false;
    const std::string& maskText = f[next++][0].text;
    std::optional<unsigned> bits = maskBits(maskText, host->v6);
    if (!bits) return fail(fmt::format("\"{}\" is not a netmask", maskText)), false;
    rule.network = parseNetwork(fmt::format("{}/{}", t.text, *bits));
    return true;
  }

  // The prefix length of a netmask such as 255.255.0.0; nullopt when it is not contiguous.
  static std::optional<unsigned> maskBits(const std::string& text, bool v6) {
    uint8_t bytes[16] = {};
    if (inet_pton(v6 ? AF_INET6 : AF_INET, text.c_str(), bytes) != 1) return std::nullopt;
    unsigned bits = 0;
    bool ended = false;
    for (size_t i = 0; i < (v6 ? 16u : 4u); ++i) {
      uint8_t b = bytes[i];
      if (ended && b != 0) return std::nullopt;
      auto ones = static_cast<unsigned>(std::countl_one(b));
      if (static_cast<uint8_t>(b << ones) != 0) return std::nullopt;
      bits += ones;
      if (ones < 8) ended = true;
    }
    return bits;
  }

  bool parseMethod(const Field& field, HbaRule& rule) {
    if (field.size() != 1) return fail("an authentication method is one word"), false;
    const std::string& name = field[0].text;
    auto it = std::find_if(std::begin(kMethods), std::end(kMethods),
                           [&](const MethodName& m) { return m.name == name; });
    if (it == std::end(kMethods)) {
      return fail(fmt::format("authentication method \"{}\" is not supported; use trust, reject, "
                              "md5, password, scram-sha-256, cert or peer",
                              name)),
             false;
    }
    rule.method = it->method;
    if (rule.method == AuthType::Peer && rule.type != HbaConnType::Local)
      return fail("peer authentication is only for local (unix-socket) connections"), false;
    if (rule.method == AuthType::Cert && rule.type != HbaConnType::HostSsl)
      return fail("cert authentication is only for hostssl connections"), false;
    return true;
  }

  std::nullopt_t fail(std::string message) {
    errors_.push_back({path_, line_, std::move(message)});
    return std::nullopt;
  }

  const std::string& path_;
  const HbaIncludeReader& readInclude_;
  std::vector<HbaError>& errors_;
  uint32_t line_ = 0;
};

bool namesMatch(const HbaNames& n, std::string_view name, std::string_view user,
                bool database) {
  if (n.all) return true;
  if (database && n.sameUser && name == user) return true;
  return std::find(n.names.begin(), n.names.end(), name) != n.names.end();
}

bool typeMatches(HbaConnType type, const HbaClient& c) {
  switch (type) {
    case HbaConnType::Local:
      return c.unixSocket;
    case HbaConnType::Host:
      return !c.unixSocket;
    case HbaConnType::HostSsl:
      return !c.unixSocket && c.tls;
    case HbaConnType::HostNoSsl:
      return !c.unixSocket && !c.tls;
  }
  return false;
}

std::optional<std::string> readWholeFile(const std::string& path, std::string& error) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    error = "it is a directory";
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

const HbaRule* HbaRules::match(const HbaClient& c) const {
  for (const HbaRule& r : rules) {
    if (!typeMatches(r.type, c)) continue;
    if (!namesMatch(r.databases, c.database, c.user, true)) continue;
    if (!namesMatch(r.users, c.user, c.user, false)) continue;
    if (r.network && (c.address == nullptr || !r.network->contains(c.v6, c.address))) continue;
    return &r;
  }
  return nullptr;
}

HbaRules parseHba(std::string_view text, const std::string& path,
                  const HbaIncludeReader& readInclude, std::vector<HbaError>& errors) {
  return Parser(path, readInclude, errors).parse(text);
}

HbaRules loadHbaFile(const std::string& path, std::vector<HbaError>& errors) {
  std::string error;
  std::optional<std::string> text = readWholeFile(path, error);
  if (!text) {
    errors.push_back({path, 0, fmt::format("cannot read the hba file: {}", error)});
    return HbaRules{path, {}};
  }
  return parseHba(*text, path, readWholeFile, errors);
}

std::string_view toString(HbaConnType type) {
  switch (type) {
    case HbaConnType::Local:
      return "local";
    case HbaConnType::Host:
      return "host";
    case HbaConnType::HostSsl:
      return "hostssl";
    case HbaConnType::HostNoSsl:
      return "hostnossl";
  }
  return "unknown";
}

}  // namespace shardpool::config
