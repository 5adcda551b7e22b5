// Robustness: malformed, truncated, hostile or merely rude clients never crash or hang the proxy.
// Each abuse comes over a raw TCP socket (integration/raw_socket.h, every read and write with a
// deadline); afterwards the proxy must still be running and a normal libpq client must log in
// and run `select 1`. Where the protocol allows an answer, the proxy must send an ErrorResponse
// with a SQLSTATE before it closes the connection.
//
// Raw-socket logins use `sp_trust` with `auth_type = "trust"`, so a login is just a
// StartupMessage; the libpq health checks use `sp_scram` (a separate pool).
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "integration/harness.h"
#include "integration/raw_socket.h"

using namespace shardpool::integration;

namespace {

constexpr const char* kTrustUser = "sp_trust";

std::string robustConfig(const std::string& mode, const std::string& generalExtra = "") {
  std::string general = "pool_mode = \"" + mode + "\"\nmax_client_conn = 30";
  if (!generalExtra.empty()) general += "\n" + generalExtra;
  return generalSection(general) + clusterDatabase() + userSection("sp_scram", "scram_pass") +
         "[users." + kTrustUser + "]\nauth_type = \"trust\"\n\n";
}

std::string trustStartup() {
  return wire::startup(
      {{"user", kTrustUser}, {"database", "sp_db"}, {"application_name", "shardpool_it_raw"}});
}

std::string hex(std::string_view bytes, size_t max = 48) {
  std::string out;
  char buf[4];
  for (size_t i = 0; i < bytes.size() && i < max; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", unsigned(uint8_t(bytes[i])));
    out += buf;
  }
  if (bytes.size() > max) out += "... (" + std::to_string(bytes.size()) + " bytes)";
  return out;
}

// The proxy survived: still running, and a normal libpq client logs in and runs `select 1`.
void requireHealthy(Proxy& proxy, const std::string& after) {
  INFO("health check after: " << after);
  REQUIRE(proxy.running());
  Conn c(proxy.conninfo("sp_scram", "scram_pass"), 5s);
  INFO("libpq login: [" << c.connectError().sqlstate << "] " << c.connectError().message);
  REQUIRE(c.ok());
  REQUIRE(c.scalar("select 1", 5s) == "1");
}

// What the proxy sent on a raw connection until it closed it (or the read gave up).
struct Reply {
  RawSocket::End end = RawSocket::End::Timeout;
  std::vector<wire::BackendMessage> messages;
  std::string sqlstate;  // of the first ErrorResponse; "" when none came
  std::string message;
  std::string raw;

