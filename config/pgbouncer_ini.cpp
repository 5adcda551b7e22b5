#include "config/pgbouncer_ini.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "config/text.h"

namespace shardpool::config::pgbouncer {

namespace {

// Nested %include deeper than this is taken for a loop.
constexpr int kMaxIncludeDepth = 8;

bool isBlank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

// Splits `text` into lines without their '\n' (and '\r').
std::vector<std::string_view> splitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (text.substr(0, kBom.size()) == kBom) text.remove_prefix(kBom.size());
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

class IniReader {
 public:
  IniReader(const FileReader& readFile, std::vector<ImportNote>& notes)
      : readFile_(readFile), notes_(notes) {}

  void read(std::string_view text, const std::string& file, int depth) {
    uint32_t lineNo = 0;
    for (std::string_view raw : splitLines(text)) {
      ++lineNo;
      std::string_view line = trim(raw);
      if (line.empty() || line.front() == ';' || line.front() == '#') continue;
      if (!isValidUtf8(line)) {
        note(file, lineNo, "", "not valid UTF-8; line ignored");
        continue;
      }
      if (line.front() == '%') {
        directive(line, file, lineNo, depth);
      } else if (line.front() == '[') {
        header(line, file, lineNo);
      } else {
        entry(line, file, lineNo);
      }
    }
  }

  IniFile take() { return std::move(out_); }

 private:
  void note(const std::string& file, uint32_t line, std::string key, std::string message) {
    notes_.push_back({file, line, std::move(key), std::move(message)});
  }

  void directive(std::string_view line, const std::string& file, uint32_t lineNo, int depth) {
    std::string_view word = line.substr(0, std::min(line.find_first_of(" \t"), line.size()));
    if (lowerCase(word) != "%include") {
      note(file, lineNo, "", fmt::format("unknown directive {}; ignored", quote(word)));
      return;
    }
    std::string_view target = trim(line.substr(word.size()));
    if (target.empty()) {
      note(file, lineNo, "%include", "no file named; ignored");
      return;
    }
    if (!readFile_) {
      note(file, lineNo, "%include",
           fmt::format("{} was not read: import it on its own, or paste its settings into this "
                       "file and import again",
                       quote(target)));
      return;
    }
    if (depth >= kMaxIncludeDepth) {
      note(file, lineNo, "%include",
           fmt::format("{} is nested more than {} levels deep (an include loop?); not read",
                       quote(target), kMaxIncludeDepth));
      return;
    }
    std::string path = resolvePath(file, target);
    std::string error;
    std::optional<std::string> text = readFile_(path, error);
    if (!text) {
      note(file, lineNo, "%include",
           fmt::format("cannot read {}: {}; its settings are missing", quote(path), error));
      return;
    }
    read(*text, path, depth + 1);
  }

  void header(std::string_view line, const std::string& file, uint32_t lineNo) {
    if (line.size() < 2 || line.back() != ']') {
      note(file, lineNo, "", "malformed section header (expected [name]); ignored");
      return;
    }
    std::string name = lowerCase(trim(line.substr(1, line.size() - 2)));
    if (name.empty()) {
      note(file, lineNo, "", "empty section name; ignored");
      return;
    }
    section_ = name;
    bool seen = std::any_of(out_.sections.begin(), out_.sections.end(),
                            [&](const IniSection& s) { return s.name == name; });
    if (!seen) out_.sections.push_back({name, file, lineNo});
  }

  void entry(std::string_view line, const std::string& file, uint32_t lineNo) {
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      note(file, lineNo, "", "expected key = value; line ignored");
      return;
    }
    std::string_view key = trim(line.substr(0, eq));
    if (key.empty()) {
      note(file, lineNo, "", "no key before '='; line ignored");
      return;
    }
    if (section_.empty()) {
      note(file, lineNo, std::string(key), "outside any [section]; ignored");
      return;
    }
    std::string name = section_ == "pgbouncer" ? lowerCase(key) : std::string(key);
    out_.entries.push_back(
        {file, lineNo, section_, std::move(name), std::string(trim(line.substr(eq + 1)))});
  }

