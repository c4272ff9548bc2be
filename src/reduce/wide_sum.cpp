#include "reduce/wide_sum.hpp"

#include <cmath>

namespace tessera {
namespace {

WideSum negate(const WideSum& w) {
  WideSum r;
  std::uint64_t carry = 1;
  for (int k = 0; k < wide_limbs; ++k) {
    std::uint64_t v = ~w.limb[k] + carry;
    carry = (carry && v == 0) ? 1 : 0;
    r.limb[k] = v;
  }
  return r;
}

int top_bit(const WideSum& mag) {
  for (int k = wide_limbs - 1; k >= 0; --k)
    if (mag.limb[k]) return k * 64 + 63 - __builtin_clzll(mag.limb[k]);
  return -1;
}

bool bit(const WideSum& w, int i) { return i >= 0 && ((w.limb[i / 64] >> (i % 64)) & 1u); }

}  // namespace

double wide_to_double(const WideSum& w, int anchor) {
  const bool neg = w.negative();
  const WideSum mag = neg ? negate(w) : w;
  const int t = top_bit(mag);
  if (t < 0) return 0.0;
  // Round the magnitude to 53 significant bits, to nearest, ties to even.
  std::uint64_t m = 0;
  for (int i = t; i > t - 53; --i) m = (m << 1) | (bit(mag, i) ? 1u : 0u);
  const int low = t - 53;  // index of the first dropped bit
  if (low >= 0 && bit(mag, low)) {
    bool sticky = false;
    for (int i = low - 1; i >= 0 && !sticky; --i) sticky = bit(mag, i);
    if (sticky || (m & 1u)) ++m;  // may become 2^53: still exact in a double
  }
  const double r = std::ldexp(static_cast<double>(m), t - 52 + anchor);
  return neg ? -r : r;
}

void wide_to_double_double(const WideSum& w, int anchor, double& hi, double& lo) {
  hi = wide_to_double(w, anchor);
  // Residual w - hi, exactly, then rounded: hi is a multiple of 2^anchor by construction here
  // when |hi| >= 2^(anchor+52); otherwise the value had <= 53 bits and hi is exact.
  WideSum r = w;
  r.add(-hi, anchor);
  lo = wide_to_double(r, anchor);
}

}  // namespace tessera
