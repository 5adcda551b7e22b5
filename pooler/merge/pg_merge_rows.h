// Internal to pg_merge*: the DataRows of one result, from every shard, merged per a MergePlan
// (concatenated, cut, k-way merged, aggregated). The protocol walk around it is pg_merge.cpp.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pooler/merge/pg_merge.h"

namespace shardpool::protocol::pg::merge {

// One RowDescription field, as far as merging cares.
struct Column {
  std::string_view name;
  uint32_t typeOid = 0;
  int16_t format = 0;
};

struct RowsOutcome {
  MergeStatus status = MergeStatus::Ok;  // Ok, Refused or Malformed
  std::string sqlstate;                  // when not Ok
  std::string message;
  std::string hint;
  int badShard = -1;  // Malformed: whose DataRow could not be read
  std::string bytes;  // Ok: the DataRow messages for the client
  uint64_t rows = 0;  // Ok: how many
};

// `shardRows[s]` holds shard s's DataRow messages (whole, type byte included) in arrival order;
// `columns` is the result's RowDescription, empty when the batch had none for this result.
RowsOutcome mergeRows(const MergePlan& plan, std::span<const Column> columns,
                      std::span<const std::vector<std::string_view>> shardRows,
                      const MergeOptions& options);

// "SELECT with <what> across shards is not supported: add a sharding key ..." (planMerge's form).
std::string refusalMessage(std::string_view what, std::string_view keyColumn = {});

}  // namespace shardpool::protocol::pg::merge
