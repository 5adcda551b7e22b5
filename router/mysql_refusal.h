// MySQL's names for the router's refusals: the error code and SQLSTATE a MySQL client gets for
// each reason, as MariaDB reports a problem of the same kind.
#pragma once

#include <cstdint>
#include <string_view>

#include "router/route.h"

namespace shardpool::router {

struct MysqlError {
  uint16_t code = 1105;  // ER_UNKNOWN_ERROR
  std::string_view sqlState = "HY000";
};

MysqlError mysqlError(RefusalReason reason);

}  // namespace shardpool::router
