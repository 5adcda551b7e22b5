// The migration test (issue 16): one production-like pgbouncer.ini + userlist.txt (md5 auth with
// plain, md5 and SCRAM userlist secrets, auth_user + auth_query through a SECURITY DEFINER
// function, TLS to clients and to servers, a host list whose first host is down, per-database
// pool sizes, a per-user pool mode, transaction pooling, a unix socket, admin and stats users)
// runs under Debian's PgBouncer 1.18; one client script drives it and records what every step
// observes. Then `shardpool import-pgbouncer` converts the same files, shardpool starts on the
// same port and socket from the result, and the same script runs again. Every observation must
// be equal, except the steps that name a difference; each such difference is quoted word for word
// from docs/migrate-from-pgbouncer.md, and shardpool's answer there is checked too.
#include <catch2/catch.hpp>

#include <libpq-fe.h>
#include <sys/stat.h>

#include <cctype>
#include <cstdio>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "integration/admin_util.h"
#include "integration/harness.h"
#include "integration/pgbouncer_process.h"

using namespace shardpool::integration;

namespace {

// ---- the cluster side ------------------------------------------------------------------------

// Roles and the password lookup: a lookup function in the style of PgBouncer's documentation
// (owned by the superuser, so it may read pg_authid; no row for an unknown user), an auth_user
// allowed to run it, a role known only to the database (looked up), and a role whose userlist
// entry is its SCRAM secret.
class Cluster {
 public:
  Cluster()
      : schema_("it_mig_" + uniqueSuffix()),
        authUser_("it_mig_auth", "auth_pw"),
        lookedUp_("it_mig_aq", "aq_pw"),
        scramUser_("it_mig_sec", "sec_pw") {
    Conn admin = adminConn();
    admin.query("CREATE SCHEMA " + schema_);
    admin.query("CREATE FUNCTION " + schema_ +
                ".user_lookup(name text) RETURNS TABLE (usename text, passwd text) "
                "LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $$ SELECT "
                "rolname::text, rolpassword FROM pg_authid WHERE rolname = name AND "
                "rolcanlogin $$");
    admin.query("REVOKE ALL ON FUNCTION " + schema_ + ".user_lookup(text) FROM PUBLIC; GRANT " +
                "USAGE ON SCHEMA " + schema_ + " TO " + authUser_.name() +
                "; GRANT EXECUTE ON FUNCTION " + schema_ + ".user_lookup(text) TO " +
                authUser_.name());
  }
  ~Cluster() {
    try {
      adminConn().exec("DROP SCHEMA " + schema_ + " CASCADE");
    } catch (...) {
    }
  }
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  const std::string& schema() const { return schema_; }
  const std::string& authUser() const { return authUser_.name(); }
  const std::string& lookedUp() const { return lookedUp_.name(); }
  const std::string& scramUser() const { return scramUser_.name(); }
  // pg_authid's password of `role` (a SCRAM secret or an md5 hash).
  static std::string storedSecret(const std::string& role) {
    return adminConn().scalar("SELECT rolpassword FROM pg_authid WHERE rolname = '" + role + "'");
  }
  void setPassword(const std::string& role, const std::string& password) const {
    adminConn().query("ALTER ROLE " + role + " PASSWORD '" + password + "'");
  }

 private:
  std::string schema_;
  TempRole authUser_;
  TempRole lookedUp_;
  TempRole scramUser_;
};

// ---- the PgBouncer files ---------------------------------------------------------------------

void replaceAll(std::string& text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
}

// Nothing listens on 127.0.0.2 (the test cluster listens on 127.0.0.1 only): appdb's first host
// is down. PgBouncer 1.18 takes one port for the whole host list.
constexpr const char* kIni = R"(;; PgBouncer in front of one PostgreSQL server (written by
;; integration/migration_test.cpp)
[databases]
; the first host is down: PgBouncer goes round the list
appdb = host=127.0.0.2,127.0.0.1 port=@PGPORT@ dbname=sp_db pool_size=3
; one server at most
tinydb = host=127.0.0.1 port=@PGPORT@ dbname=sp_db pool_size=1
; through the server's unix socket
localdb = host=@SOCKET_DIR@ port=@PGPORT@ dbname=sp_db

[users]
sp_md5 = pool_mode=session

