// auth_user / auth_query / auth_dbname: client passwords looked up in the database through a
// pg_shadow-style SECURITY DEFINER function that also logs each call (so tests count lookups).
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "integration/harness.h"

using namespace shardpool::integration;

namespace {

// The lookup function (owned by the superuser sp_admin, so it may read pg_authid), its call log,
// an auth_user allowed to run it, and two roles whose passwords live only in the database: one
// stored as a SCRAM secret, one as an md5 hash.
class LookupSetup {
 public:
  LookupSetup()
      : schema_("it_aq_" + uniqueSuffix()),
        authUser_("it_aq_auth", "auth_pw"),
        scram_("it_aq_scram", "scram_pw") {
    md5_ = "it_aq_md5_" + uniqueSuffix();
    Conn admin = adminConn();
    admin.query("SET password_encryption = 'md5'; CREATE ROLE " + md5_ +
                " LOGIN PASSWORD 'md5_pw'");
    admin.query("CREATE SCHEMA " + schema_ + "; CREATE TABLE " + schema_ +
                ".calls (usr text, at timestamptz DEFAULT now())");
    admin.query("CREATE FUNCTION " + schema_ +
                ".lookup(u text, OUT usename text, OUT passwd text) RETURNS record "
                "LANGUAGE sql SECURITY DEFINER AS $$ INSERT INTO " + schema_ +
                ".calls(usr) VALUES (u); SELECT rolname::text, rolpassword FROM "
                "pg_catalog.pg_authid WHERE rolname = u AND rolcanlogin $$");
    admin.query("REVOKE ALL ON FUNCTION " + schema_ + ".lookup(text) FROM PUBLIC; GRANT USAGE ON "
                "SCHEMA " + schema_ + " TO " + authUser_.name() + "; GRANT EXECUTE ON FUNCTION " +
                schema_ + ".lookup(text) TO " + authUser_.name());
  }
  ~LookupSetup() {
    try {
      Conn admin = adminConn();
      admin.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '" +
                 md5_ + "'");
      admin.exec("DROP SCHEMA " + schema_ + " CASCADE");
      admin.exec("DROP ROLE IF EXISTS " + md5_);
    } catch (...) {
    }
  }
  const std::string& scramRole() const { return scram_.name(); }
  const std::string& md5Role() const { return md5_; }
  int calls(const std::string& user) const {
    return std::stoi(adminConn().scalar("SELECT count(*) FROM " + schema_ +
                                        ".calls WHERE usr = '" + user + "'"));
  }
  // [general] and [users] for a proxy that looks passwords up; auth_type md5 runs SCRAM for
  // SCRAM secrets and md5 for md5 hashes (as PgBouncer). `aq_forced` logs in to the backend as
  // sp_scram whoever the client is (md5 roles cannot log in over the cluster's scram hba).
  std::string config(const std::string& extra = "", const std::string& databases = "") const {
    std::string cfg = generalSection("auth_type = \"md5\"\npool_mode = \"transaction\"\nauth_user = \"" +
                                     authUser_.name() + "\"\nauth_query = \"SELECT * FROM " +
                                     schema_ + ".lookup($1)\"\n" + extra);
    cfg += clusterDatabase();
    cfg += clusterDatabase("aq_forced", "user = \"sp_scram\"\npassword = \"scram_pass\"");
    cfg += databases;
    cfg += userSection(authUser_.name(), authUser_.password());
    return cfg;
  }

 private:
  std::string schema_;
  TempRole authUser_;
  TempRole scram_;
  std::string md5_;
};

PgError loginError(const Proxy& proxy, const std::string& user, const std::string& password,
                   const std::string& db = "sp_db") {
  Conn c(proxy.conninfo(user, password, db));
  REQUIRE_FALSE(c.ok());
  return c.connectError();
}

}  // namespace

