// Scatter/gather: one statement run on several shards, their replies merged into the one reply
// the client expects: one RowDescription, every DataRow, one CommandComplete with the counts
// summed, one ReadyForQuery. Pure: bytes in, bytes out; no I/O.
//
// How the pooler uses it:
//   1. Before sending: MergePlan plan = planMerge(facts) per statement of the batch (grouped per
//      Query / Sync: SegmentPlans). A plan of kind Refuse means "do not send": answer the client
//      with putMergeRefusal() (then ReadyForQuery). The other kinds say how rows will merge.
//   2. While the shards answer: ReplyMerger::feed(shard, bytes) for every read; readyCount(shard)
//      tells when a shard has sent all its ReadyForQuery messages; bufferedBytes() is what the
//      merger holds (every shard's whole reply is buffered until the last one is complete: cap
//      it, and answer an error past the cap).
//   3. When every shard is complete: finish() returns the client's bytes and a status.
//
// What is merged (and how), what is refused (MergeKind, MergeStatus):
//  - Rows without ORDER BY/LIMIT/aggregates/GROUP BY/DISTINCT are concatenated in shard order.
//  - LIMIT n: concatenated and cut after n rows (with ORDER BY: merged, then cut; WITH TIES keeps
//    the rows equal to the n-th). OFFSET is refused: each shard would skip its own first rows.
//  - ORDER BY: a k-way merge of the shards' sorted rows, by the column type from RowDescription:
//    int2/int4/int8/oid, float4/float8 (NaN above Infinity), numeric (exact decimal order), bool,
//    date/timestamp/timestamptz/time (text in DateStyle ISO only), uuid, and text/varchar/bpchar/
//    name only under COLLATE "C" or "POSIX" with client_encoding equal to server_encoding (any
//    other collation's order is the server's secret). Binary-format keys: int2/4/8, float4/8,
//    bool. NULLs sort as written or by PostgreSQL's default (last for ASC, first for DESC).
//  - Aggregates without GROUP BY (one row per shard) and with GROUP BY (rows keyed by their
//    non-aggregate columns): count and sum of int types added exactly as int8, sum(int8) and
//    sum(numeric) added as exact decimals, min/max by the ORDER BY comparators, bool_and/or.
//    Group keys compare by value for numeric (1.0 = 1.00), floats (-0 = 0) and timestamptz, by
//    bytes for the other supported types, which is right under deterministic collations.
//    DISTINCT (no aggregates) is a GROUP BY on every column.
//  - Refused with 0A000 before anything is sent: avg(), count(DISTINCT), sum(DISTINCT), other
//    aggregates, expressions over aggregates, HAVING, DISTINCT ON, windows, UNION/INTERSECT/
//    EXCEPT (UNION ALL concatenates), ORDER BY/GROUP BY items not in the select list, GROUP BY
//    with LIMIT, OFFSET, LIMIT $n, subqueries that aggregate/limit a sharded table.
//  - Refused with 0A000 after the shards answered, when only RowDescription tells: an ORDER BY
//    or min/max column of a type above not listed, text without COLLATE "C", a non-ISO DateStyle,
//    sum over float/money/interval, an Execute with a row limit (PortalSuspended) under a
//    non-concatenating plan, rows without a portal RowDescription in the batch, a shard whose
//    rows are not in the order shardpool reads their type in, COPY. An int8 sum that overflows
//    is 22003 (bigint out of range), as PostgreSQL says it.
//  - Several statements in one Query: the plan covers the first; planMerge refuses a text whose
//    first statement needs more than concatenation or whose later SELECTs need merging.
//  - DDL and writes: one CommandComplete ("UPDATE 7" summed, "CREATE TABLE" once).
//  - A shard's ErrorResponse: what all shards agree on up to it, then that error (the first
//    shard's in shard order) with `shard "name": ` before its message, then ReadyForQuery with
//    'E' if any shard is in a failed transaction.
//  - Shards answering with different message sequences or RowDescriptions: XX000 naming them.
//  - Not this codec's to see: a scatter is only right when each shard's part of the answer is its
//    own (no join or subquery that needs another shard's rows), which is the router's decision.
//
// The plans come from the router's analysis (pooler/merge_planner.h: planMerge); everything
// here is the PostgreSQL wire format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pooler/protocol/pg_codec.h"