[pgbouncer]
logfile = @DIR@/pgbouncer.log
pidfile = @DIR@/pgbouncer.pid
listen_addr = 127.0.0.1
listen_port = @PORT@
unix_socket_dir = @DIR@

auth_type = md5
auth_file = @DIR@/userlist.txt
auth_user = @AUTH_USER@
auth_query = SELECT usename, passwd FROM @SCHEMA@.user_lookup($1)

admin_users = sp_admin
stats_users = sp_clear

pool_mode = transaction
default_pool_size = 5
max_client_conn = 200
query_wait_timeout = 10
server_login_retry = 1
ignore_startup_parameters = extra_float_digits

client_tls_sslmode = require
client_tls_cert_file = @DIR@/server.crt
client_tls_key_file = @DIR@/server.key
server_tls_sslmode = verify-ca
server_tls_ca_file = @DIR@/ca.crt
)";

// What import-pgbouncer notes about kIni and its userlist, by setting: nothing else may get a
// note (a setting that stopped converting would).
std::set<std::string> expectedNotes(const Cluster& cluster) {
  return {"logfile", "pidfile", "server_login_retry", "ignore_startup_parameters",
          // md5 auth, SCRAM secret: this user logs in with SCRAM, as under PgBouncer
          "users." + cluster.scramUser()};
}

// Writes pgbouncer.ini, userlist.txt and the TLS files into `dir`; returns the ini's path.
std::string writePgbouncerFiles(const TempDir& dir, const Cluster& cluster, uint16_t port) {
  std::string ini = substitute(kIni, 0);
  replaceAll(ini, "@DIR@", dir.path());
  replaceAll(ini, "@PORT@", std::to_string(port));
  replaceAll(ini, "@AUTH_USER@", cluster.authUser());
  replaceAll(ini, "@SCHEMA@", cluster.schema());
  std::string path = dir.write("pgbouncer.ini", ini);
  // A plain password (sp_scram, whose server stores SCRAM), an md5 hash (sp_md5, as the server
  // stores it) and a SCRAM secret (copied from the server) for clients; plain ones for auth_user
  // and the console users.
  std::string userlist;
  for (const auto& [user, secret] :
       {std::pair<std::string, std::string>{"sp_scram", "scram_pass"},
        {"sp_md5", Cluster::storedSecret("sp_md5")},
        {cluster.scramUser(), Cluster::storedSecret(cluster.scramUser())},
        {cluster.authUser(), "auth_pw"},
        {"sp_admin", "admin_pass"},
        {"sp_clear", "clear_pass"}})
    userlist += "\"" + user + "\" \"" + secret + "\"\n";
  dir.write("userlist.txt", userlist);
  for (const char* f : {"ca.crt", "server.crt", "server.key"}) dir.write(f, readFile(testCert(f)));
  ::chmod((dir.path() + "/server.key").c_str(), 0600);
  return path;
}

// ---- the client script -----------------------------------------------------------------------

// Where the pooler under test listens: TCP on 127.0.0.1:port, and its unix socket in dir.
struct Endpoint {
  uint16_t port = 0;
  std::string socketDir;
};

enum class Via { Tls, Plain, Unix };

struct Login {
  std::string user;
  std::string password;
  std::string db;
  Via via = Via::Tls;
};

std::string conninfo(const Endpoint& at, const Login& l) {
  std::string info = "host=" + (l.via == Via::Unix ? at.socketDir : std::string("127.0.0.1")) +
                     " port=" + std::to_string(at.port) + " dbname=" + l.db + " user=" + l.user +
                     " application_name=migration_test";
  if (!l.password.empty()) info += " password=" + l.password;
  return info + (l.via == Via::Tls ? " sslmode=require" : " sslmode=disable");
}

std::string describe(const PgError& e) {
  return "error " + (e.sqlstate.empty() ? std::string("-----") : e.sqlstate) + ": " + e.message;
}

