// MysqlClient running one statement on several shards (client_routing.cpp decides it): outside
// a transaction, shard after shard on one pooled server at a time. The server hands each packet
// of a shard's reply to fanoutPacket(), which makes one reply of them: writes and DDL answer one
// OK (affected rows summed) or the first shard's ERR (named); reads give one set of column
// definitions and every shard's rows, combined per group (shard_merge.h: simpleGrouping), or
// held, sorted and cut (simpleOrder), or gathered as they come.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "pooler/mysql/mysql_client.h"
#include "pooler/mysql/mysql_server.h"
#include "pooler/mysql/statement_effects.h"
#include "pooler/net/log.h"
#include "pooler/protocol/mysql_commands.h"
#include "pooler/session/pool.h"

namespace shardpool::pooler {

namespace my = protocol::mysql;

namespace {

// What a fanout holds of sorted rows before the last shard answers.
constexpr size_t kMaxHeldBytes = 64 * 1024 * 1024;

}  // namespace

void MysqlClient::refuseShards(const router::Route& r, uint8_t seq, std::string_view why) {
  std::string shards;
  for (uint32_t s : r.shards) shards += (shards.empty() ? "" : ", ") + std::to_string(s);
  sendErr(seq + 1, 1235, "42000",
          fmt::format("this statement needs shards {} of database '{}', and {}; give it a "
                      "sharding key, or a shard hint (/* shard: N */ or SET @shardpool_shard = "
                      "N)",
                      shards, database_, why));
}

bool MysqlClient::startFanout(const router::Route& r, const router::StatementFacts& f,
                              my::Bytes message, my::Bytes payload, uint8_t seq) {
  std::string_view sql;
  auto command = static_cast<my::Command>(payload[0]);
  if (command == my::Command::Query) {
    sql = my::asText(payload.subspan(1));
  } else if (auto id = my::statementIdOf(payload); id && statements_.count(*id)) {
    sql = statements_.at(*id).sql;
  }
  auto refuse = [&](std::string_view why) {
    refuseShards(r, seq, why);
    return false;
  };
  if (!deferredBegin_.empty())
    return refuse("shardpool runs a MySQL transaction on one shard");
  if (f.statementCount != 1 || sql.empty())
    return refuse("shardpool runs only one statement at a time on several MySQL shards");
  if (scanStatementEffects(sql) != 0)
    return refuse("what it leaves in the session would be on several servers");
  Fanout fan;
  if (!r.write && needsMerge(sql)) {
    // Aggregates alone (COUNT, SUM, MIN, MAX) combine from each shard's row; text protocol only.
    // A trailing ORDER BY / LIMIT sorts and cuts the rows of every shard.
    if (command == my::Command::Query) {
      fan.grouping = simpleGrouping(sql);
      if (!fan.grouping) fan.order = simpleOrder(sql);
    }
    if (!fan.grouping && !fan.order)
      return refuse(
          "its rows would need merging (DISTINCT, OFFSET, HAVING, aggregates other than COUNT, "
          "SUM, MIN and MAX, GROUP BY with ORDER BY or LIMIT, ORDER BY of more than result "
          "columns), which shardpool does not do for MySQL yet");
  }
  // The whole message as the client framed it (one packet, or several for a long one); with an
  // OFFSET, each shard runs LIMIT offset + n instead, and the offset is skipped here.
  fan.command.assign(my::asText(message));
  if (fan.order && fan.order->offset > 0) {
    const OrderSpec& o = *fan.order;
    std::string text = fmt::format("{}LIMIT {}{}", sql.substr(0, o.limitBegin),
                                   o.offset + o.limit.value_or(0), sql.substr(o.limitEnd));
    my::Writer w;
    my::putQuery(w, text);
    fan.command = w.take();
  }
  fan.shards = r.shards;
  if (ShardRouter::Database* d = routedDatabase())
    for (uint32_t shard : r.shards) fan.names.push_back(shardName(d->map, shard));
  fan.seq = static_cast<uint8_t>(seq + 1);
  fanout_ = std::move(fan);
  log::debug(who(), "running one statement on {} shards in turn", r.shards.size());
  return true;
}

void MysqlClient::fanoutPacket(my::Bytes packet, my::Bytes payload, my::PacketKind kind,
                               bool done) {
  Fanout& f = *fanout_;
  const bool first = f.at == 0, last = f.at + 1 == f.shards.size();
  auto forward = [&] {
    size_t at = f.out.size();
    f.out.append(my::asText(packet));
    f.out[at + 3] = static_cast<char>(f.seq++);
  };
  if (kind == my::PacketKind::Err) {
    // Which shard failed, in the message (as PostgreSQL clients get it).
    std::optional<my::ErrPacket> err = my::decodeErr(payload);
    if (err) {
      std::string name =
          f.at < f.names.size() ? f.names[f.at] : std::to_string(f.shards[f.at]);
      std::string message = fmt::format("shard {}: {}", name, err->message);
      err->message = message;
      my::Writer w;
      my::putErr(w, f.seq++, *err, capabilities_ | my::kClientProtocol41);
      f.out.append(w.data());
    } else {
      forward();
    }
    f.failed = true;
  } else if (done && kind == my::PacketKind::Ok) {
    // A write: the shards' affected rows add up, in one OK at the end.
    std::optional<my::OkPacket> ok = my::decodeOk(payload, capabilities_ | my::kClientProtocol41);
    if (ok) {
      f.affected += ok->affectedRows;
      f.warnings = static_cast<uint16_t>(f.warnings + ok->warnings);
    }
    if (last) {
      my::OkPacket sum;
      sum.affectedRows = f.affected;
      sum.warnings = f.warnings;
      sum.statusFlags = ok ? static_cast<uint16_t>(ok->statusFlags & ~my::kServerSessionStateChanged)
                           : my::kServerStatusAutocommit;
      my::Writer w;
      my::putOk(w, f.seq++, sum, capabilities_ | my::kClientProtocol41);
      f.out.append(w.data());
    }
  } else if (done) {
    if (last && f.grouping) {
      sendGroups(f);
      if (f.failed) return;
    }
    if (last && f.order && !f.order->items.empty()) {
      sendHeldRows(f);
      if (f.failed) return;
    }
    if (last) forward();  // the end of the rows of every shard
  } else if (f.order && (kind == my::PacketKind::Row || kind == my::PacketKind::Continuation)) {
    if (kind == my::PacketKind::Continuation) {
      f.uncombinable = true;  // a row over 16 MiB is not held
    } else if (f.order->items.empty()) {
      uint64_t n = f.rowsSeen++;
      if (n >= f.order->offset && (!f.order->limit || n - f.order->offset < *f.order->limit))
        forward();
    } else if (f.heldBytes + payload.size() > kMaxHeldBytes) {
      f.uncombinable = true;
    } else if (!f.uncombinable) {
      f.held.emplace_back(my::asText(payload));
      f.heldBytes += payload.size();
    }
  } else if (f.grouping && kind == my::PacketKind::Row) {
    combineRow(f, payload);
  } else if (f.grouping && kind == my::PacketKind::Continuation) {
    f.uncombinable = true;
  } else if (kind == my::PacketKind::ColumnCount || kind == my::PacketKind::ColumnDefinition ||
             kind == my::PacketKind::Eof) {
    if (first && f.order && kind == my::PacketKind::ColumnDefinition) {
      std::optional<my::ColumnDefinition> def = my::decodeColumnDefinition(payload, capabilities_);
      f.columnNames.emplace_back(def ? def->name : std::string_view());
    }
    if (first) forward();  // the columns, once
  } else if (kind != my::PacketKind::Progress) {
    forward();  // rows (and their continuation packets)
  }
  if (done || f.out.size() >= 65536) {
    if (!f.out.empty()) send(std::move(f.out));
    f.out.clear();
  }
}

void MysqlClient::combineRow(Fanout& f, my::Bytes payload) {
  const Grouping& g = *f.grouping;
  std::vector<std::optional<std::string_view>> row;
  if (f.uncombinable || !my::decodeTextRow(payload, row) || row.size() != g.columns.size()) {
    f.uncombinable = true;
    return;
  }
  std::string key;
  for (size_t k : g.groupBy) {
    if (!row[k]) {
      key += "N;";
      continue;
    }
    if (!groupableValue(*row[k])) {
      f.uncombinable = true;  // text: its collation decides which values are one group
      return;
    }
    key += fmt::format("{}:{};", row[k]->size(), *row[k]);
  }
  auto [it, added] = f.groupIndex.try_emplace(key, f.groups.size());
  if (added) {
    f.groups.emplace_back(g.columns.size());
    for (size_t k = 0; k < g.columns.size(); ++k)
      if (!g.columns[k] && row[k]) f.groups.back()[k] = std::string(*row[k]);
  }
  std::vector<std::optional<std::string>>& group = f.groups[it->second];
  for (size_t k = 0; k < g.columns.size(); ++k)
    if (g.columns[k] && !combineAggregate(*g.columns[k], group[k], row[k])) f.uncombinable = true;
}

void MysqlClient::sendGroups(Fanout& f) {
  if (f.uncombinable) {
    my::Writer w;
    my::putErr(w, f.seq++,
               my::ErrPacket{1235, "42000",
                             "shardpool could not combine the shards' rows (group values or "
                             "aggregates that are not numbers or dates, or a row over 16 MiB)"},
               capabilities_ | my::kClientProtocol41);
    f.out.append(w.data());
    send(std::move(f.out));
    f.out.clear();
    f.failed = true;
    return;
  }
  // As MariaDB returns GROUP BY results: in the order of the GROUP BY columns.
  std::vector<size_t> order(f.groups.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    for (size_t k : f.grouping->groupBy) {
      auto view = [](const std::optional<std::string>& v) {
        return v ? std::optional<std::string_view>(*v) : std::nullopt;
      };
      std::optional<int> c = compareValues(view(f.groups[a][k]), view(f.groups[b][k]));
      if (c && *c != 0) return *c < 0;
    }
    return false;
  });
  for (size_t i : order) {
    std::vector<std::optional<std::string_view>> row;
    for (const auto& v : f.groups[i])
      row.push_back(v ? std::optional<std::string_view>(*v) : std::nullopt);
    my::Writer w;
    my::putTextRow(w, f.seq++, row);
    f.out.append(w.data());
  }
}

