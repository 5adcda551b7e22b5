// Transaction and statement pooling hand a server to another client after each transaction, so
// features whose state outlives a transaction on the server (LISTEN, session advisory locks,
// temporary tables kept past commit) would leak to, or be lost by, other clients. The guard
// recognises them in the query text and names the problem instead. Heuristic by design: it
// reads keywords, not a full parse, and says so in the docs.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace shardpool::pooler {

// The reason `sql` must not run in transaction/statement pooling, or nullopt when it may.
std::optional<std::string> sessionOnlyFeature(std::string_view sql);

// A query that makes the server raise `message` with SQLSTATE 0A000 (feature_not_supported), so
// the error arrives in order and aborts the transaction like any other error.
std::string raiseFeatureNotSupported(std::string_view message);
// `text` as an SQL string literal, E'...', which reads the same whatever
// standard_conforming_strings says.
std::string quoteLiteral(std::string_view text);
// The same with any SQLSTATE (five characters [0-9A-Z]) and an optional hint.
std::string raiseError(std::string_view sqlstate, std::string_view message,
                       std::string_view hint = {});

}  // namespace shardpool::pooler
