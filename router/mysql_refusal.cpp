#include "router/mysql_refusal.h"

namespace shardpool::router {

MysqlError mysqlError(RefusalReason reason) {
  switch (reason) {
    case RefusalReason::InvalidKey:
      return {1231, "42000"};  // ER_WRONG_VALUE_FOR_VAR: a hint or key names no shard
    case RefusalReason::NotAnInteger:
    case RefusalReason::MalformedBinary:
      return {1366, "22007"};  // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
    case RefusalReason::OutOfRange:
      return {1264, "22003"};  // ER_WARN_DATA_OUT_OF_RANGE
    case RefusalReason::NotSupported:
      return {1235, "42000"};  // ER_NOT_SUPPORTED_YET
    case RefusalReason::NotReady:
      return {1105, "HY000"};  // ER_UNKNOWN_ERROR: the routing state cannot answer yet
  }
  return {};
}

}  // namespace shardpool::router