TEST_CASE("auth_query: SCRAM and md5 secrets from the database, and the server login",
          "[integration][auth][auth_query]") {
  LookupSetup setup;
  Proxy proxy(setup.config());
  {
    // Logged in to the backend as the client's own role, with the keys its SCRAM proof gave.
    Conn c(proxy.conninfo(setup.scramRole(), "scram_pw"));
    INFO(c.connectError().sqlstate << " " << c.connectError().message << "\n" << proxy.log());
    REQUIRE(c.ok());
    CHECK(c.scalar("select current_user") == setup.scramRole());
  }
  {
    Conn c(proxy.conninfo(setup.md5Role(), "md5_pw", "aq_forced"));
    INFO(c.connectError().sqlstate << " " << c.connectError().message << "\n" << proxy.log());
    REQUIRE(c.ok());
    CHECK(c.scalar("select 1") == "1");
  }
  // A second server for the SCRAM role logs in with the keys the pool learned.
  Conn a(proxy.conninfo(setup.scramRole(), "scram_pw"));
  REQUIRE(a.ok());
  a.query("BEGIN; SELECT 1");
  Conn b(proxy.conninfo(setup.scramRole(), "scram_pw"));
  REQUIRE(b.ok());
  CHECK(b.scalar("select current_user") == setup.scramRole());
  a.query("COMMIT");
}

TEST_CASE("auth_query: an unknown user fails as a wrong password does",
          "[integration][auth][auth_query]") {
  LookupSetup setup;
  Proxy proxy(setup.config());
  PgError wrong = loginError(proxy, setup.scramRole(), "not_it");
  std::string ghost = "it_aq_ghost_" + uniqueSuffix();
  PgError unknown = loginError(proxy, ghost, "not_it");
  CHECK(wrong.sqlstate == "28P01");
  CHECK(unknown.sqlstate == wrong.sqlstate);
  CHECK(wrong.message == "password authentication failed for user \"" + setup.scramRole() + "\"");
  CHECK(unknown.message == "password authentication failed for user \"" + ghost + "\"");
  // Both were looked up (the unknown name too, so that it costs what a real one costs).
  CHECK(setup.calls(ghost) >= 1);
  // md5 secrets fail the same way.
  PgError md5Wrong = loginError(proxy, setup.md5Role(), "nope", "aq_forced");
  CHECK(md5Wrong.sqlstate == "28P01");
}

TEST_CASE("auth_query: a burst of logins of one user runs one lookup",
          "[integration][auth][auth_query]") {
  LookupSetup setup;
  Proxy proxy(setup.config());
  constexpr int kClients = 16;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i)
    threads.emplace_back([&] {
      Conn c(proxy.conninfo(setup.scramRole(), "scram_pw"));
      if (c.ok() && c.scalar("select 1") == "1") ++ok;
    });
  for (auto& t : threads) t.join();
  INFO(proxy.log());
  CHECK(ok == kClients);
  CHECK(setup.calls(setup.scramRole()) == 1);
}

TEST_CASE("auth_query: a password change is seen after the TTL, a reload, or a failed login",
          "[integration][auth][auth_query]") {
  LookupSetup setup;
  SECTION("cached for auth_query_cache_ttl") {
    Proxy proxy(setup.config("auth_query_cache_ttl = \"1s\""));
    REQUIRE(Conn(proxy.conninfo(setup.scramRole(), "scram_pw")).ok());
    REQUIRE(Conn(proxy.conninfo(setup.scramRole(), "scram_pw")).ok());
    CHECK(setup.calls(setup.scramRole()) == 1);
    adminConn().query("ALTER ROLE " + setup.scramRole() + " PASSWORD 'changed_pw'");
    std::this_thread::sleep_for(1500ms);
    Conn c(proxy.conninfo(setup.scramRole(), "changed_pw"));
    INFO(c.connectError().message << "\n" << proxy.log());
    REQUIRE(c.ok());
    CHECK(c.scalar("select current_user") == setup.scramRole());
    CHECK(setup.calls(setup.scramRole()) == 2);
  }
  SECTION("looked up again after a reload") {
    Proxy proxy(setup.config("auth_query_cache_ttl = \"1h\""));
    REQUIRE(Conn(proxy.conninfo(setup.scramRole(), "scram_pw")).ok());
    adminConn().query("ALTER ROLE " + setup.scramRole() + " PASSWORD 'changed_pw'");
    proxy.signal(SIGHUP);
    auto deadline = Clock::now() + 5s;
    while (!contains(proxy.log(), "configuration reloaded") && Clock::now() < deadline)
      std::this_thread::sleep_for(20ms);
    Conn c(proxy.conninfo(setup.scramRole(), "changed_pw"));
    INFO(c.connectError().message << "\n" << proxy.log());
    REQUIRE(c.ok());
    CHECK(setup.calls(setup.scramRole()) == 2);
  }
  SECTION("a failed login looks the user up again at the next one") {
    Proxy proxy(setup.config("auth_query_cache_ttl = \"1h\""));
    REQUIRE(Conn(proxy.conninfo(setup.scramRole(), "scram_pw")).ok());
    adminConn().query("ALTER ROLE " + setup.scramRole() + " PASSWORD 'changed_pw'");
    // The cached secret is the old one: this login fails and drops it ...
    CHECK(loginError(proxy, setup.scramRole(), "changed_pw").sqlstate == "28P01");
    // ... so the next one sees the new password (and the old one no longer works).
    Conn c(proxy.conninfo(setup.scramRole(), "changed_pw"));
    INFO(c.connectError().message << "\n" << proxy.log());
    CHECK(c.ok());
    CHECK(loginError(proxy, setup.scramRole(), "scram_pw").sqlstate == "28P01");
  }
}