  bool closed() const { return end == RawSocket::End::Closed || end == RawSocket::End::Reset; }
  bool has(char type) const {
    for (auto& m : messages)
      if (m.type == type) return true;
    return false;
  }
  std::string describe() const {
    std::string s = std::string("end=") + toString(end) + " messages=";
    for (auto& m : messages) s += m.type;
    if (!sqlstate.empty()) s += " error=[" + sqlstate + "] " + message;
    s += " raw=" + hex(raw);
    return s;
  }
};

Reply parseReply(RawSocket::End end, std::string_view bytes) {
  Reply r;
  r.end = end;
  r.raw = std::string(bytes);
  r.messages = wire::parseMessages(bytes);
  for (auto& m : r.messages) {
    if (m.type == 'E' && r.sqlstate.empty()) {
      r.sqlstate = wire::errorField(m.body, 'C');
      r.message = wire::errorField(m.body, 'M');
    }
  }
  return r;
}

// Reads until the proxy closes the connection, `timeout` at most; `skip` leading bytes (e.g. an
// 'N' answer to SSLRequest) are not part of the message stream.
Reply readToClose(RawSocket& s, Ms timeout = 5s, size_t skip = 0) {
  auto end = s.readToClose(timeout);
  return parseReply(end,
                    std::string_view(s.received()).substr(std::min(skip, s.received().size())));
}

// Reads until a ReadyForQuery arrives or the connection closes.
Reply readToReady(RawSocket& s, Ms timeout = 5s) {
  auto end = s.readUntilMessage('Z', timeout);
  return parseReply(end, s.received());
}

bool oneOf(const std::string& v, const std::vector<std::string>& allowed) {
  for (auto& a : allowed)
    if (v == a) return true;
  return false;
}

// The proxy answered with an ErrorResponse carrying one of `sqlstates`, then closed.
void requireErrorThenClose(RawSocket& s, const std::vector<std::string>& sqlstates,
                           size_t skip = 0) {
  Reply r = readToClose(s, 5s, skip);
  INFO("reply: " << r.describe());
  REQUIRE(r.closed());
  REQUIRE(r.has('E'));
  CHECK(oneOf(r.sqlstate, sqlstates));
}

// A raw connection logged in as the trust user, its login replies consumed.
std::unique_ptr<RawSocket> rawLogin(Proxy& proxy) {
  auto s = std::make_unique<RawSocket>(proxy.port());
  REQUIRE(s->send(trustStartup()));
  Reply r = readToReady(*s);
  INFO("login reply: " << r.describe());
  REQUIRE(r.end == RawSocket::End::Matched);
  REQUIRE(r.has('R'));
  REQUIRE_FALSE(r.has('E'));
  s->clearReceived();
  return s;
}

// After an ERROR that PostgreSQL survives (ReadyForQuery follows), the same raw connection runs
// a normal query.
void requireUsable(RawSocket& s) {
  s.clearReceived();
  REQUIRE(s.send(wire::query("select 41 + 1")));
  Reply r = readToReady(s);
  INFO("follow-up query: " << r.describe());
  REQUIRE(r.end == RawSocket::End::Matched);
  REQUIRE(r.has('D'));
  REQUIRE_FALSE(r.has('E'));
}

// 1 MB of random bytes (fixed seed).
std::string garbage(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = char(rng() & 0xff);
  return out;
}

// ---- cases ---------------------------------------------------------------------------------

struct StartupAbuse {
  const char* name;
  std::string bytes;
  std::vector<std::string> sqlstates;
};

std::vector<StartupAbuse> startupAbuses() {
  std::mt19937 rng(7);
  uint32_t randomCode = 0;
  do {
    randomCode = rng();
  } while ((randomCode >> 16) == 3 || (randomCode >> 16) == 1234);
  std::string userParams = std::string("user\0", 5) + kTrustUser + '\0';
  return {
      {"length 0", wire::be32(0) + wire::be32(3u << 16), {"08P01"}},
      {"length 4 (< 8)", wire::be32(4) + wire::be32(3u << 16), {"08P01"}},
      {"length 7 (< 8)", wire::be32(7) + std::string("abc"), {"08P01"}},
      {"length 10001 (> 10000)", wire::be32(10001) + wire::be32(3u << 16) + userParams, {"08P01"}},
      {"length 0x7fffffff", wire::be32(0x7fffffff) + wire::be32(3u << 16), {"08P01"}},
      {"protocol 2.0", wire::startupRaw(0x00020000, userParams + '\0'), {"08P01", "0A000"}},
      {"random protocol code", wire::startupRaw(randomCode, userParams + '\0'), {"08P01", "0A000"}},
      {"no user", wire::startup({{"database", "sp_db"}}), {"08P01", "28000"}},
      {"parameter list without terminator",
       wire::startupRaw(3u << 16, userParams + std::string("database\0sp_db\0", 15)),
       {"08P01"}},
      {"parameter name without value",
       wire::startupRaw(3u << 16, userParams + std::string("database\0", 9)),
       {"08P01"}},
  };
}

// Messages after a successful login.
struct SessionAbuse {
  const char* name;
  std::string bytes;
  // true: an ErrorResponse must come, then a close or a ReadyForQuery (then the connection must
  // still work); false: an error or a close, within the deadline.
  bool errorRequired;
  std::vector<std::string> sqlstates;  // empty: any
};

std::vector<SessionAbuse> sessionAbuses() {
  std::string noStatement =
      std::string("\0never_prepared_stmt\0", 21) + wire::be16(0) + wire::be16(0) + wire::be16(0);
  return {
      {"length 2 (< 4)", wire::messageWithLength('Q', 2), true, {"08P01"}},
      {"length 0", wire::messageWithLength('Q', 0), true, {"08P01"}},
      {"length 0x7fffffff", wire::messageWithLength('Q', 0x7fffffff, "select 1"), true, {"08P01"}},
      {"unknown type '?'", wire::message('?', "abcdef"), true, {"08P01"}},
      {"Query without NUL", wire::message('Q', "select 1"), true, {"08P01"}},
      {"Parse with garbage body",
       wire::message('P', std::string("\x01\x02\xff garbage without terminator")) + wire::sync(),
       true,
       {"08P01"}},
      {"Parse with a parameter count past the end",
       wire::message('P', std::string("s1\0select 1\0", 12) + wire::be16(5)) + wire::sync(),
       true,
       {"08P01"}},
      {"Bind of a statement never prepared",
       wire::message('B', noStatement) + wire::sync(),
       true,
       {"26000"}},
      {"Bind with truncated body",
       wire::message('B', std::string("\0stmt", 5)) + wire::sync(),
       true,
       {"08P01"}},
      {"Bind with a parameter length past the end",
       wire::message('P', std::string("\0select $1::text\0", 18) + wire::be16(0)) +
           wire::message('B', std::string("\0\0", 2) + wire::be16(0) + wire::be16(1) +
                                  wire::be32(1000) + "xy" + wire::be16(0)) +
           wire::sync(),
       true,
       {"08P01"}},
      {"Describe of kind 'X'",
       wire::message('D', std::string("Xname\0", 6)) + wire::sync(),
       true,
       {"08P01"}},
      {"Close of kind 'X'",
       wire::message('C', std::string("Xname\0", 6)) + wire::sync(),
       true,
       {"08P01"}},
      {"Execute before Bind",
       wire::message('E', std::string("no_portal\0", 10) + wire::be32(0)) + wire::sync(),
       true,
       {"34000"}},
  };
}

// Each abuse in its own SECTION (a fresh proxy per pass), so that one failure hides no other.
void runSessionAbuses(const std::string& mode) {
  for (const auto& a : sessionAbuses()) {
    SECTION(a.name) {
      Proxy proxy(robustConfig(mode));
      INFO(mode << " mode, after login: " << a.name << " (" << hex(a.bytes) << ")");
      auto s = rawLogin(proxy);
      REQUIRE(s->send(a.bytes));
      Reply r = readToReady(*s);
      INFO("reply: " << r.describe());
      REQUIRE(r.end != RawSocket::End::Timeout);
      REQUIRE(r.has('E'));
      if (!a.sqlstates.empty()) CHECK(oneOf(r.sqlstate, a.sqlstates));
      if (r.end == RawSocket::End::Matched) requireUsable(*s);
      s.reset();
      requireHealthy(proxy, std::string(a.name) + " in " + mode + " mode");
    }
  }

  // 1 MB of garbage: an error or a close. Random bytes may also frame a message whose length
  // PostgreSQL allows; then the proxy rightly waits for its body, and must close at EOF.
  SECTION("1 MB of random bytes") {
    Proxy proxy(robustConfig(mode));
    for (uint32_t seed : {1u, 2u, 3u}) {
      INFO(mode << " mode, after login: 1 MB of random bytes, seed " << seed);
      auto s = rawLogin(proxy);
      std::string junk = garbage(1 << 20, seed);
      INFO("first bytes: " << hex(junk, 16));
      bool sentAll = s->send(junk, 10s);
      CHECK_FALSE(s->timedOut());  // a send that never ends: the proxy stopped reading
      Reply r = readToClose(*s, 3s);
      if (!r.closed()) {
        s->shutdownWrite();
        r = readToClose(*s, 5s);
      }
      INFO("sent all: " << sentAll << "; reply: " << r.describe());
      REQUIRE(r.closed());
      s.reset();
      requireHealthy(proxy, "1 MB of garbage in " + mode + " mode");
    }
  }
}

// One iteration of the fuzz loop: `login` (may be empty), then, once the login is complete,
// `noise`, then EOF; the proxy must close the connection.
void fuzzOnce(Proxy& proxy, const std::string& login, const std::string& noise, int iteration) {
  RawSocket s(proxy.port());
  INFO("iteration " << iteration << ", login " << hex(login, 16) << ", input " << hex(noise));
  if (!login.empty()) {
    REQUIRE(s.send(login));
    Reply r = readToReady(s);
    INFO("login reply: " << r.describe());
    REQUIRE(r.end == RawSocket::End::Matched);
  }
  s.send(noise, 5s);
  REQUIRE_FALSE(s.timedOut());
  s.shutdownWrite();
  Reply r = readToClose(s, 5s);
  INFO("reply: " << r.describe());
  REQUIRE(r.closed());
}

void runFuzz(const std::string& mode) {
  Proxy proxy(robustConfig(mode));
  std::mt19937 rng(20261123);
  std::uniform_int_distribution<size_t> length(1, 2000);
  auto randomBytes = [&](size_t n) {
    std::string out(n, '\0');
    for (auto& c : out) c = char(rng() & 0xff);
    return out;
  };
  const std::string login = trustStartup();
  for (int i = 0; i < 300; ++i) {
    size_t n = length(rng);
    switch (i % 4) {
      case 0:
      case 2:  // nothing but noise
        fuzzOnce(proxy, "", randomBytes(n), i);
        break;
      case 1: {  // a StartupMessage header, then noise as its parameters
        std::string params = std::string("user\0", 5) + kTrustUser + '\0' + randomBytes(n);
        fuzzOnce(proxy, "", wire::startupRaw(3u << 16, params), i);
        break;
      }
      case 3:  // a whole login, then noise as messages
        fuzzOnce(proxy, login, randomBytes(n), i);
        break;
    }
    if (i % 50 == 49) REQUIRE(proxy.running());
  }
  requireHealthy(proxy, "300 fuzzed connections in " + mode + " mode");
  // Every server the fuzzed sessions used is fit for the next client: 20 clients at once (the
  // whole pool) each run a query.
  std::vector<std::unique_ptr<Conn>> clients;
  for (int i = 0; i < 20; ++i) {
    clients.push_back(std::make_unique<Conn>(proxy.conninfo(kTrustUser, ""), 5s));
    INFO("trust client " << i << ": " << clients.back()->connectError().message);
    REQUIRE(clients.back()->ok());
    clients.back()->query("begin", 5s);  // hold the server (transaction mode too)
  }
  for (auto& c : clients) {
    CHECK(c->scalar("select 'ok'", 5s) == "ok");
    c->query("commit", 5s);
  }
}

// A libpq client that runs `select 1` in a loop on its own thread (a fresh connection every 20
// queries) and records failures and the slowest answer.
class SteadyClient {
 public:
  explicit SteadyClient(std::string conninfo) : info_(std::move(conninfo)) {
    thread_ = std::thread([this] { run(); });
  }
  ~SteadyClient() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int queries() const { return queries_; }
  Ms slowest() const { return Ms(slowestMs_.load()); }
  std::string error() {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }

 private:
  void run() {
    try {
      while (!stop_) {
        auto t0 = Clock::now();
        Conn c(info_, 5s);
        if (!c.ok()) throw std::runtime_error("login: " + c.connectError().message);
        for (int i = 0; i < 20 && !stop_; ++i) {
          if (c.scalar("select 1", 5s) != "1") throw std::runtime_error("select 1: wrong answer");
          auto ms = std::chrono::duration_cast<Ms>(Clock::now() - t0).count();
          if (ms > slowestMs_) slowestMs_ = ms;
          ++queries_;
          t0 = Clock::now();
        }
      }
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(mu_);
      error_ = e.what();
    }
  }

  std::string info_;
  std::atomic<bool> stop_{false};
  std::atomic<int> queries_{0};
  std::atomic<long> slowestMs_{0};
  std::mutex mu_;
  std::string error_;
  std::thread thread_;
};

void runConnectionStorm(const std::string& mode) {
  Proxy proxy(robustConfig(mode));
  SteadyClient steady(proxy.conninfo("sp_scram", "scram_pass"));
  std::atomic<int> failures{0};
  std::mutex mu;
  std::string firstFailure;
  auto note = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    if (failures++ == 0) firstFailure = what;
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {  // 4 x 50 connect/disconnect cycles without data
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        try {
          RawSocket s(proxy.port(), 5s);
        } catch (const std::exception& e) {
          note(std::string("connect/close: ") + e.what());
        }
      }
    });
  }
  const std::string partial = trustStartup().substr(0, 11);
  for (int t = 0; t < 2; ++t) {  // 2 x 25 clients that send part of a StartupMessage and leave
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        try {
          RawSocket s(proxy.port(), 5s);
          if (!s.send(partial, 2s)) note("partial startup: send failed");
        } catch (const std::exception& e) {
          note(std::string("partial startup: ") + e.what());
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  std::this_thread::sleep_for(300ms);  // the steady client keeps going a little longer
  steady.stop();
  INFO("first abuser failure: " << firstFailure);
  CHECK(failures == 0);
  INFO("steady client: " << steady.queries() << " queries, slowest " << steady.slowest().count()
                         << " ms, error: " << steady.error());
  CHECK(steady.error().empty());
  CHECK(steady.queries() > 0);
  CHECK(steady.slowest() < 2s);
  requireHealthy(proxy, "connection storm in " + mode + " mode");
}

void runSlowReader(const std::string& mode) {
  Proxy proxy(robustConfig(mode, "default_pool_size = 2\nquery_wait_timeout = \"5s\""));
  auto slow = rawLogin(proxy);
  REQUIRE(slow->send(wire::query("select repeat('x', 1000000) from generate_series(1,50)")));
  std::this_thread::sleep_for(1s);  // the result fills every buffer on the way

  // Other clients (another pool, and the slow reader's own pool) keep working.
  {
    Conn other(proxy.conninfo("sp_scram", "scram_pass"), 5s);
    REQUIRE(other.ok());
    for (int i = 0; i < 10; ++i) {
      auto t0 = Clock::now();
      REQUIRE(other.scalar("select " + std::to_string(i), 5s) == std::to_string(i));
      CHECK(Clock::now() - t0 < 1s);
    }
    Conn sameUser(proxy.conninfo(kTrustUser, ""), 5s);
    INFO("second trust client: " << sameUser.connectError().message);
    REQUIRE(sameUser.ok());
    CHECK(sameUser.scalar("select 'beside the slow reader'", 5s) == "beside the slow reader");
  }
  // Backpressure: the 50 MB result is not piling up inside the proxy.
  long rss = proxy.rssKiB();
  INFO("proxy RSS while the reader stalls: " << rss << " KiB");
  CHECK(rss < 40 * 1024);
  REQUIRE(proxy.running());

  slow.reset();  // the slow reader goes away in the middle of its result
  requireHealthy(proxy, "slow reader closed in " + mode + " mode");
  // Its server was freed: two clients of the same pool (pool_size 2) hold a server each.
  Conn a(proxy.conninfo(kTrustUser, ""), 5s);
  Conn b(proxy.conninfo(kTrustUser, ""), 5s);
  INFO("a: " << a.connectError().message << "; b: " << b.connectError().message);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  a.query("begin", 6s);
  b.query("begin", 6s);
  CHECK(a.scalar("select 'a'", 5s) == "a");
  CHECK(b.scalar("select 'b'", 5s) == "b");
}

}  // namespace