namespace shardpool::protocol::pg {

enum class MergeKind : uint8_t {
  Concat,     // every shard's rows, in shard order
  Limit,      // Concat, cut after `limit` rows (no ORDER BY: any n rows are a right answer)
  Sort,       // k-way merge by sortKeys, cut after `limit` rows when set
  Aggregate,  // rows combined per group (columns), then sorted by sortKeys and cut at `limit`
  Refuse,     // cannot be merged correctly: do not send; sqlstate/message/hint say why
};

std::string_view mergeKindName(MergeKind kind);  // "concat", "limit", ...

// One ORDER BY key, resolved against RowDescription when the rows arrive.
struct SortKey {
  int column = -1;  // 0-based output column; -1 when only a name can find it
  // A bare name: the first RowDescription column of this name, else `column`.
  std::string outputName;
  // Under SELECT *: the only RowDescription column of this name (none or several: refused).
  std::string starColumn;
  bool descending = false;
  bool nullsFirst = false;  // already PostgreSQL's default when not written
  std::string collation;    // COLLATE on the key; "" falls back to MergePlan::columnCollations
};

// What an Aggregate plan does with each output column.
enum class ColumnOp : uint8_t { Key, Count, Sum, Min, Max, BoolAnd, BoolOr };

struct MergePlan {
  MergeKind kind = MergeKind::Concat;
  std::vector<SortKey> sortKeys;  // Sort, Aggregate
  std::optional<int64_t> limit;   // Limit, Sort, Aggregate
  bool withTies = false;          // Sort: FETCH FIRST n ROWS WITH TIES
  // Aggregate: one per output column; empty means every column is a key (DISTINCT).
  std::vector<ColumnOp> columns;
  // Aggregate: GROUP BY or DISTINCT (no rows is no groups); false: one row per shard to combine.
  bool grouped = false;
  // The COLLATE written on select-list entries (on min/max's argument), by output column, for
  // the leading entries whose position is known; "" where none.
  std::vector<std::string> columnCollations;
  // Refuse: the ErrorResponse fields.
  std::string sqlstate;
  std::string message;
  std::string hint;
};

// The ErrorResponse for a Refuse plan (the caller adds ReadyForQuery).
void putMergeRefusal(Writer& w, const MergePlan& plan);

// Server settings that decide how values read (from ParameterStatus at startup and after SET).
struct MergeOptions {
  std::string dateStyle;       // "ISO, MDY": date/time keys need ISO; "" is unknown (refused)
  std::string clientEncoding;  // text keys need client_encoding == server_encoding
  std::string serverEncoding;
  // Records DateStyle, client_encoding and server_encoding; ignores other parameters.
  void noteParameter(std::string_view name, std::string_view value);
};

struct ShardReply {
  std::string_view name;  // for messages: shard "name": ...
  Bytes bytes;            // every reply byte of the batch, through its last ReadyForQuery
};

enum class MergeStatus : uint8_t {
  Ok,          // merged
  ShardError,  // a shard answered an error: passed on once, with its shard's name
  Refused,     // these rows cannot be merged correctly (found from RowDescription): 0A000
  Mismatch,    // the shards answered differently (schema drift): XX000
  Malformed,   // a shard's bytes are not a complete, valid reply: 08P01 (close that server)
};

std::string_view mergeStatusName(MergeStatus status);

struct MergeResult {
  MergeStatus status = MergeStatus::Ok;  // the first problem, when there were several
  std::string bytes;                     // for the client; ends with ReadyForQuery
  std::string error;                     // status != Ok: the message sent (without fields)
  int badShard = -1;                     // Malformed/ShardError: the shard's index
  uint64_t rows = 0;                     // DataRows in `bytes`
  // The client was told its transaction failed ('E') by shardpool while the shards' own
  // transactions are still open ('T'): roll them back before the client's next statement runs.
  bool rollbackShards = false;
};

// The plans for one ReadyForQuery's worth of requests (a Query, or the extended-protocol
// messages through a Sync): one per result, in order. A result is what one statement of a
// Query or one Execute produces; it ends with CommandComplete, EmptyQueryResponse,
// PortalSuspended or ErrorResponse. After an error the rest of that segment is skipped, as the
// server skips to Sync, and the next segment starts on its own plans.
using SegmentPlans = std::vector<MergePlan>;

// Merges whole replies, `segments[i]` for the results before the i-th ReadyForQuery. Results
// with no plan (past the end of a segment's plans, or of `segments`) are concatenated, and so
// are those of a Refuse plan (which should never have been sent).
MergeResult mergeReplies(std::span<const ShardReply> shards, std::span<const SegmentPlans> segments,
                         const MergeOptions& options);

// Buffers the shards' replies as they arrive, then merges them (mergeReplies).
class ReplyMerger {
 public:
  ReplyMerger(std::vector<std::string> shardNames, std::vector<SegmentPlans> segments,
              MergeOptions options);

  // Appends bytes read from shard `shard` (ignored past a framing error or an unknown shard).
  void feed(size_t shard, Bytes data);
  // Complete ReadyForQuery messages received from `shard` so far.
  size_t readyCount(size_t shard) const;
  // `shard`'s bytes cannot be framed (a bad length): it will never complete.
  bool malformed(size_t shard) const;
  // Bytes held for all shards together.
  size_t bufferedBytes() const { return buffered_; }
  size_t shardCount() const { return shards_.size(); }

  MergeResult finish() const;

 private:
  struct Shard {
    std::string name;
    std::string bytes;
    size_t framed = 0;  // bytes[0, framed) are whole messages
    size_t readies = 0;
    bool bad = false;
  };
  std::vector<Shard> shards_;
  std::vector<SegmentPlans> segments_;
  MergeOptions options_;
  size_t buffered_ = 0;
};

}  // namespace shardpool::protocol::pg
