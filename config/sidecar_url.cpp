#include "config/sidecar_url.h"

#include <fmt/format.h>

#include <charconv>

#include "config/text.h"

namespace shardpool::config {

namespace {

constexpr std::string_view kSchemes[] = {"postgres://", "postgresql://", "mysql://", "mariadb://"};
constexpr std::string_view kLoopback = "127.0.0.1";

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percentDecode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    int hi = hexValue(text[i + 1]);
    int lo = hexValue(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::optional<uint16_t> parsePort(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value == 0 ||
      value > 65535) {
    return std::nullopt;
  }
  return static_cast<uint16_t>(value);
}

struct HostPort {
  std::string_view host;
  std::optional<std::string_view> port;  // text after ':', when there is one
  bool bracketed = false;
};

// Splits "host", "host:port", "[v6]" or "[v6]:port"; nullopt on a malformed shape.
std::optional<HostPort> splitHostPort(std::string_view text) {
  HostPort out;
  std::string_view rest;
  if (text.starts_with('[')) {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = text.substr(1, close - 1);
    out.bracketed = true;
    rest = text.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return std::nullopt;
  } else {
    size_t colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
      return std::nullopt;  // a bare IPv6 address
    }
    out.host = text.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : text.substr(colon);
  }
  if (!rest.empty()) out.port = rest.substr(1);
  return out;
}

Parsed<BackendUrl> urlError(std::string message) {
  return {std::nullopt, fmt::format("invalid backend URL: {}", message)};
}

}  // namespace

Parsed<BackendUrl> parseBackendUrl(std::string_view url) {
  if (url.empty())
    return {std::nullopt, "a backend URL is required (postgres://user:password@host:port/dbname)"};
  std::string_view rest;
  BackendUrl out;
  for (std::string_view scheme : kSchemes) {
    if (url.starts_with(scheme)) {
      rest = url.substr(scheme.size());
      out.mysql = scheme.starts_with("m");
    }
  }
  if (rest.data() == nullptr)
    return urlError("expected it to start with postgres://, postgresql://, mysql:// or mariadb://");
  if (out.mysql) out.port = 3306;
  rest = rest.substr(0, rest.find('?'));  // query parameters are ignored for now

  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path =
      slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);

  size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return urlError("no user name (postgres://USER@host/dbname)");
  std::string_view userinfo = authority.substr(0, at);
  std::string_view hostport = authority.substr(at + 1);

  size_t colon = userinfo.find(':');
  auto user = percentDecode(userinfo.substr(0, colon));
  if (!user) return urlError("bad percent-encoding in the user name");
  if (user->empty()) return urlError("no user name (postgres://USER@host/dbname)");
  out.user = std::move(*user);
  if (colon != std::string_view::npos) {
    auto password = percentDecode(userinfo.substr(colon + 1));
    if (!password) return urlError("bad percent-encoding in the password");
    out.password = std::move(*password);
  }

  auto split = splitHostPort(hostport);
  if (!split) return urlError("malformed host (write IPv6 addresses in brackets: [::1]:5432)");
  if (split->host.find(',') != std::string_view::npos)
    return urlError("more than one host is not supported");
  auto host = percentDecode(split->host);
  if (!host) return urlError("bad percent-encoding in the host");
  if (host->empty()) return urlError("no host (postgres://user@HOST/dbname)");
  if (out.mysql && host->starts_with('/'))
    return urlError("a MySQL backend is reached over TCP (no unix socket yet)");
  out.host = std::move(*host);
  if (split->port) {
    auto port = parsePort(*split->port);
    if (!port)
      return urlError(
          fmt::format("port must be an integer between 1 and 65535, got {}", quote(*split->port)));
    out.port = *port;
  }

  if (path.find('/') != std::string_view::npos)
    return urlError("the database name must not contain '/'");
  auto dbname = percentDecode(path);
  if (!dbname) return urlError("bad percent-encoding in the database name");
  out.dbname = dbname->empty() ? out.user : std::move(*dbname);
  return {std::move(out), {}};
}

Parsed<ListenAddress> parseListen(std::string_view text) {
  auto shapeError = [&] {
    return Parsed<ListenAddress>{
        std::nullopt, fmt::format("expected host:port, [ipv6]:port or :port, got {}", quote(text))};
  };
  auto split = splitHostPort(text);
  if (!split || !split->port) return shapeError();
  auto port = parsePort(*split->port);
  if (!port) {
    return {std::nullopt, fmt::format("port must be an integer between 1 and 65535, got {}",
                                      quote(*split->port))};
  }
  if (split->host.empty() && split->bracketed) return shapeError();
  ListenAddress out;
  out.host = split->host.empty() ? std::string(kLoopback) : std::string(split->host);
  out.port = *port;
  return {std::move(out), {}};
}

}  // namespace shardpool::config
