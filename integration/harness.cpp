// Harness: cluster environment, temp files, string helpers, config snippets.
#include "integration/harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "integration/harness_util.h"

namespace shardpool::integration {

using detail::fail;
using detail::requiredEnv;

namespace {

void replaceAll(std::string& s, std::string_view from, std::string_view to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
}

}  // namespace

// ---- environment ---------------------------------------------------------------------------

std::string detail::requiredEnv(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  if (v && *v) return v;
  if (fallback && *fallback) return fallback;
  throw fail(std::string("environment variable ") + name +
             " is not set (run the integration tests through ctest)");
}

const std::map<std::string, std::string>& clusterEnv() {
  static std::once_flag once;
  static std::map<std::string, std::string> env;
  std::call_once(once, [] {
#ifdef SHARDPOOL_IT_ENV_DEFAULT
    std::string path = requiredEnv("SHARDPOOL_IT_ENV", SHARDPOOL_IT_ENV_DEFAULT);
#else
    std::string path = requiredEnv("SHARDPOOL_IT_ENV", nullptr);
#endif
    env = readEnvFile(path);
  });
  return env;
}

std::map<std::string, std::string> readEnvFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw fail("cannot read " + path +
               " (is the test server running? `scripts/pg-cluster.sh start DIR`, "
               "`scripts/mariadb-cluster.sh start DIR`)");
  }
  std::map<std::string, std::string> env;
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
    env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return env;
}

std::string clusterValue(const std::string& key) {
  const auto& env = clusterEnv();
  auto it = env.find(key);
  if (it == env.end()) throw fail("cluster env has no " + key);
  return it->second;
}

uint16_t pgPort() {
  return static_cast<uint16_t>(std::stoi(clusterValue("PGPORT")));
}

std::string shardpoolBin() {
#ifdef SHARDPOOL_BIN_DEFAULT
  return requiredEnv("SHARDPOOL_BIN", SHARDPOOL_BIN_DEFAULT);
#else
  return requiredEnv("SHARDPOOL_BIN", nullptr);
#endif
}

std::string sourceDir() {
#ifdef SHARDPOOL_SOURCE_DIR_DEFAULT
  return requiredEnv("SHARDPOOL_SOURCE_DIR", SHARDPOOL_SOURCE_DIR_DEFAULT);
#else
  return requiredEnv("SHARDPOOL_SOURCE_DIR", nullptr);
#endif
}

std::string testCert(const std::string& name) {
#ifdef SHARDPOOL_IT_CERTS_DEFAULT
  return requiredEnv("SHARDPOOL_IT_CERTS", SHARDPOOL_IT_CERTS_DEFAULT) + "/" + name;
#else
  return requiredEnv("SHARDPOOL_IT_CERTS", nullptr) + "/" + name;
#endif
}

uint16_t freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw fail("socket(): " + std::string(std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw fail("bind(127.0.0.1:0): " + std::string(std::strerror(errno)));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string uniqueSuffix() {
  static std::atomic<int> counter{0};
  return std::to_string(::getpid()) + "_" + std::to_string(counter++);
}

TempDir::TempDir() {
  std::string tmpl = "/tmp/shardpool-it.XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw fail("mkdtemp: " + std::string(std::strerror(errno)));
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, std::string_view content) const {
  std::string p = path_ + "/" + name;
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw fail("cannot write " + p);
  return p;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

bool containsNoCase(std::string_view haystack, std::string_view needle) {
  auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                        [](char a, char b) { return std::tolower(a) == std::tolower(b); });
  return it != haystack.end();
}

std::string substitute(std::string text, uint16_t listenPort, uint16_t mysqlListenPort) {
  if (listenPort != 0) replaceAll(text, "@LISTEN_PORT@", std::to_string(listenPort));
  if (mysqlListenPort != 0)
    replaceAll(text, "@MYSQL_LISTEN_PORT@", std::to_string(mysqlListenPort));
  // Only where it is used: the MySQL tests run without a PostgreSQL cluster.
  if (text.find("@PGPORT@") != std::string::npos)
    replaceAll(text, "@PGPORT@", std::to_string(pgPort()));
  replaceAll(text, "@PGHOST@", "127.0.0.1");
  if (text.find("@SOCKET_DIR@") != std::string::npos) {
    replaceAll(text, "@SOCKET_DIR@", clusterValue("SOCKET_DIR"));
  }
  return text;
}

std::string generalSection(const std::string& extra) {
  std::string s =
      "[general]\n"
      "listen_addr = \"127.0.0.1\"\n"
      "listen_port = @LISTEN_PORT@\n"
      "log_level = \"info\"\n";
  if (!extra.empty()) s += extra + "\n";
  return s + "\n";
}

std::string clusterDatabase(const std::string& name, const std::string& extra) {
  std::string s = "[databases." + name +
                  "]\nhost = \"127.0.0.1\"\nport = " + std::to_string(pgPort()) +
                  "\ndbname = \"sp_db\"\n";
  if (!extra.empty()) s += extra + "\n";
  return s + "\n";
}

std::string userSection(const std::string& name, const std::string& password,
                        const std::string& extra) {
  std::string s = "[users." + name + "]\npassword = \"" + password + "\"\n";
  if (!extra.empty()) s += extra + "\n";
  return s + "\n";
}

std::string standardConfig(const std::string& generalExtra) {
  return generalSection(generalExtra) + clusterDatabase() + userSection("sp_scram", "scram_pass");
}

std::map<std::string, std::string> clientEnv(const std::string& password) {
  return {{"PGPASSWORD", password},
          {"PGSSLMODE", "disable"},
          {"PGGSSENCMODE", "disable"},
          {"PGCONNECT_TIMEOUT", "10"},
          {"PGAPPNAME", "shardpool_it"}};
}

std::vector<std::string> psqlArgs(uint16_t port, const std::string& user, const std::string& sql,
                                  const std::string& dbname) {
  std::vector<std::string> args{"psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"};
  args.insert(args.end(), {"-p", std::to_string(port), "-U", user, "-d", dbname, "-c", sql});
  return args;
}

}  // namespace shardpool::integration
