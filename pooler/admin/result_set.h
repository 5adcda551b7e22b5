// A table built by the admin console (SHOW ...), encoded as RowDescription, DataRows and
// CommandComplete in text format.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pooler/protocol/pg_codec.h"

namespace shardpool::pooler::admin {

class ResultSet {
 public:
  enum class Type { Text, Int, Double };

  explicit ResultSet(std::string tag = "SHOW") : tag_(std::move(tag)) {}
  ResultSet& column(std::string name, Type type = Type::Text);
  ResultSet& row();  // starts a row; fill it with add() in column order
  ResultSet& add(std::string value);
  ResultSet& add(const char* value) { return add(std::string(value)); }
  ResultSet& add(int64_t value);
  ResultSet& add(uint64_t value) { return add(static_cast<int64_t>(value)); }
  ResultSet& add(uint32_t value) { return add(static_cast<int64_t>(value)); }
  ResultSet& add(int value) { return add(static_cast<int64_t>(value)); }
  ResultSet& add(double value);
  ResultSet& add(bool value) { return add(static_cast<int64_t>(value ? 1 : 0)); }
  ResultSet& addNull();

  size_t rows() const { return rows_.size(); }
  size_t columns() const { return columns_.size(); }
  // The cell at (row, column name), for tests and for WAIT-style polling; nullopt if absent.
  std::optional<std::string> cell(size_t row, std::string_view column) const;
  void encode(protocol::pg::Writer& w) const;

 private:
  struct Column {
    std::string name;
    Type type;
  };
  std::string tag_;
  std::vector<Column> columns_;
  std::vector<std::vector<std::optional<std::string>>> rows_;
};

}  // namespace shardpool::pooler::admin
