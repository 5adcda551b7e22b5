// PostgreSQL v3 extended-query frontend messages (Parse, Bind, Describe, Close, Sync, Flush) and
// the backend replies the pooler synthesizes for them, plus helpers for renaming client prepared
// statements to stable server-side names in transaction pooling.
// Pure: bytes in, messages out. No I/O, no libuv.
//
// Decoders take a message body (Frame::body: the bytes after the 5-byte header) and are strict:
// every byte must be consumed, and malformed input yields nullopt, never a crash. The returned
// views point into the body and live only as long as it does.
//
// 16-bit counts (parameter types, format codes, parameter values) are read as unsigned, 0..65535,
// exactly as the server reads them (pq_getmsgint(msg, 2)); clients may send up to 65535 parameters.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pooler/protocol/pg_codec.h"

namespace shardpool::protocol::pg {

// Longest name the server keeps: longer statement names are silently truncated to NAMEDATALEN-1
// by the server, so two long names sharing a 63-byte prefix would collide.
constexpr size_t kMaxIdentifierLength = 63;
// Most entries a 16-bit count can announce.
constexpr size_t kMaxCount16 = 65535;

// ---- Parse ('P') ----
struct ParseMsg {
  std::string_view name;  // "" is the unnamed statement
  std::string_view query;
  std::vector<uint32_t> paramTypes;  // OIDs; 0 leaves a parameter's type unspecified
  bool operator==(const ParseMsg&) const = default;
};
std::optional<ParseMsg> decodeParse(Bytes body);
// More than kMaxCount16 parameter types, or a name/query with an embedded NUL, fails the Writer.
void putParse(Writer& w, std::string_view name, std::string_view query,
              const std::vector<uint32_t>& paramTypes);

// ---- Bind ('B') ----
// Portal, statement, then the rest (parameter formats, values, result formats) kept opaque. The
// decoder still walks `rest` to check its structure and exact length (value lengths must be -1
// for NULL or >= 0); it does not check format codes or the formats/values count rule, which the
// server reports itself with a proper error.
struct BindMsg {
  std::string_view portal;
  std::string_view statement;
  Bytes rest;
};
std::optional<BindMsg> decodeBind(Bytes body);
// Writes a Bind identical to `orig` but with the statement name replaced; `rest` is copied
// byte for byte.
void putBindRenamed(Writer& w, const BindMsg& orig, std::string_view newStatement);
// The parameter values of a Bind (its `rest`): formats as sent (none: all text; one: all that
// one; else one per parameter) and the values, nullopt for NULL. Views into `rest`.
struct BindValues {
  std::vector<int16_t> formats;
  std::vector<std::optional<std::string_view>> values;
};
std::optional<BindValues> decodeBindValues(Bytes rest);
// A Bind of `statement` into `portal` with no parameters and text results.
void putBindEmpty(Writer& w, std::string_view portal, std::string_view statement);
// Execute of `portal`, all rows.
void putExecute(Writer& w, std::string_view portal);

// ---- Describe ('D') / Close ('C') ----
// kind 'S' (prepared statement) or 'P' (portal); any other kind is rejected by the decoders and
// fails the Writer in the builders.
struct TargetMsg {
  char kind = 0;
  std::string_view name;
  bool operator==(const TargetMsg&) const = default;
};
std::optional<TargetMsg> decodeDescribe(Bytes body);
std::optional<TargetMsg> decodeClose(Bytes body);
void putDescribe(Writer& w, char kind, std::string_view name);
void putClose(Writer& w, char kind, std::string_view name);

void putSync(Writer& w);   // 'S', empty body
void putFlush(Writer& w);  // 'H', empty body

// ---- Backend replies the pooler synthesizes for the client ----
void putParseComplete(Writer& w);  // '1', empty body
void putCloseComplete(Writer& w);  // '3', empty body
void putBindComplete(Writer& w);   // '2', empty body
void putNoData(Writer& w);         // 'n', empty body

// Stable server-side statement name for a (query, param types) pair: "sp_" + the first 16 hex
// digits (lower case) of SHA-256 over an unambiguous encoding of the pair. Deterministic across
// processes and platforms, 19 bytes long (under kMaxIdentifierLength). A cryptographic hash keeps
// one client from crafting a query whose name matches another client's statement. Callers
// that reuse a server statement by name should still compare the query text and types they
// recorded for it, as defence in depth.
std::string serverStatementName(std::string_view query, const std::vector<uint32_t>& paramTypes);

// Simple-query inspection: true when `sql` is exactly one DEALLOCATE ALL, DEALLOCATE PREPARE ALL
// or DISCARD ALL statement, keywords matched case-insensitively, ignoring whitespace and SQL
// comments (`--` and nested `/* */`) around and between the keywords, and empty statements (`;`)
// before or after it. Quoted identifiers ("ALL") are not keywords and do not match.
// A multi-statement string returns false even if one of its statements qualifies: whether that
// statement ran depends on the others (and DISCARD ALL cannot run in one at all). The exact
// signal is the server's CommandComplete tag ("DEALLOCATE ALL" / "DISCARD ALL").
bool isDeallocateAllOrDiscardAll(std::string_view sql);

// Simple-query inspection: the statement name of exactly one `DEALLOCATE [PREPARE] name`
// (nullopt for ALL, several statements, or anything else), as PostgreSQL resolves it: an unquoted
// name folded to lower case, a quoted one as written.
std::optional<std::string> deallocateTarget(std::string_view sql);

}  // namespace shardpool::protocol::pg