// ---- 1. startup packets ----------------------------------------------------------------------

TEST_CASE("robustness: malformed startup packets get 08P01 and a close",
          "[integration][robustness]") {
  Proxy proxy(robustConfig("session"));
  for (const auto& a : startupAbuses()) {
    INFO("startup abuse: " << a.name << " (" << hex(a.bytes) << ")");
    {
      RawSocket s(proxy.port());
      REQUIRE(s.send(a.bytes));
      requireErrorThenClose(s, a.sqlstates);
    }
    requireHealthy(proxy, a.name);
  }
}

TEST_CASE("robustness: a startup packet cut off half-way, then EOF or close",
          "[integration][robustness]") {
  Proxy proxy(robustConfig("session"));
  std::string packet = trustStartup();
  {
    RawSocket s(proxy.port());
    REQUIRE(s.send(packet.substr(0, packet.size() / 2)));
    s.shutdownWrite();
    Reply r = readToClose(s);
    INFO("reply: " << r.describe());
    REQUIRE(r.closed());
  }
  requireHealthy(proxy, "half a startup packet, then EOF");
  {
    RawSocket s(proxy.port());
    REQUIRE(s.send(packet.substr(0, packet.size() / 2)));
  }  // closed without a word
  requireHealthy(proxy, "half a startup packet, then close");
}