void MysqlClient::sendHeldRows(Fanout& f) {
  auto fail = [&](std::string_view why) {
    my::Writer w;
    std::string message = fmt::format("shardpool could not sort the shards' rows: {}", why);
    my::putErr(w, f.seq++, my::ErrPacket{1235, "42000", message},
               capabilities_ | my::kClientProtocol41);
    f.out.append(w.data());
    send(std::move(f.out));
    f.out.clear();
    f.failed = true;
  };
  if (f.uncombinable) return fail("a row over 16 MiB, or over 64 MiB of rows in all");
  // The result columns that ORDER BY names.
  std::vector<std::pair<size_t, bool>> keys;
  for (const OrderItem& item : f.order->items) {
    size_t column = f.columnNames.size();
    if (item.name.empty()) {
      column = item.position - 1;
    } else {
      for (size_t i = 0; i < f.columnNames.size(); ++i) {
        const std::string& n = f.columnNames[i];
        if (n.size() == item.name.size() &&
            std::equal(n.begin(), n.end(), item.name.begin(), [](char a, char b) {
              return std::tolower(static_cast<unsigned char>(a)) ==
                     std::tolower(static_cast<unsigned char>(b));
            })) {
          column = i;
          break;
        }
      }
    }
    if (column >= f.columnNames.size())
      return fail(fmt::format("ORDER BY {} is not a column of the result",
                              item.name.empty() ? std::to_string(item.position) : item.name));
    keys.emplace_back(column, item.descending);
  }
  struct Row {
    size_t index;
    std::vector<std::optional<std::string_view>> values;
  };
  std::vector<Row> rows(f.held.size());
  for (size_t i = 0; i < f.held.size(); ++i) {
    rows[i].index = i;
    if (!my::decodeTextRow(my::asBytes(f.held[i]), rows[i].values) ||
        rows[i].values.size() != f.columnNames.size())
      return fail("a malformed row");
  }
  bool comparable = true;
  std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
    for (const auto& [column, descending] : keys) {
      std::optional<int> c = compareValues(a.values[column], b.values[column]);
      if (!c) {
        comparable = false;
        return false;
      }
      if (*c != 0) return descending ? *c > 0 : *c < 0;
    }
    return false;
  });
  if (!comparable)
    return fail("values that are not numbers or dates (text sorts by its collation)");
  size_t from = std::min<uint64_t>(f.order->offset, rows.size());
  size_t count = rows.size() - from;
  if (f.order->limit) count = std::min<uint64_t>(*f.order->limit, count);
  for (size_t i = from; i < from + count; ++i) {
    my::Writer w;
    w.packet(f.seq++, my::asBytes(f.held[rows[i].index]));
    f.out.append(w.data());
    if (f.out.size() >= 65536) {
      send(std::move(f.out));
      f.out.clear();
    }
  }
}

bool MysqlClient::nextShard() {
  Fanout& f = *fanout_;
  if (f.failed || f.at + 1 >= f.shards.size() || !server_ || !clean()) {
    fanout_.reset();
    return false;
  }
  ++f.at;
  MysqlServer* s = server_;
  server_ = nullptr;
  s->release();
  in_.insert(0, f.command);  // routed to shards[at] (routeCommand), then sent as the client's
  if (state_ == State::Active) readInput();
  return true;
}

}  // namespace shardpool::pooler
