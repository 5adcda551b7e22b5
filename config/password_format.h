// Recognizes how a password is stored: plain text, an md5 hash or a SCRAM-SHA-256 secret.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace shardpool::config {

enum class SecretKind { Empty, Plain, Md5, Scram };

// By appearance: "SCRAM-SHA-256$..." is Scram; "md5" followed by 32 characters, or by hex digits
// only, is Md5 (well-formed or not); anything else non-empty is Plain.
SecretKind secretKind(std::string_view password);

// Why a password that looks like an md5 hash or a SCRAM secret is malformed; nullopt when it is
// well-formed or plain. Never quotes the password itself.
std::optional<std::string> secretFormatError(std::string_view password);

}  // namespace shardpool::config
