// The auth_query lookup's libpq conninfo: one per host of a database's host list, TLS as the
// database's servers have it except over a unix socket.
#include "pooler/pg/auth_query.h"

#include <catch2/catch.hpp>

using namespace shardpool::pooler;

namespace {
bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}
}  // namespace

TEST_CASE("auth_query conninfo: each host of a list, TLS except over a unix socket", "[auth][pg]") {
  AuthQueryTarget t;
  t.hosts = {{"10.0.0.1", 6432}, {"db2.internal", 5433}, {"/var/run/postgresql", 5432}};
  t.dbname = "app";
  t.user = "pgbouncer_auth";
  t.password = "it's";
  t.sslmode = "verify-ca";
  t.sslrootcert = "/etc/ssl/ca.crt";

  std::string first = authQueryConninfo(t, 0, "");
  CHECK(has(first, "host='10.0.0.1' port=6432 dbname='app' user='pgbouncer_auth'"));
  CHECK(has(first, "password='it\\'s'"));
  CHECK(has(first, "sslmode='verify-ca' sslrootcert='/etc/ssl/ca.crt'"));
  CHECK_FALSE(has(first, "hostaddr"));

  std::string second = authQueryConninfo(t, 1, "10.0.0.2");
  CHECK(has(second, "host='db2.internal' port=5433"));
  CHECK(has(second, "hostaddr='10.0.0.2'"));
  CHECK(has(second, "sslmode='verify-ca'"));

  std::string local = authQueryConninfo(t, 2, "");
  CHECK(has(local, "host='/var/run/postgresql' port=5432"));
  CHECK(has(local, "sslmode=disable"));
  CHECK_FALSE(has(local, "sslrootcert"));
}
