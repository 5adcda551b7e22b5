// Session settings lists: case-insensitive names, and the copy-on-write sharing of a client's
// list with the other clients of its pool (SharedSettings, Pool::internSettings).
#include "pooler/session/settings_list.h"

#include <catch2/catch.hpp>

#include <memory>

namespace shardpool::pooler {

TEST_CASE("settings names compare as GUC names do", "[session][settings]") {
  SettingsList l{{"DateStyle", "ISO, MDY"}, {"TimeZone", "UTC"}};
  REQUIRE(findSetting(l, "datestyle"));
  CHECK(*findSetting(l, "datestyle") == "ISO, MDY");
  setSetting(l, "TIMEZONE", "Europe/Paris");
  CHECK(l.size() == 2);
  CHECK(*findSetting(l, "timezone") == "Europe/Paris");
  eraseSetting(l, "timezone");
  CHECK(findSetting(l, "TimeZone") == nullptr);
}

TEST_CASE("a shared settings list is copied on its holder's first change only",
          "[session][settings]") {
  // What a pool hands out: one list, kept by the pool too.
  auto interned = std::make_shared<SettingsList>(
      SettingsList{{"application_name", "app"}, {"TimeZone", "UTC"}});
  SharedSettings a, b;
  a.assign(*interned);
  b.assign(*interned);
  a.share(interned);
  b.share(interned);
  CHECK(&*a == &*b);

  // A value it already has (a ParameterStatus repeating it) keeps the sharing.
  a.set("timezone", "UTC");
  CHECK(&*a == &*b);
  a.erase("no_such_setting");
  CHECK(&*a == &*b);

  // A change: `a` gets its own list; `b` and the pool's copy are untouched.
  a.set("TimeZone", "Asia/Tokyo");
  CHECK(&*a != &*b);
  CHECK(*findSetting(*a, "timezone") == "Asia/Tokyo");
  CHECK(*findSetting(*b, "timezone") == "UTC");
  CHECK(*findSetting(*interned, "timezone") == "UTC");

  // Its own list is changed in place from then on.
  const SettingsList* own = &*a;
  a.set("application_name", "other");
  a.erase("TimeZone");
  CHECK(&*a == own);
  CHECK(a->size() == 1);
  CHECK(b->size() == 2);
}

TEST_CASE("an empty settings list reads as empty and grows on its own", "[session][settings]") {
  SharedSettings s;
  CHECK(s->empty());
  CHECK(findSetting(*s, "x") == nullptr);
  s.add("client_encoding", "UTF8");
  s.set("DateStyle", "ISO");
  CHECK(s->size() == 2);
}

}  // namespace shardpool::pooler
