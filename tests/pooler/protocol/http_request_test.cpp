#include "pooler/protocol/http_request.h"

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <string_view>
#include <vector>

using namespace shardpool::protocol;

namespace {

const std::string kGet =
    "GET /metrics?name=x HTTP/1.1\r\n"
    "Host: 127.0.0.1:9187\r\n"
    "User-Agent: Prometheus/2.45.0\r\n"
    "Accept: text/plain;version=0.0.4;q=1,*/*;q=0.1\r\n"
    "\r\n";

// Feeds `input` in the given pieces and returns the last result, with consumed summed over the
// pieces. Stops at the first result that is not NeedMore.
HttpParseResult feedPieces(HttpRequestParser& p, const std::vector<std::string_view>& pieces) {
  HttpParseResult total;
  for (std::string_view piece : pieces) {
    HttpParseResult r = p.feed(piece);
    total.status = r.status;
    total.consumed += r.consumed;
    if (r.status != HttpParseStatus::NeedMore) break;
    REQUIRE(r.consumed == piece.size());
  }
  return total;
}

HttpParseError parseError(std::string_view input) {
  HttpRequestParser p;
  HttpParseResult r = p.feed(input);
  REQUIRE(r.status == HttpParseStatus::Error);
  return p.error();
}

const HttpRequestHead& parseOk(HttpRequestParser& p, std::string_view input) {
  HttpParseResult r = p.feed(input);
  INFO(std::string(input) << " -> " << std::string(p.error().reason));
  REQUIRE(r.status == HttpParseStatus::Complete);
  REQUIRE(r.consumed == input.size());
  return p.request();
}

}  // namespace

TEST_CASE("http request: a whole GET request", "[http]") {
  HttpRequestParser p;
  HttpParseResult r = p.feed(kGet);
  REQUIRE(r.status == HttpParseStatus::Complete);
  CHECK(r.consumed == kGet.size());
  CHECK(p.request().method == "GET");
  CHECK(p.request().path == "/metrics");
  CHECK(p.request().version == HttpVersion::Http11);
  CHECK(p.request().connection == HttpConnectionOption::Default);
  CHECK(p.request().contentLength == 0);
  CHECK(p.request().keepAlive());

  // Nothing more is taken until reset().
  CHECK(p.feed(kGet).consumed == 0);
  CHECK(p.status() == HttpParseStatus::Complete);
  p.reset();
  CHECK(p.headBytes() == 0);
  CHECK(p.feed(kGet).status == HttpParseStatus::Complete);
}

TEST_CASE("http request: split at every offset", "[http]") {
  for (size_t cut = 0; cut <= kGet.size(); ++cut) {
    INFO("cut at " << cut);
    HttpRequestParser p;
    std::string_view all(kGet);
    HttpParseResult r = feedPieces(p, {all.substr(0, cut), all.substr(cut)});
    REQUIRE(r.status == HttpParseStatus::Complete);
    CHECK(r.consumed == kGet.size());
    CHECK(p.request().method == "GET");
    CHECK(p.request().path == "/metrics");
  }
  SECTION("one byte at a time") {
    HttpRequestParser p;
    for (size_t i = 0; i < kGet.size(); ++i) {
      CHECK(p.status() == HttpParseStatus::NeedMore);
      HttpParseResult r = p.feed(std::string_view(kGet).substr(i, 1));
      CHECK(r.consumed == 1);
    }
    CHECK(p.status() == HttpParseStatus::Complete);
    CHECK(p.request().path == "/metrics");
  }
}

TEST_CASE("http request: truncated heads need more and take every byte", "[http]") {
  for (size_t len = 0; len < kGet.size(); ++len) {
    INFO("length " << len);
    HttpRequestParser p;
    HttpParseResult r = p.feed(std::string_view(kGet).substr(0, len));
    CHECK(r.status == HttpParseStatus::NeedMore);
    CHECK(r.consumed == len);
    CHECK(p.headBytes() == len);
  }
}

