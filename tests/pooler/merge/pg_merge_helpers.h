// Test helpers for pg_merge*: shard replies built with the codec's Writer, merged output read
// back message by message, and plans from real SQL through the router's analysis.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pooler/protocol/pg_codec.h"
#include "pooler/protocol/pg_extended.h"
#include "pooler/merge/merge_planner.h"
#include "pooler/merge/pg_merge.h"
#include "router/pg_statement.h"

namespace shardpool::protocol::pg::test {

using Value = std::optional<std::string>;
using Values = std::vector<Value>;

struct Col {
  std::string name;
  uint32_t oid = 25;
  int16_t format = 0;
};

// One shard's reply, message by message.
class Reply {
 public:
  Reply& T(const std::vector<Col>& cols) {
    w_.start('T');
    w_.i16(static_cast<int16_t>(cols.size()));
    for (const Col& c : cols) {
      w_.cstring(c.name);
      w_.i32(16384);  // table oid: differs between servers, never compared
      w_.i16(1);
      w_.i32(static_cast<int32_t>(c.oid));
      w_.i16(-1);
      w_.i32(-1);
      w_.i16(c.format);
    }
    w_.finish();
    return *this;
  }
  Reply& D(const Values& values) {
    putDataRow(w_, values);
    return *this;
  }
  Reply& rows(const std::vector<Values>& rows) {
    for (const Values& r : rows) D(r);
    return *this;
  }
  Reply& C(std::string_view tag) {
    putCommandComplete(w_, tag);
    return *this;
  }
  Reply& Z(char status = 'I') {
    putReadyForQuery(w_, status);
    return *this;
  }
  Reply& E(std::string_view sqlstate, std::string_view message, std::string_view detail = {},
           std::string_view hint = {}) {
    putErrorResponse(w_, "ERROR", sqlstate, message, detail, hint);
    return *this;
  }
  Reply& N(std::string_view message) {
    putNoticeResponse(w_, "00000", message);
    return *this;
  }
  Reply& S(std::string_view name, std::string_view value) {
    putParameterStatus(w_, name, value);
    return *this;
  }
  Reply& I() {
    putEmptyQueryResponse(w_);
    return *this;
  }
  // An empty-body message: '1' ParseComplete, '2' BindComplete, '3' CloseComplete, 'n' NoData,
  // 's' PortalSuspended.
  Reply& msg(char type) {
    w_.start(type);
    w_.finish();
    return *this;
  }
  Reply& t(const std::vector<uint32_t>& types) {
    w_.start('t');
    w_.i16(static_cast<int16_t>(types.size()));
    for (uint32_t oid : types) w_.i32(static_cast<int32_t>(oid));
    w_.finish();
    return *this;
  }
  Reply& raw(std::string_view bytes) {
    extra_.append(bytes);
    return *this;
  }
  std::string bytes() const {
    REQUIRE_FALSE(w_.failed());
    return w_.data() + extra_;
  }

 private:
  Writer w_;
  std::string extra_;
};

inline std::string int8Binary(int64_t v) {
  std::string b(8, '\0');
  for (int i = 0; i < 8; ++i) b[7 - i] = static_cast<char>(static_cast<uint64_t>(v) >> (8 * i));
  return b;
}
inline std::string int4Binary(int32_t v) {
  std::string b(4, '\0');
  for (int i = 0; i < 4; ++i) b[3 - i] = static_cast<char>(static_cast<uint32_t>(v) >> (8 * i));
  return b;
}

// The merged output, read back.
struct Out {
  char type = 0;
  std::string body;

