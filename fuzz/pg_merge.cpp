// The scatter/gather reply merger (pooler/protocol/pg_merge.h) on shards' reply bytes: every
// kind of plan (concatenation, LIMIT, ORDER BY on one or two keys, aggregates with and without
// GROUP BY, DISTINCT), one or two segments, two to four shards. The client's bytes must always
// be whole messages ending with ReadyForQuery, and the buffered ReplyMerger fed in pieces must
// answer what mergeReplies() answers over the whole replies.
// Input: a control byte (low 4 bits: the plan; 0x10: a second plan in the segment; 0x20: a
// second segment; 0x40: ISO DateStyle and UTF8 encodings), a byte for piece sizes, then the
// shards' replies separated by "|SHARD|".
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "pooler/protocol/pg_codec.h"
#include "pooler/merge/pg_merge.h"

namespace pg = shardpool::protocol::pg;
using shardpool::fuzz::asBytes;

namespace {

pg::SortKey key(int column, bool descending = false, bool nullsFirst = false) {
  pg::SortKey k;
  k.column = column;
  k.descending = descending;
  k.nullsFirst = nullsFirst;
  return k;
}

// Plan `pick` (0-15; 11 and above concatenate).
pg::MergePlan plan(unsigned pick) {
  pg::MergePlan p;
  switch (pick) {
    case 0:
      break;  // concatenation
    case 1:
      p.kind = pg::MergeKind::Limit;
      p.limit = 3;
      break;
    case 2:
      p.kind = pg::MergeKind::Sort;
      p.sortKeys = {key(0)};
      break;
    case 3:
      p.kind = pg::MergeKind::Sort;
      p.sortKeys = {key(1, true, true), key(0)};
      p.limit = 2;
      p.withTies = true;
      break;
    case 4:
      p.kind = pg::MergeKind::Sort;
      p.sortKeys = {key(-1)};
      p.sortKeys[0].outputName = "id";
      p.columnCollations = {"C", "C"};
      break;
    case 5:  // SELECT k, count(*), sum(v), min(v), max(v) ... GROUP BY k ORDER BY k
      p.kind = pg::MergeKind::Aggregate;
      p.columns = {pg::ColumnOp::Key, pg::ColumnOp::Count, pg::ColumnOp::Sum, pg::ColumnOp::Min,
                   pg::ColumnOp::Max};
      p.grouped = true;
      p.sortKeys = {key(0)};
      break;
    case 6:  // SELECT count(*), sum(v), bool_and(b), bool_or(b)
      p.kind = pg::MergeKind::Aggregate;
      p.columns = {pg::ColumnOp::Count, pg::ColumnOp::Sum, pg::ColumnOp::BoolAnd,
                   pg::ColumnOp::BoolOr};
      break;
    case 7:  // SELECT DISTINCT ... ORDER BY 1 LIMIT 5
      p.kind = pg::MergeKind::Aggregate;
      p.grouped = true;
      p.sortKeys = {key(0, true)};
      p.limit = 5;
      break;
    case 8:  // SELECT k, max(v) ... GROUP BY k (no order)
      p.kind = pg::MergeKind::Aggregate;
      p.columns = {pg::ColumnOp::Key, pg::ColumnOp::Max};
      p.grouped = true;
      break;
    case 9:
      p.kind = pg::MergeKind::Refuse;
      p.sqlstate = "0A000";
      p.message = "refused";
      break;
    case 10:  // SELECT * ... ORDER BY aid: the key found by its name in RowDescription
      p.kind = pg::MergeKind::Sort;
      p.sortKeys = {key(-1, true)};
      p.sortKeys[0].starColumn = "aid";
      p.limit = 4;
      break;
    default:
      break;
  }
  return p;
}

// The client's bytes: whole messages, the last one ReadyForQuery.
void checkClientBytes(const pg::MergeResult& r) {
  pg::Bytes rest = asBytes(r.bytes);
  char last = 0;
  while (!rest.empty()) {
    pg::Frame f = pg::frameMessage(rest);
    FUZZ_CHECK(f.status == pg::FrameStatus::Ok);
    last = f.type;
    rest = rest.subspan(f.totalSize);
  }
  FUZZ_CHECK(last == 'Z');
  if (r.status != pg::MergeStatus::Ok) FUZZ_CHECK(!r.error.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  shardpool::fuzz::Input in(data, size);
  uint8_t control = in.byte();
  size_t piece = 1 + in.byte() % 29;
  std::vector<std::string_view> parts;
  while (!in.empty() && parts.size() < 4) parts.push_back(in.until("|SHARD|"));
  if (parts.size() < 2) return 0;

  std::vector<pg::SegmentPlans> segments;
  segments.push_back({plan(control & 0x0f)});
  if (control & 0x10) segments.back().push_back(plan((control * 7) & 0x0f));
  if (control & 0x20) segments.push_back({plan((control * 11) & 0x0f)});
  pg::MergeOptions options;
  if (control & 0x40) {
    options.noteParameter("DateStyle", "ISO, MDY");
    options.noteParameter("client_encoding", "UTF8");
    options.noteParameter("server_encoding", "UTF8");
  }

  static const char* kNames[] = {"s0", "s1", "s2", "s3"};
  std::vector<pg::ShardReply> replies;
  for (size_t i = 0; i < parts.size(); ++i) replies.push_back({kNames[i], asBytes(parts[i])});
  pg::MergeResult whole = pg::mergeReplies(replies, segments, options);
  checkClientBytes(whole);

  std::vector<std::string> names(kNames, kNames + parts.size());
  pg::ReplyMerger merger(names, segments, options);
  for (size_t at = 0; at < size; at += piece) {
    for (size_t i = 0; i < parts.size(); ++i)
      if (at < parts[i].size()) merger.feed(i, asBytes(parts[i].substr(at, piece)));
  }
  pg::MergeResult buffered = merger.finish();
  checkClientBytes(buffered);
  FUZZ_CHECK(buffered.status == whole.status && buffered.bytes == whole.bytes);
  return 0;
}
