#include "config/values.h"

#include <fmt/format.h>

#include <array>
#include <limits>
#include <sstream>

#include "config/duration.h"
#include "config/suggest.h"
#include "config/text.h"

namespace shardpool::config {

namespace {

constexpr PoolMode kPoolModes[] = {PoolMode::Session, PoolMode::Transaction, PoolMode::Statement};
constexpr AuthType kAuthTypes[] = {AuthType::Trust,       AuthType::Password, AuthType::Md5,
                                   AuthType::ScramSha256, AuthType::Cert,     AuthType::Hba};
constexpr LogLevel kLogLevels[] = {LogLevel::Debug, LogLevel::Info, LogLevel::Warn,
                                   LogLevel::Error};
constexpr TlsMode kTlsModes[] = {TlsMode::Disable, TlsMode::Allow,    TlsMode::Prefer,
                                 TlsMode::Require, TlsMode::VerifyCa, TlsMode::VerifyFull};
constexpr ShardingFunction kShardingFunctions[] = {ShardingFunction::Modulo, ShardingFunction::Hash,
                                                   ShardingFunction::Directory};
constexpr KeyType kKeyTypes[] = {KeyType::Integer, KeyType::Text};
constexpr ReadFrom kReadFroms[] = {ReadFrom::Primary, ReadFrom::Replicas, ReadFrom::Any};
constexpr LoadBalanceHosts kLoadBalanceHosts[] = {LoadBalanceHosts::RoundRobin,
                                                  LoadBalanceHosts::Disable};
constexpr Protocol kProtocols[] = {Protocol::Postgres, Protocol::MySql};

template <class Enum, size_t N>
std::array<std::string_view, N> namesOf(const Enum (&values)[N]) {
  std::array<std::string_view, N> names;
  for (size_t i = 0; i < N; ++i) names[i] = toString(values[i]);
  return names;
}

std::string quotedList(std::span<const std::string_view> names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += quote(names[i]);
  }
  return out;
}

template <class T>
std::string streamed(const T& value) {
  std::ostringstream os;
  os << value;
  return os.str();
}

constexpr std::string_view kDurationShape =
    "a duration (seconds as a number, or a string such as \"250ms\", \"1.5s\", \"5m\" or \"2h\")";

}  // namespace

std::string describe(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::none:
      return "nothing";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return quote(node.as_string()->get());
    case toml::node_type::integer:
      return std::to_string(node.as_integer()->get());
    case toml::node_type::floating_point:
      return streamed(*node.as_floating_point());
    case toml::node_type::boolean:
      return node.as_boolean()->get() ? "true" : "false";
    case toml::node_type::date:
      return "the date " + streamed(*node.as_date());
    case toml::node_type::time:
      return "the time " + streamed(*node.as_time());
    case toml::node_type::date_time:
      return "the date-time " + streamed(*node.as_date_time());
  }
  return "an unknown value";
}

void ValueReader::error(std::string message) const {
  // A value that already failed ${ENV} expansion is not judged again.
  if (diag_.hasErrorsAt(keyPath_)) return;
  diag_.at(node_.source(), keyPath_, std::move(message));
}

std::optional<int64_t> ValueReader::integer(int64_t min, int64_t max) const {
  std::string expected = max == std::numeric_limits<uint32_t>::max()
                             ? fmt::format("an integer of at least {}", min)
                             : fmt::format("an integer between {} and {}", min, max);
  const auto* value = node_.as_integer();
  if (value == nullptr || value->get() < min || value->get() > max) {
    error(fmt::format("expected {}, got {}", expected, describe(node_)));
    return std::nullopt;
  }
  return value->get();
}

std::optional<std::string> ValueReader::string(bool allowEmpty) const {
  const auto* value = node_.as_string();
  if (value == nullptr) {
    error(fmt::format("expected a string, got {}", describe(node_)));
    return std::nullopt;
  }
  if (!allowEmpty && value->get().empty()) {
    error("expected a non-empty string");
    return std::nullopt;
  }
  return value->get();
}