// What one statement gave: its rows ("a|b;c|d", NULL as "null"), its command tag when it returns
// no rows, or its error.
std::string outcome(Conn& c, const std::string& sql) {
  auto results = c.exec(sql, 15s);
  if (results.empty()) return "no result";
  if (!results.back()) return "no answer within 15 s";
  for (const auto& r : results) {
    auto st = PQresultStatus(r.get());
    if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE) {
      PgError e = errorFrom(r.get());
      if (e.sqlstate.empty()) e = errorFromText(PQerrorMessage(c.get()));
      return describe(e);
    }
  }
  const PGresult* last = results.back().get();
  if (PQresultStatus(last) != PGRES_TUPLES_OK) return PQcmdStatus(const_cast<PGresult*>(last));
  std::string out;
  for (int i = 0; i < PQntuples(last); ++i) {
    if (i > 0) out += ";";
    for (int j = 0; j < PQnfields(last); ++j) {
      if (j > 0) out += "|";
      out += PQgetisnull(last, i, j) ? "null" : PQgetvalue(last, i, j);
    }
  }
  return out;
}

// A new connection runs `sql`: "tls: rows" (or without "tls: " when TLS is not in use), or the
// error of the login or of the statement.
std::string session(const Endpoint& at, const Login& l, const std::string& sql) {
  Conn c(conninfo(at, l));
  if (!c.ok()) return describe(c.connectError());
  std::string tls = PQsslInUse(c.get()) ? "tls: " : "";
  return tls + outcome(c, sql);
}

// A step: a new connection logs in as `l` and runs `sql` (see session()).
std::function<std::string(const Endpoint&)> loginAndRun(Login l, std::string sql) {
  return
      [l = std::move(l), sql = std::move(sql)](const Endpoint& at) { return session(at, l, sql); };
}

// Two clients logged in together each run a statement in turn: do they get one server?
std::string serversOfTwo(const Endpoint& at, const Login& l) {
  Conn a(conninfo(at, l));
  Conn b(conninfo(at, l));
  if (!a.ok() || !b.ok()) return "login failed";
  std::string pa = outcome(a, "SELECT pg_backend_pid()");
  std::string pb = outcome(b, "SELECT pg_backend_pid()");
  return pa == pb ? "one server" : "two servers";
}

// Selected columns of the SHOW DATABASES rows of the ini's databases, in name order.
std::string databases(Conn& console) {
  std::string out;
  for (const NamedRow& row : showRows(console, "SHOW DATABASES")) {
    const std::string& name = row.at("name");
    if (name != "appdb" && name != "tinydb" && name != "localdb") continue;
    if (!out.empty()) out += "; ";
    out += name;
    for (const char* column :
         {"host", "port", "database", "force_user", "pool_size", "pool_mode", "paused", "disabled"})
      out += "|" + row.at(column);
  }
  return out;
}

// Where shardpool answers otherwise than PgBouncer.
struct Difference {
  enum class Kind {
    OnPurpose,  // `why` is a sentence of docs/migrate-from-pgbouncer.md, word for word
    Gap,        // not on purpose: `why` says what is missing (the test warns about it)
  };
  Kind kind;
  std::string why;
  std::string shardpool;  // what shardpool observes instead
};

Difference onPurpose(std::string documented, std::string shardpool) {
  return {Difference::Kind::OnPurpose, std::move(documented), std::move(shardpool)};
}

// The documented reasons, each quoted by the steps it explains.
const std::string kErrorCodes =
    "shardpool answers with the SQLSTATE and message PostgreSQL would send, where PgBouncer 1.18 "
    "sends `08P01` and a text of its own for every error it raises itself";
const std::string kUnknownUsers = "shardpool answers exactly as for a wrong password";
const std::string kShowConfig =
    "`SHOW CONFIG` shows durations with their unit (`10s`, `250ms`), as shardpool's file writes "
    "them, where PgBouncer shows seconds (`10`)";
const std::string kLookupCache =
    "A password changed in the database is seen after `auth_query_cache_ttl` (60 s), at once "
    "after a `RELOAD`, or at the second login with it";

struct Step {
  std::string what;
  std::function<std::string(const Endpoint&)> run;
  // What PgBouncer observes: checked, so that a step that silently stops testing anything (an
  // error on both sides) fails.
  std::string pgbouncer;
  std::optional<Difference> differs;
};

