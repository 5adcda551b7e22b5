// The users clients log in as: userlist.txt passwords, [users] settings, admin_users and
// stats_users, checked against the auth type the way shardpool will check them.
#include <fmt/format.h>

#include <set>

#include "config/password_format.h"
#include "config/pgbouncer_map.h"
#include "config/text.h"

namespace shardpool::config::pgbouncer {

namespace {

// Where a user is first mentioned, for notes about it.
struct Place {
  std::string file;
  uint32_t line = 0;
};

Place placeOf(const Importer& im, const std::string& name) {
  if (auto it = im.userlist.find(name); it != im.userlist.end()) {
    return {it->second.file, it->second.line};
  }
  if (auto it = im.userEntries.find(name); it != im.userEntries.end()) {
    return {it->second->file, it->second->line};
  }
  for (const ListedUsers* list : {&im.adminUsers, &im.statsUsers}) {
    if (list->entry == nullptr) continue;
    for (const auto& listed : list->names) {
      if (listed == name) return {list->entry->file, list->entry->line};
    }
  }
  return {im.iniName, 0};
}

// Whether users log in without a password under `auth` (hba: some rules may need none).
bool passwordOptional(AuthType auth) {
  return auth == AuthType::Trust || auth == AuthType::Cert || auth == AuthType::Hba;
}

// The auth type a user with this stored password gets, or nullopt when it cannot log in
// (a note says why). `own` is set when it differs from general.auth_type.
bool pickAuth(Importer& im, const Place& at, const std::string& key, SecretKind kind,
              std::optional<AuthType>& own) {
  switch (im.authType) {
    case AuthType::Trust:
    case AuthType::Cert:
    case AuthType::Peer:
    case AuthType::Reject:
      return true;
    case AuthType::Hba:  // the method is the rule's: a user whose secret cannot run it fails
      return true;
    case AuthType::Password:
      if (kind == SecretKind::Md5) {
        own = AuthType::Md5;
        im.note(at.file, at.line, key,
                "stored as an md5 hash, which cannot check a cleartext password in shardpool: "
                "this user authenticates with auth_type = \"md5\"");
      }
      return true;
    case AuthType::Md5:
      if (kind == SecretKind::Scram) {
        own = AuthType::ScramSha256;
        im.note(at.file, at.line, key,
                "stored as a SCRAM secret: this user authenticates with auth_type = "
                "\"scram-sha-256\" (as PgBouncer does)");
      }
      return true;
    case AuthType::ScramSha256:
      if (kind != SecretKind::Md5) return true;
      if (im.perUserAuthFallback) {
        own = AuthType::Md5;
        im.note(at.file, at.line, key,
                "stored as an md5 hash: this user authenticates with auth_type = \"md5\"");
        return true;
      }
      im.note(at.file, at.line, key,
              "stored as an md5 hash, which cannot check scram-sha-256 (PgBouncer refuses this "
              "user too); user skipped: store the plain password or a SCRAM secret");
      return false;
  }
  return false;
}

// One [users.<name>] table; nullopt when the user cannot log in (a note says why).
std::optional<toml::table> buildUser(Importer& im, const std::string& name, toml::table settings) {
  std::string key = joinKeyPath("users", name);
  Place at = placeOf(im, name);
  auto listed = im.userlist.find(name);
  std::string password = listed == im.userlist.end() ? std::string() : listed->second.password;
  if (auto error = secretFormatError(password)) {
    im.note(at.file, at.line, key,
            fmt::format("{}; {}", *error,
                        passwordOptional(im.authType) ? "password not copied" : "user skipped"));
    if (!passwordOptional(im.authType)) return std::nullopt;
    password.clear();
  }
  if (password.empty() && !passwordOptional(im.authType)) {
    std::string why = listed != im.userlist.end() ? "its password in the userlist is empty"
                      : im.haveUserlist           ? "it is not in the userlist"
                                                  : "no userlist was read";
    im.note(at.file, at.line, key,
            fmt::format("{}, so it cannot log in with auth_type {}; user skipped", why,
                        quote(toString(im.authType))));
    return std::nullopt;
  }
  SecretKind kind = secretKind(password);
  std::optional<AuthType> own;
  if (!pickAuth(im, at, key, kind, own)) return std::nullopt;
  if (own) settings.insert_or_assign("auth_type", std::string(toString(*own)));
  if (!password.empty()) settings.insert_or_assign("password", escapeEnv(password));
  // With a SCRAM secret, servers are logged in to with the keys the client's SCRAM login proved
  // (as PgBouncer does); under trust no login proves any.
  if (kind == SecretKind::Scram && im.serversUseClientPasswords && im.authType == AuthType::Trust) {
    im.note(at.file, at.line, key,
            "stored as a SCRAM secret: under auth_type \"trust\" the client proves no password, "
            "so servers cannot be logged in to as this user (nor can PgBouncer): store the plain "
            "password, or set user and password on the databases");
  }
  return settings;
}

void writeList(Importer& im, const ListedUsers& list, const std::set<std::string>& skipped) {
  if (list.entry == nullptr) return;
  toml::array kept;
  for (const auto& name : list.names) {
    if (skipped.count(name) == 0) {
      kept.push_back(escapeEnv(name));
    } else {
      im.note(*list.entry, list.entry->key,
              fmt::format("{} dropped: that user cannot log in (see the note on {})", quote(name),
                          joinKeyPath("users", name)));
    }
  }
  if (!kept.empty()) im.general.insert_or_assign(list.entry->key, std::move(kept));
}

}  // namespace

void finishUsers(Importer& im) {
  std::set<std::string> names;
  for (const auto& [name, pw] : im.userlist) names.insert(name);
  for (const auto& [name, node] : im.users) names.insert(std::string(name.str()));
  for (const ListedUsers* list : {&im.adminUsers, &im.statsUsers}) {
    names.insert(list->names.begin(), list->names.end());
  }
  toml::table users;
  std::set<std::string> skipped;
  for (const auto& name : names) {
    toml::table settings;
    if (const toml::table* t = im.users[name].as_table()) settings = *t;
    if (auto user = buildUser(im, name, std::move(settings))) {
      users.insert_or_assign(name, std::move(*user));
    } else {
      skipped.insert(name);
    }
  }
  im.users = std::move(users);
  writeList(im, im.adminUsers, skipped);
  writeList(im, im.statsUsers, skipped);
  if (im.users.empty()) {
    im.note(im.iniName, 0, "",
            "no users: shardpool only admits the users listed in [users]; pass userlist.txt (or "
            "set auth_file) and import again");
  }
}

}  // namespace shardpool::config::pgbouncer