TEST_CASE("http request: two pipelined requests in one buffer", "[http]") {
  const std::string second = "HEAD /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  const std::string both = kGet + second;
  HttpRequestParser p;
  HttpParseResult r = p.feed(both);
  REQUIRE(r.status == HttpParseStatus::Complete);
  REQUIRE(r.consumed == kGet.size());
  CHECK(p.request().path == "/metrics");
  p.reset();
  r = p.feed(std::string_view(both).substr(kGet.size()));
  REQUIRE(r.status == HttpParseStatus::Complete);
  CHECK(r.consumed == second.size());
  CHECK(p.request().method == "HEAD");
  CHECK(p.request().path == "/health");
  CHECK_FALSE(p.request().keepAlive());
}

TEST_CASE("http request: a body is reported, not taken", "[http]") {
  const std::string head = "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n";
  HttpRequestParser p;
  HttpParseResult r = p.feed(head + "hello" + kGet);
  REQUIRE(r.status == HttpParseStatus::Complete);
  CHECK(r.consumed == head.size());
  CHECK(p.request().contentLength == 5);

  HttpRequestParser q;
  CHECK(parseOk(q, "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 7, 7\r\n\r\n").contentLength == 7);
}

TEST_CASE("http request: header names are case-insensitive", "[http]") {
  HttpRequestParser p;
  const auto& req = parseOk(p,
                            "GET / HTTP/1.1\r\nhOsT: x\r\nCONTENT-length: 3\r\n"
                            "cOnNeCtIoN: Close\r\n\r\n");
  CHECK(req.contentLength == 3);
  CHECK(req.connection == HttpConnectionOption::Close);
  CHECK_FALSE(req.keepAlive());
  // The method is case-sensitive: it is reported as sent.
  p.reset();
  CHECK(parseOk(p, "get / HTTP/1.1\r\nHost: x\r\n\r\n").method == "get");
}

TEST_CASE("http request: LF-only line endings are accepted", "[http]") {
  HttpRequestParser p;
  const auto& req = parseOk(p, "GET /metrics HTTP/1.1\nHost: x\nContent-Length: 2\n\n");
  CHECK(req.path == "/metrics");
  CHECK(req.contentLength == 2);
  p.reset();
  CHECK(parseOk(p, "GET /a HTTP/1.1\r\nHost: x\n\r\n").path == "/a");  // mixed
}

