#include "pooler/admin/admin_command.h"

#include <fmt/format.h>

#include <cctype>
#include <vector>

namespace shardpool::pooler::admin {

namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

// Splits into words: bare words, "double-quoted identifiers" (kept verbatim, quotes removed) and
// 'single-quoted strings'; '=' is a word of its own. False on an unterminated quote.
bool tokenize(std::string_view s, std::vector<std::string>& words, std::vector<bool>& quoted) {
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (isSpace(c)) {
      ++i;
      continue;
    }
    if (c == '=') {
      words.emplace_back("=");
      quoted.push_back(false);
      ++i;
      continue;
    }
    if (c == '"' || c == '\'') {
      std::string word;
      size_t j = i + 1;
      bool closed = false;
      while (j < s.size()) {
        if (s[j] == c) {
          if (j + 1 < s.size() && s[j + 1] == c) {  // doubled quote
            word.push_back(c);
            j += 2;
            continue;
          }
          closed = true;
          break;
        }
        word.push_back(s[j++]);
      }
      if (!closed) return false;
      words.push_back(std::move(word));
      quoted.push_back(true);
      i = j + 1;
      continue;
    }
    size_t j = i;
    while (j < s.size() && !isSpace(s[j]) && s[j] != '=' && s[j] != '"' && s[j] != '\'') ++j;
    words.emplace_back(s.substr(i, j - i));
    quoted.push_back(false);
    i = j;
  }
  return true;
}

struct VerbName {
  std::string_view name;
  Verb verb;
  enum { None, Optional, Required } arg;
};

constexpr VerbName kVerbs[] = {
    {"SHOW", Verb::Show, VerbName::Required},
    {"PAUSE", Verb::Pause, VerbName::Optional},
    {"SUSPEND", Verb::Suspend, VerbName::None},
    {"RESUME", Verb::Resume, VerbName::Optional},
    {"RECONNECT", Verb::Reconnect, VerbName::Optional},
    {"KILL", Verb::Kill, VerbName::Required},
    {"KILL_CLIENT", Verb::KillClient, VerbName::Required},
    {"DISABLE", Verb::Disable, VerbName::Required},
    {"ENABLE", Verb::Enable, VerbName::Required},
    {"WAIT_CLOSE", Verb::WaitClose, VerbName::Optional},
    {"RELOAD", Verb::Reload, VerbName::None},
    {"SHUTDOWN", Verb::Shutdown, VerbName::Optional},
    {"UNFENCE", Verb::Unfence, VerbName::Required},
};

}  // namespace

Parsed parseCommand(std::string_view sql) {
  // One command; trailing semicolons (and whitespace) are fine.
  while (!sql.empty() && (isSpace(sql.back()) || sql.back() == ';')) sql.remove_suffix(1);
  while (!sql.empty() && isSpace(sql.front())) sql.remove_prefix(1);
  if (sql.empty()) return {Command{}, {}};
  std::vector<std::string> words;
  std::vector<bool> quoted;
  if (!tokenize(sql, words, quoted)) return {std::nullopt, "unterminated quoted string"};
  for (size_t i = 0; i < words.size(); ++i) {
    if (!quoted[i] && words[i].find(';') != std::string::npos)
      return {std::nullopt, "only one command per query is supported by the admin console"};
  }
  std::string verb = upper(words[0]);
  if (verb == "SET") {
    // SET key = value, or SET key TO value
    if (words.size() != 4 || (words[2] != "=" && upper(words[2]) != "TO"))
      return {std::nullopt, "syntax: SET key = value"};
    Command c{Verb::Set, words[1], words[3]};
    return {std::move(c), {}};
  }
  for (const VerbName& v : kVerbs) {
    if (verb != v.name) continue;
    if (words.size() > 2)
      return {std::nullopt, fmt::format("{} takes at most one argument", v.name)};
    if (v.arg == VerbName::None && words.size() == 2)
      return {std::nullopt, fmt::format("{} takes no argument", v.name)};
    if (v.arg == VerbName::Required && words.size() == 1)
      return {std::nullopt, fmt::format("{} needs an argument", v.name)};
    Command c{v.verb, {}, {}};
    if (words.size() == 2) {
      bool keepCase = v.verb != Verb::Show && v.verb != Verb::Shutdown;
      c.arg = keepCase ? words[1] : upper(words[1]);
    }
    return {std::move(c), {}};
  }
  return {std::nullopt,
          fmt::format("unknown command \"{}\"; SHOW HELP lists the commands", words[0])};
}

bool changesState(Verb verb) {
  switch (verb) {
    case Verb::Empty:
    case Verb::Show:
      return false;
    case Verb::Pause:
    case Verb::Suspend:
    case Verb::Resume:
    case Verb::Reconnect:
    case Verb::Kill:
    case Verb::KillClient:
    case Verb::Disable:
    case Verb::Enable:
    case Verb::WaitClose:
    case Verb::Reload:
    case Verb::Shutdown:
    case Verb::Set:
    case Verb::Unfence:
      return true;
  }
  return true;
}

}  // namespace shardpool::pooler::admin