TEST_CASE("auth_query: a failing lookup refuses the login quickly and clearly",
          "[integration][auth][auth_query]") {
  LookupSetup setup;
  // A listener that never accepts: a connect that hangs until auth_query_timeout.
  int silent = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(silent, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(silent, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  REQUIRE(::listen(silent, 16) == 0);
  std::string dbs = "[databases.aq_nodb]\nhost = \"127.0.0.1\"\nport = " +
                    std::to_string(pgPort()) + "\ndbname = \"sp_db\"\nauth_dbname = \"no_such_db\"\n\n";
  dbs += "[databases.aq_refused]\nhost = \"127.0.0.1\"\nport = " + std::to_string(freePort()) +
         "\n\n";
  dbs += "[databases.aq_silent]\nhost = \"127.0.0.1\"\nport = " +
         std::to_string(ntohs(addr.sin_port)) + "\n\n";
  Proxy proxy(setup.config("auth_query_timeout = \"1s\"", dbs));
  for (std::string db : {"aq_nodb", "aq_refused", "aq_silent"}) {
    INFO(db << "\n" << proxy.log());
    auto start = Clock::now();
    PgError e = loginError(proxy, setup.scramRole(), "scram_pw", db);
    CHECK(Clock::now() - start < 3s);
    CHECK(e.sqlstate == "08006");
    CHECK(e.message == "password lookup failed for user \"" + setup.scramRole() + "\"");
  }
  std::string log = proxy.log();
  CHECK(contains(log, "password lookup (auth_query) failed: "));
  CHECK(contains(log, "no_such_db"));
  CHECK(contains(log, "connect timed out"));
  ::close(silent);
}

TEST_CASE("auth_query: a host list whose first host is down is looked up on the next one",
          "[integration][auth][auth_query][hosts]") {
  LookupSetup setup;
  std::string pg = std::to_string(pgPort());
  std::string dbs = "[databases.aq_hosts]\nhost = [\"127.0.0.1\", \"127.0.0.1\"]\nport = [" +
                    std::to_string(freePort()) + ", " + pg + "]\ndbname = \"sp_db\"\n\n";
  // Every host down: the lookup fails, and the log says why for each.
  uint16_t closed1 = freePort(), closed2 = freePort();
  dbs += "[databases.aq_down]\nhost = [\"127.0.0.1\", \"127.0.0.1\"]\nport = [" +
         std::to_string(closed1) + ", " + std::to_string(closed2) + "]\ndbname = \"sp_db\"\n\n";
  Proxy proxy(setup.config("", dbs));
  {
    Conn c(proxy.conninfo(setup.scramRole(), "scram_pw", "aq_hosts"));
    INFO(c.connectError().message << "\n" << proxy.log());
    REQUIRE(c.ok());
    CHECK(c.scalar("select current_user") == setup.scramRole());
  }
  CHECK(setup.calls(setup.scramRole()) == 1);
  PgError e = loginError(proxy, setup.scramRole(), "scram_pw", "aq_down");
  CHECK(e.sqlstate == "08006");
  std::string log = proxy.log();
  CHECK(contains(log, "port " + std::to_string(closed1) + " failed"));
  CHECK(contains(log, "port " + std::to_string(closed2) + " failed"));
}
