// Helpers for the TLS config tests: a temporary directory of (empty) certificate files, since
// the loader checks that every configured file can be read.
#pragma once

#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace shardpool::config::testing {

// A fresh directory under the system temp directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "shardpool-tls-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Creates `name` holding `text` and returns its full path.
  std::string file(std::string_view name, std::string_view text = "not really PEM\n") const {
    std::filesystem::path p = path_ / name;
    std::ofstream out(p, std::ios::binary);
    out << text;
    REQUIRE(out.good());
    return p.string();
  }
  // The full path of `name`, which need not exist.
  std::string path(std::string_view name) const { return (path_ / name).string(); }
  const std::filesystem::path& dir() const { return path_; }

 private:
  std::filesystem::path path_;
};

// One directory for the whole test run, for tests whose GENERATE values hold paths: Catch
// builds a generator once but runs the test body (and any local TempDir) once per value.
inline const TempDir& sharedTempDir() {
  static TempDir dir;
  return dir;
}

inline std::vector<Override> sets(std::initializer_list<std::string_view> texts) {
  std::vector<Override> out;
  for (auto text : texts) {
    auto parsed = parseOverride(text);
    REQUIRE(parsed);
    out.push_back(*parsed);
  }
  return out;
}

}  // namespace shardpool::config::testing
