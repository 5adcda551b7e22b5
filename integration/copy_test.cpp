// COPY FROM STDIN / TO STDOUT through the proxy, and an error in the middle of COPY FROM.
#include <catch2/catch.hpp>

#include "integration/harness.h"

using namespace shardpool::integration;

namespace {

// Sends `data` in 64 KiB CopyData chunks and ends the copy; returns the final results.
std::vector<ResultPtr> sendCopy(Conn& c, const std::string& data) {
  constexpr size_t kChunk = 64 * 1024;
  for (size_t off = 0; off < data.size(); off += kChunk) {
    size_t n = std::min(kChunk, data.size() - off);
    if (PQputCopyData(c.get(), data.data() + off, static_cast<int>(n)) != 1) break;
  }
  PQputCopyEnd(c.get(), nullptr);
  return c.collect(20s);
}

std::string rows(int from, int to) {
  std::string s;
  for (int i = from; i < to; ++i) s += std::to_string(i) + "\tname_" + std::to_string(i) + "\n";
  return s;
}

// Reads a COPY OUT stream (bounded); returns the text and whether it ended cleanly.
std::pair<std::string, bool> receiveCopy(Conn& c, Ms timeout) {
  std::string out;
  auto deadline = Clock::now() + timeout;
  for (;;) {
    char* buf = nullptr;
    int n = PQgetCopyData(c.get(), &buf, 1);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      PQfreemem(buf);
      continue;
    }
    if (n == -1) return {out, true};  // done; the final result follows
    if (n == -2) return {out, false};
    if (Clock::now() >= deadline) return {out, false};
    if (!c.waitReadable(Ms(500))) continue;
    if (!PQconsumeInput(c.get())) return {out, false};
  }
}

}  // namespace

TEST_CASE("COPY FROM STDIN and COPY TO STDOUT through the proxy", "[integration][copy]") {
  Proxy proxy(standardConfig());
  Conn c(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(c.ok());
  c.query("CREATE TEMP TABLE it_copy (id int, name text)");

  auto start = c.exec("COPY it_copy FROM STDIN");
  REQUIRE(start.size() == 1);
  REQUIRE(start.back());
  REQUIRE(PQresultStatus(start.back().get()) == PGRES_COPY_IN);
  auto done = sendCopy(c, rows(0, 10000));
  REQUIRE_FALSE(done.empty());
  REQUIRE(done.back());
  INFO(PQresultErrorMessage(done.back().get()));
  CHECK(PQresultStatus(done.back().get()) == PGRES_COMMAND_OK);
  CHECK(std::string(PQcmdTuples(done.back().get())) == "10000");
  CHECK(c.scalar("select count(*) from it_copy") == "10000");
  CHECK(c.scalar("select sum(id) from it_copy") == "49995000");

  auto out = c.exec("COPY (select id, name from it_copy order by id) TO STDOUT");
  REQUIRE(out.size() == 1);
  REQUIRE(out.back());
  REQUIRE(PQresultStatus(out.back().get()) == PGRES_COPY_OUT);
  auto [text, clean] = receiveCopy(c, 20s);
  CHECK(clean);
  CHECK(text == rows(0, 10000));
  auto tail = c.collect(10s);
  REQUIRE_FALSE(tail.empty());
  REQUIRE(tail.back());
  CHECK(PQresultStatus(tail.back().get()) == PGRES_COMMAND_OK);

  CHECK(c.scalar("select 'after copy'") == "after copy");
}

TEST_CASE("an error in the middle of COPY FROM leaves the connection usable",
          "[integration][copy]") {
  Proxy proxy(standardConfig());
  Conn c(proxy.conninfo("sp_scram", "scram_pass"));
  REQUIRE(c.ok());
  c.query("CREATE TEMP TABLE it_copy_err (id int, name text)");

  auto start = c.exec("COPY it_copy_err FROM STDIN");
  REQUIRE(start.back());
  REQUIRE(PQresultStatus(start.back().get()) == PGRES_COPY_IN);
  // Good rows, one with text in the int column, then more good rows the server must discard.
  auto done = sendCopy(c, rows(0, 5000) + "not_a_number\tbad\n" + rows(5000, 10000));
  REQUIRE_FALSE(done.empty());
  REQUIRE(done.back());
  bool sawError = false;
  for (auto& r : done) {
    if (r && PQresultStatus(r.get()) == PGRES_FATAL_ERROR) {
      sawError = true;
      CHECK(errorFrom(r.get()).sqlstate == "22P02");
    }
  }
  CHECK(sawError);

  CHECK(c.scalar("select 1") == "1");
  CHECK(c.scalar("select count(*) from it_copy_err") == "0");

  // The copy protocol still works after the failed one.
  auto again = c.exec("COPY it_copy_err FROM STDIN");
  REQUIRE(again.back());
  REQUIRE(PQresultStatus(again.back().get()) == PGRES_COPY_IN);
  auto ok = sendCopy(c, rows(0, 100));
  REQUIRE(ok.back());
  CHECK(PQresultStatus(ok.back().get()) == PGRES_COMMAND_OK);
  CHECK(c.scalar("select count(*) from it_copy_err") == "100");
}