// `listening`: where both poolers listen (the same port and socket), for the settings shown.
std::vector<Step> clientScript(const Cluster& cluster, const Endpoint& listening) {
  const std::string pg = std::to_string(pgPort());
  const std::string aq = cluster.lookedUp();
  const std::string sec = cluster.scramUser();
  // The server end of a session: who, which port (null over a unix socket), and TLS.
  const std::string whoAndHow =
      "SELECT current_user, inet_server_port(), (SELECT ssl FROM pg_stat_ssl WHERE pid = "
      "pg_backend_pid())";
  const Login admin{"sp_admin", "admin_pass", "pgbouncer"};
  auto wrongPassword = [](const std::string& user) {
    return "error 28P01: password authentication failed for user \"" + user + "\"";
  };
  std::vector<Step> s;

  // Logins with each kind of userlist secret, through the host list whose first host is down,
  // over client TLS, to servers over verified TLS.
  s.push_back({"userlist plain password, host list with its first host down",
               loginAndRun({"sp_scram", "scram_pass", "appdb"}, whoAndHow),
               "tls: sp_scram|" + pg + "|t"});
  s.push_back({"userlist md5 hash", loginAndRun({"sp_md5", "md5_pass", "appdb"}, whoAndHow),
               "tls: sp_md5|" + pg + "|t"});
  s.push_back({"userlist SCRAM secret (the server login uses the client's SCRAM keys)",
               loginAndRun({sec, "sec_pw", "appdb"}, whoAndHow), "tls: " + sec + "|" + pg + "|t"});
  s.push_back({"auth_query: a user only the database knows",
               loginAndRun({aq, "aq_pw", "appdb"}, whoAndHow), "tls: " + aq + "|" + pg + "|t"});
  s.push_back({"auth_query on a second database", loginAndRun({aq, "aq_pw", "tinydb"}, whoAndHow),
               "tls: " + aq + "|" + pg + "|t"});
  s.push_back({"a database reached over the server's unix socket (no TLS there)",
               loginAndRun({"sp_scram", "scram_pass", "localdb"}, whoAndHow),
               "tls: sp_scram|null|f"});

  // The clients' unix socket, and TLS required on TCP.
  s.push_back({"unix socket client (no TLS there), client_tls_sslmode = require",
               loginAndRun({"sp_scram", "scram_pass", "tinydb", Via::Unix}, whoAndHow),
               "sp_scram|" + pg + "|t"});
  s.push_back({"TCP client without TLS, client_tls_sslmode = require",
               loginAndRun({"sp_scram", "scram_pass", "tinydb", Via::Plain}, "SELECT 1"),
               "error 08P01: SSL required",
               onPurpose(kErrorCodes,
                         "error 28000: SSL connection is required "
                         "(client_tls_sslmode = require)")});

  // Refused logins.
  s.push_back({"wrong password (userlist)",
               loginAndRun({"sp_scram", "not_it", "appdb"}, "SELECT 1"),
               "error 08P01: password authentication failed",
               onPurpose(kErrorCodes, wrongPassword("sp_scram"))});
  s.push_back({"wrong password (auth_query)", loginAndRun({aq, "not_it", "appdb"}, "SELECT 1"),
               "error 08P01: SASL authentication failed",
               onPurpose(kErrorCodes, wrongPassword(aq))});
  s.push_back({"unknown user (auth_query finds no row)",
               loginAndRun({"it_mig_nobody", "not_it", "appdb"}, "SELECT 1"),
               "error 08P01: no such user",
               onPurpose(kUnknownUsers, wrongPassword("it_mig_nobody"))});
  s.push_back({"unknown database", loginAndRun({"sp_scram", "scram_pass", "nodb"}, "SELECT 1"),
               "error 08P01: no such database: nodb",
               onPurpose(kErrorCodes, "error 3D000: no such database: nodb")});

  // Pool sizes and modes.
  s.push_back({"transaction pooling: two clients of tinydb (pool_size=1) share its one server",
               [=](const Endpoint& at) {
                 return serversOfTwo(at, {"sp_scram", "scram_pass", "tinydb"});
               },
               "one server"});
  s.push_back({"[users] pool_mode=session: two clients of sp_md5 get a server each",
               [=](const Endpoint& at) {
                 return serversOfTwo(at, {"sp_md5", "md5_pass", "appdb"});
               },
               "two servers"});

  // The admin console.
  const std::string shownDatabases =
      "appdb|127.0.0.2,127.0.0.1|" + pg + "|sp_db||3||0|0; localdb|" + clusterValue("SOCKET_DIR") +
      "|" + pg + "|sp_db||5||0|0; tinydb|127.0.0.1|" + pg + "|sp_db||1||0|0";
  auto showDatabases = [](const Login& user) {
    return [=](const Endpoint& at) {
      Conn c(conninfo(at, user));
      return c.ok() ? databases(c) : describe(c.connectError());
    };
  };
  s.push_back({"SHOW DATABASES (admin user)", showDatabases(admin), shownDatabases});
  s.push_back({"stats user: SHOW is allowed",
               showDatabases({"sp_clear", "clear_pass", "pgbouncer"}), shownDatabases});
  auto showConfig = [=](const std::vector<std::string>& keys) {
    return [=](const Endpoint& at) {
      Conn c(conninfo(at, admin));
      if (!c.ok()) return describe(c.connectError());
      std::vector<NamedRow> rows = showRows(c, "SHOW CONFIG");
      std::string out;
      for (const std::string& key : keys)
        out += (out.empty() ? "" : "; ") + key + "=" + findRow(rows, "key", key).at("value");
      return out;
    };
  };
  const std::string dir = listening.socketDir;
  s.push_back(
      {"SHOW CONFIG: the converted settings",
       showConfig({"listen_addr", "listen_port", "unix_socket_dir", "auth_type", "auth_user",
                   "auth_query", "admin_users", "stats_users", "pool_mode", "default_pool_size",
                   "max_client_conn", "client_tls_sslmode", "client_tls_cert_file",
                   "client_tls_key_file", "server_tls_sslmode", "server_tls_ca_file"}),
       "listen_addr=127.0.0.1; listen_port=" + std::to_string(listening.port) +
           "; unix_socket_dir=" + dir + "; auth_type=md5; auth_user=" + cluster.authUser() +
           "; auth_query=SELECT usename, passwd FROM " + cluster.schema() +
           ".user_lookup($1); admin_users=sp_admin; "
           "stats_users=sp_clear; pool_mode=transaction; default_pool_size=5; "
           "max_client_conn=200; client_tls_sslmode=require; client_tls_cert_file=" +
           dir + "/server.crt; client_tls_key_file=" + dir +
           "/server.key; server_tls_sslmode=verify-ca; server_tls_ca_file=" + dir + "/ca.crt"});
  s.push_back({"SHOW CONFIG: a duration", showConfig({"query_wait_timeout"}),
               "query_wait_timeout=10", onPurpose(kShowConfig, "query_wait_timeout=10s")});
  s.push_back({"stats user: PAUSE is not",
               loginAndRun({"sp_clear", "clear_pass", "pgbouncer"}, "PAUSE tinydb"),
               "tls: error 08P01: admin access needed",
               onPurpose(kErrorCodes,
                         "tls: error 42501: only admin_users may change anything; "
                         "stats_users may only SHOW")});
  s.push_back({"PAUSE tinydb holds a query until RESUME",
               [=](const Endpoint& at) {
                 Conn console(conninfo(at, admin));
                 Conn client(conninfo(at, {"sp_scram", "scram_pass", "tinydb"}));
                 if (!console.ok() || !client.ok()) return std::string("login failed");
                 std::string out = outcome(console, "PAUSE tinydb");
                 PQsendQuery(client.get(), "SELECT 'answered'");
                 out += finishedWithin(client, 500ms) ? "; answered while paused"
                                                      : "; held while paused";
                 out += "; paused=" +
                        findRow(showRows(console, "SHOW DATABASES"), "name", "tinydb").at("paused");
                 out += "; " + outcome(console, "RESUME tinydb");
                 auto results = client.collect(10s);
                 out += results.empty() || !results.back()
                            ? std::string("; no answer after RESUME")
                            : "; " + std::string(PQgetvalue(results.back().get(), 0, 0));
                 return out;
               },
               "PAUSE; held while paused; paused=1; RESUME; answered"});

  // A password changed in the database.
  s.push_back({"auth_query: a password changed in the database, then RELOAD",
               [=, &cluster](const Endpoint& at) {
                 std::string out = session(at, {aq, "aq_pw", "appdb"}, "SELECT current_user");
                 cluster.setPassword(aq, "aq_pw2");
                 out += "; " + session(at, admin, "RELOAD");
                 return out + "; " + session(at, {aq, "aq_pw2", "appdb"}, "SELECT current_user");
               },
               "tls: " + aq + "; tls: RELOAD; tls: " + aq});
  s.push_back({"auth_query: a password changed in the database, no RELOAD",
               [=, &cluster](const Endpoint& at) {
                 cluster.setPassword(aq, "aq_pw3");
                 return session(at, {aq, "aq_pw3", "appdb"}, "SELECT current_user");
               },
               "tls: " + aq, onPurpose(kLookupCache, wrongPassword(aq))});
  s.push_back({"auth_query: the next login with it",
               loginAndRun({aq, "aq_pw3", "appdb"}, "SELECT current_user"), "tls: " + aq});
  return s;
}

