#include "router/pg_params.h"

namespace shardpool::router {

namespace {
// Parameter type OIDs (pg_type.dat).
constexpr uint32_t kInt8Oid = 20, kInt2Oid = 21, kInt4Oid = 23, kTextOid = 25, kVarcharOid = 1043;

int64_t bigEndian(std::string_view bytes) {
  uint64_t v = 0;
  for (char c : bytes) v = (v << 8) | static_cast<unsigned char>(c);
  size_t bits = bytes.size() * 8;
  if (bits < 64 && (v >> (bits - 1)) != 0) v |= ~uint64_t{0} << bits;  // sign-extend
  return static_cast<int64_t>(v);
}
}  // namespace

StatementParams decodeBindParams(const BindParams& bind) {
  using Form = ParamValue::Form;
  StatementParams out;
  out.values.resize(bind.values.size());
  for (size_t i = 0; i < bind.values.size(); ++i) {
    ParamValue& p = out.values[i];
    const std::optional<std::string_view>& value = bind.values[i];
    if (!value) continue;  // Null
    int16_t format = bind.formats.size() == 1 ? bind.formats[0]
                     : i < bind.formats.size() ? bind.formats[i]
                                               : 0;
    uint32_t type = i < bind.types.size() ? bind.types[i] : 0;
    bool textType = type == kTextOid || type == kVarcharOid;
    p.bytes = *value;
    p.declaredInteger = type == 0 || type == kInt2Oid || type == kInt4Oid || type == kInt8Oid;
    if (format == 0 || textType) {
      p.form = Form::Text;
      continue;
    }
    size_t n = value->size();
    if (type == 0) {
      p.form = Form::Untyped;
      p.integerOk = n == 2 || n == 4 || n == 8;
      if (p.integerOk) p.integer = bigEndian(*value);
    } else if (p.declaredInteger) {
      size_t expected = type == kInt2Oid ? 2 : type == kInt4Oid ? 4 : 8;
      p.form = n == expected ? Form::Integer : Form::BadInteger;
      if (n == expected) p.integer = bigEndian(*value);
    } else {
      p.form = Form::Opaque;
    }
  }
  return out;
}

Route routeBound(const StatementFacts& facts, const ShardMap& map, const SessionHints& session,
                 const BindParams* bind) {
  if (bind == nullptr) return route(facts, map, session, nullptr);
  StatementParams params = decodeBindParams(*bind);
  return route(facts, map, session, &params);
}

}  // namespace shardpool::router
