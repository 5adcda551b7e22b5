// Frontend (client -> shardpool) messages after the startup packet: the framing scanner, then the
// decoders of the messages the pooler inspects (Parse, Bind and its values, Describe, Close,
// Query, password and SASL responses), each decoded message re-encoded and decoded again.
// Input: two control bytes (pg_stream.h), then the message stream.
#include <cstdint>
#include <string>

#include "fuzz/fuzz_util.h"
#include "fuzz/pg_stream.h"
#include "pooler/protocol/pg_codec.h"
#include "pooler/protocol/pg_extended.h"

namespace pg = shardpool::protocol::pg;
using shardpool::fuzz::asBytes;
using shardpool::fuzz::asText;

namespace {

// The body of the one message a Writer holds.
pg::Bytes onlyBody(const pg::Writer& w) {
  pg::Frame f = pg::frameMessage(asBytes(w.data()));
  FUZZ_CHECK(f.status == pg::FrameStatus::Ok && f.totalSize == w.data().size());
  return f.body;
}

void parse(pg::Bytes body) {
  auto p = pg::decodeParse(body);
  if (!p) return;
  pg::Writer w;
  pg::putParse(w, p->name, p->query, p->paramTypes);
  FUZZ_CHECK(!w.failed());
  auto again = pg::decodeParse(onlyBody(w));
  FUZZ_CHECK(again && *again == *p);
  (void)pg::serverStatementName(p->query, p->paramTypes);
}

void bind(pg::Bytes body) {
  auto b = pg::decodeBind(body);
  if (!b) return;
  if (auto values = pg::decodeBindValues(b->rest)) {
    FUZZ_CHECK(values->formats.size() <= pg::kMaxCount16);
    FUZZ_CHECK(values->values.size() <= pg::kMaxCount16);
  }
  pg::Writer w;
  pg::putBindRenamed(w, *b, "sp_0123456789abcdef");
  FUZZ_CHECK(!w.failed());
  auto again = pg::decodeBind(onlyBody(w));
  FUZZ_CHECK(again && again->portal == b->portal && again->statement == "sp_0123456789abcdef");
  FUZZ_CHECK(asText(again->rest) == asText(b->rest));
}

void target(char type, pg::Bytes body) {
  auto t = type == 'D' ? pg::decodeDescribe(body) : pg::decodeClose(body);
  if (!t) return;
  FUZZ_CHECK(t->kind == 'S' || t->kind == 'P');
  pg::Writer w;
  if (type == 'D')
    pg::putDescribe(w, t->kind, t->name);
  else
    pg::putClose(w, t->kind, t->name);
  FUZZ_CHECK(!w.failed());
  auto again = type == 'D' ? pg::decodeDescribe(onlyBody(w)) : pg::decodeClose(onlyBody(w));
  FUZZ_CHECK(again && *again == *t);
}

void query(pg::Bytes body) {
  pg::Reader r(body);
  std::string_view sql = r.cstring();
  if (r.ok()) (void)pg::isDeallocateAllOrDiscardAll(sql);
  // Whatever the terminator says, the text as a whole must not crash the check either.
  (void)pg::isDeallocateAllOrDiscardAll(asText(body));
}

void password(pg::Bytes body) {
  (void)pg::decodePasswordMessage(body);
  if (auto sasl = pg::decodeSaslInitialResponse(body)) {
    pg::Writer w;
    pg::putSaslInitialResponse(w, sasl->mechanism, sasl->data);
    if (!w.failed()) {
      auto again = pg::decodeSaslInitialResponse(onlyBody(w));
      FUZZ_CHECK(again && again->mechanism == sasl->mechanism && again->data == sasl->data);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  shardpool::fuzz::Input in(data, size);
  uint8_t c0 = in.byte(), c1 = in.byte();
  shardpool::fuzz::StreamCheck check(c0, c1, asBytes(in.remaining()));
  check.run([](char type, pg::Bytes body) {
    switch (type) {
      case 'P':
        parse(body);
        break;
      case 'B':
        bind(body);
        break;
      case 'D':
      case 'C':
        target(type, body);
        break;
      case 'Q':
        query(body);
        break;
      case 'p':
        password(body);
        break;
      default:
        break;
    }
  });
  return 0;
}
