#include "router/pg_refusal.h"

namespace shardpool::router {

std::string_view pgSqlstate(RefusalReason reason) {
  switch (reason) {
    case RefusalReason::InvalidKey:
      return "22023";  // invalid_parameter_value
    case RefusalReason::NotAnInteger:
      return "22P02";  // invalid_text_representation
    case RefusalReason::OutOfRange:
      return "22003";  // numeric_value_out_of_range
    case RefusalReason::MalformedBinary:
      return "22P03";  // invalid_binary_representation
    case RefusalReason::NotSupported:
      return "0A000";  // feature_not_supported
    case RefusalReason::NotReady:
      return "55000";  // object_not_in_prerequisite_state
  }
  return "XX000";
}

}  // namespace shardpool::router