TEST_CASE("robustness: silent clients do not block other clients", "[integration][robustness]") {
  Proxy proxy(robustConfig("session"));
  std::vector<std::unique_ptr<RawSocket>> silent;
  for (int i = 0; i < 5; ++i) silent.push_back(std::make_unique<RawSocket>(proxy.port()));
  auto until = Clock::now() + 2s;
  int logins = 0;
  while (Clock::now() < until) {
    Conn c(proxy.conninfo("sp_scram", "scram_pass"), 5s);
    INFO("login " << logins << ": " << c.connectError().message);
    REQUIRE(c.ok());
    CHECK(c.connectTime() < 1s);
    REQUIRE(c.scalar("select 1", 5s) == "1");
    ++logins;
  }
  CHECK(logins > 0);
  silent.clear();  // the test side gives up after 2 s
  requireHealthy(proxy, "silent clients");
}

// ---- 2. SSLRequest -------------------------------------------------------------------------

TEST_CASE("robustness: SSLRequest with a StartupMessage in the same write",
          "[integration][robustness]") {
  Proxy proxy(robustConfig("session"));
  {
    RawSocket s(proxy.port());
    REQUIRE(s.send(wire::sslRequest() + trustStartup()));
    REQUIRE(s.readUntil([](std::string_view in) { return !in.empty(); }, 5s) ==
            RawSocket::End::Matched);
    char answer = s.received()[0];
    INFO("answer to SSLRequest: '" << answer << "'");
    REQUIRE(answer != 'S');  // the clear-text StartupMessage must never be taken as TLS
    if (answer == 'N') {
      // TLS off: the StartupMessage that followed is an ordinary login.
      auto end = s.readUntilMessage('Z', 5s, 1);
      Reply r = parseReply(end, std::string_view(s.received()).substr(1));
      INFO("login reply: " << r.describe());
      REQUIRE(end == RawSocket::End::Matched);
      REQUIRE_FALSE(r.has('E'));
      requireUsable(s);
    } else {
      // Refused: an ErrorResponse, then a close.
      requireErrorThenClose(s, {"08P01"});
    }
  }
  requireHealthy(proxy, "SSLRequest + StartupMessage in one write");
}

