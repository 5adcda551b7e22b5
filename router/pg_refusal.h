// PostgreSQL's names for the router's refusals: the SQLSTATE a client gets for each reason, as
// PostgreSQL itself would report the same problem.
#pragma once

#include <string_view>

#include "router/route.h"

namespace shardpool::router {

std::string_view pgSqlstate(RefusalReason reason);

}  // namespace shardpool::router
