// Wire-level fuzz of a running shardpool: for a bounded time, several connections at once send it
// mutated client sessions — the recorded psql, pgbench and psycopg sessions of fuzz/corpus
// (pg_frontend, pg_startup) plus hand-written COPY, transaction, pipeline and cancel sessions —
// with flipped bytes, wrong lengths, dropped, repeated and invented messages, cut off anywhere,
// written in random pieces, ended by Terminate, a half-close or a plain close; startup packets
// and SASL exchanges are mutated too, and CancelRequests carry live and forged keys. Afterwards
// shardpool must still be running, serve a normal client correctly (simple and extended queries,
// COPY both ways, a transaction), and have exactly the servers it had before in both pools, with
// no client or server left behind (SHOW POOLS, and pg_stat_activity on the server). A proxy that
// logs "BUG:" fails the test (integration/process.cpp).
//
// SHARDPOOL_WIRE_FUZZ_SECONDS (default 12) and SHARDPOOL_WIRE_FUZZ_SEED (default: from the
// clock, printed) repeat or lengthen a run.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "integration/admin_util.h"
#include "integration/raw_socket.h"

using namespace shardpool::integration;

namespace {

using Messages = std::vector<std::string>;

struct Corpus {
  std::vector<Messages> sessions;  // after login: no password/SASL messages
  Messages authMessages;           // password and SASL messages ('p') as recorded
  std::vector<std::string> startups;
};

// fuzz/corpus/pg_frontend files: two control bytes, then frontend messages.
Corpus loadCorpus() {
  namespace fs = std::filesystem;
  Corpus c;
  const fs::path root = fs::path(sourceDir()) / "fuzz" / "corpus";
  for (const auto& entry : fs::directory_iterator(root / "pg_frontend")) {
    std::string bytes = readFile(entry.path().string());
    if (bytes.size() < 2) continue;
    Messages session;
    for (auto& m : wire::parseMessages(std::string_view(bytes).substr(2))) {
      std::string raw = wire::message(m.type, m.body);
      if (m.type == 'p')
        c.authMessages.push_back(raw);
      else
        session.push_back(raw);
    }
    if (!session.empty()) c.sessions.push_back(std::move(session));
  }
  for (const auto& entry : fs::directory_iterator(root / "pg_startup"))
    c.startups.push_back(readFile(entry.path().string()));

  auto q = [](const std::string& sql) { return wire::query(sql); };
  auto copyData = [](const std::string& row) { return wire::message('d', row); };
  auto parse = [](const std::string& name, const std::string& sql) {
    return wire::message('P', name + '\0' + sql + '\0' + wire::be16(0));
  };
  auto bind = [](const std::string& stmt, const std::string& value) {
    std::string body = std::string("") + '\0' + stmt + '\0' + wire::be16(0) + wire::be16(1) +
                       wire::be32(uint32_t(value.size())) + value + wire::be16(0);
    return wire::message('B', body);
  };
  const std::string execute = wire::message('E', std::string("\0", 1) + wire::be32(0));
  const std::string describe = wire::message('D', std::string("P\0", 2));
  c.sessions.push_back({q("COPY fz_t FROM STDIN"), copyData("1\tone\n"), copyData("2\ttwo\n"),
                        wire::message('c', ""), q("SELECT count(*) FROM fz_t")});
  c.sessions.push_back({q("COPY fz_t FROM STDIN"), copyData("3\tthree\n"),
                        wire::message('f', std::string("client gave up\0", 15)), q("SELECT 1")});
  c.sessions.push_back({q("COPY (SELECT * FROM fz_t LIMIT 50) TO STDOUT"), q("SELECT 2")});
  c.sessions.push_back({parse("", "COPY fz_t FROM STDIN"), bind("", ""), execute,
                        copyData("4\tfour\n"), wire::message('c', ""), wire::sync()});
  c.sessions.push_back({q("BEGIN"), q("INSERT INTO fz_t VALUES (5, 'five')"), q("SELECT 1/0"),
                        q("ROLLBACK")});
  c.sessions.push_back({parse("s1", "SELECT $1::int + 1"), wire::sync(), bind("s1", "41"),
                        describe, execute, bind("s1", "x"), execute, wire::sync(),
                        wire::message('C', std::string("Ss1\0", 4)), wire::sync()});
  c.sessions.push_back({q("SELECT pg_sleep(0.3)"), q("SELECT 3")});  // a cancel may reach it
  c.sessions.push_back({parse("", "SELECT pg_sleep(0.2)"), bind("", ""), execute,
                        wire::message('H', ""), wire::sync()});
  return c;
}

// Backend keys seen by fuzz connections, for CancelRequests of the others.
class KeyRing {
 public:
  void add(uint32_t pid, uint32_t key) {
    std::lock_guard lock(mutex_);
    if (keys_.size() < 256) keys_.emplace_back(pid, key);
  }
  std::optional<std::pair<uint32_t, uint32_t>> pick(std::mt19937& rng) {
    std::lock_guard lock(mutex_);
    if (keys_.empty()) return std::nullopt;
    return keys_[rng() % keys_.size()];
  }

