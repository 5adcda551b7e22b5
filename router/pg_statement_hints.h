// Internal to the router's statement analyzers (pg_statement*, mysql_statement): what a plain scan
// of the SQL text finds, parsed or not.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "router/pg_statement.h"

namespace shardpool::router::detail {

struct CommentHints {
  std::optional<uint32_t> shard;
  std::optional<std::string> shardingKey;
  std::string error;  // a hint whose value is unusable
};

// Hints in comments: `shard: 3` / `shard = 3` and `sharding_key: 42` / `sharding_key: 'acme'`
// (case-insensitive names) in /* block */ (nested, as PostgreSQL allows) or -- line comments.
// String literals ('...', E'...', $tag$...$tag$) and quoted identifiers are skipped, so a hint
// inside one is not a hint. The first of each hint wins.
CommentHints scanCommentHints(std::string_view sql);

// The hints in the text of one comment (`shard: 3`, `shard = 3`, `sharding_key: 'acme'`, first of
// each wins): the same in every SQL dialect, whose own lexer finds the comments.
void hintsInComment(std::string_view body, CommentHints& out);

// The kind the first keyword suggests, for text the parser rejected ("Empty" when there is no
// word at all).
StatementKind guessKind(std::string_view sql);

// A shard number: decimal digits (surrounding spaces allowed) that fit in uint32.
std::optional<uint32_t> parseShardNumber(std::string_view text);

}  // namespace shardpool::router::detail
