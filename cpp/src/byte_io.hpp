// Private helper of serialization.cpp: little-endian byte writer and a bounds-checked reader.
//
// Every multi-byte value is written least significant byte first, independent of the host's
// byte order. Doubles travel as their IEEE-754 binary64 bit pattern (bit-exact, NaN payloads
// and the sign of zero included). The Reader never reads past its end: each read checks the
// remaining length first and throws ppobr::InvalidArgument("state", ...) when it is short.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "ppobr/errors.hpp"

namespace ppobr {
namespace byte_io {

// 64-bit FNV-1a over [data, data + size).
inline std::uint64_t fnv1a64(const std::uint8_t* data, std::size_t size) noexcept {
  std::uint64_t h = 14695981039346656037ull;  // offset basis
  for (std::size_t i = 0; i < size; ++i) {
    h ^= data[i];
    h *= 1099511628211ull;  // FNV prime
  }
  return h;
}

inline std::uint64_t bits_of(double x) noexcept {
  std::uint64_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

inline double double_of(std::uint64_t u) noexcept {
  double x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

class Writer {
 public:
  void u8(std::uint8_t v) { buf_.push_back(v); }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) buf_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) buf_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
  void f64(double v) { u64(bits_of(v)); }
  void bytes(const char* s, std::size_t n) { buf_.insert(buf_.end(), s, s + n); }
  void reserve(std::size_t n) { buf_.reserve(n); }
  std::size_t size() const noexcept { return buf_.size(); }
  const std::uint8_t* data() const noexcept { return buf_.data(); }
  std::vector<std::uint8_t> take() { return std::move(buf_); }

 private:
  std::vector<std::uint8_t> buf_;
};

class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) noexcept : data_(data), size_(size) {}

  std::size_t remaining() const noexcept { return size_ - pos_; }
  std::size_t position() const noexcept { return pos_; }

  // Throws unless at least n more bytes are available.
  void need(std::size_t n, const char* what) const {
    if (n > remaining())
      throw InvalidArgument(
          "state", std::string("serialized controller is truncated (while reading ") + what + ")");
  }
  std::uint8_t u8(const char* what) {
    need(1, what);
    return data_[pos_++];
  }
  std::uint32_t u32(const char* what) {
    need(4, what);
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(data_[pos_ + i]) << (8 * i);
    pos_ += 4;
    return v;
  }
  std::uint64_t u64(const char* what) {
    need(8, what);
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(data_[pos_ + i]) << (8 * i);
    pos_ += 8;
    return v;
  }
  std::int64_t i64(const char* what) { return static_cast<std::int64_t>(u64(what)); }
  double f64(const char* what) { return double_of(u64(what)); }
  // A presence byte (0 or 1, anything else is an error) followed by the double if present.
  bool presence(const char* what) {
    std::uint8_t p = u8(what);
    if (p > 1)
      throw InvalidArgument(
          "state",
          std::string("serialized controller is corrupted (bad presence byte of ") + what + ")");
    return p == 1;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

}  // namespace byte_io
}  // namespace ppobr
