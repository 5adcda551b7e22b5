#include "config/suggest.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "config/text.h"

namespace shardpool::config {

namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool startsWith(std::string_view text, std::string_view prefix) {
  if (prefix.size() > text.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (lower(text[i]) != lower(prefix[i])) return false;
  }
  return true;
}

constexpr size_t kMaxDistance = 2;
constexpr size_t kMinPrefix = 3;

}  // namespace

size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1);
  std::vector<size_t> cur(b.size() + 1);
  std::iota(prev.begin(), prev.end(), size_t{0});
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t substitute = prev[j - 1] + (lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, substitute});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::optional<std::string_view> closestMatch(std::string_view word,
                                             std::span<const std::string_view> known) {
  std::optional<std::string_view> best;
  size_t bestDistance = kMaxDistance + 1;
  for (std::string_view candidate : known) {
    size_t d = editDistance(word, candidate);
    if (d < bestDistance && d < word.size()) {
      best = candidate;
      bestDistance = d;
    }
  }
  if (best) return best;
  for (std::string_view candidate : known) {
    if ((word.size() >= kMinPrefix && startsWith(candidate, word)) ||
        (candidate.size() >= kMinPrefix && startsWith(word, candidate))) {
      return candidate;
    }
  }
  return std::nullopt;
}

std::string unknownNameMessage(std::string_view what, std::string_view word,
                               std::span<const std::string_view> known) {
  std::string message = fmt::format("unknown {} {}", what, quote(word));
  if (auto match = closestMatch(word, known)) {
    message += fmt::format("; did you mean {}?", quote(*match));
  }
  return message;
}

}  // namespace shardpool::config
