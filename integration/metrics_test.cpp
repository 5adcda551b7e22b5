// The Prometheus endpoint, scraped while pgbench runs through shardpool: per-pool gauges show the
// load, counters only grow and account for every transaction pgbench made, errors are counted by
// reason.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <regex>
#include <thread>

#include "integration/admin_util.h"

using namespace shardpool::integration;

namespace {

struct HttpReply {
  int status = 0;
  std::string head;
  std::string body;
};

// One GET over a fresh connection (Connection: close), bounded by `timeout`.
HttpReply httpGet(uint16_t port, const std::string& path, Ms timeout = 5s) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("connect to the metrics port failed");
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    throw std::runtime_error("send failed");
  }
  std::string data;
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) {
      ::close(fd);
      throw std::runtime_error("metrics request timed out");
    }
    char buf[65536];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  HttpReply r;
  size_t split = data.find("\r\n\r\n");
  if (split == std::string::npos) throw std::runtime_error("no HTTP head in: " + data);
  r.head = data.substr(0, split);
  r.body = data.substr(split + 4);
  if (r.head.rfind("HTTP/1.1 ", 0) == 0) r.status = std::stoi(r.head.substr(9, 3));
  return r;
}

// The value of the sample `name{labels}` (labels as written, in order); -1 when absent.
double sample(const std::string& body, const std::string& nameAndLabels) {
  size_t at = 0;
  while ((at = body.find(nameAndLabels + " ", at)) != std::string::npos) {
    if (at == 0 || body[at - 1] == '\n') {
      size_t start = at + nameAndLabels.size() + 1;
      return std::stod(body.substr(start, body.find('\n', start) - start));
    }
    at += nameAndLabels.size();
  }
  return -1;
}

const std::string kPool = "database=\"sp_db\",user=\"sp_scram\"";

}  // namespace

TEST_CASE("metrics: /metrics during a pgbench load counts every transaction",
          "[integration][metrics]") {
  uint16_t metricsPort = freePort();
  Proxy proxy(
      consoleConfig("pool_mode = \"transaction\"\ndefault_pool_size = 4\n"
                    "metrics_port = " +
                    std::to_string(metricsPort)));
  TempDir dir;
  std::string script = dir.write("select.sql", "SELECT 1;\n");

  HttpReply before = httpGet(metricsPort, "/metrics");
  REQUIRE(before.status == 200);
  CHECK(contains(before.head, "text/plain; version=0.0.4"));
  CHECK(contains(before.body, "# TYPE shardpool_pool_transactions_total counter"));
  CHECK(sample(before.body, "shardpool_scrape_complete") == 1);

  CommandResult bench;
  std::thread load([&] {
    bench = runCommand({"pgbench", "-n", "-h", "127.0.0.1", "-p", std::to_string(proxy.port()),
                        "-U", "sp_scram", "-f", script, "-c", "8", "-j", "2", "-T", "3", "sp_db"},
                       clientEnv("scram_pass"), 30s);
  });
  double busiest = 0, lastXacts = 0;
  bool monotonic = true;
  auto end = Clock::now() + 2500ms;
  while (Clock::now() < end) {
    HttpReply r = httpGet(metricsPort, "/metrics");
    REQUIRE(r.status == 200);
    double active =
        sample(r.body, "shardpool_pool_clients{" + kPool + ",state=\"active\"}") +
        std::max(0.0, sample(r.body, "shardpool_pool_clients{" + kPool + ",state=\"waiting\"}"));
    busiest = std::max(busiest, active);
    double xacts = sample(r.body, "shardpool_pool_transactions_total{" + kPool + "}");
    if (xacts >= 0 && xacts < lastXacts) monotonic = false;  // -1: no pool yet
    lastXacts = std::max(lastXacts, xacts);
    CHECK(sample(r.body, "shardpool_pool_servers{" + kPool + ",state=\"active\"}") +
              sample(r.body, "shardpool_pool_servers{" + kPool + ",state=\"idle\"}") <=
          4);
    std::this_thread::sleep_for(150ms);
  }
  load.join();
  INFO(bench.all());
  REQUIRE(bench.exitCode == 0);
  CHECK(busiest >= 4);  // 8 pgbench clients were connected during the scrapes
  CHECK(monotonic);

  std::smatch m;
  REQUIRE(std::regex_search(bench.out, m,
                            std::regex(R"(number of transactions actually processed: (\d+))")));
  double processed = std::stod(m[1]);
  HttpReply after = httpGet(metricsPort, "/metrics");
  double xacts = sample(after.body, "shardpool_pool_transactions_total{" + kPool + "}");
  CHECK(xacts >= processed);
  CHECK(xacts <= processed + 20);  // pgbench's own session setup adds a few
  CHECK(sample(after.body, "shardpool_pool_queries_total{" + kPool + "}") >= processed);
  CHECK(sample(after.body, "shardpool_pool_received_bytes_total{" + kPool + "}") > processed * 10);
  CHECK(sample(after.body, "shardpool_pool_sent_bytes_total{" + kPool + "}") > processed * 10);
  CHECK(sample(after.body, "shardpool_pool_query_seconds_total{" + kPool + "}") > 0);
  CHECK(sample(after.body, "shardpool_pool_server_connects_total{" + kPool + "}") >= 1);
  CHECK(sample(after.body, "shardpool_pool_size{" + kPool + "}") == 4);

  // The console's SHOW STATS agrees with the endpoint.
  Conn console = consoleConn(proxy);
  NamedRow stats = findRow(showRows(console, "SHOW STATS"), "database", "sp_db");
  CHECK(num(stats, "total_xact_count") >= processed);

  // A failed login is counted by reason; unknown paths are 404.
  Conn bad(proxy.conninfo("sp_scram", "wrong"));
  CHECK_FALSE(bad.ok());
  HttpReply errors = httpGet(metricsPort, "/metrics");
  CHECK(sample(errors.body, "shardpool_client_errors_total{reason=\"authentication failed\"}") >=
        1);
  CHECK(httpGet(metricsPort, "/nothing").status == 404);
}

TEST_CASE("metrics: a metrics port in use is a clear start-up error", "[integration][metrics]") {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 1) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  uint16_t taken = ntohs(addr.sin_port);

  TempDir dir;
  std::string path = dir.write(
      "sp.toml", substitute(consoleConfig("metrics_port = " + std::to_string(taken)), freePort()));
  auto r = runCommand({shardpoolBin(), "-c", path}, {}, 10s);
  ::close(fd);
  CHECK_FALSE(r.timedOut);
  CHECK(r.exitCode == 1);
  CHECK(contains(r.all(), "cannot serve metrics"));
}