std::optional<std::vector<std::string>> ValueReader::nameList() const {
  std::vector<std::string> names;
  auto add = [&](std::string_view name) -> bool {
    while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.remove_prefix(1);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    if (name.empty()) return false;
    names.emplace_back(name);
    return true;
  };
  if (const auto* s = node_.as_string()) {
    std::string_view rest = s->get();
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      if (!add(rest.substr(0, comma)) && comma != std::string_view::npos) {
        error(fmt::format("expected comma-separated names, got {}", describe(node_)));
        return std::nullopt;
      }
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
    return names;
  }
  if (const auto* a = node_.as_array()) {
    for (const auto& item : *a) {
      const auto* str = item.as_string();
      if (str == nullptr || !add(str->get())) {
        error(fmt::format("expected an array of non-empty strings, got {} in it", describe(item)));
        return std::nullopt;
      }
    }
    return names;
  }
  error(fmt::format("expected an array of names (or one comma-separated string), got {}",
                    describe(node_)));
  return std::nullopt;
}

std::optional<Duration> ValueReader::duration(bool allowZero) const {
  std::optional<double> millis;
  if (const auto* i = node_.as_integer()) millis = static_cast<double>(i->get()) * 1000.0;
  if (const auto* f = node_.as_floating_point()) millis = f->get() * 1000.0;
  if (const auto* s = node_.as_string()) millis = parseDurationMillis(s->get());
  if (!millis) {
    error(fmt::format("expected {}, got {}", kDurationShape, describe(node_)));
    return std::nullopt;
  }
  std::optional<Duration> value = toDuration(*millis);
  if (!value) {
    error(fmt::format("expected a duration between 0 and 365 days, got {}", describe(node_)));
    return std::nullopt;
  }
  if (!allowZero && value->count() == 0) {
    error(fmt::format("expected a duration greater than 0, got {}", describe(node_)));
    return std::nullopt;
  }
  return value;
}

std::optional<size_t> ValueReader::choice(std::span<const std::string_view> names) const {
  const auto* value = node_.as_string();
  if (value != nullptr) {
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == value->get()) return i;
    }
  }
  std::string message =
      fmt::format("expected one of {}, got {}", quotedList(names), describe(node_));
  if (value != nullptr) {
    if (auto match = closestMatch(value->get(), names))
      message += fmt::format("; did you mean {}?", quote(*match));
  }
  error(std::move(message));
  return std::nullopt;
}

std::optional<PoolMode> ValueReader::poolMode() const {
  static const auto kNames = namesOf(kPoolModes);
  if (auto i = choice(kNames)) return kPoolModes[*i];
  return std::nullopt;
}

std::optional<AuthType> ValueReader::authType() const {
  static const auto kNames = namesOf(kAuthTypes);
  if (auto i = choice(kNames)) return kAuthTypes[*i];
  return std::nullopt;
}

std::optional<LogLevel> ValueReader::logLevel() const {
  static const auto kNames = namesOf(kLogLevels);
  if (auto i = choice(kNames)) return kLogLevels[*i];
  return std::nullopt;
}

std::optional<TlsMode> ValueReader::tlsMode() const {
  static const auto kNames = namesOf(kTlsModes);
  if (auto i = choice(kNames)) return kTlsModes[*i];
  return std::nullopt;
}

std::optional<bool> ValueReader::boolean() const {
  if (const auto* value = node_.as_boolean()) return value->get();
  error(fmt::format("expected true or false, got {}", describe(node_)));
  return std::nullopt;
}

std::optional<ShardingFunction> ValueReader::shardingFunction() const {
  static const auto kNames = namesOf(kShardingFunctions);
  if (auto i = choice(kNames)) return kShardingFunctions[*i];
  return std::nullopt;
}

std::optional<KeyType> ValueReader::keyType() const {
  static const auto kNames = namesOf(kKeyTypes);
  if (auto i = choice(kNames)) return kKeyTypes[*i];
  return std::nullopt;
}

std::optional<LoadBalanceHosts> ValueReader::loadBalanceHosts() const {
  static const auto kNames = namesOf(kLoadBalanceHosts);
  if (auto i = choice(kNames)) return kLoadBalanceHosts[*i];
  return std::nullopt;
}

std::optional<Protocol> ValueReader::protocol() const {
  static const auto kNames = namesOf(kProtocols);
  if (auto i = choice(kNames)) return kProtocols[*i];
  return std::nullopt;
}

std::optional<ReadFrom> ValueReader::readFrom() const {
  static const auto kNames = namesOf(kReadFroms);
  if (auto i = choice(kNames)) return kReadFroms[*i];
  return std::nullopt;
}

}  // namespace shardpool::config
