#include "reduce/reduction_state.hpp"

#include <climits>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/dtype_visit.hpp"
#include "core/error.hpp"
#include "decomp/box_iteration.hpp"
#include "reduce/add_kernel.hpp"
#include "reduce/measured_sum_kernel.hpp"

namespace tessera {
namespace {

// ---- double-double arithmetic for the variance's final subtraction ----
struct DD {
  double hi, lo;
};
DD quick_two_sum(double a, double b) {
  const double s = a + b;
  return {s, b - (s - a)};
}
DD two_sum(double a, double b) {
  const double s = a + b, bb = s - a;
  return {s, (a - (s - bb)) + (b - bb)};
}
DD dd_mul(DD a, DD b) {
  const double p = a.hi * b.hi;
  double e = std::fma(a.hi, b.hi, -p);
  e += a.hi * b.lo + a.lo * b.hi;
  return quick_two_sum(p, e);
}
DD dd_div(DD a, double d) {
  const double q1 = a.hi / d;
  const double p = q1 * d, pe = std::fma(q1, d, -p);
  const double r = ((a.hi - p) - pe) + a.lo;
  return quick_two_sum(q1, r / d);
}
DD dd_sub(DD a, DD b) {
  DD s = two_sum(a.hi, -b.hi);
  s.lo += a.lo - b.lo;
  return quick_two_sum(s.hi, s.lo);
}

template <class T>
void put(std::vector<char>& buf, const T& v) {
  const char* p = reinterpret_cast<const char*>(&v);
  buf.insert(buf.end(), p, p + sizeof(T));
}
template <class T>
T take(const char*& p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  p += sizeof(T);
  return v;
}


}  // namespace

StateNeeds StateNeeds::for_op(Op op) {
  StateNeeds n;
  n.minmax = op == Op::min || op == Op::max;
  n.sum = op == Op::sum || op == Op::mean || op == Op::var || op == Op::std;
  n.sumsq = op == Op::var || op == Op::std;
  return n;
}

ReductionState::ReductionState(const Box& out_box, StateNeeds needs, int mantissa_bits, double expected_terms)
    : box_(out_box), cells_(empty(out_box) ? 0 : static_cast<std::size_t>(volume(out_box))), needs_(needs),
      mantissa_bits_(mantissa_bits), expected_terms_(expected_terms), count_("count", cells_) {
  if (needs_.minmax && (needs_.sum || needs_.sumsq))
    throw RuntimeError("internal error: a reduction state holds either min/max or sums, not both");
  if (needs_.minmax) {
    min_ = Kokkos::View<double*>("min", cells_);
    max_ = Kokkos::View<double*>("max", cells_);
    Kokkos::deep_copy(min_, std::numeric_limits<double>::infinity());
    Kokkos::deep_copy(max_, -std::numeric_limits<double>::infinity());
  }
  if (needs_.sum) sum_ = ExactSum(cells_, expected_terms_);
  if (needs_.sumsq) sumsq_ = ExactSum(cells_, 2 * expected_terms_);
}

std::size_t ReductionState::bytes_per_cell() const {
  std::size_t b = sizeof(std::int64_t);
  if (needs_.minmax) b += 2 * sizeof(double);
  if (needs_.sum) b += sum_.cell_bytes();
  if (needs_.sumsq) b += sumsq_.cell_bytes();
  return b;
}

namespace {

template <class T, int NM>
void launch_typed(const RawTile& tile, const TileGeometry& g, const detail::Missing& miss,
                  const detail::StateViews& v, const StateNeeds& needs, bool dense) {
  const detail::StoredPtr<T> raw(tile.data);
  auto go = [&](auto kernel) { Kokkos::parallel_for("reduce_region", g.items, kernel); };
  const bool split = v.sum.mode == ExactSum::Mode::split || v.sq.mode == ExactSum::Mode::split;
  if (needs.minmax) go(detail::AddKernel<T, true, false, false, false, NM>{raw, g, miss, v});
  else if (needs.sumsq && split) go(detail::AddKernel<T, false, true, true, true, NM>{raw, g, miss, v});
  else if (needs.sumsq) go(detail::AddKernel<T, false, true, true, false, NM>{raw, g, miss, v});
  else if (needs.sum && split && dense) go(detail::AddKernel<T, false, true, false, true, NM, true>{raw, g, miss, v});
  else if (needs.sum && split) go(detail::AddKernel<T, false, true, false, true, NM>{raw, g, miss, v});
  else if (needs.sum && dense) go(detail::AddKernel<T, false, true, false, false, NM, true>{raw, g, miss, v});
  else if (needs.sum) go(detail::AddKernel<T, false, true, false, false, NM>{raw, g, miss, v});
  else go(detail::AddKernel<T, false, false, false, false, NM>{raw, g, miss, v});
}

}  // namespace

void ReductionState::add(const RawTile& tile, const Box& region, const AxisMap& axes, const TileStats& stats,
                         const Decoding& dec, std::size_t group) {
  const TileGeometry g(tile.layout, region, box_, axes, group);
  if (g.items == 0 || g.reduced == 0) return;
  launch(tile, g, stats, dec, prepare(g, stats));
}

detail::StateViews ReductionState::prepare(const TileGeometry& g, const TileStats& stats) {
  const double n = static_cast<double>(g.reduced);
  detail::StateViews v;
  v.count = count_;
  v.min = min_;
  v.max = max_;
  if (needs_.sum) {
    v.sum = sum_.prepare(stats.max_abs, n, stats.min_qexp);
    v.sum_hi = sum_.hi();
    v.sum_lo = sum_.lo();
    v.sum_wide = sum_.wide();
  }
  if (needs_.sumsq) {
    // x^2 = p + e exactly (fma); e is zero for float32 and small integer inputs.
    v.split_squares = !(mantissa_bits_ == 23 || (mantissa_bits_ == 0 && stats.max_abs < 67108864.0));
    const double terms = v.split_squares ? 2.0 * n : n;
    const int q2 = stats.min_qexp == ExactSum::no_quantum ? ExactSum::no_quantum : 2 * stats.min_qexp;
    v.sq = sumsq_.prepare(stats.max_abs * stats.max_abs, terms, q2);
    v.sq_hi = sumsq_.hi();
    v.sq_lo = sumsq_.lo();
    v.sq_wide = sumsq_.wide();
  }
  return v;
}

void ReductionState::launch(const RawTile& tile, const TileGeometry& g, const TileStats& stats, const Decoding& dec,
                            const detail::StateViews& v) {
  detail::Missing miss;
  for (int i = 0; i < dec.n_missing; ++i) miss.value[i] = dec.missing[i];
  visit_dtype(tile.type, [&](auto t) {
    using T = decltype(t);
    // Float data with at most one missing value (the common case) gets the lighter test; other
    // types keep one instantiation each, for compile time.
    if constexpr (std::is_floating_point_v<T>)
      if (dec.n_missing <= 1) return launch_typed<T, 1>(tile, g, miss, v, needs_, stats.all_valid);
    launch_typed<T, 4>(tile, g, miss, v, needs_, stats.all_valid);
  });
  host_current_ = false;
}

namespace {

template <class T>
TileStats measure_and_sum(const RawTile& tile, const TileGeometry& g, const Decoding& dec, double* sums) {
  using K = detail::MeasuredSumKernel<T>;
  using Bits = typename K::Bits;
  K k{detail::StoredPtr<T>(tile.data), g, T(0), 0, sums};
  // A fill value that the stored type cannot hold matches nothing (as in region_stats).
  if (dec.n_missing == 1 && static_cast<double>(static_cast<T>(dec.missing[0])) == dec.missing[0])
    k.fill = static_cast<T>(dec.missing[0]), k.use_fill = ~Bits(0);
  Bits hi = 0, lo = ~Bits(0), bad = 0;
  Kokkos::parallel_reduce("measure_and_sum", g.items, k, Kokkos::Max<Bits>(hi), Kokkos::Min<Bits>(lo),
                          Kokkos::BOr<Bits>(bad));
  return float_scan_stats(hi, lo, bad, dec.mantissa_bits);
}

}  // namespace

bool ReductionState::add_in_one_pass(const RawTile& tile, const Box& region, const AxisMap& axes, const Decoding& dec,
                                     std::size_t group) {
  if (one_pass_off_ || needs_.minmax || needs_.sumsq || !needs_.sum || sum_.mode() != ExactSum::Mode::fast ||
      dec.n_missing > 1 || (tile.type != DType::f32 && tile.type != DType::f64))
    return false;
  const TileGeometry g(tile.layout, region, box_, axes, group);
  if (g.items == 0 || g.reduced == 0) return true;  // nothing to add, as add() would find
  if (g.run_lay != 1) return false;
  const std::size_t cells = (g.items / g.blocks) * g.run_len;
  if (scratch_.extent(0) < cells) scratch_ = Kokkos::View<double*>(Kokkos::ViewAllocateWithoutInitializing("one_pass_sums"), cells);
  const TileStats stats = tile.type == DType::f32 ? measure_and_sum<float>(tile, g, dec, scratch_.data())
                                                  : measure_and_sum<double>(tile, g, dec, scratch_.data());
  const detail::StateViews v = prepare(g, stats);
  if (stats.all_valid && v.sum.mode == ExactSum::Mode::fast) {
    Kokkos::parallel_for("commit_sums", g.items, detail::CommitSumKernel{g, scratch_.data(), count_, sum_.hi()});
    host_current_ = false;
    return true;
  }
  // Missing values or another tier: the usual kernels, with the statistics just measured; data
  // with missing values will keep needing them, so later regions skip the one-pass attempt.
  if (!stats.all_valid) one_pass_off_ = true;
  launch(tile, g, stats, dec, v);
  return true;
}

namespace {

// Exponent of the quantum of doubles of magnitude >= m (m > 0): ulp of the smallest such double.
int double_quantum_floor(double m) {
  int e;
  std::frexp(m, &e);  // m = f 2^e, f in [0.5, 1)
  return std::max(e - 1 - 52, -1074);
}

// Fast and split batches (the one pass does not run in the wide tier).
bool same_batch(const ExactSum::Batch& a, const ExactSum::Batch& b) {
  return a.mode == b.mode && a.split_constant == b.split_constant;
}

}  // namespace

detail::StateViews ReductionState::prepare_weighted(ReductionState& wx, ReductionState& w, const TileGeometry& g,
                                                    const TileStats& stats, const Decoding& dec,
                                                    const Weights& weights) {
  const double n = static_cast<double>(g.reduced);
  detail::StateViews v;
  v.count = wx.count_;
  // Bounds from the region's stored values and the weights, without a pass over the products:
  // fl(w*x) is monotone in |w| and |x|, so |fl(w*x)| <= fl(max_w max_x) (+1 ulp for safety) and a
  // non-zero one is >= min_w * (smallest non-zero |x|), whose quantum bounds the products' from below.
  if (stats.min_qexp == INT_MAX || stats.max_abs == 0.0) {
    v.sum = wx.sum_.prepare(0.0, n, ExactSum::no_quantum);
  } else {
    const double min_x = std::ldexp(1.0, stats.min_qexp + dec.mantissa_bits);
    v.sum = wx.sum_.prepare(weights.max_abs * stats.max_abs * (1 + 0x1p-50), n,
                            double_quantum_floor(weights.min_abs * min_x));
  }
  v.sum_hi = wx.sum_.hi();
  v.sum_lo = wx.sum_.lo();
  v.sum_wide = wx.sum_.wide();
  v.sq = weights.max_abs > 0 ? w.sum_.prepare(weights.max_abs, n, double_quantum_floor(weights.min_abs))
                             : w.sum_.prepare(0.0, n, ExactSum::no_quantum);
  v.sq_hi = w.sum_.hi();
  v.sq_lo = w.sum_.lo();
  v.sq_wide = w.sum_.wide();
  wx.host_current_ = false;
  w.host_current_ = false;
  return v;
}

void ReductionState::add_weighted(ReductionState& wx, ReductionState& w, const RawTile& tile, const Box& region,
                                  const AxisMap& axes, const TileStats& stats, const Decoding& dec, std::size_t group,
                                  const Weights& weights) {
  const TileGeometry g(tile.layout, region, wx.box_, axes, group);
  if (g.items == 0 || g.reduced == 0) return;
  const TileGeometry wg(Box(std::vector<std::size_t>(region.rank(), 0), region.count), region, wx.box_, axes, group,
                        &weights.strides);
  launch_weighted(w, tile, g, wg, prepare_weighted(wx, w, g, stats, dec, weights), dec, weights);
}

void ReductionState::launch_weighted(ReductionState& w, const RawTile& tile, const TileGeometry& g,
                                     const TileGeometry& wg, const detail::StateViews& v, const Decoding& dec,
                                     const Weights& weights) {
  detail::Missing miss;
  for (int i = 0; i < dec.n_missing; ++i) miss.value[i] = dec.missing[i];
  const bool split = v.sum.mode == ExactSum::Mode::split || v.sq.mode == ExactSum::Mode::split;
  visit_dtype(tile.type, [&](auto t) {
    using T = decltype(t);
    const detail::StoredPtr<T> raw(tile.data);
    auto go = [&](auto kernel) { Kokkos::parallel_for("reduce_weighted", g.items, kernel); };
    if (split && dec.n_missing <= 1) go(detail::WeightedAddKernel<T, true, 1>{raw, weights.values, g, wg, miss, v, w.count_});
    else if (split) go(detail::WeightedAddKernel<T, true>{raw, weights.values, g, wg, miss, v, w.count_});
    else if (dec.n_missing <= 1) go(detail::WeightedAddKernel<T, false, 1>{raw, weights.values, g, wg, miss, v, w.count_});
    else go(detail::WeightedAddKernel<T, false>{raw, weights.values, g, wg, miss, v, w.count_});
  });
}

namespace {

// The one-pass weighted kernel over one region: sums into `out`, statistics returned.
template <class T, bool Split>
TileStats measure_weighted(const RawTile& tile, const TileGeometry& g, const TileGeometry& wg,
                           const detail::StateViews& guess, const Decoding& dec,
                           const ReductionState::Weights& weights, const Kokkos::View<std::int64_t*>& count_w,
                           double* out) {
  detail::Missing miss;
  if (dec.n_missing == 1) miss.value[0] = dec.missing[0];
  using K = detail::WeightedAddKernel<T, Split, 1>;
  using Bits = typename K::Bits;
  K k{detail::StoredPtr<T>(tile.data), weights.values, g, wg, miss, guess, count_w};
  k.out = out;
  Bits hi = 0, lo = ~Bits(0), bad = 0;
  Kokkos::parallel_reduce("measure_weighted", g.items, k, Kokkos::Max<Bits>(hi), Kokkos::Min<Bits>(lo),
                          Kokkos::BOr<Bits>(bad));
  return float_scan_stats(hi, lo, bad, dec.mantissa_bits);
}

}  // namespace

ReductionState::OnePass ReductionState::add_weighted_in_one_pass(ReductionState& wx, ReductionState& w,
                                                                 const RawTile& tile, const Box& region,
                                                                 const AxisMap& axes, const Decoding& dec,
                                                                 std::size_t group, const Weights& weights) {
  if (dec.n_missing > 1 || (tile.type != DType::f32 && tile.type != DType::f64) ||
      wx.sum_.mode() == ExactSum::Mode::wide || w.sum_.mode() == ExactSum::Mode::wide)
    return OnePass::not_applicable;
  const TileGeometry g(tile.layout, region, wx.box_, axes, group);
  if (g.items == 0 || g.reduced == 0) return OnePass::added;
  const TileGeometry wg(Box(std::vector<std::size_t>(region.rank(), 0), region.count), region, wx.box_, axes, group,
                        &weights.strides);
  using K = detail::WeightedAddKernel<float, false>;  // the type-independent parts: geometry, commit
  if (!K::rows_apply(g, wg)) return OnePass::not_applicable;
  // Guess the batches of the regions before (as prepare() would return them unchanged).
  detail::StateViews guess;
  guess.sum = wx.sum_.current();
  guess.sq = w.sum_.current();
  const bool split = guess.sum.mode == ExactSum::Mode::split || guess.sq.mode == ExactSum::Mode::split;
  const std::size_t need = K::measured_fields * K::region_cells(g);  // bounded by the region, not the state
  if (wx.scratch_.extent(0) < need)
    wx.scratch_ = Kokkos::View<double*>(Kokkos::ViewAllocateWithoutInitializing("one_pass_weighted"), need);
  double* out = wx.scratch_.data();
  TileStats stats;
  visit_dtype(tile.type, [&](auto t) {
    using T = decltype(t);
    if constexpr (std::is_floating_point_v<T>)
      stats = split ? measure_weighted<T, true>(tile, g, wg, guess, dec, weights, w.count_, out)
                    : measure_weighted<T, false>(tile, g, wg, guess, dec, weights, w.count_, out);
  });
  // Products that could overflow: the caller takes the decoded path (nothing was added).
  if (!std::isfinite(weights.max_abs * stats.max_abs * 2)) return OnePass::not_applicable;
  const detail::StateViews v = prepare_weighted(wx, w, g, stats, dec, weights);
  if (same_batch(v.sum, guess.sum) && same_batch(v.sq, guess.sq)) {
    K k{detail::StoredPtr<float>(nullptr), weights.values, g, wg, {}, v, w.count_};
    k.out = out;
    Kokkos::parallel_for("commit_weighted", g.items, K::Commit{k});
  } else {
    launch_weighted(w, tile, g, wg, v, dec, weights);  // the measured batches differ: add again
  }
  return OnePass::added;
}

void ReductionState::add_tile(const TileValues& values, const Box& tile_box, const AxisMap& axes,
                              const TileStats& stats) {
  add(RawTile{DType::f64, values.data(), tile_box}, tile_box, axes, stats, Decoding{});
}

void ReductionState::harmonize(const mpi::Comm& comm) {
  if (needs_.sum) sum_.harmonize(comm);
  if (needs_.sumsq) sumsq_.harmonize(comm);
}

ReductionState ReductionState::empty_like(const Box& box) const {
  ReductionState s(box, needs_, mantissa_bits_, expected_terms_);
  if (needs_.sum) s.sum_ = sum_.empty_like(s.cells_);
  if (needs_.sumsq) s.sumsq_ = sumsq_.empty_like(s.cells_);
  return s;
}

void ReductionState::write_tier(std::vector<char>& buf) const {
  if (needs_.sum) sum_.write_tier(buf);
  if (needs_.sumsq) sumsq_.write_tier(buf);
}

ReductionState ReductionState::with_tier(const Box& box, const char*& p) const {
  ReductionState s(box, needs_, mantissa_bits_, expected_terms_);
  if (needs_.sum) s.sum_ = sum_.with_tier(p, s.cells_);
  if (needs_.sumsq) s.sumsq_ = sumsq_.with_tier(p, s.cells_);
  return s;
}

void ReductionState::sync_to_host() {
  if (host_current_) return;
  host_count_ = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), count_);
  if (needs_.minmax) {
    host_min_ = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), min_);
    host_max_ = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), max_);
  }
  if (needs_.sum) sum_.sync_to_host();
  if (needs_.sumsq) sumsq_.sync_to_host();
  host_current_ = true;
}

