// shardpool command line: config file or sidecar flags, --check, overrides; import-pgbouncer.
#include <fmt/format.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/pgbouncer_import.h"
#include "pooler/net/log.h"
#include "pooler/app/proxy.h"

namespace {

constexpr const char* kUsage = R"(usage:
  shardpool -c FILE [--set key.path=value]...        run with a TOML config file
  shardpool --check -c FILE                          validate FILE and exit (non-zero on error)
  shardpool --listen HOST:PORT --backend URL [opts]  sidecar mode: serve one database, no file
      URL: postgres://user:password@host:port/dbname (password may come from PGPASSWORD)
  shardpool import-pgbouncer pgbouncer.ini [userlist.txt] [-o out.toml]
      convert a PgBouncer config (see docs/migrate-from-pgbouncer.md); notes on stderr
options:
  --pool-mode session|transaction|statement   same as --set general.pool_mode=...
  --pool-size N                               same as --set general.default_pool_size=N
  --workers N                                 same as --set general.workers=N
  --log-level debug|info|warn|error           same as --set general.log_level=...
  --set key.path=value                        override any config key (see docs/config.md)
  --takeover                                  take the listening sockets over from the shardpool
                                              running on general.takeover_socket (upgrade)
  --version, --help
)";

int usageError(const std::string& msg) {
  fmt::print(stderr, "shardpool: {}\n{}", msg, kUsage);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace shardpool;
  if (argc >= 2 && std::strcmp(argv[1], "import-pgbouncer") == 0) {
    return config::runImportPgbouncer(std::vector<std::string>(argv + 2, argv + argc));
  }
  std::string configPath;
  config::SidecarOptions sidecar;
  std::vector<config::Override> overrides;
  bool check = false;
  bool takeover = false;

  auto addOverride = [&](const std::string& key, const std::string& value) {
    overrides.push_back({key, value});
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string& out) -> bool {
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    std::string v;
    if (arg == "-h" || arg == "--help") {
      fmt::print("{}", kUsage);
      return 0;
    } else if (arg == "--version") {
      fmt::print("shardpool 0.1.0\n");
      return 0;
    } else if (arg == "--check") {
      check = true;
    } else if (arg == "--takeover") {
      takeover = true;
    } else if (arg == "-c" || arg == "--config") {
      if (!value(configPath)) return usageError(arg + " needs a file");
    } else if (arg == "--listen") {
      if (!value(sidecar.listen)) return usageError("--listen needs HOST:PORT");
    } else if (arg == "--backend") {
      if (!value(sidecar.backendUrl)) return usageError("--backend needs a URL");
    } else if (arg == "--pool-mode") {
      if (!value(v)) return usageError("--pool-mode needs a value");
      addOverride("general.pool_mode", v);
    } else if (arg == "--pool-size") {
      if (!value(v)) return usageError("--pool-size needs a value");
      addOverride("general.default_pool_size", v);
    } else if (arg == "--workers") {
      if (!value(v)) return usageError("--workers needs a value");
      addOverride("general.workers", v);
    } else if (arg == "--log-level") {
      if (!value(v)) return usageError("--log-level needs a value");
      addOverride("general.log_level", v);
    } else if (arg == "--set") {
      if (!value(v)) return usageError("--set needs key.path=value");
      auto o = config::parseOverride(v);
      if (!o) return usageError(fmt::format("--set {}: expected key.path=value", v));
      overrides.push_back(*o);
    } else {
      return usageError(fmt::format("unknown argument \"{}\"", arg));
    }
  }

  config::LoadResult loaded;
  if (!sidecar.backendUrl.empty()) {
    if (!configPath.empty()) return usageError("use either -c FILE or --backend URL, not both");
    if (sidecar.listen.empty()) sidecar.listen = "127.0.0.1:6432";
    loaded = config::fromSidecar(sidecar, overrides);
  } else if (!configPath.empty()) {
    if (!sidecar.listen.empty()) {
      size_t colon = sidecar.listen.rfind(':');
      if (colon == std::string::npos) return usageError("--listen needs HOST:PORT");
      std::string host = sidecar.listen.substr(0, colon);
      if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
      addOverride("general.listen_addr", fmt::format("\"{}\"", host.empty() ? "127.0.0.1" : host));
      addOverride("general.listen_port", sidecar.listen.substr(colon + 1));
    }
    loaded = config::loadFile(configPath, overrides);
  } else {
    return usageError("no configuration: pass -c FILE or --backend URL");
  }

  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) fmt::print(stderr, "{}\n", e.format());
    fmt::print(stderr, "shardpool: configuration has {} error(s)\n", loaded.errors.size());
    return 1;
  }
  // Accepted as PgBouncer accepts them, but worth attention (a capped value, a user who cannot
  // log in): on stderr with --check, in the log otherwise.
  for (const auto& w : loaded.warnings) {
    if (check)
      fmt::print(stderr, "warning: {}\n", w.format());
    else
      pooler::log::warn("", "configuration: {}", w.format());
  }
  if (check) {
    fmt::print("{}: configuration OK ({} database(s), {} user(s))\n",
               configPath.empty() ? "sidecar" : configPath, loaded.config->databases.size(),
               loaded.config->users.size());
    return 0;
  }
  pooler::log::setLevel(loaded.config->general.logLevel);
  // Every client and server is a file descriptor: take all the hard limit allows, and say what
  // it is, since a full table makes new clients fail at accept.
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0) {
    if (files.rlim_cur < files.rlim_max) {
      rlim_t was = files.rlim_cur;
      files.rlim_cur = files.rlim_max;
      if (::setrlimit(RLIMIT_NOFILE, &files) != 0) files.rlim_cur = was;
    }
    pooler::log::info("", "open files limit: {} (each client and each server takes one)",
                      static_cast<unsigned long long>(files.rlim_cur));
  }
  pooler::Proxy proxy(loaded.config, takeover);
  return proxy.run();
}
