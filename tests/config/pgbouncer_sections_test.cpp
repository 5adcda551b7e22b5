// import-pgbouncer: [databases], [users] and userlist.txt -> [databases.*] and [users.*].
#include <catch2/catch.hpp>

#include <functional>
#include <string>

#include "config/config.h"
#include "config/pgbouncer_import.h"
#include "pgbouncer_test_support.h"

namespace shardpool::config {
namespace {

using testing::hasNote;
using testing::hasNoteFor;
using testing::importOk;
using testing::kMd5Secret;
using testing::kScramSecret;

constexpr std::string_view kGeneral = "[pgbouncer]\nlisten_addr = 127.0.0.1\n";

struct DatabaseCase {
  std::string_view lines;  // under [databases]
  std::string_view userlist;
  std::function<void(const Config&)> check;
  std::vector<std::string_view> noteKeys;  // notes expected at these keys
};

const Database& db(const Config& c, std::string_view name) {
  const Database* d = c.findDatabase(name);
  REQUIRE(d != nullptr);
  return *d;
}

TEST_CASE("pgbouncer import: [databases] entries", "[config][pgbouncer]") {
  const DatabaseCase cases[] = {
      {"app = host=10.0.0.5 port=5433 dbname=appdb",
       "",
       [](const Config& c) {
         const Database& d = db(c, "app");
         CHECK(d.host == "10.0.0.5");
         CHECK(d.port == 5433);
         CHECK(d.dbname == "appdb");
         CHECK_FALSE(d.user);
         CHECK(c.findDatabase("other") == nullptr);
       },
       {}},
      {"app = host = db1.internal   port= 6000",
       "",
       [](const Config& c) {
         CHECK(db(c, "app").host == "db1.internal");
         CHECK(db(c, "app").port == 6000);
       },
       {}},
      {"app = host=db1,db2 port=5432,5433",
       "",
       [](const Config& c) {
         CHECK(db(c, "app").host == "db1");
         CHECK(db(c, "app").hosts == std::vector<std::string>{"db1", "db2"});
         CHECK(db(c, "app").port == 5432);
         CHECK(db(c, "app").ports == std::vector<uint16_t>{5432, 5433});
         CHECK(db(c, "app").loadBalanceHosts == LoadBalanceHosts::RoundRobin);
       },
       {}},
      {"app = host=db1,db2,db3 port=6000 load_balance_hosts=disable",
       "",
       [](const Config& c) {
         CHECK(db(c, "app").hosts == std::vector<std::string>{"db1", "db2", "db3"});
         CHECK(db(c, "app").port == 6000);
         CHECK(db(c, "app").ports.empty());
         CHECK(db(c, "app").loadBalanceHosts == LoadBalanceHosts::Disable);
       },
       {}},
      {"app = host=db1,db2 port=1,2,3 load_balance_hosts=random",
       "",
       [](const Config& c) {
         CHECK(db(c, "app").port == 1);
         CHECK(db(c, "app").ports.empty());
       },
       {"databases.app.port", "databases.app.load_balance_hosts"}},
      {"app = dbname=appdb",
       "",
       [](const Config& c) { CHECK(db(c, "app").host == "/var/run/postgresql"); },
       {"databases.app.host"}},
      {"app =",
       "",
       [](const Config& c) {
         CHECK(db(c, "app").host == "/var/run/postgresql");
         CHECK(db(c, "app").dbname.empty());
       },
       {"databases.app.host"}},
      {"app = host=h user=svc password='it''s a \\'secret\\' \\\\o/'",
       "",
       [](const Config& c) {
         CHECK(db(c, "app").user == "svc");
         CHECK(db(c, "app").password == "it's a 'secret' \\o/");
       },
       {}},
      {"app = host=h password=x",
       "",
       [](const Config& c) { CHECK_FALSE(db(c, "app").password); },
       {"databases.app.password"}},
      {"app = host=h user=alice",
       "\"alice\" \"from-userlist\"",
       [](const Config& c) { CHECK(db(c, "app").password == "from-userlist"); },
       {}},
      {"app = host=h user=nobody",
       "",
       [](const Config& c) {
         CHECK(db(c, "app").user == "nobody");
         CHECK_FALSE(db(c, "app").password);
       },
       {"databases.app.password"}},
      {"app = host=h user=svc password=md5abc",
       "",
       [](const Config& c) { CHECK_FALSE(db(c, "app").password); },
       {"databases.app.password"}},
      {"app = host=h pool_size=5 pool_mode=transaction min_pool_size=1 reserve_pool=2 "
       "max_db_connections=9",
       "",
       [](const Config& c) {
         const Database& d = db(c, "app");
         CHECK(d.poolSize == 5u);
         CHECK(d.poolMode == PoolMode::Transaction);
         CHECK(d.minPoolSize == 1u);
         CHECK(d.reservePoolSize == 2u);
         CHECK(d.maxDbConnections == 9u);
       },
       {}},
      {"app = host=h reserve_pool_size=4 pool_size=0 pool_mode=sometimes",
       "",
       [](const Config& c) {
         CHECK(db(c, "app").reservePoolSize == 4u);
         CHECK_FALSE(db(c, "app").poolSize);
         CHECK_FALSE(db(c, "app").poolMode);
       },
       {"databases.app.pool_size", "databases.app.pool_mode"}},
      {"* = host=fallback port=5440",
       "",
       [](const Config& c) {
         const Database& d = db(c, "anything");
         CHECK(d.name == "*");
         CHECK(d.host == "fallback");
         CHECK(d.dbname.empty());
       },
       {}},
      {"app = host=h client_encoding=UTF8 datestyle=ISO timezone=UTC application_name=x "
       "auth_user=x server_lifetime=5 weird=1",
       "",
       [](const Config& c) {
         CHECK(db(c, "app").host == "h");
         CHECK(db(c, "app").authUser == "x");
       },
       {"databases.app.client_encoding", "databases.app.datestyle", "databases.app.timezone",
        "databases.app.application_name",
        "databases.app.server_lifetime", "databases.app.weird"}},
      {"app = host=h connect_query='SET search_path = ''app, public''; SELECT 1'",
       "",
       [](const Config& c) {
         CHECK(db(c, "app").connectQuery == "SET search_path = 'app, public'; SELECT 1");
         CHECK(c.connectQueryFor(db(c, "app")) == *db(c, "app").connectQuery);
       },
       {}},
      {"app = host=h\npgbouncer = host=h\nshardpool = host=h",
       "",
       [](const Config& c) {
         CHECK(c.databases.size() == 1);
         CHECK(c.databases.count("pgbouncer") == 0);
       },
       {"databases.pgbouncer", "databases.shardpool"}},
      {"app = host=h\nbroken = host='unterminated\nnoeq = host",
       "",
       [](const Config& c) { CHECK(c.databases.size() == 1); },
       {"databases.broken", "databases.noeq"}},
      {"app = host=first\napp = host=second",
       "",
       [](const Config& c) { CHECK(db(c, "app").host == "second"); },
       {"databases.app"}},
      {"app = host=h user=u password=p${HOME}",
       "",
       [](const Config& c) { CHECK(db(c, "app").password == "p${HOME}"); },
       {}},
  };
  for (const auto& c : cases) {
    INFO(c.lines);
    std::string ini = std::string(kGeneral) + "[databases]\n" + std::string(c.lines) + "\n";
    auto imported = c.userlist.empty() ? importOk(ini) : importOk(ini, c.userlist);
    c.check(*imported.config);
    INFO(testing::formatNotes(imported.result.notes));
    for (auto key : c.noteKeys) {
      INFO(key);
      CHECK(hasNoteFor(imported.result.notes, key));
    }
    if (c.noteKeys.empty()) {
      for (const auto& n : imported.result.notes) CHECK(n.key.rfind("databases", 0) != 0);
    }
  }
}

TEST_CASE("pgbouncer import: a database without host uses unix_socket_dir", "[config][pgbouncer]") {
  auto imported = importOk("[databases]\napp = dbname=x\n[pgbouncer]\nunix_socket_dir = /tmp\n");
  CHECK(db(*imported.config, "app").host == "/tmp");
  CHECK(hasNote(imported.result.notes, "databases.app.host", 2, "unix_socket_dir"));
  CHECK(imported.config->general.unixSocketDir == "/tmp");
  auto modes = importOk(
      "[databases]\napp = host=h\n[pgbouncer]\nunix_socket_dir = /run/pgb\n"
      "unix_socket_mode = 0700\nunix_socket_group = postgres\n");
  CHECK(modes.config->general.unixSocketDir == "/run/pgb");
  CHECK(modes.config->general.unixSocketMode == 0700);
  CHECK(modes.config->general.unixSocketGroup == "postgres");
  auto off = importOk("[databases]\napp = host=h\n[pgbouncer]\nunix_socket_dir =\n");
  CHECK(off.config->general.unixSocketDir.empty());
}

struct UserCase {
  std::string_view general;  // extra [pgbouncer] lines
  std::string userlist;
  std::string_view users;  // [users] lines
  std::function<void(const Config&)> check;
  std::vector<std::string_view> noteKeys;
};

const User& user(const Config& c, std::string_view name) {
  const User* u = c.findUser(name);
  REQUIRE(u != nullptr);
  return *u;
}

TEST_CASE("pgbouncer import: users from userlist.txt and [users]", "[config][pgbouncer]") {
  const std::string scram(kScramSecret);
  const std::string md5(kMd5Secret);
  const UserCase cases[] = {
      {"",
       "\"alice\" \"plain-pass\"\n\"bob\" \"" + md5 + "\"\n",
       "",
       [&](const Config& c) {
         CHECK(c.general.authType == AuthType::Md5);
         CHECK(user(c, "alice").password == "plain-pass");
         CHECK_FALSE(user(c, "alice").authType);
         CHECK(user(c, "bob").password == md5);
       },
       {}},
      // md5 with a SCRAM secret: PgBouncer uses SCRAM for that user, and so does shardpool.
      {"auth_type = md5",
       "\"carol\" \"" + scram + "\"\n",
       "",
       [&](const Config& c) {
         CHECK(user(c, "carol").password == scram);
         CHECK(user(c, "carol").authType == AuthType::ScramSha256);
       },
       {"users.carol"}},
      // scram-sha-256 cannot use an md5 hash: PgBouncer refuses that user; it is left out.
      {"auth_type = scram-sha-256",
       "\"alice\" \"" + md5 + "\"\n\"dave\" \"pw\"\n",
       "",
       [&](const Config& c) {
         CHECK(c.findUser("alice") == nullptr);
         CHECK(user(c, "dave").password == "pw");
       },
       {"users.alice"}},
      {"auth_type = plain",
       "\"alice\" \"" + md5 + "\"\n",
       "",
       [&](const Config& c) {
         CHECK(c.general.authType == AuthType::Password);
         CHECK(user(c, "alice").authType == AuthType::Md5);
       },
       {"users.alice"}},
      {"auth_type = pam",
       "\"alice\" \"" + md5 + "\"\n\"bob\" \"pw\"\n",
       "",
       [&](const Config& c) {
         CHECK(user(c, "alice").authType == AuthType::Md5);
         CHECK_FALSE(user(c, "bob").authType);
       },
       {"auth_type", "users.alice"}},
      {"",
       "\"alice\" \"pw\"\n",
       "alice = pool_mode=transaction pool_size=3 max_user_connections=4 query_timeout=5 x=1",
       [&](const Config& c) {
         const User& u = user(c, "alice");
         CHECK(u.poolMode == PoolMode::Transaction);
         CHECK(u.poolSize == 3u);
         CHECK(u.maxUserConnections == 4u);
         CHECK(u.password == "pw");
       },
       {"users.alice.query_timeout", "users.alice.x"}},
      {"",
       "\"alice\" \"pw\"\n",
       "carol = pool_size=2",
       [&](const Config& c) { CHECK(c.findUser("carol") == nullptr); },
       {"users.carol"}},
      {"auth_type = trust",
       "",
       "carol = pool_size=2",
       [&](const Config& c) {
         CHECK(user(c, "carol").poolSize == 2u);
         CHECK(user(c, "carol").password.empty());
       },
       {}},
      {"",
       "\"bob\"\"s\" \"pa\"\"ss\"\n",
       "",
       [&](const Config& c) { CHECK(user(c, "bob\"s").password == "pa\"ss"); },
       {}},
      {"",
       "\"alice\" \"\"\n\"bob\" \"md5abc\"\n\"eve\" \"SCRAM-SHA-256$x\"\n",
       "",
       [&](const Config& c) { CHECK(c.users.empty()); },
       {"users.alice", "users.bob", "users.eve"}},
      {"",
       "\"alice\" \"first\"\n\"alice\" \"second\"\n",
       "",
       [&](const Config& c) { CHECK(user(c, "alice").password == "second"); },
       {"users.alice"}},
  };
  for (const auto& c : cases) {
    INFO(c.general << "\n" << c.users << "\n" << c.userlist);
    std::string ini = std::string(kGeneral) + std::string(c.general) +
                      "\n[databases]\napp = host=h user=svc password=svcpass\n[users]\n" +
                      std::string(c.users) + "\n";
    auto imported = importOk(ini, c.userlist);
    c.check(*imported.config);
    INFO(testing::formatNotes(imported.result.notes));
    for (auto key : c.noteKeys) {
      INFO(key);
      CHECK(hasNoteFor(imported.result.notes, key));
    }
  }
}

TEST_CASE("pgbouncer import: SCRAM secrets and servers that need the client's password",
          "[config][pgbouncer]") {
  std::string userlist = "\"carol\" \"" + std::string(kScramSecret) + "\"\n";
  auto forced = importOk(
      "[pgbouncer]\nauth_type = scram-sha-256\n[databases]\napp = host=h user=svc password=p\n",
      userlist);
  CHECK_FALSE(hasNoteFor(forced.result.notes, "users.carol"));
  // Servers are logged in to as carol with the keys her SCRAM login proves, as PgBouncer does.
  auto passthrough =
      importOk("[pgbouncer]\nauth_type = scram-sha-256\n[databases]\napp = host=h\n", userlist);
  CHECK_FALSE(hasNoteFor(passthrough.result.notes, "users.carol"));
  CHECK(user(*passthrough.config, "carol").password == kScramSecret);
  // Under trust her login proves nothing: no server login as her.
  auto trusted = importOk("[pgbouncer]\nauth_type = trust\n[databases]\napp = host=h\n", userlist);
  CHECK(hasNote(trusted.result.notes, "users.carol", 1, "SCRAM"));

  // A forced user whose only password is a SCRAM secret cannot log in to the server.
  auto scramBackend = importOk(
      "[databases]\napp = host=h user=carol\n[pgbouncer]\nauth_type = scram-sha-256\n", userlist);
  CHECK_FALSE(db(*scramBackend.config, "app").password);
  CHECK(hasNote(scramBackend.result.notes, "databases.app.password", 2, "SCRAM"));
}

TEST_CASE("pgbouncer import: userlist lines that do not fit", "[config][pgbouncer]") {
  std::string userlist =
      "; comment\n# comment\n\n\"alice\" \"pw\" extra fields ignored\nbob pw\n\"carol\n\"\" "
      "\"x\"\n\"dave\"\n";
  ImportResult r = importPgbouncer("[databases]\napp = host=h\n", "pgbouncer.ini",
                                   std::string_view(userlist), "users.txt");
  auto imported = testing::requireLoads(r);
  CHECK(user(*imported.config, "alice").password == "pw");
  CHECK(imported.config->users.size() == 1);
  const auto& notes = imported.result.notes;
  INFO(testing::formatNotes(notes));
  CHECK(hasNote(notes, "", 5, "expected \"user\" \"password\""));
  CHECK(hasNote(notes, "", 6, "expected \"user\" \"password\""));
  CHECK(hasNote(notes, "", 7, "empty user name"));
  CHECK(hasNote(notes, "", 8, "expected \"user\" \"password\""));
  for (const auto& n : notes) {
    if (n.line >= 5) CHECK(n.file == "users.txt");
    CHECK(n.message.find("pw") == std::string::npos);  // never repeats a password
  }
}

}  // namespace
}  // namespace shardpool::config
