#include "pooler/directory/directory_rows.h"

#include <fmt/format.h>

#include <charconv>

namespace shardpool::pooler {

namespace {

// pg_type OIDs (catalog/pg_type_d.h): stable across PostgreSQL versions.
constexpr uint32_t kInt8 = 20, kInt2 = 21, kInt4 = 23, kText = 25, kName = 19, kBpchar = 1042,
                   kVarchar = 1043;

std::string_view typeName(DirectoryRowReader::ColumnType t) {
  switch (t) {
    case DirectoryRowReader::ColumnType::Integer:
      return "integer";
    case DirectoryRowReader::ColumnType::Text:
      return "text";
    case DirectoryRowReader::ColumnType::Other:
      return "other";
  }
  return "other";
}

}  // namespace

std::optional<int64_t> parseInt64(std::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

DirectoryRowReader::ColumnType DirectoryRowReader::columnType(uint32_t typeOid) {
  switch (typeOid) {
    case kInt2:
    case kInt4:
    case kInt8:
      return ColumnType::Integer;
    case kText:
    case kVarchar:
    case kBpchar:
    case kName:
      return ColumnType::Text;
    default:
      return ColumnType::Other;
  }
}

DirectoryRowReader::DirectoryRowReader(std::vector<std::string> shardNames)
    : shardNames_(std::move(shardNames)) {}

std::string DirectoryRowReader::setColumns(uint32_t keyFromOid, uint32_t keyToOid,
                                           uint32_t shardOid) {
  keyType_ = columnType(keyFromOid);
  shardType_ = columnType(shardOid);
  if (keyType_ == ColumnType::Other)
    return fmt::format(
        "column key_from has type OID {}; it must be bigint (or another integer "
        "type) for integer keys, or text for text keys",
        keyFromOid);
  ColumnType toType = columnType(keyToOid);
  if (toType != keyType_)
    return fmt::format("column key_to has type OID {} ({}); it must have the type of key_from ({})",
                       keyToOid, typeName(toType), typeName(keyType_));
  if (shardType_ == ColumnType::Other)
    return fmt::format(
        "column shard has type OID {}; it must be text (a shard name) or an "
        "integer type (a shard index)",
        shardOid);
  return {};
}

std::optional<uint32_t> DirectoryRowReader::shardOf(std::string_view value,
                                                    std::string& error) const {
  if (shardType_ == ColumnType::Text) {
    for (size_t i = 0; i < shardNames_.size(); ++i)
      if (shardNames_[i] == value) return static_cast<uint32_t>(i);
  }
  auto index = parseInt64(value);
  if (index && *index >= 0 && static_cast<uint64_t>(*index) < shardNames_.size())
    return static_cast<uint32_t>(*index);
  if (index || shardType_ == ColumnType::Integer) {
    error = fmt::format("shard {} does not exist (the database has {} shard(s), 0 to {})", value,
                        shardNames_.size(), shardNames_.size() - 1);
  } else {
    std::string names;
    for (const auto& n : shardNames_) names += (names.empty() ? "\"" : ", \"") + n + "\"";
    error = fmt::format("no shard is named \"{}\" (the shards are {})", value, names);
  }
  return std::nullopt;
}

bool DirectoryRowReader::read(const char* keyFrom, const char* keyTo, const char* shard,
                              config::DirectoryEntry& out, std::string& error) const {
  if (!keyFrom) {
    error = "a row has key_from null";
    return false;
  }
  std::string_view from(keyFrom);
  auto describe = [&] {
    return keyType_ == ColumnType::Text ? fmt::format("row key_from '{}'", from)
                                        : fmt::format("row key_from {}", from);
  };
  out = config::DirectoryEntry{};
  if (keyType_ == ColumnType::Text) {
    if (keyTo) {
      error = describe() + ": key_to must be null for a text key (ranges are for integer keys)";
      return false;
    }
    if (from.empty()) {
      error = describe() + ": a text key may not be empty";
      return false;
    }
    out.kind = config::DirectoryEntry::Kind::Text;
    out.text = from;
  } else {
    auto f = parseInt64(from);
    std::optional<int64_t> t = keyTo ? parseInt64(keyTo) : f;
    if (!f || !t) {
      error = describe() + ": not an integer";
      return false;
    }
    if (*t < *f) {
      error = fmt::format("{}: key_to {} is less than key_from", describe(), *t);
      return false;
    }
    out.kind = keyTo ? config::DirectoryEntry::Kind::Range : config::DirectoryEntry::Kind::Integer;
    out.from = *f;
    out.to = *t;
  }
  if (!shard) {
    error = describe() + ": shard is null";
    return false;
  }
  std::string why;
  auto index = shardOf(shard, why);
  if (!index) {
    error = describe() + ": " + why;
    return false;
  }
  out.shard = *index;
  return true;
}

}  // namespace shardpool::pooler
