// Driver matrix: differential tests of real client drivers (STYLE.md guideline 17). Each driver's
// program in integration/drivers/matrix_<driver>.* runs one deterministic workload and prints one
// line per result (see integration/drivers/README.md); it runs twice, directly against the test
// cluster and through shardpool in transaction pooling with 2 servers for its 8+ connections, and
// the two outputs must be equal line for line. Only what legitimately differs between two runs is
// normalised (DBD::Pg's statement names carry the client's process id).
//
// Every driver comes from a Debian package that scripts/install-deps.sh installs, except the two
// node drivers, which the ctest fixture "node" installs from npm
// (integration/drivers/npm-install.sh); a missing one fails its test with what to install, it is
// never skipped.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <regex>
#include <sstream>

#include "integration/backend_watch.h"
#include "integration/harness.h"

using namespace shardpool::integration;

namespace {

struct Driver {
  std::string name;                              // role prefix and label
  std::string packages;                          // Debian packages that provide it
  std::vector<std::vector<std::string>> probes;  // commands that succeed when it is installed
  std::vector<std::string> requiredFiles;
  // Builds the program once into `dir` (may be empty) and returns the command that runs it.
  std::function<std::vector<std::string>(const TempDir& dir)> prepare;
  std::map<std::string, std::string> env = {};  // added to the connection settings
  // How to install it, for the failure message; empty: the Debian packages above.
  std::string installHint = {};
};

std::string driverFile(const std::string& name) {
  return sourceDir() + "/integration/drivers/" + name;
}

// Go's build cache: kept in the build tree between runs (a cold build of pgx takes ~20 s).
std::string goCache() {
  if (const char* d = std::getenv("SHARDPOOL_IT_GOCACHE"); d && *d) return d;
#ifdef SHARDPOOL_IT_GOCACHE_DEFAULT
  return SHARDPOOL_IT_GOCACHE_DEFAULT;
#else
  return "/tmp/shardpool-it-gocache";
#endif
}

std::map<std::string, std::string> goEnv() {
  // Debian's Go packages live in /usr/share/gocode (GOPATH mode, no module downloads).
  return {{"GO111MODULE", "off"},
          {"GOPATH", "/usr/share/gocode"},
          {"GOCACHE", goCache()},
          {"GOFLAGS", ""},
          {"GOPROXY", "off"}};
}

Driver python(const std::string& name, const std::string& module, const std::string& package,
              const std::string& script) {
  return {name,
          package,
          {{"/usr/bin/python3", "-c", "import " + module}},
          {},
          [script](const TempDir&) {
            return std::vector<std::string>{"/usr/bin/python3", driverFile(script)};
          }};
}

// Where the "node" fixture (integration/drivers/npm-install.sh) installs the npm packages.
std::string nodeDir() {
  if (const char* d = std::getenv("SHARDPOOL_IT_NODE_DIR"); d && *d) return d;
#ifdef SHARDPOOL_IT_NODE_DIR_DEFAULT
  return SHARDPOOL_IT_NODE_DIR_DEFAULT;
#else
  return "/tmp/shardpool-it-node";
#endif
}

// node-postgres and postgres.js: from npm, installed by the ctest fixture "node".
Driver node(const std::string& name, const std::string& module, const std::string& script) {
  std::string dir = nodeDir();
  return {name,
          "npm " + module,
          {{"node", "--version"}},
          {dir + "/node_modules/" + module + "/package.json"},
          [script](const TempDir&) {
            return std::vector<std::string>{"node", driverFile(script)};
          },
          {{"NODE_PATH", dir + "/node_modules"}},
          "nodejs (scripts/install-deps.sh) and the npm package " + module + " into " + dir +
              ": the ctest fixture integration_node_setup (integration/drivers/npm-install.sh) "
              "failed or did not run"};
}

std::string installHint(const Driver& d) {
  if (!d.installHint.empty()) return d.installHint;
  return "the Debian package(s) " + d.packages + " (scripts/install-deps.sh does)";
}

void requireInstalled(const Driver& d) {
  for (const auto& f : d.requiredFiles) {
    if (!std::filesystem::exists(f)) {
      FAIL("driver " << d.name << " is not installed: " << f << " is missing; install "
                     << installHint(d));
    }
  }
  for (const auto& probe : d.probes) {
    auto r = runCommand(probe, {}, 30s);
    if (r.exitCode != 0) {
      std::string cmd;
      for (const auto& a : probe) cmd += a + " ";
      FAIL("driver " << d.name << " is not installed: `" << cmd << "` failed (" << r.exitCode
                     << "): " << r.all() << "\ninstall " << installHint(d));
    }
  }
}

std::string normalise(const std::string& out) {
  static const std::regex dbdpgName("dbdpg_p[0-9]+_");
  return std::regex_replace(out, dbdpgName, "dbdpg_pPID_");
}

// `diff -u` of the two outputs, for the failure message.
std::string unifiedDiff(const std::string& direct, const std::string& proxied) {
  TempDir dir;
  std::string a = dir.write("direct", direct);
  std::string b = dir.write("shardpool", proxied);
  auto r = runCommand(
      {"diff", "-u", "--label", "direct PostgreSQL", "--label", "through shardpool", a, b}, {},
      10s);
  return r.out;
}

std::string lastLine(const std::string& out) {
  std::string s = out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  auto nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

std::map<std::string, std::string> connectionEnv(const Driver& d, const TempRole& role,
                                                 uint16_t port) {
  std::map<std::string, std::string> env{
      {"PGHOST", "127.0.0.1"},         {"PGPORT", std::to_string(port)}, {"PGUSER", role.name()},
      {"PGPASSWORD", role.password()}, {"PGDATABASE", "sp_db"},          {"PGSSLMODE", "disable"},
      {"PGGSSENCMODE", "disable"},     {"PGCONNECT_TIMEOUT", "10"}};
  env.insert(d.env.begin(), d.env.end());
  return env;
}

void runMatrix(const Driver& d) {
  requireInstalled(d);
  TempDir build;
  std::vector<std::string> argv = d.prepare(build);

  // A role of its own, whose schema (first on the default search_path) holds the tables.
  TempRole role("drv_" + d.name);
  adminConn().query("CREATE SCHEMA " + role.name() + " AUTHORIZATION " + role.name());

  auto direct = runCommand(argv, connectionEnv(d, role, pgPort()), 60s);
  {
    INFO(d.name << " directly against PostgreSQL:\n" << direct.all());
    REQUIRE_FALSE(direct.timedOut);
    REQUIRE(direct.exitCode == 0);
    REQUIRE(lastLine(direct.out) == "done");
  }

  Proxy proxy(generalSection("pool_mode = \"transaction\"\ndefault_pool_size = 2\n"
                             "query_wait_timeout = \"20s\"") +
              clusterDatabase() + userSection(role.name(), role.password()));
  BackendWatch watch(role.name());
  auto proxied = runCommand(argv, connectionEnv(d, role, proxy.port()), 60s);
  int maxBackends = watch.stop();

  std::string want = normalise(direct.out);
  std::string got = normalise(proxied.out);
  if (got != want) {
    // Written out whole (Catch2 would wrap the lines of an INFO); ctest shows it on failure.
    std::printf(
        "---- %s: direct PostgreSQL vs shardpool (transaction pooling, pool_size 2) ----\n%s"
        "---- %s through shardpool, stderr ----\n%s----\n",
        d.name.c_str(), unifiedDiff(want, got).c_str(), d.name.c_str(), proxied.err.c_str());
    std::fflush(stdout);
  }
  INFO(d.name << ": the outputs differ, see the diff printed above the proxy's log");
  CHECK_FALSE(proxied.timedOut);
  CHECK(proxied.exitCode == 0);
  CHECK(got == want);
  INFO(watch.error());
  CHECK(maxBackends <= 2);
}

}  // namespace

TEST_CASE("driver matrix: psycopg 3 through shardpool matches direct PostgreSQL",
          "[integration][drivers][matrix]") {
  runMatrix(python("psycopg", "psycopg", "python3-psycopg", "matrix_psycopg.py"));
}

TEST_CASE("driver matrix: psycopg2 through shardpool matches direct PostgreSQL",
          "[integration][drivers][matrix]") {
  runMatrix(python("psycopg2", "psycopg2", "python3-psycopg2", "matrix_psycopg2.py"));
}

TEST_CASE("driver matrix: asyncpg through shardpool matches direct PostgreSQL",
          "[integration][drivers][matrix]") {
  runMatrix(python("asyncpg", "asyncpg", "python3-asyncpg", "matrix_asyncpg.py"));
}

TEST_CASE("driver matrix: pgjdbc through shardpool matches direct PostgreSQL",
          "[integration][drivers][matrix]") {
  const std::string jar = "/usr/share/java/postgresql.jar";
  runMatrix(
      {"pgjdbc",
       "libpostgresql-jdbc-java default-jdk-headless",
       {{"javac", "-version"}},
       {jar},
       [jar](const TempDir& dir) {
         // Compiled once for both runs (the single-file launcher would compile twice).
         auto r = runCommand({"javac", "-encoding", "UTF-8", "-d", dir.path(), "-cp", jar,
                              driverFile("matrix_pgjdbc.java")},
                             {}, 60s);
         INFO("javac: " << r.all());
         REQUIRE(r.exitCode == 0);
         return std::vector<std::string>{"java", "-cp", dir.path() + ":" + jar, "MatrixPgjdbc"};
       }});
}

TEST_CASE("driver matrix: pgx v4 through shardpool matches direct PostgreSQL",
          "[integration][drivers][matrix]") {
  runMatrix(
      {"pgx",
       "golang-go golang-github-jackc-pgx-v4-dev",
       {{"go", "version"}},
       {"/usr/share/gocode/src/github.com/jackc/pgx/v4/conn.go"},
       [](const TempDir& dir) {
         std::string bin = dir.path() + "/matrix_pgx";
         auto r = runCommand({"go", "build", "-o", bin, driverFile("matrix_pgx.go")}, goEnv(), 80s);
         INFO("go build: " << r.all());
         REQUIRE(r.exitCode == 0);
         return std::vector<std::string>{bin};
       }});
}

TEST_CASE("driver matrix: PDO pgsql through shardpool matches direct PostgreSQL",
          "[integration][drivers][matrix]") {
  runMatrix({"pdo",
             "php-cli php-pgsql",
             {{"php", "-r", "exit(in_array('pgsql', PDO::getAvailableDrivers()) ? 0 : 1);"},
              {"php", "-r", "exit(function_exists('pcntl_fork') ? 0 : 1);"}},
             {},
             [](const TempDir&) {
               return std::vector<std::string>{"php", driverFile("matrix_pdo.php")};
             }});
}

TEST_CASE("driver matrix: DBD::Pg through shardpool matches direct PostgreSQL",
          "[integration][drivers][matrix]") {
  runMatrix({"dbdpg", "libdbd-pg-perl", {{"perl", "-MDBD::Pg", "-e", "1"}}, {}, [](const TempDir&) {
               return std::vector<std::string>{"perl", driverFile("matrix_dbdpg.pl")};
             }});
}

TEST_CASE("driver matrix: ruby-pg through shardpool matches direct PostgreSQL",
          "[integration][drivers][matrix]") {
  runMatrix({"rubypg", "ruby-pg", {{"ruby", "-rpg", "-e", "1"}}, {}, [](const TempDir&) {
               return std::vector<std::string>{"ruby", driverFile("matrix_rubypg.rb")};
             }});
}

// The two node drivers need the ctest fixtures "pg;node" (integration/CMakeLists.txt).
TEST_CASE("driver matrix: node-postgres through shardpool matches direct PostgreSQL",
          "[integration][drivers][matrix]") {
  runMatrix(node("nodepg", "pg", "matrix_nodepg.js"));
}

TEST_CASE("driver matrix: postgres.js through shardpool matches direct PostgreSQL",
          "[integration][drivers][matrix]") {
  runMatrix(node("postgresjs", "postgres", "matrix_postgresjs.js"));
}
