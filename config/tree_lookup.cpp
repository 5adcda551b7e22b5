#include "config/tree_lookup.h"

namespace shardpool::config {

const toml::table* childTable(const toml::table* table, std::string_view key) {
  if (table == nullptr) return nullptr;
  const toml::node* node = table->get(key);
  return node == nullptr ? nullptr : node->as_table();
}

const toml::table* elementTable(const toml::table* table, std::string_view key, size_t index) {
  const toml::node* node = table == nullptr ? nullptr : table->get(key);
  const toml::array* array = node == nullptr ? nullptr : node->as_array();
  if (array == nullptr || index >= array->size()) return nullptr;
  return array->get(index)->as_table();
}

toml::source_region keyRegion(const toml::table* table, std::string_view key) {
  if (table == nullptr) return {};
  auto it = table->find(key);
  return it == table->end() ? toml::source_region{} : it->first.source();
}

toml::source_region valueRegion(const toml::table* table, std::string_view key) {
  const toml::node* node = table == nullptr ? nullptr : table->get(key);
  return node == nullptr ? toml::source_region{} : node->source();
}

}  // namespace shardpool::config