  Values row() const {
    Reader r(Bytes(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
    Values out;
    int16_t n = r.i16();
    for (int16_t i = 0; i < n; ++i) {
      int32_t len = r.i32();
      if (len < 0) {
        out.emplace_back(std::nullopt);
      } else {
        Bytes b = r.bytes(static_cast<size_t>(len));
        out.emplace_back(std::string(reinterpret_cast<const char*>(b.data()), b.size()));
      }
    }
    REQUIRE(r.ok());
    return out;
  }
  std::string tag() const { return body.substr(0, body.find('\0')); }
  ErrorFields error() const {
    auto e = decodeErrorResponse(Bytes(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
    REQUIRE(e.has_value());
    return *e;
  }
  // Every field of an ErrorResponse, in order: "Sseverity", "C...", ...
  std::vector<std::string> fields() const {
    std::vector<std::string> out;
    size_t p = 0;
    while (p < body.size() && body[p] != '\0') {
      size_t end = body.find('\0', p + 1);
      out.push_back(body.substr(p, end - p));
      p = end + 1;
    }
    return out;
  }
};

// Splits merged bytes into messages; the output must be whole messages ending with
// ReadyForQuery.
inline std::vector<Out> messages(const std::string& bytes) {
  std::vector<Out> out;
  Bytes b(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  size_t pos = 0;
  while (pos < b.size()) {
    Frame f = frameMessage(b.subspan(pos));
    REQUIRE(f.status == FrameStatus::Ok);
    out.push_back(
        Out{f.type, std::string(reinterpret_cast<const char*>(f.body.data()), f.body.size())});
    pos += f.totalSize;
  }
  REQUIRE_FALSE(out.empty());
  CHECK(out.back().type == 'Z');
  return out;
}

inline std::string types(const std::vector<Out>& msgs) {
  std::string t;
  for (const Out& m : msgs) t.push_back(m.type);
  return t;
}

inline std::vector<Values> dataRows(const std::vector<Out>& msgs) {
  std::vector<Values> rows;
  for (const Out& m : msgs) {
    if (m.type == 'D') rows.push_back(m.row());
  }
  return rows;
}

inline const Out& first(const std::vector<Out>& msgs, char type) {
  for (const Out& m : msgs) {
    if (m.type == type) return m;
  }
  FAIL("no message of type " << type);
  return msgs.front();
}

inline char readyStatus(const std::vector<Out>& msgs) {
  return msgs.back().body.empty() ? '?' : msgs.back().body[0];
}

inline const router::TableRules& rules() {
  static const router::TableRules r = [] {
    router::TableRules t;
    t.sharded["orders"] = {"customer_id", router::KeyKind::Integer};
    t.sharded["items"] = {"customer_id", router::KeyKind::Integer};
    t.replicated = {"countries"};
    return t;
  }();
  return r;
}

inline MergePlan planFor(std::string_view sql) {
  return pooler::planMerge(router::analyze(sql, rules()));
}

inline MergeOptions isoUtf8() {
  MergeOptions o;
  o.dateStyle = "ISO, MDY";
  o.clientEncoding = "UTF8";
  o.serverEncoding = "UTF8";
  return o;
}

// Merges `replies` (shards named s0, s1, ...) under one segment of plans.
inline MergeResult mergeWith(const std::vector<SegmentPlans>& segments,
                             const std::vector<std::string>& replies,
                             const MergeOptions& options = isoUtf8()) {
  std::vector<std::string> names;
  std::vector<ShardReply> shards;
  names.reserve(replies.size());
  for (size_t i = 0; i < replies.size(); ++i) names.push_back("s" + std::to_string(i));
  for (size_t i = 0; i < replies.size(); ++i) {
    shards.push_back(ShardReply{
        names[i], Bytes(reinterpret_cast<const uint8_t*>(replies[i].data()), replies[i].size())});
  }
  return mergeReplies(shards, segments, options);
}

inline MergeResult mergeSql(std::string_view sql, const std::vector<std::string>& replies,
                            const MergeOptions& options = isoUtf8()) {
  MergePlan plan = planFor(sql);
  INFO(sql << ": " << plan.message);
  REQUIRE(plan.kind != MergeKind::Refuse);
  return mergeWith({{plan}}, replies, options);
}

}  // namespace shardpool::protocol::pg::test