TEST_CASE("robustness: two SSLRequests in a row", "[integration][robustness]") {
  Proxy proxy(robustConfig("session"));
  {
    RawSocket s(proxy.port());
    REQUIRE(s.send(wire::sslRequest() + wire::sslRequest()));
    REQUIRE(s.readUntil([](std::string_view in) { return in.size() >= 2; }, 5s) ==
            RawSocket::End::Matched);
    INFO("answers: " << hex(s.received()));
    REQUIRE(s.received()[0] == 'N');
    if (s.received()[1] == 'N') {
      // Answered again: the connection is still in the startup phase and logs in normally.
      REQUIRE(s.send(trustStartup()));
      auto end = s.readUntilMessage('Z', 5s, 2);
      Reply r = parseReply(end, std::string_view(s.received()).substr(2));
      INFO("login reply: " << r.describe());
      REQUIRE(end == RawSocket::End::Matched);
      REQUIRE_FALSE(r.has('E'));
      requireUsable(s);
    } else {
      // Refused, as PostgreSQL does ("unsupported frontend protocol 1234.5679").
      requireErrorThenClose(s, {"08P01", "0A000"}, 1);
    }
  }
  requireHealthy(proxy, "two SSLRequests");
}

// ---- 3. CancelRequest ----------------------------------------------------------------------