std::vector<char> ReductionState::pack(const Box& sub) {
  sync_to_host();
  std::vector<char> buf;
  buf.reserve(static_cast<std::size_t>(volume(sub)) * bytes_per_cell());
  for_each_offset(box_, sub, [&](std::size_t c) {
    put(buf, host_count_(c));
    if (needs_.minmax) put(buf, host_min_(c)), put(buf, host_max_(c));
    if (needs_.sum) sum_.pack_cell(buf, c);
    if (needs_.sumsq) sumsq_.pack_cell(buf, c);
  });
  return buf;
}

void ReductionState::merge_packed(const Box& sub, const char* data, std::size_t size) {
  sync_to_host();
  if (size != static_cast<std::size_t>(volume(sub)) * bytes_per_cell())
    throw RuntimeError("internal error: partial state of " + to_string(sub) + " has " + std::to_string(size) +
                       " bytes, expected " + std::to_string(volume(sub) * bytes_per_cell()));
  const char* p = data;
  for_each_offset(box_, sub, [&](std::size_t c) {
    host_count_(c) += take<std::int64_t>(p);
    if (needs_.minmax) {
      host_min_(c) = std::min(host_min_(c), take<double>(p));
      host_max_(c) = std::max(host_max_(c), take<double>(p));
    }
    if (needs_.sum) sum_.merge_cell(p, c);
    if (needs_.sumsq) sumsq_.merge_cell(p, c);
  });
}