  const FileReader& readFile_;
  std::vector<ImportNote>& notes_;
  std::string section_;  // current section; an included file continues it
  IniFile out_;
};

// Reads a single-quoted value starting after the opening quote at `pos`; nullopt if unterminated.
std::optional<std::string> quotedValue(std::string_view text, size_t& pos) {
  std::string value;
  while (pos < text.size()) {
    char c = text[pos];
    if (c == '\\' && pos + 1 < text.size()) {
      value += text[pos + 1];
      pos += 2;
    } else if (c == '\'') {
      if (pos + 1 < text.size() && text[pos + 1] == '\'') {
        value += '\'';
        pos += 2;
      } else {
        ++pos;
        return value;
      }
    } else {
      value += c;
      ++pos;
    }
  }
  return std::nullopt;
}

// A double-quoted userlist field starting at `pos` (at the opening quote); "" is a quote.
std::optional<std::string> userlistField(std::string_view line, size_t& pos) {
  if (pos >= line.size() || line[pos] != '"') return std::nullopt;
  std::string value;
  for (++pos; pos < line.size(); ++pos) {
    if (line[pos] != '"') {
      value += line[pos];
    } else if (pos + 1 < line.size() && line[pos + 1] == '"') {
      value += '"';
      ++pos;
    } else {
      ++pos;
      return value;
    }
  }
  return std::nullopt;
}

}  // namespace

std::string lowerCase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool isValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t extra = 0;
    unsigned char low = 0x80;  // allowed range of the second byte (no overlongs, no surrogates)
    unsigned char high = 0xbf;
    if (c < 0x80) {
      extra = 0;
    } else if (c >= 0xc2 && c <= 0xdf) {
      extra = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      extra = 2;
      if (c == 0xe0) low = 0xa0;
      if (c == 0xed) high = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      extra = 3;
      if (c == 0xf0) low = 0x90;
      if (c == 0xf4) high = 0x8f;
    } else {
      return false;
    }
    if (text.size() - i <= extra) return false;
    for (size_t k = 1; k <= extra; ++k) {
      auto b = static_cast<unsigned char>(text[i + k]);
      if (k == 1 ? (b < low || b > high) : (b & 0xc0) != 0x80) return false;
    }
    i += extra + 1;
  }
  return true;
}

std::string resolvePath(std::string_view namingFile, std::string_view target) {
  std::filesystem::path path(target);
  if (path.is_absolute()) return path.string();
  return (std::filesystem::path(namingFile).parent_path() / path).lexically_normal().string();
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && isBlank(text.front())) text.remove_prefix(1);
  while (!text.empty() && isBlank(text.back())) text.remove_suffix(1);
  return text;
}

IniFile readIni(std::string_view text, std::string_view name, const FileReader& readFile,
                std::vector<ImportNote>& notes) {
  IniReader reader(readFile, notes);
  reader.read(text, std::string(name), 0);
  return reader.take();
}

ConnParams parseConnParams(std::string_view text) {
  ConnParams out;
  size_t pos = 0;
  auto skipBlanks = [&] {
    while (pos < text.size() && isBlank(text[pos])) ++pos;
  };
  while (true) {
    skipBlanks();
    if (pos >= text.size()) break;
    size_t start = pos;
    while (pos < text.size() && text[pos] != '=' && !isBlank(text[pos])) ++pos;
    std::string key = lowerCase(text.substr(start, pos - start));
    skipBlanks();
    if (key.empty()) {
      out.error = "a parameter has no name before '='";
      return out;
    }
    if (pos >= text.size() || text[pos] != '=') {
      out.error = fmt::format("expected {}=value", key);
      return out;
    }
    ++pos;
    skipBlanks();
    std::string value;
    if (pos < text.size() && text[pos] == '\'') {
      ++pos;
      auto quoted = quotedValue(text, pos);
      if (!quoted) {
        out.error = fmt::format("the quoted value of {} has no closing quote", key);
        return out;
      }
      value = std::move(*quoted);
    } else {
      start = pos;
      while (pos < text.size() && !isBlank(text[pos])) ++pos;
      value = std::string(text.substr(start, pos - start));
    }
    out.params.push_back({std::move(key), std::move(value)});
  }
  return out;
}

std::vector<UserlistEntry> readUserlist(std::string_view text, std::string_view name,
                                        std::vector<ImportNote>& notes) {
  std::vector<UserlistEntry> out;
  uint32_t lineNo = 0;
  for (std::string_view raw : splitLines(text)) {
    ++lineNo;
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == ';' || line.front() == '#') continue;
    if (!isValidUtf8(line)) {
      notes.push_back({std::string(name), lineNo, "", "not valid UTF-8; line ignored"});
      continue;
    }
    size_t pos = 0;
    std::optional<std::string> user = userlistField(line, pos);
    while (pos < line.size() && isBlank(line[pos])) ++pos;
    std::optional<std::string> password = user ? userlistField(line, pos) : std::nullopt;
    // Never quote the line: it holds a password.
    if (!user || !password) {
      notes.push_back({std::string(name), lineNo, "",
                       "expected \"user\" \"password\" (each in double quotes); line ignored"});
      continue;
    }
    if (user->empty()) {
      notes.push_back({std::string(name), lineNo, "", "empty user name; line ignored"});
      continue;
    }
    out.push_back({lineNo, std::move(*user), std::move(*password)});
  }
  return out;
}

}  // namespace shardpool::config::pgbouncer
