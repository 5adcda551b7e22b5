// The shards' replies walked in lock step and merged into one reply (pg_merge.h). The rows of
// each result are merged by pg_merge_rows.cpp.
#include "pooler/merge/pg_merge.h"

#include <fmt/format.h>

#include <algorithm>

#include "pooler/merge/pg_merge_messages.h"
#include "pooler/merge/pg_merge_rows.h"
#include "pooler/merge/pg_merge_values.h"

namespace shardpool::protocol::pg {

namespace {

using merge::Msg;

constexpr std::string_view kProtocolViolation = "08P01";
constexpr std::string_view kInternalError = "XX000";

class Walker {
 public:
  Walker(std::span<const ShardReply> shards, std::span<const SegmentPlans> segments,
         const MergeOptions& options)
      : segments_(segments), options_(options) {
    shards_.resize(shards.size());
    for (size_t s = 0; s < shards.size(); ++s) {
      shards_[s].name = shards[s].name;
      shards_[s].bytes = shards[s].bytes;
    }
    rows_.resize(shards.size());
  }

  MergeResult run();

 private:
  struct Shard {
    std::string_view name;
    Bytes bytes;
    std::vector<Msg> msgs;
    size_t pos = 0;
    char ready = 'I';  // the status of its last ReadyForQuery
  };

  const Msg* current(size_t s) const {
    const Shard& sh = shards_[s];
    return sh.pos < sh.msgs.size() ? &sh.msgs[sh.pos] : nullptr;
  }
  void emit(std::string_view raw) { result_.bytes.append(raw); }
  void emit(const Writer& w) { result_.bytes.append(w.data()); }
  void advanceAll() {
    for (Shard& s : shards_) ++s.pos;
  }
  const MergePlan& plan() const {
    static const MergePlan kConcat;
    if (segment_ < segments_.size() && result_index_ < segments_[segment_].size()) {
      return segments_[segment_][result_index_];
    }
    return kConcat;
  }
  void note(MergeStatus status, int shard, std::string message) {
    if (result_.status != MergeStatus::Ok) return;
    result_.status = status;
    result_.badShard = shard;
    result_.error = std::move(message);
  }
  void resetResult() {
    columns_.clear();
    haveDesc_ = descFromStatement_ = false;
    for (auto& r : rows_) r.clear();
  }

  void passAsync(size_t s);
  bool step();
  void malformedReplies(size_t firstBad);
  // Sends one ErrorResponse, then skips every shard to its next ReadyForQuery.
  void fail(MergeStatus status, int shard, std::string_view sqlstate, std::string message,
            std::string_view hint = {});
  void mismatch(std::string what) {
    fail(MergeStatus::Mismatch, -1, kInternalError,
         fmt::format("shards returned different results: {}", what),
         "the shards' schemas or settings differ");
  }
  void shardError();
  void skipSegment(bool shardpoolError);
  void ready(bool shardpoolError);
  void collectRows();
  void rowDescription();
  void terminator();

