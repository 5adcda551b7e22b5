#include "config/validate_tls.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/text.h"
#include "config/tree_lookup.h"

namespace shardpool::config {

namespace {

constexpr std::string_view kGeneral = "general";

std::string generalPath(std::string_view key) {
  return joinKeyPath(kGeneral, key);
}

// "a", "a and b", "a, b and c".
std::string listOf(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? " and " : ", ";
    out += items[i];
  }
  return out;
}

// Why shardpool could not read `path` now; nullopt when it can.
std::optional<std::string> unreadableReason(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return std::strerror(EISDIR);
  if (::access(path.c_str(), R_OK) != 0) return std::strerror(errno);
  return std::nullopt;
}

// A file-valued key and where its value sits.
struct FileKey {
  const toml::table* table;  // the table holding the key, to locate errors; may be null
  std::string keyPath;
  std::string_view key;
  const std::string* value;  // empty or null: not set
};

void checkReadable(const FileKey& file, Diagnostics& diag) {
  if (file.value == nullptr || file.value->empty() || diag.hasErrorsAt(file.keyPath)) return;
  if (auto reason = unreadableReason(*file.value)) {
    diag.at(valueRegion(file.table, file.key), file.keyPath,
            fmt::format("cannot read file {}: {}", quote(*file.value), *reason));
  }
}

// A certificate without its key, or a key without its certificate, in [general].
void checkPair(const toml::table* general, std::string_view certKey, const std::string& cert,
               std::string_view keyKey, const std::string& key, Diagnostics& diag) {
  std::string certPath = generalPath(certKey);
  std::string keyPath = generalPath(keyKey);
  if (!cert.empty() && key.empty() && !diag.hasErrorsAt(keyPath)) {
    diag.at(
        valueRegion(general, certKey), certPath,
        fmt::format("a certificate needs its key: set {} as well, or remove {}", keyPath, certKey));
  }
  if (!key.empty() && cert.empty() && !diag.hasErrorsAt(certPath)) {
    diag.at(
        valueRegion(general, keyKey), keyPath,
        fmt::format("a key needs its certificate: set {} as well, or remove {}", certPath, keyKey));
  }
}

void checkClientTls(const General& g, const toml::table* general, Diagnostics& diag) {
  constexpr std::string_view kMode = "client_tls_sslmode";
  if (g.clientTlsSslmode == TlsMode::Disable || diag.hasErrorsAt(generalPath(kMode))) {
    // Unused files, but a certificate still needs its key.
    checkPair(general, "client_tls_cert_file", g.clientTlsCertFile, "client_tls_key_file",
              g.clientTlsKeyFile, diag);
    return;
  }
  std::vector<std::string> missing;
  auto need = [&](std::string_view key, const std::string& value) {
    std::string path = generalPath(key);
    if (value.empty() && !diag.hasErrorsAt(path)) missing.push_back(std::move(path));
  };
  need("client_tls_cert_file", g.clientTlsCertFile);
  need("client_tls_key_file", g.clientTlsKeyFile);
  if (g.clientTlsSslmode >= TlsMode::VerifyCa) need("client_tls_ca_file", g.clientTlsCaFile);
  if (missing.empty()) return;
  diag.at(valueRegion(general, kMode), generalPath(kMode),
          fmt::format("client_tls_sslmode {} needs {} to be set",
                      quote(toString(g.clientTlsSslmode)), listOf(missing)));
}

// A table whose TLS settings a server inherits: the database, a shard or a replica.
struct TlsLevel {
  std::string path;
  const toml::table* table;  // may be null
  const std::optional<TlsMode>* sslmode;
  const std::optional<std::string>* sslrootcert;
};

// One server of a database: its effective host and the tables it takes TLS settings from,
// nearest first, the database last.
struct TlsServer {
  std::string host;
  std::vector<TlsLevel> levels;
};

TlsLevel levelOf(std::string path, const toml::table* table, const Backend& b) {
  return {std::move(path), table, &b.sslmode, &b.sslrootcert};
}

std::vector<TlsServer> tlsServers(const Config& config, const Database& db,
                                  const toml::table* section) {
  std::string dbPath = joinKeyPath("databases", db.name);
  const toml::table* dbTable = childTable(section, db.name);
  TlsLevel dbLevel{dbPath, dbTable, &db.sslmode, &db.sslrootcert};
  std::vector<Shard> effective = config.shardsOf(db);
  std::vector<TlsServer> out;
  auto addReplicas = [&](const std::vector<Backend>& replicas, const Shard& filled,
                         const std::string& parent, const toml::table* parentTable,
                         std::vector<TlsLevel> inherited) {
    for (size_t j = 0; j < replicas.size() && j < filled.replicas.size(); ++j) {
      std::vector<TlsLevel> levels{levelOf(elementPath(joinKeyPath(parent, "replicas"), j),
                                           elementTable(parentTable, "replicas", j), replicas[j])};
      levels.insert(levels.end(), inherited.begin(), inherited.end());
      out.push_back({filled.replicas[j].host, std::move(levels)});
    }
  };
  if (!db.sharded()) {
    out.push_back({db.host, {dbLevel}});
    addReplicas(db.replicas, effective.front(), dbPath, dbTable, {dbLevel});
    return out;
  }
  for (size_t i = 0; i < db.shards.size() && i < effective.size(); ++i) {
    std::string shardPath = elementPath(joinKeyPath(dbPath, "shards"), i);
    const toml::table* shardTable = elementTable(dbTable, "shards", i);
    TlsLevel shardLevel = levelOf(shardPath, shardTable, db.shards[i].primary);
    out.push_back({effective[i].primary.host, {shardLevel, dbLevel}});
    addReplicas(db.shards[i].replicas, effective[i], shardPath, shardTable, {shardLevel, dbLevel});
  }
  return out;
}

void checkFiles(const Config& config, const toml::table& root, Diagnostics& diag) {
  const General& g = config.general;
  const toml::table* general = childTable(&root, kGeneral);
  auto inGeneral = [&](std::string_view key, const std::string& value) {
    return FileKey{general, generalPath(key), key, &value};
  };
  const FileKey generalFiles[] = {
      inGeneral("client_tls_cert_file", g.clientTlsCertFile),
      inGeneral("client_tls_key_file", g.clientTlsKeyFile),
      inGeneral("client_tls_ca_file", g.clientTlsCaFile),
      inGeneral("server_tls_ca_file", g.serverTlsCaFile),
      inGeneral("server_tls_cert_file", g.serverTlsCertFile),
      inGeneral("server_tls_key_file", g.serverTlsKeyFile),
  };
  for (const FileKey& file : generalFiles) checkReadable(file, diag);

  const toml::table* section = childTable(&root, "databases");
  for (const auto& [name, db] : config.databases) {
    // Each sslrootcert once, where it is written (databases, shards and replicas).
    std::set<std::string> seen;
    for (const TlsServer& server : tlsServers(config, db, section)) {
      for (const TlsLevel& level : server.levels) {
        if (!level.sslrootcert->has_value() || !seen.insert(level.path).second) continue;
        checkReadable(FileKey{level.table, joinKeyPath(level.path, "sslrootcert"), "sslrootcert",
                              &**level.sslrootcert},
                      diag);
      }
    }
  }
}

}  // namespace

void validateTls(const Config& config, const toml::table& root, Diagnostics& diag) {
  const toml::table* general = childTable(&root, kGeneral);
  const General& g = config.general;
  checkClientTls(g, general, diag);
  checkPair(general, "server_tls_cert_file", g.serverTlsCertFile, "server_tls_key_file",
            g.serverTlsKeyFile, diag);
  // verify-ca / verify-full without any CA file (sslrootcert, general.server_tls_ca_file) use
  // the system's default CA store, as PgBouncer does: nothing to check here.
  checkFiles(config, root, diag);
}

}  // namespace shardpool::config
