// Helpers shared by the fuzz targets: splitting one input into parts, and checks that crash
// (so that libFuzzer saves the input) when a property the code promises does not hold.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>

namespace shardpool::fuzz {

// A property the code under test promises (a round trip, two decoders agreeing) was broken.
#define FUZZ_CHECK(cond)                                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

// Reads an input front to back: single bytes for choices, then the rest split at separators.
// Past the end every read returns zeros / empty parts, so any input is usable.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }

  // The bytes up to the next `sep` (not included; the separator is consumed), or the rest.
  std::string_view until(std::string_view sep) {
    std::string_view rest = remaining();
    size_t at = rest.find(sep);
    if (at == std::string_view::npos) {
      pos_ = size_;
      return rest;
    }
    pos_ += at + sep.size();
    return rest.substr(0, at);
  }

  std::string_view remaining() const {
    return {reinterpret_cast<const char*>(data_) + pos_, size_ - pos_};
  }
  bool empty() const { return pos_ >= size_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

inline std::span<const uint8_t> asBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

inline std::string_view asText(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace shardpool::fuzz