  std::vector<Shard> shards_;
  std::span<const SegmentPlans> segments_;
  MergeOptions options_;
  MergeResult result_;
  size_t segment_ = 0;
  size_t result_index_ = 0;
  std::vector<merge::Column> columns_;
  bool haveDesc_ = false;
  bool descFromStatement_ = false;  // the RowDescription answered a Describe of a statement
  bool nextDescIsStatement_ = false;
  std::vector<std::vector<std::string_view>> rows_;  // per shard: this result's DataRows
  std::vector<std::string> reported_;                // ParameterStatus name '\0' value sent
};

MergeResult Walker::run() {
  if (shards_.empty()) {
    note(MergeStatus::Malformed, -1, "no shard replies to merge");
    Writer w;
    putErrorResponse(w, "ERROR", kInternalError, result_.error);
    putReadyForQuery(w, 'I');
    emit(w);
    return std::move(result_);
  }
  for (size_t s = 0; s < shards_.size(); ++s) {
    Shard& sh = shards_[s];
    if (!merge::frameAll(sh.bytes, sh.msgs) || sh.msgs.empty() || sh.msgs.back().type != 'Z') {
      malformedReplies(s);
      return std::move(result_);
    }
  }
  while (step()) {
  }
  return std::move(result_);
}

// A shard's bytes are not a whole reply: one error, then as many ReadyForQuery messages as a
// readable shard sent (at least one).
void Walker::malformedReplies(size_t firstBad) {
  std::string message =
      fmt::format("shard \"{}\" sent a malformed or incomplete reply", shards_[firstBad].name);
  note(MergeStatus::Malformed, static_cast<int>(firstBad), message);
  size_t readies = 0;
  char status = 'I';
  for (size_t s = 0; s < shards_.size(); ++s) {
    std::vector<Msg> msgs;
    if (s == firstBad || !merge::frameAll(shards_[s].bytes, msgs)) continue;
    size_t n = 0;
    for (const Msg& m : msgs) {
      if (m.type != 'Z') continue;
      ++n;
      auto st = decodeReadyForQuery(m.body);
      if (st && *st != 'I') status = 'E';
    }
    readies = std::max(readies, n);
  }
  Writer w;
  putErrorResponse(w, "ERROR", kProtocolViolation, message);
  for (size_t i = 0; i < std::max<size_t>(readies, 1); ++i) putReadyForQuery(w, status);
  emit(w);
  result_.rollbackShards = status == 'E';
}

void Walker::passAsync(size_t s) {
  Shard& sh = shards_[s];
  while (sh.pos < sh.msgs.size() && merge::isAsync(sh.msgs[sh.pos].type)) {
    const Msg& m = sh.msgs[sh.pos++];
    if (m.type != 'S') {
      emit(m.raw);  // every shard's notices and notifications
      continue;
    }
    auto p = decodeParameterStatus(m.body);
    if (!p) continue;
    std::string key = fmt::format("{}{}{}", p->name, '\0', p->value);
    if (std::find(reported_.begin(), reported_.end(), key) != reported_.end()) continue;
    reported_.push_back(std::move(key));
    options_.noteParameter(p->name, p->value);
    emit(m.raw);
  }
}

bool Walker::step() {
  size_t n = shards_.size();
  // Which replies are over (nothing but notices left) is decided before any notice passes: a
  // shard that goes on after another has finished must not put its notices after the client's
  // last ReadyForQuery.
  auto next = [&](size_t s) {  // where the shard's next message that is not a notice is
    const Shard& sh = shards_[s];
    size_t at = sh.pos;
    while (at < sh.msgs.size() && merge::isAsync(sh.msgs[at].type)) ++at;
    return at;
  };
  size_t ended = 0;
  for (size_t s = 0; s < n; ++s)
    if (next(s) == shards_[s].msgs.size()) ++ended;
  if (ended == 0)
    for (size_t s = 0; s < n; ++s) passAsync(s);
  if (ended == n) return false;
  if (ended > 0) {
    // Some shard's reply is over while another's goes on: only possible past a ReadyForQuery.
    size_t done = 0, more = 0;
    while (next(done) != shards_[done].msgs.size()) ++done;
    while (next(more) == shards_[more].msgs.size()) ++more;
    note(MergeStatus::Mismatch, -1,
         fmt::format("shards returned different results: shard \"{}\" sent {} after shard \"{}\" "
                     "had finished",
                     shards_[more].name,
                     merge::messageName(shards_[more].msgs[next(more)].type),
                     shards_[done].name));
    // The client has had its ReadyForQuery messages; what is left cannot be placed.
    return false;
  }
  if (std::any_of(shards_.begin(), shards_.end(),
                  [](const Shard& sh) { return sh.msgs[sh.pos].type == 'E'; })) {
    shardError();
    return true;
  }
  for (size_t s = 0; s < n; ++s) {
    if (current(s)->type == 'D') {
      collectRows();
      return true;
    }
  }
  char t0 = current(0)->type;
  auto isEnd = [](char t) { return t == 'C' || t == 's'; };
  for (size_t s = 1; s < n; ++s) {
    char t = current(s)->type;
    if (t != t0 && !(isEnd(t) && isEnd(t0))) {
      mismatch(fmt::format("shard \"{}\" sent {} where shard \"{}\" sent {}", shards_[s].name,
                           merge::messageName(t), shards_[0].name, merge::messageName(t0)));
      return true;
    }
  }
  switch (t0) {
    case 'T':
      rowDescription();
      return true;
    case 'C':
    case 's':
    case 'I':
      terminator();
      return true;
    case 't':
    case 'V':
      for (size_t s = 1; s < n; ++s) {
        if (current(s)->raw != current(0)->raw) {
          mismatch(fmt::format("shards \"{}\" and \"{}\" sent different {}", shards_[0].name,
                               shards_[s].name, merge::messageName(t0)));
          return true;
        }
      }
      nextDescIsStatement_ = t0 == 't';
      emit(current(0)->raw);
      advanceAll();
      return true;
    case 'n':
      nextDescIsStatement_ = false;
      [[fallthrough]];
    case '1':
    case '2':
    case '3':
      emit(current(0)->raw);
      advanceAll();
      return true;
    case 'Z':
      for (size_t s = 0; s < n; ++s) {
        auto st = decodeReadyForQuery(current(s)->body);
        if (!st) {
          fail(MergeStatus::Malformed, static_cast<int>(s), kProtocolViolation,
               fmt::format("shard \"{}\" sent a malformed ReadyForQuery", shards_[s].name));
          return true;
        }
        shards_[s].ready = *st;
        ++shards_[s].pos;
      }
      ready(false);
      return true;
    case 'G':
    case 'H':
    case 'W':
      fail(MergeStatus::Refused, -1, "0A000",
           "COPY across shards is not supported: add a sharding key or /* shard: N */");
      return true;
    default:
      fail(MergeStatus::Malformed, 0, kProtocolViolation,
           fmt::format("shard \"{}\" sent an unexpected message (type 0x{:02x})", shards_[0].name,
                       static_cast<unsigned>(static_cast<uint8_t>(t0))));
      return true;
  }
}

// Some shard answered ErrorResponse: the client gets the error of the first shard, in shard
// order, that has one before its next ReadyForQuery (which need not be the one that failed
// first in the reply's order).
void Walker::shardError() {
  for (size_t s = 0; s < shards_.size(); ++s) {
    const Shard& sh = shards_[s];
    for (size_t i = sh.pos; i < sh.msgs.size() && sh.msgs[i].type != 'Z'; ++i) {
      if (sh.msgs[i].type != 'E') continue;
      Writer w;
      merge::putShardError(w, sh.msgs[i].body, sh.name);
      emit(w);
      auto fields = decodeErrorResponse(sh.msgs[i].body);
      note(MergeStatus::ShardError, static_cast<int>(s),
           fmt::format("shard \"{}\": {}", sh.name, fields ? fields->message : "?"));
      skipSegment(false);
      return;
    }
  }
}

void Walker::fail(MergeStatus status, int shard, std::string_view sqlstate, std::string message,
                  std::string_view hint) {
  Writer w;
  putErrorResponse(w, "ERROR", sqlstate, message, {}, hint);
  emit(w);
  note(status, shard, std::move(message));
  skipSegment(true);
}

// Past an error each shard's reply runs to its ReadyForQuery (a server skips to Sync); what the
// shards sent before it, besides notices, is dropped.
void Walker::skipSegment(bool shardpoolError) {
  for (size_t s = 0; s < shards_.size(); ++s) {
    Shard& sh = shards_[s];
    for (;;) {
      passAsync(s);
      if (sh.pos >= sh.msgs.size()) break;  // not reached: every reply ends with 'Z'
      const Msg& m = sh.msgs[sh.pos++];
      if (m.type == 'Z') {
        auto st = decodeReadyForQuery(m.body);
        sh.ready = st ? *st : 'E';
        break;
      }
    }
  }
  ready(shardpoolError);
}

// One ReadyForQuery for the client: the first shard's status, 'E' when any shard's is (or, after
// an error of shardpool's own, when any shard is in a transaction).
void Walker::ready(bool shardpoolError) {
  bool anyE = false, anyT = false;
  for (const Shard& s : shards_) {
    anyE |= s.ready == 'E';
    anyT |= s.ready == 'T';
  }
  char status = shards_[0].ready;
  if (anyE || (shardpoolError && anyT)) status = 'E';
  if (status == 'E' && anyT) result_.rollbackShards = true;
  Writer w;
  putReadyForQuery(w, status);
  emit(w);
  ++segment_;
  result_index_ = 0;
  nextDescIsStatement_ = false;
  resetResult();
}

void Walker::collectRows() {
  for (size_t s = 0; s < shards_.size(); ++s) {
    Shard& sh = shards_[s];
    for (;;) {
      passAsync(s);
      if (sh.pos >= sh.msgs.size() || sh.msgs[sh.pos].type != 'D') break;
      rows_[s].push_back(sh.msgs[sh.pos++].raw);
    }
  }
}

void Walker::rowDescription() {
  std::vector<merge::Column> first;
  for (size_t s = 0; s < shards_.size(); ++s) {
    auto cols = merge::decodeRowDescription(current(s)->body);
    if (!cols) {
      fail(MergeStatus::Malformed, static_cast<int>(s), kProtocolViolation,
           fmt::format("shard \"{}\" sent a malformed RowDescription", shards_[s].name));
      return;
    }
    if (s == 0) {
      first = std::move(*cols);
      continue;
    }
    if (cols->size() != first.size()) {
      mismatch(fmt::format("shard \"{}\" returned {} columns, shard \"{}\" {}", shards_[0].name,
                           first.size(), shards_[s].name, cols->size()));
      return;
    }
    for (size_t c = 0; c < first.size(); ++c) {
      const merge::Column& a = first[c];
      const merge::Column& b = (*cols)[c];
      if (a.typeOid != b.typeOid || a.format != b.format) {
        mismatch(
            fmt::format("column {} (\"{}\") is {} in format {} on shard \"{}\" but {} in "
                        "format {} on shard \"{}\"",
                        c + 1, a.name, merge::typeName(a.typeOid), a.format, shards_[0].name,
                        merge::typeName(b.typeOid), b.format, shards_[s].name));
        return;
      }
    }
  }
  columns_ = std::move(first);
  haveDesc_ = true;
  descFromStatement_ = nextDescIsStatement_;
  nextDescIsStatement_ = false;
  emit(current(0)->raw);
  advanceAll();
}

void Walker::terminator() {
  const MergePlan& p = plan();
  size_t n = shards_.size();
  if (current(0)->type == 'I') {  // an empty query: every shard says so (checked by step)
    emit(current(0)->raw);
    advanceAll();
    ++result_index_;
    resetResult();
    return;
  }
  bool suspended = false;
  const Msg* suspend = nullptr;
  std::optional<merge::Tag> tag;
  uint64_t sum = 0;
  for (size_t s = 0; s < n; ++s) {
    const Msg* m = current(s);
    if (m->type == 's') {
      suspended = true;
      if (suspend == nullptr) suspend = m;
      continue;
    }
    auto text = merge::decodeCommandTag(m->body);
    if (!text) {
      fail(MergeStatus::Malformed, static_cast<int>(s), kProtocolViolation,
           fmt::format("shard \"{}\" sent a malformed CommandComplete", shards_[s].name));
      return;
    }
    merge::Tag t = merge::parseTag(*text);
    if (tag && (t.command != tag->command || t.count.has_value() != tag->count.has_value())) {
      mismatch(fmt::format("shard \"{}\" completed \"{}\" where another completed \"{}\"",
                           shards_[s].name, *text, tag->command));
      return;
    }
    if (!tag) tag = t;
    if (t.count) sum += *t.count;
  }
  bool concatenates = p.kind == MergeKind::Concat || p.kind == MergeKind::Refuse;
  if (suspended && !concatenates) {
    fail(MergeStatus::Refused, -1, "0A000",
         merge::refusalMessage("ORDER BY, LIMIT or aggregates fetched a few rows at a time"),
         "fetch every row in one Execute (no row limit)");
    return;
  }
  bool usable = haveDesc_ && !descFromStatement_;
  merge::RowsOutcome rows = merge::mergeRows(
      p, usable ? std::span<const merge::Column>(columns_) : std::span<const merge::Column>(),
      rows_, options_);
  if (rows.status != MergeStatus::Ok) {
    std::string message = rows.message;
    if (rows.status == MergeStatus::Malformed && rows.badShard >= 0) {
      message = fmt::format("shard \"{}\" sent {}", shards_[rows.badShard].name, rows.message);
    }
    fail(rows.status, rows.badShard, rows.sqlstate, std::move(message), rows.hint);
    return;
  }
  emit(rows.bytes);
  result_.rows += rows.rows;
  if (suspended) {
    emit(suspend->raw);
  } else {
    Writer w;
    if (tag->count) {
      // A merged result counts the rows it sends; SELECT INTO and the like (no RowDescription,
      // no rows) count what the shards did.
      bool rowCount = (tag->command == "SELECT" || tag->command == "FETCH") && !concatenates &&
                      (haveDesc_ || std::any_of(rows_.begin(), rows_.end(),
                                                [](const auto& r) { return !r.empty(); }));
      uint64_t count = rowCount ? rows.rows : sum;
      putCommandComplete(w, fmt::format("{} {}", tag->command, count));
    } else {
      putCommandComplete(w, tag->command);
    }
    emit(w);
  }
  advanceAll();
  ++result_index_;
  resetResult();
}

}  // namespace

MergeResult mergeReplies(std::span<const ShardReply> shards, std::span<const SegmentPlans> segments,
                         const MergeOptions& options) {
  return Walker(shards, segments, options).run();
}

}  // namespace shardpool::protocol::pg
