#pragma once
// Shared by the fuzz targets. Each target defines LLVMFuzzerTestOneInput; it is linked either
// with libFuzzer (clang, TESSERA_FUZZ=ON) or with replay_main.cpp, which runs the checked-in
// corpus as an ordinary test in every build (so each crash found stays a regression test).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

// A property a target checks on accepted input; a violation aborts like a crash would.
#define FUZZ_CHECK(cond)                                                           \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                \
    }                                                                              \
  } while (0)

// Reads fixed-size values off the front of the input (zeros once it runs out).
class ByteReader {
 public:
  ByteReader(const std::uint8_t* data, std::size_t size) : p_(data), n_(size) {}
  template <class T>
  T take() {
    T v{};
    const std::size_t k = n_ < sizeof(T) ? n_ : sizeof(T);
    std::memcpy(&v, p_, k);
    p_ += k, n_ -= k;
    return v;
  }
  std::string rest() {
    std::string s(reinterpret_cast<const char*>(p_), n_);
    p_ += n_, n_ = 0;
    return s;
  }
  std::size_t left() const { return n_; }

 private:
  const std::uint8_t* p_;
  std::size_t n_;
};
