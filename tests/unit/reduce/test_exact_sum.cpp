// WideSum and ExactSum against an independent big-integer oracle (exact_oracle.hpp) and
// against sums whose exact value is known by construction.
#include "reduce/exact_sum.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/error.hpp"
#include "exact_oracle.hpp"
#include "reduce/wide_sum.hpp"

namespace tessera {
namespace {

using testing_oracle::BigSum;
using testing_oracle::exact_sum;

std::uint64_t bits_of(double x) {
  std::uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

#define EXPECT_SAME_BITS(a, b) EXPECT_EQ(bits_of(a), bits_of(b)) << (a) << " vs " << (b)

// The finest power of two that x is exactly a multiple of (x != 0): x = f * 2^e with
// f in [0.5, 1), so x = m * 2^(e-53) with the integer m = f * 2^53; drop m's trailing zeros.
int quantum(double x) {
  int e;
  const double f = std::frexp(std::fabs(x), &e);
  const auto m = static_cast<std::uint64_t>(std::ldexp(f, 53));
  return e - 53 + __builtin_ctzll(m);
}

void expect_bits_eq(double got, double want, int iter) {
  EXPECT_EQ(bits_of(got), bits_of(want)) << "iteration " << iter << ": " << got << " vs " << want;
}

// Adds one batch (values[c] for cell c) the way the ExactSum contract asks: prepare with the
// per-cell bound of |values| and the finest quantum, then add in whichever tier was chosen.
ExactSum::Mode add_batch(ExactSum& s, const std::vector<std::vector<double>>& values) {
  double max_abs = 0, terms = 0;
  int q = ExactSum::no_quantum;
  for (const auto& cell : values) {
    terms = std::max(terms, double(cell.size()));
    for (double x : cell) {
      max_abs = std::max(max_abs, std::fabs(x));
      if (x != 0) q = std::min(q, quantum(x));
    }
  }
  const ExactSum::Batch b = s.prepare(max_abs, terms, q);
  auto hi = s.hi();
  auto lo = s.lo();
  auto wide = s.wide();
  for (std::size_t c = 0; c < values.size(); ++c)
    for (double x : values[c]) {
      if (b.mode == ExactSum::Mode::wide) {
        wide(c).add(x, b.anchor);
      } else if (b.mode == ExactSum::Mode::split) {
        const double top = (x + b.split_constant) - b.split_constant;
        hi(c) += top;
        lo(c) += x - top;
      } else {
        hi(c) += x;
      }
    }
  return b.mode;
}

// One cell, values added in batches of the given sizes.
double sum_in_batches(const std::vector<double>& xs, const std::vector<std::size_t>& sizes, ExactSum::Mode* last = nullptr) {
  ExactSum s(1);
  std::size_t i = 0;
  for (std::size_t n : sizes) {
    std::vector<std::vector<double>> batch(1);
    for (std::size_t k = 0; k < n && i < xs.size(); ++k) batch[0].push_back(xs[i++]);
    const auto m = add_batch(s, batch);
    if (last) *last = m;
  }
  s.sync_to_host();
  return s.value(0);
}

std::vector<std::size_t> random_batches(std::mt19937_64& rng, std::size_t n) {
  std::vector<std::size_t> sizes;
  std::size_t left = n;
  while (left) {
    const std::size_t k = std::uniform_int_distribution<std::size_t>(1, std::max<std::size_t>(1, left / 2 + 1))(rng);
    sizes.push_back(std::min(k, left));
    left -= sizes.back();
  }
  return sizes;
}

// ---- the oracle itself (a wrong oracle proves nothing) ----

TEST(ExactOracle, KnownSums) {
  EXPECT_EQ(exact_sum({1.0, std::ldexp(1.0, -53)}), 1.0);                               // tie to even
  EXPECT_EQ(exact_sum({1.0, std::ldexp(1.0, -53), std::ldexp(1.0, -300)}), 1.0 + 0x1p-52);  // sticky
  EXPECT_EQ(exact_sum({1e300, 1e-300, -1e300}), 1e-300);
  EXPECT_EQ(exact_sum({0.1, 0.2}), 0.1 + 0.2);  // one rounding: plain addition is correct here
  EXPECT_EQ(exact_sum({4.9e-324, 4.9e-324}), 2 * 4.9e-324);
  EXPECT_EQ(exact_sum({1.7976931348623157e308, 1.7976931348623157e308}), HUGE_VAL);
  EXPECT_EQ(exact_sum({}), 0.0);
}

// ---- WideSum ----

TEST(WideSum, TiesRoundToEven) {
  const int anchor = -200;
  auto conv = [&](std::vector<double> xs) {
    WideSum w;
    for (double x : xs) w.add(x, anchor);
    return wide_to_double(w, anchor);
  };
  // 1 + 2^-53 is halfway between 1 and 1 + 2^-52: even mantissa (1) wins.
  EXPECT_SAME_BITS(conv({1.0, 0x1p-53}), 1.0);
  // (1 + 2^-52) + 2^-53: halfway, odd mantissa rounds up.
  EXPECT_SAME_BITS(conv({1.0 + 0x1p-52, 0x1p-53}), 1.0 + 0x1p-51);
  // Just above halfway (sticky bit far below): rounds up.
  EXPECT_SAME_BITS(conv({1.0, 0x1p-53, 0x1p-150}), 1.0 + 0x1p-52);
  // Just below halfway: rounds down.
  EXPECT_SAME_BITS(conv({1.0, 0x1p-53, -0x1p-150}), 1.0);
  // Negative mirror images.
  EXPECT_SAME_BITS(conv({-1.0, -0x1p-53}), -1.0);
  EXPECT_SAME_BITS(conv({-1.0 - 0x1p-52, -0x1p-53}), -1.0 - 0x1p-51);
  EXPECT_SAME_BITS(conv({-1.0, -0x1p-53, -0x1p-150}), -1.0 - 0x1p-52);
  // Carry out of the mantissa: (2 - 2^-52) + 2^-53 rounds up to exactly 2.
  EXPECT_SAME_BITS(conv({2.0 - 0x1p-52, 0x1p-53}), 2.0);
}

TEST(WideSum, CancellationLeavesTinyExactRemainder) {
  // The anchor must divide every value and keep 1e30 below bit 254: the finest quantum does.
  const int anchor = std::min(quantum(3e-30), quantum(5e-31));
  ASSERT_GT(anchor, -155);
  WideSum w;
  for (double x : {1e30, 3e-30, -1e30, 7e20, 5e-31, -7e20}) w.add(x, anchor);
  EXPECT_SAME_BITS(wide_to_double(w, anchor), exact_sum({3e-30, 5e-31}));
  WideSum z;
  for (double x : {5.5, -2.25, -3.25}) z.add(x, anchor);
  EXPECT_SAME_BITS(wide_to_double(z, anchor), 0.0);
}

TEST(WideSum, RandomSumsMatchOracle) {
  std::mt19937_64 rng(2024);
  std::uniform_real_distribution<double> mant(1.0, 2.0);
  std::uniform_int_distribution<int> expo(-60, 60), len(1, 60), coin(0, 1);
  const int anchor = -61 - 53;  // every value below has |x| >= 2^-60
  for (int iter = 0; iter < 2000; ++iter) {
    std::vector<double> xs;
    const int n = len(rng);
    for (int i = 0; i < n; ++i) {
      double x = std::ldexp(mant(rng), expo(rng)) * (coin(rng) ? -1 : 1);
      xs.push_back(x);
      if (coin(rng) && coin(rng)) xs.push_back(-x);  // exact cancellations
    }
    std::shuffle(xs.begin(), xs.end(), rng);
    WideSum w;
    BigSum o;
    for (double x : xs) w.add(x, anchor), o.add(x);
    const double got = wide_to_double(w, anchor);
    expect_bits_eq(got, o.round(), iter);
    // The result brackets the exact value: no double lies strictly between them.
    double hi, lo;
    wide_to_double_double(w, anchor, hi, lo);
    EXPECT_SAME_BITS(hi, got);
    // lo is the correctly rounded residual (exact - hi).
    BigSum r = o;
    r.add(-hi);
    EXPECT_SAME_BITS(lo, r.round());
    EXPECT_LE(std::fabs(lo), std::ldexp(std::fabs(hi), -52));
  }
}

TEST(WideSum, ShiftLeftReanchorsExactly) {
  WideSum w;
  w.add(3.0, -10);
  w.add(-0x1p-10, -10);
  WideSum v = w;
  v.shift_left(100);  // same value at anchor -110
  EXPECT_SAME_BITS(wide_to_double(v, -110), 3.0 - 0x1p-10);
  v.shift_left(0);
  EXPECT_SAME_BITS(wide_to_double(v, -110), 3.0 - 0x1p-10);
  WideSum big;
  big.add(1.0, -64);  // crosses limb boundaries when shifted by 127 then 63
  big.shift_left(190);
  EXPECT_SAME_BITS(wide_to_double(big, -254), 1.0);
}

TEST(WideSum, NegativeTotalsAndAddingSums) {
  WideSum a, b;
  a.add(-5.0, -4);
  a.add(0.0625, -4);
  b.add(2.0, -4);
  EXPECT_TRUE(a.negative());
  a.add(b);
  EXPECT_SAME_BITS(wide_to_double(a, -4), -2.9375);
}

// ---- ExactSum ----

TEST(ExactSum, SmallIntegersStayInFastTier) {
  ExactSum s(3);
  EXPECT_EQ(add_batch(s, {{1, 2, 3}, {-4}, {}}), ExactSum::Mode::fast);
  EXPECT_EQ(add_batch(s, {{10}, {0.5}, {0.25}}), ExactSum::Mode::fast);
  EXPECT_EQ(s.mode(), ExactSum::Mode::fast);
  EXPECT_EQ(s.cell_bytes(), sizeof(double));
  s.sync_to_host();
  EXPECT_EQ(s.value(0), 16.0);
  EXPECT_EQ(s.value(1), -3.5);
  EXPECT_EQ(s.value(2), 0.25);
  double hi, lo;
  s.value_dd(1, hi, lo);
  EXPECT_EQ(hi, -3.5);
  EXPECT_EQ(lo, 0.0);
}

TEST(ExactSum, CrossingTwoToThe53LeavesTheFastTierAndStaysExact) {
  // Plain double addition would give 2^53 (each +1 is a tie rounded to even); exact is 2^53+2.
  ExactSum::Mode last;
  const double got = sum_in_batches({0x1p53 - 1, 1, 1, 1}, {1, 1, 1, 1}, &last);
  EXPECT_NE(last, ExactSum::Mode::fast);
  EXPECT_SAME_BITS(got, 0x1p53 + 2);
}

TEST(ExactSum, HugeDynamicRangeIsExact) {
  // 1e30 and 1e-30 in one cell: the 1e30s cancel, the tiny values must survive.
  const std::vector<double> xs{1e30, 1e-30, -1e30, 3e-30};
  ExactSum::Mode last;
  EXPECT_SAME_BITS(sum_in_batches(xs, {1, 1, 1, 1}, &last), exact_sum({1e-30, 3e-30}));
  EXPECT_EQ(last, ExactSum::Mode::wide);
  EXPECT_SAME_BITS(sum_in_batches(xs, {4}), exact_sum({1e-30, 3e-30}));
  EXPECT_SAME_BITS(sum_in_batches({3e-30, -1e30, 1e-30, 1e30}, {2, 2}), exact_sum({1e-30, 3e-30}));
}

TEST(ExactSum, OrderAndBatchingDoNotChangeBits) {
  std::mt19937_64 rng(99);
  std::uniform_real_distribution<double> mant(1.0, 2.0);
  std::uniform_int_distribution<int> coin(0, 1);
  // Three families: quantised (fast tier), full-mantissa (wide), and a huge range (wide,
  // re-anchored when finer values arrive late).
  for (int family = 0; family < 3; ++family) {
    for (int trial = 0; trial < 40; ++trial) {
      std::vector<double> xs;
      std::uniform_int_distribution<int> expo(family == 2 ? -70 : -3, family == 2 ? 60 : 12);
      for (int i = 0; i < 80; ++i) {
        double x = std::ldexp(mant(rng), expo(rng)) * (coin(rng) ? -1 : 1);
        if (family == 0) x = std::round(x * 16) / 16;  // multiples of 1/16
        xs.push_back(x);
        if (family == 2 && i % 7 == 0) xs.push_back(-x);
      }
      const double want = exact_sum(xs);
      SCOPED_TRACE("family " + std::to_string(family) + " trial " + std::to_string(trial));
      for (int perm = 0; perm < 6; ++perm) {
        std::shuffle(xs.begin(), xs.end(), rng);
        const double got = sum_in_batches(xs, random_batches(rng, xs.size()));
        ASSERT_EQ(bits_of(got), bits_of(want)) << got << " vs " << want;
      }
      // Ascending-magnitude batches make finer quanta arrive first or last: both exact.
      std::sort(xs.begin(), xs.end(), [](double a, double b) { return std::fabs(a) < std::fabs(b); });
      ASSERT_EQ(bits_of(sum_in_batches(xs, std::vector<std::size_t>(xs.size(), 1))), bits_of(want));
      std::reverse(xs.begin(), xs.end());
      ASSERT_EQ(bits_of(sum_in_batches(xs, std::vector<std::size_t>(xs.size(), 1))), bits_of(want));
    }
  }
}

TEST(ExactSum, CellsAreIndependentAcrossTiers) {
  // Cell 0 gets a huge-range sum that forces the wide tier; cells 1 and 2 must not be disturbed.
  ExactSum s(3);
  add_batch(s, {{1.5, 2.5}, {7}, {}});
  add_batch(s, {{1e20, 1e-20}, {-0.125}, {2}});
  add_batch(s, {{-1e20}, {1}, {}});
  EXPECT_EQ(s.mode(), ExactSum::Mode::wide);
  EXPECT_EQ(s.cell_bytes(), sizeof(WideSum));
  s.sync_to_host();
  EXPECT_SAME_BITS(s.value(0), exact_sum({4.0, 1e-20}));
  EXPECT_SAME_BITS(s.value(1), 7.875);
  EXPECT_SAME_BITS(s.value(2), 2.0);
}

TEST(ExactSum, ValueDdCarriesTheResidual) {
  // 1 + 2^-60 + 2^-100: hi = 1, lo = 2^-60 + 2^-100 rounded (exact in a double).
  ExactSum s(1);
  add_batch(s, {{1.0}});
  add_batch(s, {{0x1p-60, 0x1p-100}});
  s.sync_to_host();
  double hi, lo;
  s.value_dd(0, hi, lo);
  EXPECT_SAME_BITS(hi, 1.0);
  EXPECT_SAME_BITS(lo, 0x1p-60 + 0x1p-100);
  EXPECT_SAME_BITS(s.value(0), 1.0);

  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(-100, 100);
  for (int t = 0; t < 200; ++t) {
    std::vector<double> xs;
    for (int i = 0; i < 30; ++i) xs.push_back(u(rng));
    ExactSum e(1);
    add_batch(e, {xs});
    e.sync_to_host();
    e.value_dd(0, hi, lo);
    BigSum o;
    for (double x : xs) o.add(x);
    expect_bits_eq(hi, o.round(), t);
    o.add(-hi);
    expect_bits_eq(lo, o.round(), t);
  }
}

TEST(ExactSum, RangeBeyondWideTierThrowsRuntimeError) {
  ExactSum s(1);
  add_batch(s, {{1e-200}});
  EXPECT_THROW(add_batch(s, {{1e200}}), RuntimeError);
  ExactSum t(1);
  EXPECT_THROW(t.prepare(1e300, 1, -1074), RuntimeError);
  try {
    ExactSum u(1);
    u.prepare(1e300, 1, -1074);
    FAIL() << "no exception";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("2^600"), std::string::npos) << e.what();
  }
}

TEST(ExactSum, RangeJustInsideWideTierIsExact) {
  // Span of about 2^200 (well under 2^250) between the finest quantum and the total.
  const std::vector<double> xs{0x1p100, 0x1p-100, -0x1p100, 0x1p99};
  EXPECT_SAME_BITS(sum_in_batches(xs, {1, 1, 1, 1}), exact_sum(xs));
}

TEST(ExactSum, ZerosAndMissingOnlyBatchesKeepTier) {
  ExactSum s(2);
  EXPECT_EQ(s.prepare(0.0, 1, ExactSum::no_quantum).mode, ExactSum::Mode::fast);
  add_batch(s, {{1e20, 1e-20}, {}});
  EXPECT_EQ(s.prepare(0.0, 1, ExactSum::no_quantum).mode, ExactSum::Mode::wide);
}

TEST(ExactSum, EmptyLikeCopiesTierAndAnchorButNotValues) {
  ExactSum s(2);
  add_batch(s, {{1e20, 1e-20}, {3}});
  ExactSum e = s.empty_like(5);
  EXPECT_EQ(e.mode(), s.mode());
  EXPECT_EQ(e.anchor(), s.anchor());
  EXPECT_EQ(e.hi().extent(0), 5u);
  e.sync_to_host();
  for (std::size_t c = 0; c < 5; ++c) EXPECT_EQ(e.value(c), 0.0);
  // Wide cells of s can be added to e cell by cell: same anchor.
  s.sync_to_host();
  e.wide()(3).add(s.host_wide()(0));
  e.sync_to_host();
  EXPECT_SAME_BITS(e.value(3), exact_sum({1e20, 1e-20}));
}

TEST(ExactSum, SubnormalValuesSumExactly) {
  const double d = 4.9406564584124654e-324;  // 2^-1074
  const std::vector<double> xs{3 * d, 1e-310, -1e-310, 5 * d, 0x1p-1022};
  EXPECT_SAME_BITS(sum_in_batches(xs, {2, 3}), exact_sum(xs));
  EXPECT_SAME_BITS(sum_in_batches(xs, {1, 1, 1, 1, 1}), exact_sum(xs));
}

}  // namespace
}  // namespace tessera
