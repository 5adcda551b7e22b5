// Startup-phase packets (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest): frameStartup,
// then decodeStartup; a decoded StartupMessage is encoded again and must decode to the same
// parameters. Input: the bytes a client sends first.
#include <cstdint>

#include "fuzz/fuzz_util.h"
#include "pooler/protocol/pg_codec.h"

namespace pg = shardpool::protocol::pg;
using shardpool::fuzz::asBytes;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pg::Bytes in(data, size);
  pg::Frame f = pg::frameStartup(in);
  if (f.status == pg::FrameStatus::NeedMore) {
    FUZZ_CHECK(f.need >= 1);
    return 0;
  }
  if (f.status == pg::FrameStatus::Invalid) return 0;
  FUZZ_CHECK(f.totalSize == f.length && f.totalSize <= size && f.length <= pg::kMaxStartupLength);
  FUZZ_CHECK(f.body.size() == f.length - 4);

  pg::StartupResult r = pg::decodeStartup(f.body);
  FUZZ_CHECK(r.packet.has_value() != !r.error.empty());
  if (!r.packet || r.packet->kind != pg::StartupKind::Startup) return 0;
  FUZZ_CHECK(!r.packet->param("user").empty());

  pg::Writer w;
  pg::putStartup(w, r.packet->params);
  FUZZ_CHECK(!w.failed());
  // The same parameters take the same room, so the re-encoded packet frames too.
  pg::Frame again = pg::frameStartup(asBytes(w.data()));
  FUZZ_CHECK(again.status == pg::FrameStatus::Ok && again.totalSize == f.totalSize);
  pg::StartupResult r2 = pg::decodeStartup(again.body);
  FUZZ_CHECK(r2.packet && r2.packet->params == r.packet->params);
  return 0;
}