 private:
  std::mutex mutex_;
  std::vector<std::pair<uint32_t, uint32_t>> keys_;
};

uint32_t be32At(std::string_view s, size_t at) {
  auto u = [&](size_t i) { return uint32_t(uint8_t(s[at + i])); };
  return (u(0) << 24) | (u(1) << 16) | (u(2) << 8) | u(3);
}

// A few random edits of a message stream.
std::string mutate(Messages msgs, const Corpus& corpus, std::mt19937& rng) {
  auto pick = [&](size_t n) { return n == 0 ? 0 : size_t(rng() % n); };
  const std::string types = "QPBEDSCHFdcfXp";
  int edits = int(rng() % 5);
  for (int e = 0; e < edits; ++e) {
    switch (rng() % 9) {
      case 0:  // flip bits of one byte
        if (!msgs.empty()) {
          std::string& m = msgs[pick(msgs.size())];
          m[pick(m.size())] ^= char(1 + rng() % 255);
        }
        break;
      case 1:  // a wrong length field
        if (!msgs.empty()) {
          std::string& m = msgs[pick(msgs.size())];
          if (m.size() < 5) break;
          const uint32_t len = be32At(m, 1);
          const uint32_t choices[] = {0, 3, 4, len - 1, len + 1, 0x7fffffff, 0xffffffff,
                                      uint32_t(rng() % 100000)};
          m.replace(1, 4, wire::be32(choices[pick(std::size(choices))]));
        }
        break;
      case 2:  // drop a message
        if (!msgs.empty()) msgs.erase(msgs.begin() + long(pick(msgs.size())));
        break;
      case 3:  // repeat one
        if (!msgs.empty()) {
          size_t i = pick(msgs.size());
          msgs.insert(msgs.begin() + long(i), msgs[i]);
        }
        break;
      case 4:  // swap two
        if (msgs.size() > 1) std::swap(msgs[pick(msgs.size())], msgs[pick(msgs.size())]);
        break;
      case 5: {  // invent a message
        std::string body(rng() % 24, '\0');
        for (char& ch : body) ch = char(rng());
        char type = rng() % 4 == 0 ? char(rng()) : types[pick(types.size())];
        msgs.insert(msgs.begin() + long(pick(msgs.size() + 1)), wire::message(type, body));
        break;
      }
      case 6:  // splice in a message of another session
        if (!corpus.sessions.empty()) {
          const Messages& other = corpus.sessions[pick(corpus.sessions.size())];
          if (!other.empty())
            msgs.insert(msgs.begin() + long(pick(msgs.size() + 1)), other[pick(other.size())]);
        }
        break;
      case 7:  // cut a body short, keeping its length field
        if (!msgs.empty()) {
          std::string& m = msgs[pick(msgs.size())];
          if (m.size() > 5) m.resize(5 + pick(m.size() - 5));
        }
        break;
      case 8:  // random bytes between messages
        {
          std::string junk(1 + rng() % 16, '\0');
          for (char& ch : junk) ch = char(rng());
          msgs.insert(msgs.begin() + long(pick(msgs.size() + 1)), junk);
        }
        break;
    }
  }
  std::string out;
  for (const auto& m : msgs) out += m;
  if (!out.empty() && rng() % 6 == 0) out.resize(pick(out.size()));  // cut off anywhere
  return out;
}

struct FuzzStats {
  std::atomic<int> connections{0}, loggedIn{0}, cancels{0}, refused{0};
};

class Fuzzer {
 public:
  Fuzzer(uint16_t port, const Corpus& corpus, KeyRing& keys, FuzzStats& stats, uint32_t seed)
      : port_(port), corpus_(corpus), keys_(keys), stats_(stats), rng_(seed) {}