using Observations = std::vector<std::string>;

Observations runScript(const std::vector<Step>& script, const Cluster& cluster, const Endpoint& at,
                       const std::string& who) {
  cluster.setPassword(cluster.lookedUp(), "aq_pw");
  Observations out;
  for (const Step& step : script) {
    out.push_back(step.run(at));
    std::printf("[%s] %s: %s\n", who.c_str(), step.what.c_str(), out.back().c_str());
  }
  std::fflush(stdout);
  return out;
}

// The keys of import-pgbouncer's notes on the files in `dir` ("DIR/FILE:LINE: KEY: message").
std::set<std::string> notedKeys(const std::string& err, const std::string& dir) {
  std::set<std::string> keys;
  std::istringstream lines(err);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(dir + "/", 0) != 0) continue;
    size_t key = line.find(": ", line.find(':'));
    if (key == std::string::npos) continue;
    keys.insert(line.substr(key + 2, line.find(':', key + 2) - key - 2));
  }
  return keys;
}

// Runs of blanks and line breaks as one space, so that wrapped sentences of a document match.
std::string squeezed(const std::string& text) {
  std::string out;
  for (char c : text) {
    bool blank = std::isspace(static_cast<unsigned char>(c)) != 0;
    if (blank && (out.empty() || out.back() == ' ')) continue;
    out += blank ? ' ' : c;
  }
  return out;
}

}  // namespace

