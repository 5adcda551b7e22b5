#include "pooler/pg/client_auth.h"

#include <fmt/format.h>
#include <openssl/crypto.h>

#include <map>
#include <mutex>

namespace shardpool::pooler {

namespace pg = protocol::pg;

namespace {

bool isScramSecret(std::string_view s) { return s.rfind("SCRAM-SHA-256$", 0) == 0; }

bool equalConstTime(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// Deriving a SCRAM secret from a plaintext password costs thousands of HMACs; do it once per
// (user, password) and process.
auth::ScramSecret secretFor(const config::User& user) {
  static std::mutex mutex;
  static std::map<std::pair<std::string, std::string>, auth::ScramSecret> cache;
  if (isScramSecret(user.password)) {
    if (auto s = auth::parseScramSecret(user.password)) return *s;
  }
  std::lock_guard lock(mutex);
  auto key = std::make_pair(user.name, user.password);
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, auth::makeScramSecret(user.password)).first;
  return it->second;
}

std::string_view asView(pg::Bytes b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

}  // namespace

ClientAuth::ClientAuth(config::AuthType type, const config::User* user, std::string userName,
                       std::string channelBinding, std::optional<std::string> unusable)
    : type_(type),
      user_(unusable ? nullptr : user),
      userName_(std::move(userName)),
      channelBinding_(std::move(channelBinding)),
      unusable_(unusable.value_or(std::string())) {}

ClientAuth::Step ClientAuth::failUnknown() {
  return fail(unusable_.empty() ? "user is not configured" : unusable_);
}

ClientAuth::Step ClientAuth::fail(std::string reason) {
  failure_ = std::move(reason);
  return Step::Failure;
}

ClientAuth::Step ClientAuth::violation(std::string reason) {
  sqlstate_ = "08P01";
  return fail(std::move(reason));
}

ClientAuth::Step ClientAuth::refusal(std::string reason) {
  sqlstate_ = "28000";
  return fail(std::move(reason));
}

ClientAuth::Step ClientAuth::begin(pg::Writer& out) {
  switch (type_) {
    case config::AuthType::Trust:
    case config::AuthType::Cert:  // the certificate or the peer's OS user, checked by the caller
    case config::AuthType::Peer:
      // PgBouncer's '"trust" authentication failed', in PostgreSQL's words and SQLSTATE.
      if (!user_)
        return refusal(fmt::format("\"{}\" authentication failed for user \"{}\"",
                                   config::toString(type_), userName_));
      return Step::Success;
    case config::AuthType::Password:
      pg::putAuthCleartext(out);
      return Step::Continue;
    case config::AuthType::Md5:
      auth::randomBytes(salt_, sizeof salt_);
      pg::putAuthMd5(out, salt_);
      return Step::Continue;
    case config::AuthType::ScramSha256:
      scram_.emplace(user_ ? secretFor(*user_) : auth::mockScramSecret(userName_),
                     channelBinding_);
      // As PostgreSQL: the channel-binding variant first when there is a channel to bind to.
      if (scram_->offersPlus())
        pg::putAuthSasl(out, {auth::kScramSha256Plus, auth::kScramSha256});
      else
        pg::putAuthSasl(out, {auth::kScramSha256});
      return Step::Continue;
    case config::AuthType::Hba:  // resolved to a rule's method before the exchange
    case config::AuthType::Reject:
      break;
  }
  return fail("unsupported auth type");
}

// A cleartext password checked against a SCRAM secret: a local exchange, which costs what the
// secret's iterations cost.
static bool matchesScramSecret(std::string_view password, const auth::ScramSecret& secret) {
  auth::ScramClient client{std::string(password)};
  auth::ScramServer server(secret);
  std::string serverFirst, clientFinal, serverFinal;
  return server.clientFirst(client.clientFirst(), serverFirst) == auth::ScramStatus::Ok &&
         client.serverFirst(serverFirst, clientFinal) == auth::ScramStatus::Ok &&
         server.clientFinal(clientFinal, serverFinal) == auth::ScramStatus::Ok;
}

ClientAuth::Step ClientAuth::verifyCleartext(std::string_view password) {
  if (!user_) {
    // Spend what checking against a stored SCRAM secret spends, so that the answer's timing
    // does not tell an unknown name from a real one.
    (void)matchesScramSecret(password, auth::mockScramSecret(userName_));
    return failUnknown();
  }
  const std::string& stored = user_->password;
  if (auth::isMd5Stored(stored))
    return equalConstTime(auth::md5Stored(password, userName_), stored) ? Step::Success
                                                                         : fail("wrong password");
  if (isScramSecret(stored)) {
    auto secret = auth::parseScramSecret(stored);
    if (!secret) return fail("stored SCRAM secret is malformed");
    return matchesScramSecret(password, *secret) ? Step::Success : fail("wrong password");
  }
  return equalConstTime(password, stored) ? Step::Success : fail("wrong password");
}

std::optional<auth::LoginCredential> ClientAuth::credential() const {
  if (!succeeded_ || !user_) return std::nullopt;
  if (!cleartext_.empty()) return auth::LoginCredential{cleartext_, std::nullopt};
  const std::string& stored = user_->password;
  if (stored.empty()) return std::nullopt;
  if (!isScramSecret(stored)) return auth::LoginCredential{stored, std::nullopt};
  if (scram_) return auth::LoginCredential{{}, scram_->keys()};
  return std::nullopt;
}

ClientAuth::Step ClientAuth::onResponse(pg::Bytes body, pg::Writer& out) {
  Step step = exchange(body, out);
  succeeded_ = step == Step::Success;
  return step;
}

ClientAuth::Step ClientAuth::exchange(pg::Bytes body, pg::Writer& out) {
  ++round_;
  switch (type_) {
    case config::AuthType::Trust:
    case config::AuthType::Cert:
    case config::AuthType::Peer:
    case config::AuthType::Hba:
    case config::AuthType::Reject:
      return fail("unexpected password message");
    case config::AuthType::Password: {
      auto pw = pg::decodePasswordMessage(body);
      if (!pw) return violation("malformed password message");
      Step step = verifyCleartext(*pw);
      if (step == Step::Success) cleartext_ = std::string(*pw);
      return step;
    }
    case config::AuthType::Md5: {
      auto pw = pg::decodePasswordMessage(body);
      if (!pw) return violation("malformed password message");
      if (!user_) return failUnknown();
      std::string stored = auth::isMd5Stored(user_->password)
                               ? user_->password
                               : auth::md5Stored(user_->password, userName_);
      return equalConstTime(*pw, auth::md5Response(stored, salt_)) ? Step::Success
                                                                   : fail("wrong password");
    }
    case config::AuthType::ScramSha256: {
      if (round_ == 1) {
        auto init = pg::decodeSaslInitialResponse(body);
        if (!init) return violation("malformed SASLInitialResponse");
        const bool plus = init->mechanism == auth::kScramSha256Plus && scram_->offersPlus();
        if (init->mechanism != auth::kScramSha256 && !plus)
          return violation("client selected an invalid SASL authentication mechanism");
        std::string serverFirst;
        auth::ScramStatus st = scram_->clientFirst(init->data, serverFirst, plus);
        if (st == auth::ScramStatus::BadChannelBinding) return refusal(scram_->error());
        if (st != auth::ScramStatus::Ok)
          return violation(scram_->error().empty() ? "malformed SCRAM client-first-message"
                                                   : scram_->error());
        pg::putAuthSaslContinue(out, serverFirst);
        return Step::Continue;
      }
      if (round_ == 2) {
        std::string serverFinal;
        auth::ScramStatus st = scram_->clientFinal(asView(body), serverFinal);
        if (st == auth::ScramStatus::BadChannelBinding) return refusal(scram_->error());
        if (st == auth::ScramStatus::BadMessage)
          return violation("malformed SCRAM client-final-message");
        if (!user_) return failUnknown();
        if (st == auth::ScramStatus::BadProof) return fail("wrong password");
        pg::putAuthSaslFinal(out, serverFinal);
        return Step::Success;
      }
      return fail("unexpected SASL message");
    }
  }
  return fail("unsupported auth type");
}

}  // namespace shardpool::pooler
