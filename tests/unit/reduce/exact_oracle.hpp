#pragma once
// Test oracle: an arbitrary-range exact accumulator of doubles, written independently of
// WideSum. Every finite double is m * 2^e with e >= -1074 and |value| < 2^1024, so a signed
// fixed-point integer with 2^-1074 as its unit and 40 x 64 bits holds any sum of up to 2^400
// doubles exactly. Rounding to double is done by extracting a 64-bit window plus a sticky bit.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace tessera::testing_oracle {

class BigSum {
 public:
  static constexpr int limbs = 40;
  static constexpr int unit = -1074;  // value = integer * 2^unit

  void add(double x) {
    if (x == 0.0) return;
    std::uint64_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    const int biased = static_cast<int>((bits >> 52) & 0x7ff);
    std::uint64_t m = bits & ((std::uint64_t(1) << 52) - 1);
    int e = -1074;
    if (biased) {
      m |= std::uint64_t(1) << 52;
      e = biased - 1075;
    }
    const bool neg = (bits >> 63) != 0;
    // Add or subtract m << (e - unit), one bit at a time by limb pieces.
    const int shift = e - unit;
    std::uint64_t part[limbs] = {};
    const int i = shift / 64, b = shift % 64;
    part[i] = m << b;
    if (b) part[i + 1] = m >> (64 - b);
    if (neg) sub_(part);
    else add_(part);
  }

  bool negative() const { return (v_[limbs - 1] >> 63) != 0; }
  bool is_zero() const {
    for (auto l : v_)
      if (l) return false;
    return true;
  }

  // Correctly rounded to double (nearest, ties to even), overflow to +-inf.
  double round() const {
    std::uint64_t mag[limbs];
    std::memcpy(mag, v_, sizeof mag);
    const bool neg = negative();
    if (neg) negate(mag);
    int top = -1;
    for (int k = limbs - 1; k >= 0 && top < 0; --k)
      if (mag[k]) top = k * 64 + 63 - __builtin_clzll(mag[k]);
    if (top < 0) return 0.0;
    // Exponent of the leading bit in real terms; a double keeps bits down to max(lead-52, -1074).
    const int lead = top + unit;
    const int keep_from = std::max(lead - 52, -1074) - unit;  // lowest kept bit index
    // Kept integer: bits [keep_from, top]; first dropped bit keep_from-1; sticky below it.
    std::uint64_t kept = 0;
    for (int bit = top; bit >= keep_from; --bit) kept = (kept << 1) | get(mag, bit);
    const bool half = keep_from >= 1 && get(mag, keep_from - 1);
    bool sticky = false;
    for (int bit = keep_from - 2; bit >= 0 && !sticky; --bit) sticky = get(mag, bit);
    if (half && (sticky || (kept & 1))) ++kept;
    double r = std::ldexp(static_cast<double>(kept), keep_from + unit);  // kept <= 2^53: exact
    return neg ? -r : r;
  }

  // Sign of (this - x): -1, 0, 1. Used to check rounding brackets.
  int compare(double x) const {
    BigSum d = *this;
    d.add(-x);
    if (d.is_zero()) return 0;
    return d.negative() ? -1 : 1;
  }

 private:
  static unsigned get(const std::uint64_t* m, int bit) { return (m[bit / 64] >> (bit % 64)) & 1u; }
  static void negate(std::uint64_t* m) {
    unsigned carry = 1;
    for (int k = 0; k < limbs; ++k) {
      m[k] = ~m[k] + carry;
      carry = carry && m[k] == 0;
    }
  }
  void add_(const std::uint64_t* p) {
    unsigned __int128 carry = 0;
    for (int k = 0; k < limbs; ++k) {
      unsigned __int128 s = static_cast<unsigned __int128>(v_[k]) + p[k] + carry;
      v_[k] = static_cast<std::uint64_t>(s);
      carry = s >> 64;
    }
  }
  void sub_(const std::uint64_t* p) {
    std::uint64_t q[limbs];
    std::memcpy(q, p, sizeof q);
    negate(q);
    add_(q);
  }

  std::uint64_t v_[limbs] = {};
};

inline double exact_sum(const std::vector<double>& xs) {
  BigSum s;
  for (double x : xs) s.add(x);
  return s.round();
}

}  // namespace tessera::testing_oracle
