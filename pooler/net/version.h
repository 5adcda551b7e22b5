// shardpool's version, for --version, SHOW VERSION and the server_version it reports.
#pragma once

namespace shardpool::pooler {
inline constexpr const char* kVersion = "0.1.0";
}
