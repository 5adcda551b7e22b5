// auth_hba_file rules (config/hba.h) on arbitrary text: the tokenizer (quotes, comments, line
// continuations, comma lists), the field readers and the matcher. A file is read by operators,
// not peers, but a typo must give an error at its line, never a crash or a hang.
// Input: the hba text, then after a '\0' the text every @file include reads.
#include <arpa/inet.h>

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/hba.h"
#include "fuzz/fuzz_util.h"

namespace config = shardpool::config;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  shardpool::fuzz::Input in(data, size);
  std::string_view text = in.until(std::string_view("\0", 1));
  std::string included(in.remaining());
  int includes = 0;
  config::HbaIncludeReader read = [&](const std::string&, std::string& error)
      -> std::optional<std::string> {
    if (++includes > 8) {
      error = "too many";
      return std::nullopt;
    }
    return included;
  };
  std::vector<config::HbaError> errors;
  config::HbaRules rules = config::parseHba(text, "/etc/hba.conf", read, errors);
  for (const config::HbaError& e : errors) FUZZ_CHECK(!e.message.empty());
  if (!errors.empty()) return 0;
  for (const config::HbaRule& r : rules.rules) {
    FUZZ_CHECK(r.line >= 1);
    FUZZ_CHECK(r.method != config::AuthType::Hba);
    FUZZ_CHECK(r.method != config::AuthType::Peer || r.type == config::HbaConnType::Local);
    FUZZ_CHECK(r.method != config::AuthType::Cert || r.type == config::HbaConnType::HostSsl);
  }
  // Matching: a unix-socket client, IPv4 and IPv6 TCP clients, with and without TLS.
  uint8_t v4[4] = {10, 1, 2, 3};
  uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
  for (int i = 0; i < 6; ++i) {
    config::HbaClient c;
    c.unixSocket = i == 0;
    c.tls = i % 2 == 1;
    c.v6 = i >= 4;
    c.address = i == 0 ? nullptr : c.v6 ? v6 : v4;
    c.database = i % 3 == 0 ? "app" : "all";
    c.user = i % 3 == 1 ? "app" : "alice";
    if (const config::HbaRule* r = rules.match(c)) {
      FUZZ_CHECK(r >= rules.rules.data() && r < rules.rules.data() + rules.rules.size());
      FUZZ_CHECK(r->type != config::HbaConnType::Local || c.unixSocket);
    }
  }
  return 0;
}
