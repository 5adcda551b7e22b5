#include "pooler/protocol/http_request.h"

#include <limits>

namespace shardpool::protocol {

namespace {

bool isAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

// RFC 9110 token characters (method and header names).
bool isTchar(char c) {
  return isAlpha(c) || isDigit(c) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!isTchar(c)) return false;
  return true;
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c;
}

bool equalsNoCase(std::string_view a, std::string_view lowered) {
  if (a.size() != lowered.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lowered[i]) return false;
  return true;
}

std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls f(element) for each OWS-trimmed element of a comma-separated list; stops when f is false.
template <class F>
bool forEachListElement(std::string_view list, F&& f) {
  for (;;) {
    size_t comma = list.find(',');
    if (!f(trimOws(list.substr(0, comma)))) return false;
    if (comma == std::string_view::npos) return true;
    list.remove_prefix(comma + 1);
  }
}

bool parseDecimal(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  uint64_t n = 0;
  for (char c : s) {
    if (!isDigit(c)) return false;
    uint64_t d = uint64_t(c - '0');
    if (n > (std::numeric_limits<uint64_t>::max() - d) / 10) return false;
    n = n * 10 + d;
  }
  out = n;
  return true;
}

// The path of an absolute-form target ("http://host:port/path?query"), or false.
bool absoluteFormPath(std::string_view target, std::string_view& path) {
  size_t schemeEnd = target.find("://");
  if (schemeEnd == std::string_view::npos || schemeEnd == 0 || !isAlpha(target[0])) return false;
  for (char c : target.substr(0, schemeEnd))
    if (!isAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.') return false;
  std::string_view rest = target.substr(schemeEnd + 3);
  size_t pathStart = rest.find_first_of("/?#");
  if (pathStart == 0) return false;  // no authority
  path = pathStart == std::string_view::npos ? std::string_view() : rest.substr(pathStart);
  if (path.empty() || path[0] != '/') path = "/";
  return true;
}

}  // namespace

HttpParseResult HttpRequestParser::feed(std::string_view bytes) {
  if (status_ != HttpParseStatus::NeedMore) return {status_, 0};
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t nl = bytes.find('\n', pos);
    size_t end = nl == std::string_view::npos ? bytes.size() : nl + 1;
    if (headBytes_ + (end - pos) > maxHead_) {
      fail(413, "request head too large");
      return {status_, pos};
    }
    headBytes_ += end - pos;
    if (nl == std::string_view::npos) {
      line_.append(bytes.substr(pos));
      return {status_, bytes.size()};
    }
    std::string_view line = bytes.substr(pos, nl - pos);
    if (!line_.empty()) {
      line_.append(line);
      line = line_;
    }
    pos = end;
    // CRLF or a bare LF ends a line; a CR anywhere else is rejected by the line parsers.
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    bool ok = onLine(line);
    line_.clear();
    if (!ok || status_ == HttpParseStatus::Complete) return {status_, pos};
  }
  return {status_, pos};
}

void HttpRequestParser::reset() {
  status_ = HttpParseStatus::NeedMore;
  request_.method.clear();
  request_.path.clear();
  request_.version = HttpVersion::Http11;
  request_.connection = HttpConnectionOption::Default;
  request_.contentLength = 0;
  error_ = {};
  line_.clear();
  headBytes_ = 0;
  haveRequestLine_ = false;
  haveContentLength_ = false;
  haveTransferEncoding_ = false;
  hostHeaders_ = 0;
}

bool HttpRequestParser::fail(int status, std::string_view reason) {
  status_ = HttpParseStatus::Error;
  error_ = {status, reason};
  return false;
}

bool HttpRequestParser::onLine(std::string_view line) {
  if (!haveRequestLine_) {
    if (line.empty()) return true;  // empty lines before a request line are ignored (RFC 9112)
    haveRequestLine_ = true;
    return parseRequestLine(line);
  }
  if (line.empty()) return finishHead();
  return parseHeader(line);
}

bool HttpRequestParser::parseRequestLine(std::string_view line) {
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return fail(400, "malformed request line");
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);

  if (!isToken(method)) return fail(400, "invalid method");
  if (target.empty()) return fail(400, "empty request target");
  for (char c : target)
    if (c <= 0x20 || c >= 0x7f) return fail(400, "invalid character in request target");
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !isDigit(version[5]) ||
      version[6] != '.' || !isDigit(version[7]))
    return fail(400, "malformed HTTP version");
  if (version[5] != '1') return fail(505, "HTTP version not supported");
  // A higher 1.x minor version is served as 1.1 (RFC 9110 2.5).
  request_.version = version[7] == '0' ? HttpVersion::Http10 : HttpVersion::Http11;

  std::string_view path;
  if (target[0] == '/' || target == "*") {
    path = target;
  } else if (!absoluteFormPath(target, path)) {
    return fail(400, "unsupported request target");
  }
  path = path.substr(0, path.find_first_of("?#"));
  if (path.empty()) path = "/";
  request_.method.assign(method);
  request_.path.assign(path);
  return true;
}

bool HttpRequestParser::parseHeader(std::string_view line) {
  if (line[0] == ' ' || line[0] == '\t') return fail(400, "obsolete header line folding");
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return fail(400, "malformed header line");
  std::string_view name = line.substr(0, colon);
  if (!isToken(name)) return fail(400, "invalid header name");
  std::string_view value = trimOws(line.substr(colon + 1));
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return fail(400, "invalid character in header value");
  }

  if (equalsNoCase(name, "content-length")) {
    bool ok = forEachListElement(value, [&](std::string_view element) {
      uint64_t n = 0;
      if (!parseDecimal(element, n)) return fail(400, "invalid Content-Length");
      if (haveContentLength_ && n != request_.contentLength)
        return fail(400, "conflicting Content-Length values");
      haveContentLength_ = true;
      request_.contentLength = n;
      return true;
    });
    return ok;
  }
  if (equalsNoCase(name, "transfer-encoding")) {
    haveTransferEncoding_ = true;
  } else if (equalsNoCase(name, "host")) {
    ++hostHeaders_;
  } else if (equalsNoCase(name, "connection")) {
    forEachListElement(value, [&](std::string_view option) {
      if (equalsNoCase(option, "close"))
        request_.connection = HttpConnectionOption::Close;
      else if (equalsNoCase(option, "keep-alive") &&
               request_.connection != HttpConnectionOption::Close)
        request_.connection = HttpConnectionOption::KeepAlive;
      return true;
    });
  }
  return true;
}

bool HttpRequestParser::finishHead() {
  // Without chunked decoding the body's end is unknown: refuse rather than misframe.
  if (haveTransferEncoding_) return fail(501, "Transfer-Encoding is not supported");
  if (hostHeaders_ > 1) return fail(400, "more than one Host header");
  if (hostHeaders_ == 0 && request_.version == HttpVersion::Http11)
    return fail(400, "missing Host header");
  status_ = HttpParseStatus::Complete;
  return true;
}

}  // namespace shardpool::protocol
