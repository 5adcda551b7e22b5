// The metrics endpoint's HTTP/1.x request-head parser, fed the same bytes whole and in pieces:
// the requests it reports (pipelined ones too, the body of each skipped as the server does) and
// where it stops must not depend on how the bytes were split.
// Input: one control byte (piece sizes, head limit), then the connection's bytes.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "pooler/protocol/http_request.h"

using shardpool::protocol::HttpParseStatus;
using shardpool::protocol::HttpRequestParser;

namespace {

struct Outcome {
  std::vector<std::string> requests;  // one line per complete request head
  int errorStatus = 0;
  bool operator==(const Outcome&) const = default;
};

Outcome parse(std::string_view input, size_t piece, size_t maxHead) {
  HttpRequestParser parser(maxHead);
  Outcome out;
  uint64_t skip = 0;
  while (!input.empty()) {
    std::string_view chunk = input.substr(0, piece);
    input.remove_prefix(chunk.size());
    while (!chunk.empty()) {
      if (skip > 0) {
        size_t n = size_t(std::min<uint64_t>(skip, chunk.size()));
        chunk.remove_prefix(n);
        skip -= n;
        continue;
      }
      auto r = parser.feed(chunk);
      FUZZ_CHECK(r.consumed <= chunk.size());
      chunk.remove_prefix(r.consumed);
      if (r.status == HttpParseStatus::Error) {
        FUZZ_CHECK(parser.error().status >= 400 && parser.error().status <= 599);
        out.errorStatus = parser.error().status;
        return out;
      }
      if (r.status == HttpParseStatus::NeedMore) {
        FUZZ_CHECK(chunk.empty());
        FUZZ_CHECK(parser.headBytes() <= maxHead);
        continue;
      }
      const auto& req = parser.request();
      FUZZ_CHECK(!req.method.empty());
      out.requests.push_back(req.method + " " + req.path + " " + std::to_string(int(req.version)) +
                             " " + std::to_string(int(req.connection)) + " " +
                             std::to_string(req.contentLength) + (req.keepAlive() ? " ka" : ""));
      skip = req.contentLength;
      parser.reset();
      FUZZ_CHECK(parser.headBytes() == 0);
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  shardpool::fuzz::Input in(data, size);
  uint8_t control = in.byte();
  std::string_view bytes = in.remaining();
  size_t maxHead = control & 0x80 ? 16 + (control & 0x7f) * 4 : HttpRequestParser::kDefaultMaxHead;
  size_t piece = 1 + control % 13;
  Outcome whole = parse(bytes, bytes.size() + 1, maxHead);
  Outcome pieces = parse(bytes, piece, maxHead);
  FUZZ_CHECK(whole == pieces);
  return 0;
}