TEST_CASE("http request: keep-alive follows the version and the Connection header", "[http]") {
  struct Case {
    std::string head;
    bool keepAlive;
  };
  const std::vector<Case> cases = {
      {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n\r\n", true},
      {"GET / HTTP/1.0\r\n\r\n", false},  // no Host needed in 1.0
      {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.7\r\nHost: x\r\n\r\n", true},  // served as 1.1
  };
  for (const auto& c : cases) {
    HttpRequestParser p;
    CHECK(parseOk(p, c.head).keepAlive() == c.keepAlive);
  }
}

TEST_CASE("http request: targets", "[http]") {
  struct Case {
    std::string target;
    std::string path;
  };
  const std::vector<Case> cases = {
      {"/metrics", "/metrics"},
      {"/metrics?x=1&y=2", "/metrics"},
      {"/a/b#frag", "/a/b"},
      {"/?q", "/"},
      {"*", "*"},
      {"http://localhost:9187/metrics?x", "/metrics"},
      {"HTTP://localhost:9187", "/"},
      {"https://h?x", "/"},
  };
  for (const auto& c : cases) {
    HttpRequestParser p;
    CHECK(parseOk(p, "GET " + c.target + " HTTP/1.1\r\nHost: x\r\n\r\n").path == c.path);
  }
}

TEST_CASE("http request: empty lines before the request line are ignored", "[http]") {
  HttpRequestParser p;
  CHECK(parseOk(p, "\r\n\n" + kGet).path == "/metrics");
}

TEST_CASE("http request: malformed requests get a status to answer with", "[http]") {
  struct Case {
    std::string input;
    int status;
  };
  const std::vector<Case> cases = {
      {"GET /\r\n\r\n", 400},                            // HTTP/0.9 style
      {"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400},       // double space
      {"GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400},       // trailing space
      {"G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400},        // bad method
      {"GET metrics HTTP/1.1\r\nHost: x\r\n\r\n", 400},  // no leading slash
      {"GET /a\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 400},   // control in target
      {"GET / HTTX/1.1\r\nHost: x\r\n\r\n", 400},
      {"GET / HTTP/1.10\r\nHost: x\r\n\r\n", 400},
      {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
      {"GET / HTTP/0.9\r\nHost: x\r\n\r\n", 505},
      {"GET / HTTP/1.1\r\n\r\n", 400},  // missing Host
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},            // space before colon
      {"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400},  // obs-fold
      {"GET / HTTP/1.1\r\nHost x\r\n\r\n", 400},              // no colon
      {"GET / HTTP/1.1\r\n: x\r\n\r\n", 400},                 // empty name
      {"GET / HTTP/1.1\r\nHost: x\ry\r\n\r\n", 400},          // bare CR in a value
      {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
      {"POST / HTTP/1.1\r\nHost: x\r\ntransfer-encoding: identity\r\n\r\n", 501},
  };
  for (const auto& c : cases) {
    INFO(c.input);
    HttpParseError e = parseError(c.input);
    CHECK(e.status == c.status);
    CHECK_FALSE(e.reason.empty());
  }
  std::string nul("GET / HTTP/1.1\r\nHost: x\r\nX: a");
  nul += '\0';
  nul += "b\r\n\r\n";
  CHECK(parseError(nul).status == 400);  // NUL in a value
}

TEST_CASE("http request: an oversized head gets 413", "[http]") {
  const std::string start = "GET / HTTP/1.1\r\nHost: x\r\nX-Fill: ";
  const std::string end = "\r\n\r\n";
  SECTION("exactly the limit fits") {
    HttpRequestParser p(256);
    std::string req = start + std::string(256 - start.size() - end.size(), 'a') + end;
    REQUIRE(req.size() == 256);
    CHECK(parseOk(p, req).path == "/");
  }
  SECTION("one byte over is refused, whole or in pieces") {
    std::string req = start + std::string(257 - start.size() - end.size(), 'a') + end;
    HttpRequestParser p(256);
    CHECK(p.feed(req).status == HttpParseStatus::Error);
    CHECK(p.error().status == 413);
    HttpRequestParser q(256);
    HttpParseResult r =
        feedPieces(q, {std::string_view(req).substr(0, 100), std::string_view(req).substr(100)});
    CHECK(r.status == HttpParseStatus::Error);
    CHECK(q.error().status == 413);
  }
  SECTION("an endless line without LF is refused at the default cap") {
    HttpRequestParser p;
    std::string chunk(1000, 'a');
    HttpParseResult r;
    size_t fed = 0;
    while ((r = p.feed(chunk)).status == HttpParseStatus::NeedMore) fed += r.consumed;
    CHECK(fed <= HttpRequestParser::kDefaultMaxHead);
    CHECK(p.error().status == 413);
  }
}

TEST_CASE("http request: random garbage does not crash", "[http]") {
  std::mt19937 rng(20240611);
  const std::string alphabet = "GET /HTTP1.0:\r\n \t,abcHostConnectiolgh\x01\x7f\x80";
  for (int round = 0; round < 3000; ++round) {
    std::string input(rng() % 600, '\0');
    bool fromAlphabet = round % 2 == 0;
    for (char& c : input) c = fromAlphabet ? alphabet[rng() % alphabet.size()] : char(rng() & 0xff);
    if (round % 3 == 0) input = kGet.substr(0, rng() % kGet.size()) + input;  // valid prefix
    HttpRequestParser p(512);
    std::string_view rest(input);
    while (!rest.empty()) {
      size_t n = std::min<size_t>(rest.size(), 1 + rng() % 40);
      HttpParseResult r = p.feed(rest.substr(0, n));
      REQUIRE(r.consumed <= n);
      rest.remove_prefix(r.consumed);
      if (r.status == HttpParseStatus::Error) {
        CHECK((p.error().status == 400 || p.error().status == 413 || p.error().status == 501 ||
               p.error().status == 505));
        break;
      }
      if (r.status == HttpParseStatus::Complete) p.reset();  // pipelined: go on
      REQUIRE(p.headBytes() <= 512);
    }
  }
}