TEST_CASE("robustness: CancelRequest with an unknown key is ignored, truncated ones refused",
          "[integration][robustness]") {
  Proxy proxy(robustConfig("session"));
  Conn busy(proxy.conninfo("sp_scram", "scram_pass"), 5s);
  REQUIRE(busy.ok());
  REQUIRE(PQsendQuery(busy.get(), "select pg_sleep(1)::text || 'done'") == 1);
  std::this_thread::sleep_for(200ms);

  std::mt19937 rng(99);
  for (int i = 0; i < 5; ++i) {
    RawSocket s(proxy.port());
    REQUIRE(s.send(wire::cancelRequest(rng(), rng())));
    Reply r = readToClose(s);
    INFO("random cancel " << i << ": " << r.describe());
    REQUIRE(r.closed());
    CHECK(r.raw.empty());  // as PostgreSQL: no answer, just the close
  }
  // The running query was not cancelled.
  auto results = busy.collect(10s);
  REQUIRE_FALSE(results.empty());
  REQUIRE(results.back());
  bool done = false;
  for (auto& res : results)
    if (PQresultStatus(res.get()) == PGRES_TUPLES_OK)
      done = PQgetvalue(res.get(), 0, 0) == std::string("done");
  CHECK(done);
  requireHealthy(proxy, "random CancelRequests");

  {
    // The length field says 12: a CancelRequest without its key.
    RawSocket s(proxy.port());
    REQUIRE(s.send(wire::startupRaw((1234u << 16) | 5678u, wire::be32(42))));
    Reply r = readToClose(s);
    INFO("CancelRequest of length 12: " << r.describe());
    REQUIRE(r.closed());
    if (!r.raw.empty()) {
      REQUIRE(r.has('E'));
      CHECK(r.sqlstate == "08P01");
    }
  }
  requireHealthy(proxy, "CancelRequest of length 12");
  {
    // The length field says 16, but the connection ends after 12 bytes.
    RawSocket s(proxy.port());
    REQUIRE(s.send(wire::cancelRequest(1, 2).substr(0, 12)));
    s.shutdownWrite();
    Reply r = readToClose(s);
    INFO("CancelRequest cut off: " << r.describe());
    REQUIRE(r.closed());
  }
  requireHealthy(proxy, "CancelRequest cut off");
}

// ---- 4. bad messages after login -----------------------------------------------------------

TEST_CASE("robustness: bad messages after login, session mode", "[integration][robustness]") {
  runSessionAbuses("session");
}

TEST_CASE("robustness: bad messages after login, transaction mode", "[integration][robustness]") {
  runSessionAbuses("transaction");
}

// ---- 5. connection storms ------------------------------------------------------------------

TEST_CASE("robustness: 200 empty connections and 50 partial startups, session mode",
          "[integration][robustness]") {
  runConnectionStorm("session");
}

TEST_CASE("robustness: 200 empty connections and 50 partial startups, transaction mode",
          "[integration][robustness]") {
  runConnectionStorm("transaction");
}

// ---- 6. a client that never reads ----------------------------------------------------------

TEST_CASE("robustness: a client that never reads its result stalls nobody else, session mode",
          "[integration][robustness]") {
  runSlowReader("session");
}

TEST_CASE("robustness: a client that never reads its result stalls nobody else, transaction mode",
          "[integration][robustness]") {
  runSlowReader("transaction");
}

// ---- 7. fuzz -------------------------------------------------------------------------------

TEST_CASE("robustness: 300 connections of random bytes, session mode",
          "[integration][robustness]") {
  runFuzz("session");
}

TEST_CASE("robustness: 300 connections of random bytes, transaction mode",
          "[integration][robustness]") {
  runFuzz("transaction");
}
