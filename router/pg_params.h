// PostgreSQL's Bind values as the router's statement parameters: format codes and parameter
// type OIDs decide whether a value is text, a binary integer (big-endian int2/int4/int8), a
// binary string, or a binary value of another type.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "router/route.h"

namespace shardpool::router {

// The values of a Bind message as sent. Views into the message: valid for the call only.
struct BindParams {
  std::vector<std::optional<std::string_view>> values;  // nullopt: SQL NULL
  std::vector<int16_t> formats;  // as sent: none = all text, one = all that one, else each
  std::vector<uint32_t> types;   // parameter type OIDs from Parse; 0 or absent: unspecified
};

StatementParams decodeBindParams(const BindParams& bind);

// route() for a statement bound with `bind` (null: not bound, a simple Query or a bare Parse).
Route routeBound(const StatementFacts& facts, const ShardMap& map, const SessionHints& session,
                 const BindParams* bind);

}  // namespace shardpool::router