  void one() {
    ++stats_.connections;
    unsigned kind = rng_() % 100;
    try {
      if (kind < 10)
        startupJunk();
      else if (kind < 20)
        saslJunk();
      else if (kind < 27)
        cancel();
      else
        session();
    } catch (const std::exception&) {
      ++stats_.refused;  // could not connect: the listener's backlog was full for a moment
    }
  }

 private:
  // Fuzz clients come from addresses of their own, so that the failed-login back-off they cause
  // never slows the normal client of the final check. Mutated startups and SASL exchanges fail
  // logins, so their address is slowed (which fuzzes waiting logins too); sessions log in as a
  // trust user and are not.
  static constexpr const char* kJunkSource = "127.0.0.10";
  static constexpr const char* kSessionSource = "127.0.0.9";

  // Writes `bytes` in random pieces, reading whatever comes back; false once the proxy hung up.
  bool sendInPieces(RawSocket& s, std::string_view bytes) {
    while (!bytes.empty()) {
      size_t n = rng_() % 3 == 0 ? bytes.size() : std::min<size_t>(bytes.size(), 1 + rng_() % 64);
      if (!s.send(bytes.substr(0, n), 2s)) return false;
      bytes.remove_prefix(n);
      if (rng_() % 10 == 0) std::this_thread::sleep_for(Ms(rng_() % 20));
      drain(s, 0ms);
    }
    return true;
  }

  void drain(RawSocket& s, Ms wait) {
    s.readUntil([](std::string_view in) { return in.size() > (1u << 20); }, wait);
    noteKeys(s.received());
    s.clearReceived();
  }

  void noteKeys(std::string_view in) {
    for (auto& m : wire::parseMessages(in))
      if (m.type == 'K' && m.body.size() == 8) keys_.add(be32At(m.body, 0), be32At(m.body, 4));
  }

  // The end of a connection: Terminate, a half-close, waiting for answers, or just closing.
  void finish(RawSocket& s) {
    switch (rng_() % 4) {
      case 0:
        s.send(wire::terminate(), 1s);
        drain(s, 200ms);
        break;
      case 1:
        s.shutdownWrite();
        drain(s, 300ms);
        break;
      case 2:
        drain(s, Ms(rng_() % 400));
        break;
      default:
        break;  // close at once, answers unread
    }
  }

  void startupJunk() {
    RawSocket s(port_, 2s, kJunkSource);
    std::string packet = corpus_.startups[rng_() % corpus_.startups.size()];
    int edits = int(rng_() % 4);
    for (int e = 0; e < edits && !packet.empty(); ++e) packet[rng_() % packet.size()] ^= char(rng_());
    if (rng_() % 3 == 0) packet += mutate({}, corpus_, rng_);
    sendInPieces(s, packet);
    finish(s);
  }

