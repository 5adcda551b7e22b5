// Helpers for the import-pgbouncer tests: run an import, require that shardpool loads the result
// without errors, and look notes up.
#pragma once

#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "config/pgbouncer_import.h"
#include "config_test_support.h"

namespace shardpool::config::testing {

inline std::string formatNotes(const std::vector<ImportNote>& notes) {
  std::string out;
  for (const auto& n : notes) out += n.format() + "\n";
  return out;
}

struct Imported {
  ImportResult result;
  std::shared_ptr<const Config> config;
};

// Loads an import's TOML; it must load with no errors.
inline Imported requireLoads(ImportResult result) {
  INFO("notes:\n" << formatNotes(result.notes) << "toml:\n" << result.toml);
  REQUIRE(result.parsed);
  LoadResult loaded = loadString(result.toml, "out.toml");
  INFO("load errors:\n" << formatAll(loaded.errors));
  REQUIRE(loaded.errors.empty());
  REQUIRE(loaded.ok());
  return {std::move(result), loaded.config};
}

inline Imported importOk(std::string_view ini,
                         std::optional<std::string_view> userlist = std::nullopt) {
  return requireLoads(importPgbouncer(ini, "pgbouncer.ini", userlist, "userlist.txt"));
}

// Whether a note at `key` (any key when empty) on `line` (any line when 0) contains `text`.
inline bool hasNote(const std::vector<ImportNote>& notes, std::string_view key, uint32_t line,
                    std::string_view text) {
  for (const auto& n : notes) {
    if ((key.empty() || n.key == key) && (line == 0 || n.line == line) &&
        n.message.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

inline bool hasNoteFor(const std::vector<ImportNote>& notes, std::string_view key) {
  return hasNote(notes, key, 0, "");
}

// A [databases] section that every test config needs to load.
inline constexpr std::string_view kPgbDatabases = "[databases]\napp = host=127.0.0.1\n";

}  // namespace shardpool::config::testing
