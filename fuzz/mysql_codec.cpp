// MySQL/MariaDB packets (from clients and from servers): message framing with 16 MiB splits,
// the handshake and authentication decoders, the command decoders (COM_STMT_EXECUTE's
// parameters included), OK/ERR/EOF and session-state decoders, and the result tracker that
// decides where a response ends, driven packet by packet.
// Input: a capability byte pair, a command byte for the tracker, then the packet stream.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "pooler/protocol/mysql_codec.h"
#include "pooler/protocol/mysql_commands.h"
#include "pooler/protocol/mysql_handshake.h"
#include "pooler/protocol/mysql_result_tracker.h"
#include "pooler/protocol/mysql_results.h"

namespace my = shardpool::protocol::mysql;

namespace {

void decodeEverything(my::Bytes p, my::Capabilities caps) {
  (void)my::decodeHandshake(p);
  (void)my::isSslRequest(p);
  (void)my::decodeSslRequest(p);
  if (auto r = my::decodeHandshakeResponse(p)) (void)r;
  (void)my::decodeConnectAttributes(p);
  (void)my::decodeAuthSwitchRequest(p);
  (void)my::isFastAuthSuccess(p);
  (void)my::isPerformFullAuth(p);
  (void)my::commandOf(p);
  (void)my::decodeQuery(p);
  (void)my::decodeInitDb(p);
  (void)my::decodeStmtPrepare(p);
  (void)my::decodeSetOption(p);
  (void)my::decodeStmtClose(p);
  (void)my::decodeStmtReset(p);
  (void)my::decodeStmtSendLongData(p);
  (void)my::decodeStmtFetch(p);
  (void)my::decodeChangeUser(p, caps);
  (void)my::decodeOk(p, caps);
  (void)my::decodeSessionState(p);
  (void)my::decodeErr(p);
  (void)my::isEof(p);
  (void)my::decodeEof(p);
  (void)my::decodeColumnCount(p, caps);
  for (uint16_t params : {uint16_t(0), uint16_t(1), uint16_t(3), uint16_t(17)}) {
    auto e = my::decodeStmtExecute(p, params);
    if (!e) continue;
    std::vector<my::ParamValue> values(params);
    (void)my::decodeParamValues(*e, values);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  shardpool::fuzz::Input in(data, size);
  my::Capabilities caps = (my::Capabilities(in.byte()) << 8 | in.byte()) << 16 | 0x0200;
  uint8_t command = in.byte();
  std::string_view rest = in.remaining();
  my::Bytes stream = shardpool::fuzz::asBytes(rest);

  my::ResultTracker tracker(caps);
  std::array<uint8_t, 1> cmd{command};
  bool tracking = tracker.begin(my::Bytes(cmd.data(), cmd.size())) == my::TrackStatus::More;
  while (!stream.empty()) {
    my::MessageFrame m = my::frameMessage(stream, 1u << 20);
    if (m.status != my::FrameStatus::Ok) {
      // The packet layer never refuses: walk it packet by packet instead.
      my::PacketFrame f = my::framePacket(stream);
      if (f.status != my::FrameStatus::Ok) break;
      FUZZ_CHECK(f.totalSize > 0 && f.totalSize <= stream.size());
      stream = stream.subspan(f.totalSize);
      continue;
    }
    FUZZ_CHECK(m.totalSize > 0 && m.totalSize <= stream.size());
    std::string payload;
    FUZZ_CHECK(my::appendPayload(stream.subspan(0, m.totalSize), payload));
    FUZZ_CHECK(payload.size() == m.payloadSize);
    my::Bytes p(reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
    decodeEverything(p, caps);
    if (tracking) {
      auto r = tracker.onPacket(static_cast<uint32_t>(payload.size()), p);
      if (r.status != my::TrackStatus::More) tracking = false;
    }
    stream = stream.subspan(m.totalSize);
  }
  return 0;
}