  void saslJunk() {
    RawSocket s(port_, 2s, kJunkSource);
    if (rng_() % 2 == 0) {
      // Wrong cleartext passwords (28P01): these put the failed-login back-off to work.
      std::string password(rng_() % 12, 'x');
      for (char& ch : password) ch = char('a' + rng_() % 26);
      std::string bytes = wire::startup({{"user", "fz_clear"}, {"database", "fz"}}) +
                          mutate({wire::message('p', password + '\0')}, corpus_, rng_);
      sendInPieces(s, bytes);
      finish(s);
      return;
    }
    if (!s.send(wire::startup({{"user", "fz_scram"}, {"database", "fz"}}), 2s)) return;
    Messages msgs;
    size_t n = 1 + rng_() % 3;
    for (size_t i = 0; i < n && !corpus_.authMessages.empty(); ++i)
      msgs.push_back(corpus_.authMessages[rng_() % corpus_.authMessages.size()]);
    drain(s, 100ms);
    sendInPieces(s, mutate(msgs, corpus_, rng_));
    finish(s);
  }

  void cancel() {
    ++stats_.cancels;
    RawSocket s(port_, 2s, kJunkSource);
    auto key = keys_.pick(rng_);
    uint32_t pid = key ? key->first : uint32_t(rng_());
    uint32_t secret = key ? key->second : uint32_t(rng_());
    if (rng_() % 4 == 0) secret ^= 1u << (rng_() % 32);
    std::string packet = wire::cancelRequest(pid, secret);
    if (rng_() % 5 == 0) packet[rng_() % packet.size()] ^= char(rng_());
    sendInPieces(s, packet);
    finish(s);
  }

  void session() {
    RawSocket s(port_, 2s, kSessionSource);
    const char* db = rng_() % 2 == 0 ? "fz" : "fz_session";
    if (rng_() % 20 == 0) db = "no_such_db";
    if (!s.send(wire::startup({{"user", "fuzzer"}, {"database", db}}), 2s)) return;
    // Up to ReadyForQuery; keys noted for other connections' CancelRequests.
    if (s.readUntilMessage('Z', 3s) != RawSocket::End::Matched) {
      finish(s);
      return;
    }
    ++stats_.loggedIn;
    noteKeys(s.received());
    s.clearReceived();
    int sessions = 1 + int(rng_() % 3);
    for (int i = 0; i < sessions; ++i) {
      const Messages& base = corpus_.sessions[rng_() % corpus_.sessions.size()];
      // One in five is sent as recorded, so that whole exchanges run too.
      std::string bytes;
      if (rng_() % 5 == 0)
        for (const auto& m : base) bytes += m;
      else
        bytes = mutate(base, corpus_, rng_);
      if (!sendInPieces(s, bytes)) return;
      if (rng_() % 2 == 0) drain(s, Ms(rng_() % 300));
    }
    finish(s);
  }

