#pragma once
// A 640-bit two's-complement fixed-point number: value = integer * 2^anchor.
// Adding doubles into it is exact and therefore independent of order, which is what makes
// results identical at any rank count or tile size. Device-callable (no host-only calls).
#include <Kokkos_Core.hpp>

#include <cstdint>
#include <cstring>

namespace tessera {

// 640 bits: float32 values and their squares over their whole range, doubles over 2^600.
constexpr int wide_limbs = 10;

struct WideSum {
  std::uint64_t limb[wide_limbs] = {};  // little-endian limbs

  // Adds (or subtracts) m * 2^shift, m < 2^53: touches two limbs, then the carry (borrow) ripples
  // only as far as it must, so the cost does not grow with the width.
  KOKKOS_INLINE_FUNCTION void add_shifted(std::uint64_t m, int shift, bool negative) {
    const int i = shift / 64, b = shift % 64;
    if (i >= wide_limbs) return;  // beyond the range the caller checked: cannot happen
    const std::uint64_t lo = m << b, hi = b ? m >> (64 - b) : 0;
    if (!negative) {
      std::uint64_t s = limb[i] + lo;
      std::uint64_t c = s < lo;
      limb[i] = s;
      if (i + 1 >= wide_limbs) return;
      const std::uint64_t t = hi + c;  // hi < 2^53: no overflow
      s = limb[i + 1] + t;
      c = s < t;
      limb[i + 1] = s;
      for (int k = i + 2; c && k < wide_limbs; ++k) c = ++limb[k] == 0;
    } else {
      std::uint64_t br = limb[i] < lo;
      limb[i] -= lo;
      if (i + 1 >= wide_limbs) return;
      const std::uint64_t t = hi + br;
      br = limb[i + 1] < t;
      limb[i + 1] -= t;
      for (int k = i + 2; br && k < wide_limbs; ++k) br = limb[k]-- == 0;
    }
  }

  // Adds x exactly; requires x to be a multiple of 2^anchor (guaranteed by ExactSum's plan).
  KOKKOS_INLINE_FUNCTION void add(double x, int anchor) {
    if (x == 0.0) return;
    std::uint64_t bits;
    memcpy(&bits, &x, sizeof bits);                          // x = m * 2^e exactly
    const int biased = static_cast<int>((bits >> 52) & 0x7ff);
    std::uint64_t m = bits & ((std::uint64_t(1) << 52) - 1);
    int e = -1074;
    if (biased) { m |= std::uint64_t(1) << 52; e = biased - 1075; }
    int shift = e - anchor;
    if (shift < 0) { m >>= -shift; shift = 0; }              // drops only zero bits by the anchor rule
    add_shifted(m, shift, (bits >> 63) != 0);
  }

  KOKKOS_INLINE_FUNCTION void add(const WideSum& o) {
    std::uint64_t carry = 0;
    for (int k = 0; k < wide_limbs; ++k) {
      std::uint64_t s = limb[k] + o.limb[k];
      std::uint64_t c1 = s < limb[k];
      std::uint64_t s2 = s + carry;
      std::uint64_t c2 = s2 < s;
      limb[k] = s2;
      carry = c1 | c2;
    }
  }

  KOKKOS_INLINE_FUNCTION bool negative() const { return (limb[wide_limbs - 1] >> 63) != 0; }

  // Multiplies by 2^k (k >= 0); the caller guarantees no overflow.
  KOKKOS_INLINE_FUNCTION void shift_left(int k) {
    while (k > 0) {
      const int s = k >= 63 ? 63 : k;
      for (int i = wide_limbs - 1; i > 0; --i) limb[i] = (limb[i] << s) | (limb[i - 1] >> (64 - s));
      limb[0] <<= s;
      k -= s;
    }
  }
};

// Host-side conversions (finalisation): correctly rounded double, and a double-double (hi+lo)
// that carries the exact value to ~106 bits for variance.
double wide_to_double(const WideSum& w, int anchor);
void wide_to_double_double(const WideSum& w, int anchor, double& hi, double& lo);

}  // namespace tessera
