// "Did you mean" suggestions for unknown keys and names.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace shardpool::config {

// Levenshtein distance, ignoring ASCII case.
size_t editDistance(std::string_view a, std::string_view b);

// The known word closest to `word`: the smallest edit distance when it is at most 2 (and shorter
// than `word`), else the first known word that `word` is a prefix of, or that is a prefix of `word`
// (3 characters at least). nullopt when nothing is close.
std::optional<std::string_view> closestMatch(std::string_view word,
                                             std::span<const std::string_view> known);

// `unknown <what> "word"`, plus `; did you mean "x"?` when closestMatch finds one.
std::string unknownNameMessage(std::string_view what, std::string_view word,
                               std::span<const std::string_view> known);

}  // namespace shardpool::config