  uint16_t port_;
  const Corpus& corpus_;
  KeyRing& keys_;
  FuzzStats& stats_;
  std::mt19937 rng_;
};

// What a pool looks like in SHOW POOLS: clients, servers in use, all servers.
struct PoolState {
  long clients = 0, active = 0, servers = 0;
  bool operator==(const PoolState&) const = default;
};

PoolState poolState(Conn& console, const std::string& db) {
  for (const NamedRow& r : showRows(console, "SHOW POOLS")) {
    if (r.at("database") != db) continue;  // one pool: the database forces its user
    PoolState p;
    p.clients = num(r, "cl_active") + num(r, "cl_waiting");
    p.active = num(r, "sv_active");
    p.servers = num(r, "sv_active") + num(r, "sv_idle") + num(r, "sv_used") + num(r, "sv_tested") +
                num(r, "sv_login");
    return p;
  }
  return {};
}

// A normal libpq client gets every answer right.
void normalClientWorks(Proxy& proxy, const std::string& db) {
  Conn c("host=127.0.0.1 port=" + std::to_string(proxy.port()) + " dbname=" + db +
         " user=fuzzer");
  INFO(db << ": " << c.connectError().message);
  REQUIRE(c.ok());
  CHECK(c.scalar("SELECT 1 + 1") == "2");
  const char* values[1] = {"41"};
  ResultPtr r(PQexecParams(c.get(), "SELECT $1::int + 1", 1, nullptr, values, nullptr, nullptr, 0));
  REQUIRE(PQresultStatus(r.get()) == PGRES_TUPLES_OK);
  CHECK(std::string(PQgetvalue(r.get(), 0, 0)) == "42");

  // COPY both ways inside a transaction that is rolled back (fz_probe: the fuzz never names it).
  c.query("BEGIN");
  c.query("DELETE FROM fz_probe");
  ResultPtr copy(PQexec(c.get(), "COPY fz_probe FROM STDIN"));
  REQUIRE(PQresultStatus(copy.get()) == PGRES_COPY_IN);
  const std::string rows = "1\n2\n3\n";
  REQUIRE(PQputCopyData(c.get(), rows.data(), int(rows.size())) == 1);
  REQUIRE(PQputCopyEnd(c.get(), nullptr) == 1);
  ResultPtr end(PQgetResult(c.get()));
  CHECK(PQresultStatus(end.get()) == PGRES_COMMAND_OK);
  while (ResultPtr more{PQgetResult(c.get())}) {
  }
  CHECK(c.scalar("SELECT sum(n) FROM fz_probe") == "6");
  ResultPtr out(PQexec(c.get(), "COPY (SELECT n FROM fz_probe ORDER BY n) TO STDOUT"));
  REQUIRE(PQresultStatus(out.get()) == PGRES_COPY_OUT);
  std::string got;
  char* buf = nullptr;
  int n;
  while ((n = PQgetCopyData(c.get(), &buf, 0)) > 0) {
    got.append(buf, size_t(n));
    PQfreemem(buf);
  }
  while (ResultPtr more{PQgetResult(c.get())}) {
  }
  CHECK(got == rows);
  c.query("ROLLBACK");
  CHECK(c.scalar("SELECT count(*) FROM fz_probe") == "0");
}

}  // namespace