TEST_CASE("migration: a PgBouncer 1.18 setup, imported, answers the same client script",
          "[integration][import-pgbouncer][migration]") {
  INFO(pgbouncerVersion());
  Cluster cluster;
  TempDir dir;
  uint16_t port = freePort();
  std::string ini = writePgbouncerFiles(dir, cluster, port);
  handOver(dir);
  const Endpoint at{port, dir.path()};
  const std::vector<Step> script = clientScript(cluster, at);

  Observations pgbouncer;
  {
    PgBouncer bouncer(ini, port, dir.path() + "/pgbouncer.stderr");
    pgbouncer = runScript(script, cluster, at, "pgbouncer");
    INFO(bouncer.log());
    REQUIRE(bouncer.stop() == 0);
  }

  std::string toml = dir.path() + "/shardpool.toml";
  auto imported = runCommand(
      {shardpoolBin(), "import-pgbouncer", ini, dir.path() + "/userlist.txt", "-o", toml}, {}, 20s);
  INFO(imported.all());
  REQUIRE(imported.exitCode == 0);
  CHECK(notedKeys(imported.err, dir.path()) == expectedNotes(cluster));
  CHECK_FALSE(contains(imported.err, "error"));

  Observations shardpool;
  {
    Proxy proxy(readFile(toml), {}, port);
    shardpool = runScript(script, cluster, at, "shardpool");
  }

  const std::string doc = squeezed(readFile(sourceDir() + "/docs/migrate-from-pgbouncer.md"));
  REQUIRE(pgbouncer.size() == script.size());
  REQUIRE(shardpool.size() == script.size());
  for (size_t i = 0; i < script.size(); ++i) {
    const Step& step = script[i];
    INFO("step " << i + 1 << ": " << step.what);
    CHECK(pgbouncer[i] == step.pgbouncer);
    if (step.differs) {
      const Difference& d = *step.differs;
      if (d.kind == Difference::Kind::OnPurpose) {
        CHECK(contains(doc, squeezed(d.why)));
      } else {
        WARN("step " << i + 1 << " (" << step.what << ") differs from PgBouncer: " << d.why);
      }
      CHECK(shardpool[i] == d.shardpool);
      CHECK(shardpool[i] != pgbouncer[i]);
    } else {
      CHECK(shardpool[i] == pgbouncer[i]);
    }
  }
}
