// The pooler's own readers of text it does not control, outside the session core: the admin
// console's command parser (a client's simple query), the session-only feature check that runs
// on every transaction-pooled statement, the scatter/gather merge planner on the router's
// analysis of any statement, and the directory-table row reader (values a PostgreSQL table
// holds).
// Input: a control byte (directory column types and NULLs), then the text; for the directory
// reader the text is split at '\0' into key_from, key_to and shard.
#include <cstdint>
#include <string>

#include "fuzz/fuzz_util.h"
#include "fuzz/shard_maps.h"
#include "pooler/admin/admin_command.h"
#include "pooler/directory/directory_rows.h"
#include "pooler/merge/merge_planner.h"
#include "pooler/pg/session_guard.h"
#include "router/pg_statement.h"

namespace pooler = shardpool::pooler;
namespace pg = shardpool::protocol::pg;

namespace {

bool validUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : c & (0x7f >> n);
    for (size_t k = 1; k < n; ++k) {
      auto d = static_cast<unsigned char>(s[i + k]);
      if ((d >> 6) != 2) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are invalid too.
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return false;
    i += n;
  }
  return true;
}

void directoryRow(uint8_t control, std::string_view text) {
  shardpool::fuzz::Input in(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  std::string keyFrom(in.until(std::string_view("\0", 1)));
  std::string keyTo(in.until(std::string_view("\0", 1)));
  std::string shard(in.remaining());
  // int8, int4, text, varchar, bool (unusable)
  static constexpr uint32_t kTypes[] = {20, 23, 25, 1043, 16};
  pooler::DirectoryRowReader reader({"s0", "s1", "eu", "7"});
  std::string columns =
      reader.setColumns(kTypes[control % 5], kTypes[(control / 5) % 5], kTypes[(control / 25) % 5]);
  if (!columns.empty()) return;
  shardpool::config::DirectoryEntry entry;
  std::string error;
  bool ok = reader.read(keyFrom.c_str(), control & 0x80 ? nullptr : keyTo.c_str(), shard.c_str(),
                        entry, error);
  FUZZ_CHECK(ok == error.empty());
  if (ok) FUZZ_CHECK(entry.shard < 4);
  if (ok && entry.kind == shardpool::config::DirectoryEntry::Kind::Range)
    FUZZ_CHECK(entry.from <= entry.to);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  shardpool::fuzz::Input in(data, size);
  uint8_t control = in.byte();
  std::string_view text = in.remaining();

  pooler::admin::Parsed parsed = pooler::admin::parseCommand(text);
  FUZZ_CHECK(parsed.command.has_value() == parsed.error.empty());
  if (parsed.command) (void)pooler::admin::changesState(parsed.command->verb);

  if (auto feature = pooler::sessionOnlyFeature(text)) FUZZ_CHECK(!feature->empty());
  // Whatever the text, its quoted form is one string constant to PostgreSQL's parser (texts
  // with a NUL never reach it: the protocol's strings end there; nor does invalid UTF-8).
  const auto& maps = shardpool::fuzz::shardMaps();
  std::string quoted = pooler::quoteLiteral(text);
  if (text.find('\0') == std::string_view::npos && validUtf8(text)) {
    auto f = shardpool::router::analyze("SELECT " + quoted + " AS v", maps[0].tables);
    FUZZ_CHECK(f.parsed && f.statementCount == 1 && f.tables.empty());
    FUZZ_CHECK(f.selectShape && f.selectShape->targets.size() == 1);
  }

  shardpool::router::StatementFacts facts = shardpool::router::analyze(text, maps[1].tables);
  pg::MergePlan plan = pooler::planMerge(facts, "customer_id");
  if (plan.kind == pg::MergeKind::Refuse) {
    FUZZ_CHECK(plan.sqlstate.size() == 5 && !plan.message.empty());
  }
  for (const pg::SortKey& k : plan.sortKeys)
    FUZZ_CHECK(k.column >= 0 || !k.outputName.empty() || !k.starColumn.empty());

  directoryRow(control, text);
  return 0;
}
