// Backend (server -> shardpool) messages: the framing scanner, then the decoders the pooler runs
// on what servers send (ErrorResponse/NoticeResponse and their FATAL downgrade, ParameterStatus,
// BackendKeyData, ReadyForQuery, Authentication and its SASL mechanism list), and the request
// queue that matches replies to the requests they complete.
// Input: two control bytes (pg_stream.h), a third that picks the requests outstanding, then the
// message stream.
#include <cstdint>
#include <string>

#include "fuzz/fuzz_util.h"
#include "fuzz/pg_stream.h"
#include "pooler/protocol/pg_codec.h"
#include "pooler/protocol/pg_requests.h"

namespace pg = shardpool::protocol::pg;
using shardpool::fuzz::asBytes;

namespace {

void errorResponse(pg::Bytes body) {
  auto fields = pg::decodeErrorResponse(body);
  auto downgraded = pg::downgradedErrorFields(body, "shard \"s1\": ");
  // Both read the same layout: one accepts exactly what the other does.
  FUZZ_CHECK(fields.has_value() == downgraded.has_value());
  pg::Writer w;
  pg::putErrorDowngraded(w, body);
  FUZZ_CHECK(!w.failed());
  pg::Frame f = pg::frameMessage(asBytes(w.data()));
  FUZZ_CHECK(f.status == pg::FrameStatus::Ok && f.type == 'E');
  if (!fields) return;
  auto again = pg::decodeErrorResponse(f.body);
  FUZZ_CHECK(again && again->sqlstate == fields->sqlstate);
  FUZZ_CHECK(again->severity != "FATAL" && again->severity != "PANIC");
}

void authentication(pg::Bytes body) {
  auto auth = pg::decodeAuthentication(body);
  if (!auth) return;
  if (auth->code == pg::AuthCode::Sasl) {
    for (std::string_view m : pg::decodeSaslMechanisms(auth->data)) FUZZ_CHECK(!m.empty());
  }
  if (auth->code == pg::AuthCode::Md5Password) FUZZ_CHECK(auth->data.size() == 4);
}

struct QueueVisitor {
  size_t completedCount = 0, droppedCount = 0, synthesizedCount = 0;
  void completed(const pg::Request&) { ++completedCount; }
  void dropped(const pg::Request&) { ++droppedCount; }
  void synthesize(const pg::Request&) { ++synthesizedCount; }
};

// Requests a client could have outstanding: a Query, or an extended batch, with fates the
// pooler gives them (its own injected messages are swallowed, some are answered by itself).
pg::RequestQueue requestsFor(uint8_t pick) {
  static constexpr char kTypes[] = {'Q', 'P', 'B', 'D', 'E', 'S', 'C', 'F'};
  pg::RequestQueue q;
  size_t n = 1 + pick % 6;
  for (size_t i = 0; i < n; ++i) {
    pg::Request r;
    r.type = kTypes[(pick / 6 + i * 3) % 8];
    r.fate = pg::Fate((pick + i) % 4);
    r.describeStatement = (pick >> i) & 1;
    q.push(std::move(r));
  }
  return q;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  shardpool::fuzz::Input in(data, size);
  uint8_t c0 = in.byte(), c1 = in.byte(), queuePick = in.byte();
  pg::RequestQueue queue = requestsFor(queuePick);
  size_t before = queue.size();
  QueueVisitor visitor;
  shardpool::fuzz::StreamCheck check(c0, c1, asBytes(in.remaining()));
  check.run([&](char type, pg::Bytes body) {
    switch (type) {
      case 'E':
      case 'N':
        errorResponse(body);
        break;
      case 'S':
        (void)pg::decodeParameterStatus(body);
        break;
      case 'K':
        (void)pg::decodeBackendKeyData(body);
        break;
      case 'Z':
        if (auto status = pg::decodeReadyForQuery(body))
          FUZZ_CHECK(*status == 'I' || *status == 'T' || *status == 'E');
        break;
      case 'R':
        authentication(body);
        break;
      default:
        break;
    }
    (void)queue.replyFate(type);
    (void)queue.matters(type);
    (void)queue.pending();
    queue.onReply(type, visitor);
  });
  // Every request leaves the queue exactly once, one way or another.
  FUZZ_CHECK(visitor.completedCount + visitor.droppedCount + visitor.synthesizedCount +
                 queue.size() ==
             before);
  return 0;
}
