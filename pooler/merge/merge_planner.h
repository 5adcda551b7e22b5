// planMerge(): before a statement is sent to several shards, whether and how their results can
// be merged into one (protocol::pg::MergePlan, carried out by pg_merge's ReplyMerger), decided
// from the router's analysis of the statement alone.
#pragma once

#include <string_view>

#include "pooler/merge/pg_merge.h"
#include "router/statement_facts.h"

namespace shardpool::pooler {

// `keyColumn`, when given, names the sharding key in refusal messages.
protocol::pg::MergePlan planMerge(const router::StatementFacts& facts,
                                  std::string_view keyColumn = {});

}  // namespace shardpool::pooler
