#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "config/duration.h"
#include "config/pgbouncer_map.h"
#include "config/text.h"

namespace shardpool::config::pgbouncer {

namespace {

constexpr std::string_view kPoolModes[] = {"session", "transaction", "statement"};
constexpr PoolMode kPoolModeValues[] = {PoolMode::Session, PoolMode::Transaction,
                                        PoolMode::Statement};
constexpr std::string_view kTlsModes[] = {"disable", "allow",     "prefer",
                                          "require", "verify-ca", "verify-full"};
constexpr TlsMode kTlsModeValues[] = {TlsMode::Disable, TlsMode::Allow,    TlsMode::Prefer,
                                      TlsMode::Require, TlsMode::VerifyCa, TlsMode::VerifyFull};

std::string emptyOrQuoted(std::string_view text) {
  return text.empty() ? std::string("an empty value") : quote(text);
}

}  // namespace

void Importer::note(const IniEntry& at, std::string key, std::string message) {
  note(at.file, at.line, std::move(key), std::move(message));
}

void Importer::note(const std::string& file, uint32_t line, std::string key, std::string message) {
  notes.push_back({file, line, std::move(key), std::move(message)});
}

std::optional<int64_t> Importer::integer(const IniEntry& at, const std::string& key,
                                         std::string_view text, int64_t min, int64_t max) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  bool parsed = !text.empty() && ec == std::errc() && end == text.data() + text.size();
  if (parsed && n >= min && n <= max) return n;
  std::string expected = max >= int64_t{1} << 31
                             ? fmt::format("an integer of at least {}", min)
                             : fmt::format("an integer between {} and {}", min, max);
  note(at, key, fmt::format("expected {}, got {}; ignored", expected, emptyOrQuoted(text)));
  return std::nullopt;
}

std::optional<PoolMode> Importer::poolMode(const IniEntry& at, const std::string& key,
                                           std::string_view text) {
  std::string lower = lowerCase(text);
  for (size_t i = 0; i < std::size(kPoolModes); ++i) {
    if (lower == kPoolModes[i]) return kPoolModeValues[i];
  }
  note(at, key,
       fmt::format("expected session, transaction or statement, got {}; ignored",
                   emptyOrQuoted(text)));
  return std::nullopt;
}

std::optional<TlsMode> Importer::tlsMode(const IniEntry& at, const std::string& key,
                                         std::string_view text) {
  std::string lower = lowerCase(text);
  for (size_t i = 0; i < std::size(kTlsModes); ++i) {
    if (lower == kTlsModes[i]) return kTlsModeValues[i];
  }
  note(at, key,
       fmt::format("expected disable, allow, prefer, require, verify-ca or verify-full, got {}; "
                   "ignored",
                   emptyOrQuoted(text)));
  return std::nullopt;
}

bool Importer::seconds(const IniEntry& at, const std::string& key, std::string_view text,
                       toml::table& table, std::string_view target, bool zeroAllowed) {
  std::optional<double> value = parseNumber(text);
  if (!value || *value < 0) {
    note(at, key,
         fmt::format("expected a number of seconds, got {}; ignored", emptyOrQuoted(text)));
    return false;
  }
  if (*value == 0 && !zeroAllowed) {
    note(at, key, "0 is not allowed in shardpool; left at shardpool's default");
    return false;
  }
  double millis = *value * 1000.0;
  if (millis > static_cast<double>(kMaxDuration.count())) {
    note(at, key,
         fmt::format("{} s is longer than 365 days, the most shardpool accepts; ignored", text));
    return false;
  }
  auto rounded = static_cast<int64_t>(std::llround(millis));
  if (rounded == 0 && millis > 0) rounded = 1;
  if (std::fabs(millis - static_cast<double>(rounded)) > 1e-6) {
    note(at, key,
         fmt::format("{} s rounded to {} ms (shardpool counts whole milliseconds)", text, rounded));
  }
  if (rounded % 1000 == 0) {
    table.insert_or_assign(target, rounded / 1000);
  } else {
    table.insert_or_assign(target, fmt::format("{}ms", rounded));
  }
  return true;
}

std::optional<double> parseNumber(std::string_view text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::string escapeEnv(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') out += '$';
    out += text[i];
  }
  return out;
}

std::vector<std::string> splitList(std::string_view text) {
  std::vector<std::string> out;
  while (true) {
    size_t comma = text.find(',');
    std::string_view item = trim(text.substr(0, comma));
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace shardpool::config::pgbouncer
