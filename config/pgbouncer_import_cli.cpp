// `shardpool import-pgbouncer pgbouncer.ini [userlist.txt] [-o out.toml]`: the file I/O around
// importPgbouncer().
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/pgbouncer_import.h"

namespace shardpool::config {

const char* const kImportPgbouncerUsage =
    "  shardpool import-pgbouncer pgbouncer.ini [userlist.txt] [-o out.toml]\n"
    "      write an equivalent shardpool config (to stdout without -o); notes on stderr\n";

namespace {

constexpr const char* kCommand = "shardpool import-pgbouncer";

int usageError(const std::string& message) {
  fmt::print(stderr, "{}: {}\nusage:\n{}", kCommand, message, kImportPgbouncerUsage);
  return 2;
}

std::optional<std::string> readWhole(const std::string& path, std::string& error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  std::string text;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      error = std::strerror(errno);
      ::close(fd);
      return std::nullopt;
    }
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

// Writes `text` to a new or truncated file, readable by its owner only (it holds passwords).
bool writeWhole(const std::string& path, const std::string& text, std::string& error) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = std::strerror(errno);
    return false;
  }
  if (::fchmod(fd, 0600) != 0) {  // an existing file keeps its mode otherwise
    error = std::strerror(errno);
    ::close(fd);
    return false;
  }
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = std::strerror(errno);
      ::close(fd);
      return false;
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) {
    error = std::strerror(errno);
    return false;
  }
  return true;
}

struct Args {
  std::vector<std::string> files;  // ini, then the optional userlist
  std::string output;              // empty: stdout
};

}  // namespace

int runImportPgbouncer(const std::vector<std::string>& argv) {
  Args args;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "-h" || a == "--help") {
      fmt::print("usage:\n{}", kImportPgbouncerUsage);
      return 0;
    } else if (a == "-o" || a == "--output") {
      if (i + 1 >= argv.size() || argv[i + 1].empty()) return usageError(a + " needs a file");
      args.output = argv[++i];
    } else if (a.rfind("--output=", 0) == 0) {
      args.output = a.substr(std::strlen("--output="));
      if (args.output.empty()) return usageError("--output needs a file");
    } else if (a.size() > 1 && a.front() == '-') {
      return usageError(fmt::format("unknown option \"{}\"", a));
    } else {
      args.files.push_back(a);
    }
  }
  if (args.files.empty()) return usageError("no pgbouncer.ini given");
  if (args.files.size() > 2) {
    return usageError(fmt::format("unexpected argument \"{}\"", args.files[2]));
  }

  std::string error;
  const std::string& iniPath = args.files[0];
  std::optional<std::string> ini = readWhole(iniPath, error);
  if (!ini) {
    fmt::print(stderr, "{}: cannot read {}: {}\n", kCommand, iniPath, error);
    return 1;
  }
  std::optional<std::string> userlist;
  if (args.files.size() == 2) {
    userlist = readWhole(args.files[1], error);
    if (!userlist) {
      fmt::print(stderr, "{}: cannot read {}: {}\n", kCommand, args.files[1], error);
      return 1;
    }
  }

  ImportInput input;
  input.ini = *ini;
  input.iniName = iniPath;
  if (userlist) {
    input.userlist = *userlist;
    input.userlistName = args.files[1];
  }
  input.readFile = readWhole;
  ImportResult result = importPgbouncer(input);
  for (const ImportNote& note : result.notes) fmt::print(stderr, "{}\n", note.format());
  if (!result.parsed) {
    fmt::print(stderr, "{}: {} was not converted\n", kCommand, iniPath);
    return 1;
  }

  std::string outName = args.output.empty() ? std::string("<stdout>") : args.output;
  if (args.output.empty()) {
    std::fwrite(result.toml.data(), 1, result.toml.size(), stdout);
    std::fflush(stdout);
  } else if (!writeWhole(args.output, result.toml, error)) {
    fmt::print(stderr, "{}: cannot write {}: {}\n", kCommand, args.output, error);
    return 1;
  }

  // What shardpool will say about the result here and now (e.g. TLS files it cannot read).
  LoadResult check = loadString(result.toml, outName);
  for (const ConfigError& e : check.errors) fmt::print(stderr, "{}\n", e.format());
  if (check.ok()) {
    fmt::print(stderr, "{}: wrote {} ({} database(s), {} user(s), {} note(s))\n", kCommand, outName,
               check.config->databases.size(), check.config->users.size(), result.notes.size());
  } else {
    fmt::print(stderr,
               "{}: wrote {} ({} note(s)); shardpool does not accept it yet: fix the {} "
               "error(s) above\n",
               kCommand, outName, result.notes.size(), check.errors.size());
  }
  return 0;
}

}  // namespace shardpool::config
