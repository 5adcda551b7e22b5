// The backend messages the reply merger reads and rewrites (pg_merge_messages.h).
#include "pooler/merge/pg_merge_messages.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

#include "pooler/merge/pg_merge.h"
#include "pooler/merge/pg_merge_rows.h"
#include "pooler/merge/pg_merge_values.h"

namespace shardpool::protocol::pg::merge {

std::string_view messageName(char t) {
  switch (t) {
    case 'T':
      return "RowDescription";
    case 'D':
      return "DataRow";
    case 'C':
      return "CommandComplete";
    case 'I':
      return "EmptyQueryResponse";
    case 'E':
      return "ErrorResponse";
    case 'Z':
      return "ReadyForQuery";
    case '1':
      return "ParseComplete";
    case '2':
      return "BindComplete";
    case '3':
      return "CloseComplete";
    case 't':
      return "ParameterDescription";
    case 'n':
      return "NoData";
    case 's':
      return "PortalSuspended";
    case 'V':
      return "FunctionCallResponse";
    case 'G':
      return "CopyInResponse";
    case 'H':
      return "CopyOutResponse";
    case 'W':
      return "CopyBothResponse";
    default:
      return "an unknown message";
  }
}

bool frameAll(Bytes bytes, std::vector<Msg>& out) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    Frame f = frameMessage(bytes.subspan(pos));
    if (f.status != FrameStatus::Ok) return false;
    out.push_back(
        Msg{f.type, f.body,
            std::string_view(reinterpret_cast<const char*>(bytes.data() + pos), f.totalSize)});
    pos += f.totalSize;
  }
  return true;
}

std::optional<std::vector<Column>> decodeRowDescription(Bytes body) {
  Reader r(body);
  int16_t n = r.i16();
  if (!r.ok() || n < 0) return std::nullopt;
  std::vector<Column> out(static_cast<size_t>(n));
  for (Column& c : out) {
    c.name = r.cstring();
    r.i32();  // table
    r.i16();  // column number
    c.typeOid = static_cast<uint32_t>(r.i32());
    r.i16();  // size
    r.i32();  // modifier
    c.format = r.i16();
  }
  if (!r.ok() || r.remaining() != 0) return std::nullopt;
  return out;
}

std::optional<std::string_view> decodeCommandTag(Bytes body) {
  Reader r(body);
  std::string_view tag = r.cstring();
  if (!r.ok() || r.remaining() != 0) return std::nullopt;
  return tag;
}

Tag parseTag(std::string_view tag) {
  size_t sp = tag.rfind(' ');
  if (sp == std::string_view::npos) return {tag, std::nullopt};
  std::string_view command = tag.substr(0, sp);
  std::string_view number = tag.substr(sp + 1);
  static constexpr std::string_view kCounted[] = {"SELECT", "UPDATE", "DELETE", "MERGE",
                                                  "FETCH",  "MOVE",   "COPY"};
  bool counted =
      std::find(std::begin(kCounted), std::end(kCounted), command) != std::end(kCounted) ||
      command.substr(0, 7) == "INSERT ";
  auto n = parseInt(number);
  if (!counted || !n || *n < 0 || number[0] == '+' || number[0] == '-') return {tag, std::nullopt};
  return {command, static_cast<uint64_t>(*n)};
}

void putShardError(Writer& w, Bytes body, std::string_view shard) {
  auto fields = downgradedErrorFields(body, fmt::format("shard \"{}\": ", shard));
  if (!fields) {
    putErrorResponse(w, "ERROR", "XX000",
                     fmt::format("shard \"{}\": an error the shard sent could not be read", shard));
    return;
  }
  w.start('E');
  w.bytes(std::string_view(*fields));
  w.finish();
}

std::string refusalMessage(std::string_view what, std::string_view keyColumn) {
  return fmt::format(
      "SELECT with {} across shards is not supported: add a sharding key (WHERE {} = ...) or "
      "/* shard: N */",
      what, keyColumn.empty() ? "<sharding key>" : keyColumn);
}

}  // namespace shardpool::protocol::pg::merge

namespace shardpool::protocol::pg {

std::string_view mergeKindName(MergeKind kind) {
  switch (kind) {
    case MergeKind::Concat:
      return "concat";
    case MergeKind::Limit:
      return "limit";
    case MergeKind::Sort:
      return "sort";
    case MergeKind::Aggregate:
      return "aggregate";
    case MergeKind::Refuse:
      return "refuse";
  }
  return "?";
}

void putMergeRefusal(Writer& w, const MergePlan& plan) {
  putErrorResponse(w, "ERROR", plan.sqlstate.empty() ? "0A000" : plan.sqlstate, plan.message,
                   {}, plan.hint);
}

}  // namespace shardpool::protocol::pg
