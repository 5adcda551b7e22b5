// Route decisions with arbitrary Bind values: the statement's parameters come from a Bind
// message's parameter section, decoded as the pooler decodes it (decodeBindValues), with
// parameter types from a fixed set of OIDs, on one of the shard maps of shard_maps.h.
// Input: a control byte (map, hints, types), the SQL, '\0', the Bind's formats and values.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "fuzz/route_check.h"
#include "fuzz/shard_maps.h"
#include "pooler/protocol/pg_extended.h"
#include "router/pg_params.h"
#include "router/pg_statement.h"

namespace router = shardpool::router;
namespace pg = shardpool::protocol::pg;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  shardpool::fuzz::Input in(data, size);
  uint8_t control = in.byte();
  uint8_t typePick = in.byte();
  std::string_view sql = in.until(std::string_view("\0", 1));
  auto values = pg::decodeBindValues(shardpool::fuzz::asBytes(in.remaining()));
  if (!values) return 0;

  const router::ShardMap& map = shardpool::fuzz::shardMaps()[control % 4];
  router::StatementFacts facts = router::analyze(sql, map.tables);

  // int2, int4, int8, text, varchar, numeric, unspecified, bool
  static constexpr uint32_t kTypes[] = {21, 23, 20, 25, 1043, 1700, 0, 16};
  router::BindParams bind;
  bind.values = values->values;
  bind.formats = values->formats;
  for (size_t i = 0; i < bind.values.size() && i < 8; ++i)
    bind.types.push_back(kTypes[(typePick + i * (control >> 5)) % 8]);

  router::SessionHints hints;
  if (control & 0x04) hints.shard = control >> 4;
  if (control & 0x08) hints.shardingKey = std::string(sql.substr(0, 4));
  shardpool::fuzz::checkRoute(router::routeBound(facts, map, hints, &bind), map);
  shardpool::fuzz::checkRoute(router::routeBound(facts, map, {}, &bind), map);
  return 0;
}
