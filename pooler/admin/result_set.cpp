#include "pooler/admin/result_set.h"

#include <fmt/format.h>

namespace shardpool::pooler::admin {

namespace pg = protocol::pg;

ResultSet& ResultSet::column(std::string name, Type type) {
  columns_.push_back({std::move(name), type});
  return *this;
}

ResultSet& ResultSet::row() {
  rows_.emplace_back();
  rows_.back().reserve(columns_.size());
  return *this;
}

ResultSet& ResultSet::add(std::string value) {
  rows_.back().emplace_back(std::move(value));
  return *this;
}

ResultSet& ResultSet::add(int64_t value) {
  return add(std::to_string(value));
}

ResultSet& ResultSet::add(double value) {
  return add(fmt::format("{:.6g}", value));
}

ResultSet& ResultSet::addNull() {
  rows_.back().emplace_back(std::nullopt);
  return *this;
}

std::optional<std::string> ResultSet::cell(size_t row, std::string_view column) const {
  if (row >= rows_.size()) return std::nullopt;
  for (size_t i = 0; i < columns_.size() && i < rows_[row].size(); ++i)
    if (columns_[i].name == column) return rows_[row][i];
  return std::nullopt;
}

void ResultSet::encode(pg::Writer& w) const {
  std::vector<pg::ColumnDesc> desc;
  desc.reserve(columns_.size());
  for (const Column& c : columns_) {
    uint32_t oid = c.type == Type::Int ? 20 : c.type == Type::Double ? 701 : 25;
    desc.push_back({c.name, oid});
  }
  pg::putRowDescription(w, desc);
  for (const auto& r : rows_) {
    // A row built short (a bug) still matches the description.
    std::vector<std::optional<std::string>> values = r;
    values.resize(columns_.size());
    pg::putDataRow(w, values);
  }
  pg::putCommandComplete(w, tag_);
}

}  // namespace shardpool::pooler::admin