TEST_CASE("wire fuzz: mutated client sessions leave shardpool serving and its pools as they were",
          "[integration][robustness][fuzz]") {
  const Corpus corpus = loadCorpus();
  REQUIRE(corpus.sessions.size() > 20);
  REQUIRE(!corpus.startups.empty());
  REQUIRE(!corpus.authMessages.empty());

  TempRole role("sp_fuzz");
  {
    Conn admin = adminConn();
    admin.query("CREATE SCHEMA " + role.name() + " AUTHORIZATION " + role.name());
    admin.query("CREATE TABLE " + role.name() + ".fz_t (a int, b text)");
    admin.query("ALTER TABLE " + role.name() + ".fz_t OWNER TO " + role.name());
    admin.query("CREATE TABLE " + role.name() + ".fz_probe (n int)");
    admin.query("ALTER TABLE " + role.name() + ".fz_probe OWNER TO " + role.name());
    // Only its own schema (mutated pgbench setups drop and create tables), and nothing that
    // runs long.
    admin.query("ALTER ROLE " + role.name() + " SET search_path = " + role.name());
    admin.query("ALTER ROLE " + role.name() + " SET statement_timeout = '1s'");
  }
  auto database = [&](const std::string& name, const std::string& mode) {
    return "[databases." + name + "]\nhost = \"127.0.0.1\"\nport = " + std::to_string(pgPort()) +
           "\ndbname = \"sp_db\"\nuser = \"" + role.name() + "\"\npassword = \"" +
           role.password() + "\"\npool_mode = \"" + mode + "\"\n\n";
  };
  Proxy proxy(generalSection("admin_users = [\"sp_admin\"]\ndefault_pool_size = 4\n"
                             "min_pool_size = 1\nserver_idle_timeout = \"1s\"\n"
                             "query_wait_timeout = \"5s\"\nidle_transaction_timeout = \"3s\"\n"
                             "client_login_timeout = \"3s\"\nauth_failure_threshold = 5\n"
                             "auth_failure_delay = \"20ms\"\nauth_failure_max_delay = \"100ms\"\n"
                             "max_client_conn = 200") +
              database("fz", "transaction") + database("fz_session", "session") +
              "[users.fuzzer]\nauth_type = \"trust\"\n\n" + userSection("fz_scram", "fz_pass") +
              userSection("fz_clear", "fz_pass", "auth_type = \"password\"") +
              userSection("sp_admin", "admin_pass"));

  // Before: a normal client in each pool, then the pools settle to min_pool_size.
  normalClientWorks(proxy, "fz");
  normalClientWorks(proxy, "fz_session");
  Conn console = consoleConn(proxy);
  REQUIRE(console.ok());
  auto settled = [&](const PoolState& want, int backends, Ms timeout) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      bool ok = poolState(console, "fz") == want && poolState(console, "fz_session") == want &&
                backendCount(role.name()) == backends;
      if (ok || Clock::now() >= deadline) return ok;
      std::this_thread::sleep_for(200ms);
    }
  };
  const PoolState steady{0, 0, 1};  // no client, one idle server (min_pool_size)
  auto describe = [&] {
    std::string out;
    for (const char* db : {"fz", "fz_session"}) {
      PoolState p = poolState(console, db);
      out += std::string(db) + ": " + std::to_string(p.clients) + " clients, " +
             std::to_string(p.active) + " active of " + std::to_string(p.servers) + " servers; ";
    }
    return out + std::to_string(backendCount(role.name())) + " backends";
  };
  {
    bool ok = settled(steady, 2, 15s);
    INFO("before: " << describe());
    REQUIRE(ok);
  }

  const char* secondsEnv = std::getenv("SHARDPOOL_WIRE_FUZZ_SECONDS");
  const char* seedEnv = std::getenv("SHARDPOOL_WIRE_FUZZ_SEED");
  const auto duration = std::chrono::seconds(secondsEnv ? std::atoi(secondsEnv) : 12);
  const uint32_t seed =
      seedEnv ? uint32_t(std::strtoul(seedEnv, nullptr, 10))
              : uint32_t(std::chrono::system_clock::now().time_since_epoch().count());
  std::printf("wire fuzz: seed %u (SHARDPOOL_WIRE_FUZZ_SEED), %lld s\n", seed,
              static_cast<long long>(duration.count()));

  KeyRing keys;
  FuzzStats stats;
  const auto until = Clock::now() + duration;
  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < 6; ++t)
    threads.emplace_back([&, t] {
      Fuzzer f(proxy.port(), corpus, keys, stats, seed + t);
      while (Clock::now() < until) f.one();
    });
  for (auto& t : threads) t.join();
  INFO("seed " << seed << ": " << stats.connections << " connections, " << stats.loggedIn
               << " logged in, " << stats.cancels << " cancel requests, " << stats.refused
               << " not connected");
  std::printf("wire fuzz: %d connections, %d logged in, %d cancel requests, %d not connected\n",
              stats.connections.load(), stats.loggedIn.load(), stats.cancels.load(),
              stats.refused.load());
  CHECK(stats.loggedIn > 50);

  REQUIRE(proxy.running());
  // Every fuzz client is gone and the pools are back to one idle server each, with exactly
  // those two backends on the server (idle_transaction_timeout, server_idle_timeout and the
  // reset after a client's exit bring them there).
  {
    bool ok = settled(steady, 2, 20s);
    INFO("after: " << describe());
    CHECK(ok);
  }
  normalClientWorks(proxy, "fz");
  normalClientWorks(proxy, "fz_session");
  REQUIRE(proxy.running());
}
