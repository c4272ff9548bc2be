// ReductionState over a small (time, lat, lon) array with NaNs, against straightforward
// references: the exact-sum oracle for sums, long double for var/std, plain loops for the rest.
#include "reduce/reduction_state.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "cf/decoding.hpp"
#include "core/error.hpp"
#include "decomp/box.hpp"
#include "exact_oracle.hpp"
#include "reduce/tile_kernels.hpp"

namespace tessera {
namespace {

using Sizes = std::vector<std::size_t>;
using testing_oracle::exact_sum;

const double nan_v = std::numeric_limits<double>::quiet_NaN();
const Op all_ops[] = {Op::sum, Op::mean, Op::min, Op::max, Op::count, Op::var, Op::std};

std::uint64_t bits_of(double x) {
  std::uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

// A dense C-order array.
struct Array {
  Sizes shape;
  std::vector<double> v;
  double at(const Sizes& idx) const {
    std::size_t off = 0;
    for (std::size_t i = 0; i < shape.size(); ++i) off = off * shape[i] + idx[i];
    return v[off];
  }
};

// Visits every index of `b` in C order.
template <class F>
void for_each_index(const Box& b, F&& f) {
  if (empty(b)) return;
  Sizes idx(b.start);
  while (true) {
    f(idx);
    std::size_t j = b.rank();
    while (j-- > 0) {
      if (++idx[j] < b.start[j] + b.count[j]) break;
      idx[j] = b.start[j];
    }
    if (j == std::size_t(-1)) return;
  }
}

TileValues tile_of(const Array& a, const Box& t) {
  TileValues v("tile", static_cast<std::size_t>(volume(t)));
  auto h = Kokkos::create_mirror_view(v);
  std::size_t k = 0;
  for_each_index(t, [&](const Sizes& idx) { h(k++) = a.at(idx); });
  Kokkos::deep_copy(v, h);
  return v;
}

AxisMap axes_over(std::vector<std::size_t> reduced, std::size_t rank) {
  AxisMap m;
  m.reduced = reduced;
  for (std::size_t i = 0; i < rank; ++i)
    if (std::find(reduced.begin(), reduced.end(), i) == reduced.end()) m.kept.push_back(i);
  return m;
}

// The valid values of each output cell (row-major over the output box).
std::vector<std::vector<double>> cell_values(const Array& a, const AxisMap& axes) {
  Sizes out_shape;
  for (auto k : axes.kept) out_shape.push_back(a.shape[k]);
  const Box out = Box::whole(out_shape);
  const auto strides = row_major_strides(out_shape);
  std::vector<std::vector<double>> cells(out_shape.empty() ? 1 : static_cast<std::size_t>(volume(out)));
  for_each_index(Box::whole(a.shape), [&](const Sizes& idx) {
    const double x = a.at(idx);
    if (!std::isfinite(x)) return;
    std::size_t c = 0;
    for (std::size_t j = 0; j < axes.kept.size(); ++j) c += idx[axes.kept[j]] * strides[j];
    cells[c].push_back(x);
  });
  return cells;
}

// Two-pass long double variance: a different algorithm from the one under test.
long double ref_var(const std::vector<double>& xs, int ddof) {
  long double m = 0;
  for (double x : xs) m += x;
  m /= xs.size();
  long double s = 0;
  for (double x : xs) s += (x - m) * (x - m);
  return s / (static_cast<long double>(xs.size()) - ddof);
}

void expect_close(double got, long double want, double rel, const std::string& what) {
  const long double tol = rel * std::fabs(want) + 1e-300L;
  EXPECT_LE(std::fabs(static_cast<long double>(got) - want), tol) << what << ": got " << got << " want " << static_cast<double>(want);
}

// One state per op, as the executor builds them (StateNeeds::for_op), fed the same tiles.
struct OpStates {
  std::vector<ReductionState> st;
  OpStates(const Box& out, int mantissa_bits) {
    st.reserve(std::size(all_ops));
    for (Op op : all_ops) st.emplace_back(out, StateNeeds::for_op(op), mantissa_bits);
  }
  ReductionState& operator[](Op op) { return st[static_cast<std::size_t>(op)]; }
  void add(const Array& a, const Box& t, const AxisMap& axes, int mantissa_bits) {
    const TileValues v = tile_of(a, t);
    const TileStats stats = tile_stats(v, v.extent(0), mantissa_bits);
    for (auto& s : st) s.add_tile(v, t, axes, stats);
  }
  std::vector<double> finalize(Op op, int ddof, const Decoding& dec = Decoding{}) {
    return (*this)[op].finalize(op, ddof, dec);
  }
};

Box out_box(const Array& a, const AxisMap& axes) {
  Sizes shape;
  for (auto k : axes.kept) shape.push_back(a.shape[k]);
  return Box::whole(shape);
}

// Checks every op of finished states against the references.
void check_against_reference(OpStates& st, const Array& a, const AxisMap& axes, const std::string& label) {
  const auto cells = cell_values(a, axes);
  for (Op op : all_ops)
    for (int ddof : {0, 1}) {
      if (ddof && op != Op::var && op != Op::std) continue;
      const auto out = st.finalize(op, ddof);
      ASSERT_EQ(out.size(), cells.size());
      for (std::size_t c = 0; c < cells.size(); ++c) {
        const auto& xs = cells[c];
        const std::string what = label + " " + op_name(op) + " ddof " + std::to_string(ddof) + " cell " + std::to_string(c);
        const double n = static_cast<double>(xs.size());
        if (op == Op::count) {
          EXPECT_EQ(out[c], n) << what;
          continue;
        }
        const bool undefined = xs.empty() || ((op == Op::var || op == Op::std) && static_cast<int>(xs.size()) - ddof <= 0);
        if (undefined) {
          EXPECT_TRUE(std::isnan(out[c])) << what << ": " << out[c];
          continue;
        }
        switch (op) {
          case Op::sum: EXPECT_EQ(bits_of(out[c]), bits_of(exact_sum(xs))) << what; break;
          case Op::mean: EXPECT_EQ(out[c], exact_sum(xs) / n) << what; break;
          case Op::min: EXPECT_EQ(out[c], *std::min_element(xs.begin(), xs.end())) << what; break;
          case Op::max: EXPECT_EQ(out[c], *std::max_element(xs.begin(), xs.end())) << what; break;
          case Op::var: expect_close(out[c], ref_var(xs, ddof), 1e-13, what); break;
          case Op::std: expect_close(out[c], std::sqrt(ref_var(xs, ddof)), 1e-13, what); break;
          default: break;  // count above; the other ops have accumulators of their own
        }
      }
    }
}

void expect_same_bits(const std::vector<double>& a, const std::vector<double>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(bits_of(a[i]), bits_of(b[i])) << what << " cell " << i << ": " << a[i] << " vs " << b[i];
}

void expect_same_results(OpStates& x, OpStates& y, const std::string& what, const Decoding& dec = Decoding{}) {
  for (Op op : all_ops)
    for (int ddof : {0, 1}) expect_same_bits(x.finalize(op, ddof, dec), y.finalize(op, ddof, dec), what + " " + op_name(op));
}

// (time=9, lat=4, lon=5) doubles with full mantissas in +-[0.5, 50), NaNs, an infinity, one
// cell missing at every time, one cell with a single valid value, and one all-missing time step.
Array make_data(std::uint64_t seed) {
  Array a{{9, 4, 5}, {}};
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> mag(0.5, 50.0);
  std::uniform_int_distribution<int> coin(0, 9);
  for (std::size_t i = 0; i < 180; ++i) {
    double x = mag(rng) * (coin(rng) < 5 ? -1 : 1);
    if (coin(rng) == 0) x = nan_v;
    a.v.push_back(x);
  }
  for (std::size_t t = 0; t < 9; ++t) {
    a.v[t * 20 + 1 * 5 + 2] = nan_v;                   // (lat 1, lon 2): always missing
    a.v[t * 20 + 3 * 5 + 4] = t == 6 ? 12.25 : nan_v;  // (lat 3, lon 4): one value
  }
  for (std::size_t k = 0; k < 20; ++k) a.v[4 * 20 + k] = nan_v;  // time 4: all missing
  a.v[2 * 20 + 0] = std::numeric_limits<double>::infinity();    // not a valid value
  return a;
}

// Over time, over space, over everything, and two with a reduced axis between kept ones.
const std::vector<std::vector<std::size_t>> reductions = {{0}, {1, 2}, {0, 1, 2}, {1}, {0, 2}, {2}};

TEST(ReductionState, OneTileMatchesReferences) {
  const Array a = make_data(11);
  for (const auto& red : reductions) {
    const AxisMap axes = axes_over(red, 3);
    OpStates st(out_box(a, axes), 52);
    st.add(a, Box::whole(a.shape), axes, 52);
    check_against_reference(st, a, axes, "over " + std::to_string(red.size()) + " axes");
  }
}

TEST(ReductionState, AllMissingCellsAreNaNWithCountZero) {
  const Array a = make_data(3);
  const AxisMap over_time = axes_over({0}, 3);
  OpStates st(out_box(a, over_time), 52);
  st.add(a, Box::whole(a.shape), over_time, 52);
  const std::size_t cell = 1 * 5 + 2;
  EXPECT_EQ(st.finalize(Op::count, 0)[cell], 0.0);
  for (Op op : {Op::sum, Op::mean, Op::min, Op::max, Op::var, Op::std})
    EXPECT_TRUE(std::isnan(st.finalize(op, 0)[cell])) << op_name(op);
  // One valid value: variance is 0 with ddof 0 and undefined with ddof 1.
  const std::size_t single = 3 * 5 + 4;
  EXPECT_EQ(st.finalize(Op::var, 0)[single], 0.0);
  EXPECT_TRUE(std::isnan(st.finalize(Op::std, 1)[single]));
  EXPECT_EQ(st.finalize(Op::mean, 0)[single], 12.25);

  const AxisMap over_space = axes_over({1, 2}, 3);
  OpStates sp(out_box(a, over_space), 52);
  sp.add(a, Box::whole(a.shape), over_space, 52);
  EXPECT_EQ(sp.finalize(Op::count, 0)[4], 0.0);
  EXPECT_TRUE(std::isnan(sp.finalize(Op::mean, 0)[4]));
  EXPECT_TRUE(std::isnan(sp.finalize(Op::max, 0)[4]));
}

TEST(ReductionState, TilingAndOrderDoNotChangeBits) {
  const Array a = make_data(21);
  const Box whole = Box::whole(a.shape);
  std::mt19937_64 rng(8);
  for (const auto& red : reductions) {
    const AxisMap axes = axes_over(red, 3);
    OpStates one(out_box(a, axes), 52);
    one.add(a, whole, axes, 52);
    for (std::uint64_t budget : {1u, 3u, 7u, 20u, 33u, 100u}) {
      auto tiles = tile(whole, budget, {2, 3, 2});
      for (int shuffle = 0; shuffle < 2; ++shuffle) {
        std::shuffle(tiles.begin(), tiles.end(), rng);
        OpStates many(out_box(a, axes), 52);
        for (const Box& t : tiles) many.add(a, t, axes, 52);
        expect_same_results(one, many, "budget " + std::to_string(budget));
      }
    }
  }
}

TEST(ReductionState, WideTierResultsAreTilingIndependent) {
  // Tiny and huge values in the same cells force the wide tier on some tiles only.
  Array a = make_data(5);
  a.v[0] = 1e-20;
  a.v[100] = -3e15;
  a.v[101] = 7e-18;
  const Box whole = Box::whole(a.shape);
  for (const auto& red : reductions) {
    const AxisMap axes = axes_over(red, 3);
    // Sum and mean only: var on this data hits VarianceOfDataWithATinyValueDoesNotThrow.
    ReductionState one(out_box(a, axes), StateNeeds::for_op(Op::sum), 52);
    ReductionState many(out_box(a, axes), StateNeeds::for_op(Op::sum), 52);
    const TileValues v = tile_of(a, whole);
    one.add_tile(v, whole, axes, tile_stats(v, v.extent(0), 52));
    auto tiles = tile(whole, 6, {1, 1, 1});
    std::reverse(tiles.begin(), tiles.end());
    for (const Box& t : tiles) {
      const TileValues tv = tile_of(a, t);
      many.add_tile(tv, t, axes, tile_stats(tv, tv.extent(0), 52));
    }
    const auto cells = cell_values(a, axes);
    const auto s1 = one.finalize(Op::sum, 0, Decoding{}), s2 = many.finalize(Op::sum, 0, Decoding{});
    expect_same_bits(s1, s2, "sum");
    for (std::size_t c = 0; c < cells.size(); ++c)
      if (!cells[c].empty()) {
        EXPECT_EQ(bits_of(s1[c]), bits_of(exact_sum(cells[c]))) << "cell " << c;
      }
    expect_same_bits(one.finalize(Op::mean, 0, Decoding{}), many.finalize(Op::mean, 0, Decoding{}), "mean");
  }
}

TEST(ReductionState, VarianceOfDataWithATinyValueDoesNotThrow) {
  // Temperatures near 300 K plus one tiny value: the values span only ~2^75, far from the
  // documented 2^250 limit, yet x^2 is accumulated at twice the tiny value's quantum (2^-238)
  // next to squares near 2^17, which overflows the 254-bit wide tier. The reduction must
  // succeed and match the reference.
  Array a{{4, 1, 1}, {280.5, 1e-20, 290.25, 300.125}};
  const AxisMap over_time = axes_over({0}, 3);
  ReductionState st(Box::whole({1, 1}), StateNeeds::for_op(Op::var), 52);
  const TileValues v = tile_of(a, Box::whole(a.shape));
  ASSERT_NO_THROW(st.add_tile(v, Box::whole(a.shape), over_time, tile_stats(v, 4, 52)));
  const auto out = st.finalize(Op::var, 0, Decoding{});
  expect_close(out[0], ref_var(a.v, 0), 1e-13, "var");
}

TEST(ReductionState, StdOfFloatDataWithADenormalDoesNotThrow) {
  // float32 precipitation-like data (max 2e-2) with one subnormal float: the values span
  // ~2^126, half the documented limit, but the sum of squares needs 2^-312 .. 2^-11.
  const std::vector<float> stored{1e-2f, 1e-40f, 2e-2f, 5e-3f};
  const Sizes shape{4, 1};
  const AxisMap over_time = axes_over({0}, 2);
  Decoding dec;
  dec.mantissa_bits = 23;
  ReductionState st(Box::whole({1}), StateNeeds::for_op(Op::std), 23);
  const RawTile rt{DType::f32, stored.data(), Box::whole(shape)};
  ASSERT_NO_THROW(st.add(rt, Box::whole(shape), over_time, region_stats(rt, Box::whole(shape), dec), dec));
  const std::vector<double> xs(stored.begin(), stored.end());
  expect_close(st.finalize(Op::std, 1, dec)[0], std::sqrt(ref_var(xs, 1)), 1e-13, "std");
}

TEST(ReductionState, ShiftedDataKeepsVariance) {
  // var(x + c) == var(x): with c = 1e6 and spread ~1 the finalisation must cancel 12 digits.
  Array a{{200, 1, 1}, {}};
  std::mt19937_64 rng(17);
  std::uniform_real_distribution<double> u(-1, 1);
  for (int i = 0; i < 200; ++i) a.v.push_back(1e6 + std::ldexp(std::round(std::ldexp(u(rng), 20)), -20));
  const AxisMap over_time = axes_over({0}, 3);
  OpStates st(Box::whole({1, 1}), 52);
  st.add(a, Box::whole(a.shape), over_time, 52);
  std::vector<double> centred;
  for (double x : a.v) centred.push_back(x - 1e6);  // exact: multiples of 2^-20 near 1e6
  expect_close(st.finalize(Op::var, 1)[0], ref_var(centred, 1), 1e-12, "var");
  expect_close(st.finalize(Op::std, 0)[0], std::sqrt(ref_var(centred, 0)), 1e-12, "std");
}

// Packs `from` (over `sub`) and merges it into `into` for every op.
void pack_into(OpStates& from, OpStates& into, const Box& sub) {
  for (Op op : all_ops) {
    auto p = from[op].pack(sub);
    EXPECT_EQ(p.size(), volume(sub) * from[op].bytes_per_cell());
    into[op].merge_packed(sub, p.data(), p.size());
  }
}

OpStates empty_like(OpStates& s, const Box& box) {
  OpStates e(box, 52);
  for (Op op : all_ops) e[op] = s[op].empty_like(box);
  return e;
}

TEST(ReductionState, PackMergeOfPartialStatesEqualsSingleState) {
  // Integer values read as integers (mantissa bits 0) keep both halves in the fast tier, so
  // their packed cells can be added without an MPI harmonize.
  Array a = make_data(31);
  for (double& x : a.v)
    if (std::isfinite(x)) x = std::round(x);
  const AxisMap over_time = axes_over({0}, 3);
  const Box out = Box::whole({4, 5});
  OpStates single(out, 0), first(out, 0), second(out, 0);
  single.add(a, Box::whole(a.shape), over_time, 0);
  first.add(a, Box({0, 0, 0}, {5, 4, 5}), over_time, 0);
  second.add(a, Box({5, 0, 0}, {4, 4, 5}), over_time, 0);
  ASSERT_EQ(first[Op::var].bytes_per_cell(), 8u + 8u + 8u) << "expected the fast tier";
  OpStates merged = empty_like(first, out);
  pack_into(first, merged, out);
  pack_into(second, merged, out);
  expect_same_results(single, merged, "fast");
}

TEST(ReductionState, PackMergeInWideTierWithCommonAnchor) {
  // Full-mantissa values in +-[0.5, 50) with one full-mantissa value near 2^-60 in each half:
  // ~2^118 of range is beyond the split tier, so both halves use the wide tier.
  Array a = make_data(41);
  a.v[0 * 20 + 7] = 0x1.5555555555555p-60;
  a.v[6 * 20 + 7] = -0x1.3333333333333p-60;
  const AxisMap over_time = axes_over({0}, 3);
  const Box out = Box::whole({4, 5});
  OpStates single(out, 52), first(out, 52), second(out, 52);
  single.add(a, Box::whole(a.shape), over_time, 52);
  first.add(a, Box({0, 0, 0}, {3, 4, 5}), over_time, 52);
  second.add(a, Box({3, 0, 0}, {6, 4, 5}), over_time, 52);
  ASSERT_EQ(first[Op::var].bytes_per_cell(), 8u + 2 * sizeof(WideSum)) << "expected the wide tier";
  ASSERT_EQ(second[Op::var].bytes_per_cell(), 8u + 2 * sizeof(WideSum));
  OpStates merged = empty_like(second, out);
  pack_into(second, merged, out);
  pack_into(first, merged, out);
  expect_same_results(single, merged, "wide");
}

TEST(ReductionState, PackOfSubBoxMergesIntoThatBox) {
  const Array a = make_data(51);
  const AxisMap over_time = axes_over({0}, 3);
  const Box out = Box::whole({4, 5});
  OpStates st(out, 52);
  st.add(a, Box::whole(a.shape), over_time, 52);
  const Box sub({1, 2}, {2, 3});
  OpStates part = empty_like(st, sub);
  pack_into(st, part, sub);
  for (Op op : all_ops) {
    const auto full = st.finalize(op, 1), got = part.finalize(op, 1);
    std::vector<double> want;
    for_each_index(sub, [&](const Sizes& idx) { want.push_back(full[idx[0] * 5 + idx[1]]); });
    expect_same_bits(want, got, op_name(op));
  }
}

TEST(ReductionState, MergeRejectsWrongSize) {
  const Box out = Box::whole({2, 2});
  ReductionState st(out, StateNeeds::for_op(Op::std), 52);
  std::vector<char> junk(7);
  EXPECT_THROW(st.merge_packed(out, junk.data(), junk.size()), RuntimeError);
}

TEST(ReductionState, PartialStateBoxOffsetsAreHonoured) {
  // A state over output rows [2, 4) fed with the matching input slab.
  const Array a = make_data(61);
  const AxisMap over_time = axes_over({0}, 3);
  OpStates part(Box({2, 0}, {2, 5}), 52), full(Box::whole({4, 5}), 52);
  part.add(a, Box({0, 2, 0}, {9, 2, 5}), over_time, 52);
  full.add(a, Box::whole(a.shape), over_time, 52);
  for (Op op : all_ops) {
    const auto f = full.finalize(op, 0), p = part.finalize(op, 0);
    std::vector<double> want(f.begin() + 10, f.begin() + 20);
    expect_same_bits(want, p, op_name(op));
  }
}

// ---- stored (raw) tiles decoded on the fly, cut into work regions as the executor does ----

template <class T>
std::vector<T> raw_tile_of(const std::vector<T>& all, const Sizes& shape, const Box& t) {
  std::vector<T> out;
  for_each_index(t, [&](const Sizes& idx) {
    std::size_t off = 0;
    for (std::size_t i = 0; i < shape.size(); ++i) off = off * shape[i] + idx[i];
    out.push_back(all[off]);
  });
  return out;
}

// Feeds `stored` (C order over `shape`) tile by tile and region by region into one state per op.
template <class T>
void add_raw(OpStates& st, DType type, const std::vector<T>& stored, const Sizes& shape, const Decoding& dec,
             const AxisMap& axes, std::uint64_t tile_budget, std::uint64_t region_budget,
             const std::vector<std::size_t>& order) {
  for (const Box& t : tile(Box::whole(shape), tile_budget, Sizes(shape.size(), 1))) {
    const std::vector<T> buf = raw_tile_of(stored, shape, t);
    const RawTile rt{type, buf.data(), t};
    for (const Box& region : split_to_budget(t, region_budget, order)) {
      const TileStats stats = region_stats(rt, region, dec);
      for (auto& s : st.st) s.add(rt, region, axes, stats, dec);
    }
  }
}

TEST(ReductionState, RawFloatTilesMatchDecodedReference) {
  // float32 stored values with a _FillValue, over time and over space, cut into tiles and
  // regions of several sizes: all must agree bitwise with one decoded tile.
  const Sizes shape{9, 4, 70};  // lon > one run block (64) to cover split runs
  std::mt19937_64 rng(77);
  std::uniform_real_distribution<float> u(-40.f, 40.f);
  std::uniform_int_distribution<int> coin(0, 7);
  const float fill = 9.96921e36f;
  std::vector<float> stored;
  Array decoded{shape, {}};
  for (std::size_t i = 0; i < 9 * 4 * 70; ++i) {
    const float x = coin(rng) == 0 ? fill : u(rng);
    stored.push_back(x);
    decoded.v.push_back(x == fill ? nan_v : static_cast<double>(x));
  }
  VariableInfo var;
  var.name = "tas";
  var.type = DType::f32;
  var.attrs = {Attribute::make_number("_FillValue", DType::f32, {static_cast<double>(fill)})};
  const Decoding dec = decoding_for(var, "test");
  for (const auto& red : reductions) {
    const AxisMap axes = axes_over(red, 3);
    OpStates ref(out_box(decoded, axes), 23);
    ref.add(decoded, Box::whole(shape), axes, 23);
    check_against_reference(ref, decoded, axes, "decoded");
    std::vector<std::size_t> order(axes.kept.begin(), axes.kept.end() - (axes.kept.empty() ? 0 : 1));
    order.insert(order.end(), axes.reduced.begin(), axes.reduced.end());
    for (auto [tb, rb] : {std::pair<std::uint64_t, std::uint64_t>{2520, 2520}, {2520, 100}, {700, 33}, {50, 7}, {1, 1}}) {
      OpStates raw(out_box(decoded, axes), 23);
      add_raw(raw, DType::f32, stored, shape, dec, axes, tb, rb, order);
      expect_same_results(ref, raw, "tiles " + std::to_string(tb) + " regions " + std::to_string(rb));
    }
  }
}

// ---- packed (scale/offset) inputs ----

TEST(ReductionState, PackedShortsWithNegativeScale) {
  VariableInfo var;
  var.name = "tas";
  var.type = DType::i16;
  var.attrs = {Attribute::make_number("scale_factor", DType::f32, {-0.5}),
               Attribute::make_number("add_offset", DType::f32, {20.0}),
               Attribute::make_number("_FillValue", DType::i16, {-32767})};
  const Decoding dec = decoding_for(var, "test");
  ASSERT_TRUE(dec.packed);
  ASSERT_EQ(dec.mantissa_bits, 0);

  // (time=6, cell=3) stored shorts; column 2 entirely fill.
  const std::vector<std::int16_t> stored{3, -8, -32767, 100, 7, -32767, -5, 7, -32767,
                                         12, -1, -32767, -32767, 30000, -32767, 0, -30000, -32767};
  const Sizes shape{6, 3};
  const AxisMap over_time = axes_over({0}, 2);

  // Path 1: decode_tile to doubles, then add_tile.
  RawBytes raw("raw", stored.size() * sizeof(std::int16_t));
  std::memcpy(raw.data(), stored.data(), stored.size() * sizeof(std::int16_t));
  TileValues values("values", stored.size());
  decode_tile(DType::i16, raw, stored.size(), dec, values);
  const TileStats stats = tile_stats(values, stored.size(), dec.mantissa_bits);
  EXPECT_EQ(stats.max_abs, 30000.0);
  EXPECT_EQ(stats.min_qexp, 0);
  OpStates st(Box::whole({3}), dec.mantissa_bits);
  for (auto& s : st.st) s.add_tile(values, Box::whole(shape), over_time, stats);

  // Path 2: stored shorts decoded on the fly, one region per time step.
  OpStates st2(Box::whole({3}), dec.mantissa_bits);
  add_raw(st2, DType::i16, stored, shape, dec, over_time, 18, 3, {0});
  expect_same_results(st, st2, "raw vs decoded", dec);

  for (std::size_t c = 0; c < 2; ++c) {
    std::vector<double> phys;  // unpacked by hand: exact for these values
    for (std::size_t t = 0; t < 6; ++t) {
      const double s = stored[t * 3 + c];
      if (s != -32767) phys.push_back(s * -0.5 + 20.0);
    }
    const std::string what = "cell " + std::to_string(c);
    EXPECT_EQ(st.finalize(Op::min, 0, dec)[c], *std::min_element(phys.begin(), phys.end())) << what;
    EXPECT_EQ(st.finalize(Op::max, 0, dec)[c], *std::max_element(phys.begin(), phys.end())) << what;
    EXPECT_EQ(st.finalize(Op::count, 0, dec)[c], double(phys.size())) << what;
    EXPECT_EQ(st.finalize(Op::sum, 0, dec)[c], exact_sum(phys)) << what;
    expect_close(st.finalize(Op::mean, 0, dec)[c], exact_sum(phys) / phys.size(), 1e-15, what + " mean");
    expect_close(st.finalize(Op::var, 1, dec)[c], ref_var(phys, 1), 1e-13, what + " var");
    expect_close(st.finalize(Op::std, 0, dec)[c], std::sqrt(ref_var(phys, 0)), 1e-13, what + " std");
  }
  EXPECT_EQ(st.finalize(Op::count, 0, dec)[2], 0.0);
  for (Op op : {Op::sum, Op::mean, Op::min, Op::max, Op::var})
    EXPECT_TRUE(std::isnan(st.finalize(op, 0, dec)[2])) << op_name(op);
}

TEST(ReductionState, LargeIntegersSquareExactly) {
  // int32 values above 2^26: x^2 exceeds 53 bits, so the fma error term is needed for var.
  const std::vector<std::int32_t> stored{2000000001, 2000000003, -2000000005, 2000000007};
  const Sizes shape{4, 1};
  const AxisMap over_time = axes_over({0}, 2);
  OpStates st(Box::whole({1}), 0);
  Decoding dec;
  dec.mantissa_bits = 0;
  add_raw(st, DType::i32, stored, shape, dec, over_time, 4, 4, {0});
  std::vector<double> xs(stored.begin(), stored.end());
  expect_close(st.finalize(Op::var, 0)[0], ref_var(xs, 0), 1e-15, "var");
  EXPECT_EQ(st.finalize(Op::sum, 0)[0], 4000000006.0);
}

// ---- tile kernels ----

TEST(TileKernels, StatsIgnoreMissingAndInfinities) {
  TileValues v("v", 6);
  auto h = Kokkos::create_mirror_view(v);
  const double vals[] = {0.75, -3.0, nan_v, 0.0, std::numeric_limits<double>::infinity(), 1.5};
  for (int i = 0; i < 6; ++i) h(i) = vals[i];
  Kokkos::deep_copy(v, h);
  TileStats s = tile_stats(v, 6, 52);
  EXPECT_EQ(s.max_abs, 3.0);
  EXPECT_EQ(s.min_qexp, -1 - 52);  // 0.75 = 1.5 * 2^-1: multiples of 2^(-1-52)
  s = tile_stats(v, 6, 23);
  EXPECT_EQ(s.min_qexp, -1 - 23);
  s = tile_stats(v, 2, 0);
  EXPECT_EQ(s.min_qexp, 0);
  // Only the first n entries count.
  s = tile_stats(v, 1, 52);
  EXPECT_EQ(s.max_abs, 0.75);
}

TEST(TileKernels, StatsOfRegionWithoutValuesHaveNoQuantum) {
  // TileStats contract: max_abs 0 and min_qexp INT_MAX when no valid non-zero value exists
  // (all missing, all zero, or no elements at all).
  TileValues m("m", 3);
  Kokkos::deep_copy(m, nan_v);
  TileStats s = tile_stats(m, 3, 52);
  EXPECT_EQ(s.max_abs, 0.0);
  EXPECT_EQ(s.min_qexp, INT_MAX);
  Kokkos::deep_copy(m, 0.0);
  s = tile_stats(m, 3, 23);
  EXPECT_EQ(s.max_abs, 0.0);
  EXPECT_EQ(s.min_qexp, INT_MAX);
  s = tile_stats(m, 0, 52);
  EXPECT_EQ(s.max_abs, 0.0);
  EXPECT_EQ(s.min_qexp, INT_MAX);
}

TEST(TileKernels, DecodeMarksFillAndMissingValues) {
  VariableInfo var;
  var.name = "pr";
  var.type = DType::f32;
  var.attrs = {Attribute::make_number("_FillValue", DType::f32, {static_cast<double>(9.96921e36f)}),
               Attribute::make_number("missing_value", DType::f32, {-999.0})};
  const Decoding dec = decoding_for(var, "test");
  const std::vector<float> stored{1.5f, 9.96921e36f, -999.0f, -998.0f, std::nanf("")};
  RawBytes raw("raw", stored.size() * sizeof(float));
  std::memcpy(raw.data(), stored.data(), stored.size() * sizeof(float));
  TileValues out("out", 8);
  decode_tile(DType::f32, raw, stored.size(), dec, out);
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
  EXPECT_EQ(h(0), 1.5);
  EXPECT_TRUE(std::isnan(h(1)));
  EXPECT_TRUE(std::isnan(h(2)));
  EXPECT_EQ(h(3), -998.0);
  EXPECT_TRUE(std::isnan(h(4)));
}

TEST(TileKernels, DecodeUnsignedAndWideIntegers) {
  const Decoding dec;
  const std::vector<std::uint8_t> u8{0, 200, 255};
  RawBytes raw("raw", 64);
  std::memcpy(raw.data(), u8.data(), u8.size());
  TileValues out("out", 3);
  decode_tile(DType::u8, raw, 3, dec, out);
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
  EXPECT_EQ(h(1), 200.0);
  EXPECT_EQ(h(2), 255.0);
  const std::vector<std::int64_t> i64{-5, std::int64_t(1) << 40, -(std::int64_t(1) << 50)};
  std::memcpy(raw.data(), i64.data(), i64.size() * 8);
  decode_tile(DType::i64, raw, 3, dec, out);
  h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
  EXPECT_EQ(h(0), -5.0);
  EXPECT_EQ(h(1), std::ldexp(1.0, 40));
  EXPECT_EQ(h(2), -std::ldexp(1.0, 50));
}

TEST(StateNeeds, ForEachOp) {
  auto n = StateNeeds::for_op(Op::mean);
  EXPECT_TRUE(n.sum);
  EXPECT_FALSE(n.sumsq);
  EXPECT_FALSE(n.minmax);
  n = StateNeeds::for_op(Op::std);
  EXPECT_TRUE(n.sum && n.sumsq && !n.minmax);
  n = StateNeeds::for_op(Op::min);
  EXPECT_TRUE(n.minmax && !n.sum && !n.sumsq);
  n = StateNeeds::for_op(Op::count);
  EXPECT_FALSE(n.minmax || n.sum || n.sumsq);
  ReductionState st(Box::whole({3}), StateNeeds::for_op(Op::count), 52);
  EXPECT_EQ(st.bytes_per_cell(), 8u);
}

}  // namespace
}  // namespace tessera
