#include "config/password_format.h"

#include <charconv>
#include <cstdint>

namespace shardpool::config {

namespace {

constexpr std::string_view kScramPrefix = "SCRAM-SHA-256$";
constexpr std::string_view kMd5Prefix = "md5";
constexpr size_t kMd5HexDigits = 32;
constexpr size_t kScramKeyBytes = 32;  // SHA-256 output

bool isHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool isLowerHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool isBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// Decoded length of padded standard base64, or nullopt when malformed or empty.
std::optional<size_t> base64Length(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  size_t padding = 0;
  while (padding < 2 && text.size() > padding && text[text.size() - 1 - padding] == '=') ++padding;
  for (size_t i = 0; i < text.size() - padding; ++i) {
    if (!isBase64Char(text[i])) return std::nullopt;
  }
  return text.size() / 4 * 3 - padding;
}

std::optional<std::string> scramError(std::string_view secret) {
  static constexpr std::string_view kShape =
      "expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>";
  std::string_view rest = secret.substr(kScramPrefix.size());
  size_t dollar = rest.find('$');
  if (dollar == std::string_view::npos)
    return std::string("malformed SCRAM secret: ") + std::string(kShape);
  std::string_view head = rest.substr(0, dollar);   // iterations:salt
  std::string_view keys = rest.substr(dollar + 1);  // stored:server
  size_t c1 = head.find(':');
  size_t c2 = keys.find(':');
  if (c1 == std::string_view::npos || c2 == std::string_view::npos) {
    return std::string("malformed SCRAM secret: ") + std::string(kShape);
  }
  std::string_view iterations = head.substr(0, c1);
  uint32_t count = 0;
  auto [end, ec] = std::from_chars(iterations.data(), iterations.data() + iterations.size(), count);
  if (iterations.empty() || ec != std::errc() || end != iterations.data() + iterations.size() ||
      count == 0) {
    return std::string("malformed SCRAM secret: the iteration count must be a positive integer");
  }
  if (!base64Length(head.substr(c1 + 1))) {
    return std::string("malformed SCRAM secret: the salt is not valid base64");
  }
  if (base64Length(keys.substr(0, c2)) != kScramKeyBytes) {
    return std::string("malformed SCRAM secret: StoredKey must be 32 bytes in base64");
  }
  if (base64Length(keys.substr(c2 + 1)) != kScramKeyBytes) {
    return std::string("malformed SCRAM secret: ServerKey must be 32 bytes in base64");
  }
  return std::nullopt;
}

}  // namespace

SecretKind secretKind(std::string_view password) {
  if (password.empty()) return SecretKind::Empty;
  if (password.starts_with(kScramPrefix)) return SecretKind::Scram;
  if (password.starts_with(kMd5Prefix)) {
    std::string_view digits = password.substr(kMd5Prefix.size());
    if (digits.size() == kMd5HexDigits) return SecretKind::Md5;
    bool allHex = !digits.empty();
    for (char c : digits) allHex = allHex && isHex(c);
    if (allHex) return SecretKind::Md5;
  }
  return SecretKind::Plain;
}

std::optional<std::string> secretFormatError(std::string_view password) {
  switch (secretKind(password)) {
    case SecretKind::Empty:
    case SecretKind::Plain:
      return std::nullopt;
    case SecretKind::Scram:
      return scramError(password);
    case SecretKind::Md5: {
      std::string_view digits = password.substr(kMd5Prefix.size());
      bool ok = digits.size() == kMd5HexDigits;
      for (char c : digits) ok = ok && isLowerHex(c);
      if (ok) return std::nullopt;
      return std::string(
          "malformed md5 password: expected \"md5\" followed by 32 lowercase hex digits");
    }
  }
  return std::nullopt;
}

}  // namespace shardpool::config
