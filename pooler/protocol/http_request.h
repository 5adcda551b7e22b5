// Incremental HTTP/1.x request-head parser for the small HTTP endpoints (Prometheus /metrics).
// Fed the bytes of a connection in any pieces, it takes bytes up to the end of one request head
// and reports the request (or the status to answer a bad one with). Pure: no I/O, no libuv.
// The request body, if any, is not taken: the caller skips `contentLength` bytes after the head.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace shardpool::protocol {

enum class HttpVersion : uint8_t { Http10, Http11 };

// What the Connection header asked for ("close" wins over "keep-alive" when both are given).
enum class HttpConnectionOption : uint8_t { Default, Close, KeepAlive };

struct HttpRequestHead {
  std::string method;  // case-sensitive, as sent: "GET", "HEAD", ...
  std::string path;    // the target's path without query string or fragment ("*" as sent)
  HttpVersion version = HttpVersion::Http11;
  HttpConnectionOption connection = HttpConnectionOption::Default;
  uint64_t contentLength = 0;  // body bytes that follow the head

  // HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 only when asked to keep it.
  bool keepAlive() const {
    if (connection == HttpConnectionOption::Close) return false;
    return version == HttpVersion::Http11 || connection == HttpConnectionOption::KeepAlive;
  }
};

struct HttpParseError {
  int status = 0;           // the status to answer with: 400, 413, 501 or 505
  std::string_view reason;  // static text, for the log and the response body
};

enum class HttpParseStatus { NeedMore, Complete, Error };

struct HttpParseResult {
  HttpParseStatus status = HttpParseStatus::NeedMore;
  // Bytes of the input taken. NeedMore: all of them (the parser keeps what it needs). Complete:
  // up to the end of the head; the rest is the body or the next request. Error: unspecified.
  size_t consumed = 0;
};

class HttpRequestParser {
 public:
  static constexpr size_t kDefaultMaxHead = 8 * 1024;

  explicit HttpRequestParser(size_t maxHead = kDefaultMaxHead) : maxHead_(maxHead) {}

  // After Complete or Error, further feeds take nothing and repeat the status until reset().
  [[nodiscard]] HttpParseResult feed(std::string_view bytes);

  HttpParseStatus status() const { return status_; }
  const HttpRequestHead& request() const { return request_; }  // valid after Complete
  const HttpParseError& error() const { return error_; }       // valid after Error
  // Bytes of the current head taken so far: 0 between requests, > 0 while one is arriving.
  size_t headBytes() const { return headBytes_; }

  // Ready for the next request on the same connection.
  void reset();

 private:
  bool fail(int status, std::string_view reason);
  bool onLine(std::string_view line);
  bool parseRequestLine(std::string_view line);
  bool parseHeader(std::string_view line);
  bool finishHead();

  size_t maxHead_;
  HttpParseStatus status_ = HttpParseStatus::NeedMore;
  HttpRequestHead request_;
  HttpParseError error_;
  std::string line_;  // the current line, until its LF arrives
  size_t headBytes_ = 0;
  bool haveRequestLine_ = false;
  bool haveContentLength_ = false;
  bool haveTransferEncoding_ = false;
  int hostHeaders_ = 0;
};

}  // namespace shardpool::protocol
