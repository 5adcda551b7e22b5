// fromSidecar: one backend from `--backend URL` and `--listen host:port`, no file.
#include <fmt/format.h>

#include "config/build.h"
#include "config/config.h"
#include "config/diagnostics.h"
#include "config/env_subst.h"
#include "config/sidecar_url.h"

namespace shardpool::config {

namespace {

constexpr std::string_view kListenFlag = "--listen";
constexpr std::string_view kBackendFlag = "--backend";
constexpr uint16_t kDefaultMysqlSidecarPort = 6033;  // ProxySQL's, for a MySQL backend

ConfigError flagError(std::string_view flag, std::string message) {
  return ConfigError{{}, 0, 0, std::string(flag), std::move(message)};
}

// The same tree a file would give: [general] listen address, one database with the backend
// user forced, and one client user with the URL's password.
toml::table sidecarTree(const ListenAddress& listen, const BackendUrl& url,
                        const std::optional<std::string>& password) {
  toml::table general;
  general.insert("listen_addr", listen.host);
  // A MySQL backend is served on mysql_listen_port (the --listen port); the PostgreSQL
  // listener, which carries the admin console, keeps listen_port's default.
  general.insert(url.mysql ? "mysql_listen_port" : "listen_port", static_cast<int64_t>(listen.port));

  toml::table database;
  if (url.mysql) database.insert("protocol", "mysql");
  database.insert("host", url.host);
  database.insert("port", static_cast<int64_t>(url.port));
  database.insert("dbname", url.dbname);
  database.insert("user", url.user);
  if (password) database.insert("password", *password);

  toml::table user;
  if (!url.mysql) user.insert("auth_type", password ? "scram-sha-256" : "trust");
  if (password) user.insert("password", *password);

  toml::table databases;
  databases.insert(url.dbname, std::move(database));
  toml::table users;
  users.insert(url.user, std::move(user));

  toml::table root;
  root.insert("general", std::move(general));
  root.insert("databases", std::move(databases));
  root.insert("users", std::move(users));
  return root;
}

}  // namespace

LoadResult fromSidecar(const SidecarOptions& opts, const std::vector<Override>& overrides) {
  try {
    std::vector<ConfigError> errors;
    ListenAddress listen{std::string(General{}.listenAddr), General{}.listenPort};
    if (opts.backendUrl.starts_with("mysql://") || opts.backendUrl.starts_with("mariadb://"))
      listen.port = kDefaultMysqlSidecarPort;
    if (!opts.listen.empty()) {
      Parsed<ListenAddress> parsed = parseListen(opts.listen);
      if (parsed.value) {
        listen = std::move(*parsed.value);
      } else {
        errors.push_back(flagError(kListenFlag, std::move(parsed.error)));
      }
    }
    Parsed<BackendUrl> url = parseBackendUrl(opts.backendUrl);
    if (!url.value) errors.push_back(flagError(kBackendFlag, std::move(url.error)));
    if (!errors.empty()) return LoadResult{nullptr, std::move(errors)};

    EnvLookup env = processEnvironment();
    std::optional<std::string> password = url.value->password;
    if (!password) {
      password = env(url.value->mysql ? "MYSQL_PWD" : "PGPASSWORD");
      if (password && password->empty()) password.reset();
    }
    toml::table root = sidecarTree(listen, *url.value, password);
    Diagnostics diag{std::string()};
    LoadResult r = buildConfig(root, std::string(), overrides, env, ExpandEnv::OnlyOverrides, diag);
    if (r.ok()) {
      auto c = std::make_shared<Config>(*r.config);
      c->origin = {ConfigOrigin::Kind::Sidecar, {}, opts, overrides};
      r.config = std::move(c);
    }
    return r;
  } catch (const std::exception& e) {
    return failure(flagError(
        {}, fmt::format("internal error while building the configuration: {}", e.what())));
  }
}

}  // namespace shardpool::config
