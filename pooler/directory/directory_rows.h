// The rows of a directory table (docs/config.md, "Directory sharding"), read as libpq gives
// them (text format values, type OIDs), turned into directory entries. Pure: no I/O.
//
//   key_from  an integer type (int2/int4/int8): integer keys; a text type (text, varchar,
//             char, name): text keys. Never null.
//   key_to    null: the single key key_from; else the last key of the range (integer keys).
//   shard     an integer type: a shard index; a text type: a shard name, or, when no shard has
//             that name, a shard index written in decimal.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/sharding.h"

namespace shardpool::pooler {

class DirectoryRowReader {
 public:
  enum class ColumnType { Integer, Text, Other };
  static ColumnType columnType(uint32_t typeOid);

  explicit DirectoryRowReader(std::vector<std::string> shardNames);

  // The result's column types, once per result: "" when they are usable, else why not.
  std::string setColumns(uint32_t keyFromOid, uint32_t keyToOid, uint32_t shardOid);

  // One row; a null pointer is SQL NULL. False with `error` (naming the row by its key) when
  // the row is not a valid entry.
  bool read(const char* keyFrom, const char* keyTo, const char* shard, config::DirectoryEntry& out,
            std::string& error) const;

 private:
  std::optional<uint32_t> shardOf(std::string_view value, std::string& error) const;

  std::vector<std::string> shardNames_;
  ColumnType keyType_ = ColumnType::Integer;
  ColumnType shardType_ = ColumnType::Integer;
};

// Parses a whole decimal int64 ("-12"); nullopt for anything else.
std::optional<int64_t> parseInt64(std::string_view text);

}  // namespace shardpool::pooler
