// Internal to pg_merge*: the backend messages the reply merger reads and rewrites.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "pooler/protocol/pg_codec.h"
#include "pooler/merge/pg_merge_rows.h"

namespace shardpool::protocol::pg::merge {

struct Msg {
  char type = 0;
  Bytes body;
  std::string_view raw;  // the whole message
};

// NoticeResponse, NotificationResponse, ParameterStatus: may come anywhere in a reply.
inline bool isAsync(char t) {
  return t == 'N' || t == 'A' || t == 'S';
}

std::string_view messageName(char type);  // "RowDescription", ...

// Frames a whole reply into `out`; false on a bad length or a message cut short.
bool frameAll(Bytes bytes, std::vector<Msg>& out);

std::optional<std::vector<Column>> decodeRowDescription(Bytes body);
std::optional<std::string_view> decodeCommandTag(Bytes body);

// A CommandComplete tag: "UPDATE 7" is command "UPDATE", count 7; "INSERT 0 5" is "INSERT 0",
// 5; "CREATE TABLE" has no count (command is the whole tag).
struct Tag {
  std::string_view command;
  std::optional<uint64_t> count;
};
Tag parseTag(std::string_view tag);

// The shard's ErrorResponse with `shard "name": ` before its message, every other field kept;
// FATAL and PANIC become ERROR (a shard's session ending does not end the client's). An
// unreadable one becomes an XX000 error naming the shard.
void putShardError(Writer& w, Bytes body, std::string_view shard);

}  // namespace shardpool::protocol::pg::merge
