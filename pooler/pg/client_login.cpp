// ClientConn's choice of login method: the user's auth_type, or for "hba" the first matching
// rule of auth_hba_file (by connection type, TLS, database, user and address); and the checks
// of the methods that prove who the client is without a password: cert (the verified client
// certificate's common name is the user name) and peer (the unix socket's OS user is the user).
#include <fmt/format.h>

#include <pwd.h>
#include <sys/socket.h>

#include "pooler/net/log.h"
#include "pooler/pg/client_conn.h"
#include "pooler/session/runtime.h"

namespace shardpool::pooler {

ClientConn::LoginState& ClientConn::login() {
  if (!login_) login_ = std::make_unique<LoginState>();
  return *login_;
}

std::optional<ClientConn::PeerUser> ClientConn::peerUser() const {
  if (!unixSocket()) return std::nullopt;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return std::nullopt;
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(cred.uid, &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr)
    return std::nullopt;
  return PeerUser{found->pw_name, cred.uid, cred.pid};
}

config::AuthType ClientConn::loginMethod(const config::Config& cfg, const config::User* user,
                                         const config::HbaRule** rule) const {
  if (cfg.authTypeFor(user) != config::AuthType::Hba) return cfg.loginAuthTypeFor(user);
  std::optional<PeerIp> ip = peerIp();
  config::HbaClient client;
  client.unixSocket = unixSocket();
  client.tls = tlsActive();
  if (ip) {
    client.v6 = ip->v6;
    client.address = ip->bytes.data();
  }
  client.database = database_;
  client.user = user_;
  return cfg.loginMethodFor(user, client, rule);
}

bool ClientConn::rejectLogin(const config::HbaRule* rule) {
  std::optional<PeerIp> ip = peerIp();
  std::string where = fmt::format(
      "host \"{}\", user \"{}\", database \"{}\", {}", ip ? ip->text : std::string("[local]"),
      user_, database_, unixSocket() ? "unix socket" : tlsActive() ? "SSL on" : "SSL off");
  auto cfg = worker().runtime().config();
  const std::string& file = cfg->general.authHbaFile;
  if (rule != nullptr)
    fatal("28000", fmt::format("login rejected: auth_hba_file rejects connection for {}", where),
          fmt::format("rejected by {} line {}", file, rule->line));
  else
    fatal("28000", fmt::format("login rejected: no auth_hba_file entry for {}", where),
          fmt::format("no rule of {} matches", file));
  return false;
}

std::optional<std::string> ClientConn::identityProblem(config::AuthType method) const {
  if (method == config::AuthType::Cert) {
    if (!tlsActive()) return "cert authentication needs a TLS connection";
    std::string cn = tls()->peerCommonName();
    if (cn.empty()) return "the client sent no verified certificate";
    if (cn != user_)
      return fmt::format("certificate common name \"{}\" does not match user \"{}\"", cn, user_);
    return std::nullopt;
  }
  std::optional<PeerUser> peer = peerUser();
  if (!peer) return "peer authentication needs a unix-socket connection and its peer's OS user";
  if (peer->name != user_)
    return fmt::format("OS user \"{}\" is not user \"{}\"", peer->name, user_);
  return std::nullopt;
}

}  // namespace shardpool::pooler