std::vector<std::int64_t> ReductionState::counts() {
  sync_to_host();
  std::vector<std::int64_t> out(cells_);
  for (std::size_t c = 0; c < cells_; ++c) out[c] = host_count_(c);
  return out;
}

std::vector<double> ReductionState::sums() {
  sync_to_host();
  std::vector<double> out(cells_, std::nan(""));
  if (needs_.sum)
    for (std::size_t c = 0; c < cells_; ++c)
      if (host_count_(c) > 0) out[c] = sum_.value(c);
  return out;
}

std::vector<double> ReductionState::finalize(Op op, int ddof, const Decoding& dec) {
  sync_to_host();
  std::vector<double> out(cells_, std::nan(""));
  const double scale = dec.packed ? dec.scale : 1.0, offset = dec.packed ? dec.offset : 0.0;
  for (std::size_t c = 0; c < cells_; ++c) {
    const std::int64_t n = host_count_(c);
    if (op == Op::count) {
      out[c] = static_cast<double>(n);
      continue;
    }
    if (n == 0) continue;
    const double dn = static_cast<double>(n);
    switch (op) {
      case Op::sum: out[c] = sum_.value(c) * scale + offset * dn; break;
      case Op::mean: out[c] = sum_.value(c) / dn * scale + offset; break;
      case Op::min: out[c] = (scale >= 0 ? host_min_(c) : host_max_(c)) * scale + offset; break;
      case Op::max: out[c] = (scale >= 0 ? host_max_(c) : host_min_(c)) * scale + offset; break;
      case Op::var:
      case Op::std: {
        if (n - ddof <= 0) break;
        DD s1, s2;
        sum_.value_dd(c, s1.hi, s1.lo);
        sumsq_.value_dd(c, s2.hi, s2.lo);
        const DD m2 = dd_sub(s2, dd_div(dd_mul(s1, s1), dn));  // exact sums in, ~106 bits out
        double var = (m2.hi + m2.lo) / static_cast<double>(n - ddof);
        if (var < 0) var = 0;  // only from the last-bit rounding of an exactly zero variance
        var *= scale * scale;
        out[c] = op == Op::var ? var : std::sqrt(var);
        break;
      }
      case Op::count:
      case Op::frequency:
      case Op::median:
      case Op::quantile:
      case Op::histogram: break;  // finalised by their own accumulators
    }
  }
  return out;
}

}  // namespace tessera
