// PostgreSQL 15's int8 input, for sharding keys written as text (a '5' literal for an integer
// key, a text-format Bind value, a sharding_key hint): spaces around, one optional sign,
// decimal digits. Pure.
#pragma once

#include <cstdint>
#include <string_view>

namespace shardpool::router {

enum class Int8Status { Ok, Syntax, Range };

// Sets `out` only on Ok.
Int8Status parseInt8(std::string_view text, int64_t& out);

}  // namespace shardpool::router
