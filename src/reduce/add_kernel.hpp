#pragma once
// The accumulation kernel: decodes stored values on the fly (fill values, NaN) and adds them to
// the cells' counts, min/max and exact sums. Internal to reduce/ (included by reduction_state.cpp).
#include <Kokkos_Core.hpp>

#include <cmath>
#include <type_traits>

#include "reduce/exact_sum.hpp"
#include "reduce/stored_ptr.hpp"
#include "reduce/tile_geometry.hpp"
#include "reduce/tile_kernels.hpp"

namespace tessera::detail {

// Stored values that mean "missing"; unused slots hold NaN (never equal), so the test is a
// fixed number of branch-free compares.
struct Missing {
  double value[4] = {NAN, NAN, NAN, NAN};
};

struct StateViews {
  Kokkos::View<std::int64_t*> count;
  Kokkos::View<double*> min, max, sum_hi, sum_lo, sq_hi, sq_lo;
  Kokkos::View<WideSum*> sum_wide, sq_wide;
  ExactSum::Batch sum, sq;
  bool split_squares = false;  // x*x not exact in double: add fma's error term too
};

// MinMax / Sum / Sq select what the state holds (count always); Split: some sum is in the
// split tier (the other, if fast, uses a split constant of 0, which leaves v whole). NM: how many
// missing-value slots to test (1 serves the usual lone _FillValue: 3 compares less per value).
// Dense: the region's statistics found every value valid, so the fast loop adds them untested
// and counts each cell's run once (the same sums and counts).
template <class T, bool MinMax, bool Sum, bool Sq, bool Split, int NM = 4, bool Dense = false>
struct AddKernel {
  StoredPtr<T> raw;
  TileGeometry g;
  Missing miss;
  StateViews s;

  KOKKOS_INLINE_FUNCTION bool decode(T stored, double& x) const {
    x = static_cast<double>(stored);
    bool ok = x != miss.value[0];
    if constexpr (NM > 1) ok = ok & (x != miss.value[1]) & (x != miss.value[2]) & (x != miss.value[3]);
    if constexpr (std::is_floating_point_v<T>) ok = ok & is_valid(x);
    return ok;
  }

  // The same as an all-ones/zero mask, with v = x where valid and +0 elsewhere: bit operations
  // instead of selects keep loops with several accumulators free of branches (vectorisable).
  KOKKOS_INLINE_FUNCTION std::uint64_t decode_masked(T stored, double& x, double& v) const {
    const std::uint64_t m = decode(stored, x) ? ~std::uint64_t(0) : 0;
    std::uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    bits &= m;
    memcpy(&v, &bits, sizeof v);
    return m;
  }

  KOKKOS_INLINE_FUNCTION void operator()(std::size_t item) const {
    std::size_t lay, st;
    int len;
    g.locate(item, lay, st, len);
    if constexpr (Dense && Sum && !Sq && !MinMax && !Split)
      if (g.run_lay == 1 && s.sum.mode == ExactSum::Mode::fast) return dense_columns(lay, st, len);
    if (s.sum.mode != ExactSum::Mode::wide && s.sq.mode != ExactSum::Mode::wide) {
      in_registers(lay, st, len);
    } else {
      element_wise(lay, st, len);
    }
  }

  // Dense values, fast tier, contiguous cells (the plain time mean): `columns` cells at a time,
  // each summed over all reduced elements in registers before the next group of cells, instead
  // of every reduced element updating all `len` partial sums in memory. Each cell gets the same
  // additions in the same order as in in_registers, so the sums are the same bit for bit.
  static constexpr int columns = 32;
  template <int W>
  KOKKOS_INLINE_FUNCTION void dense_column_block(StoredPtr<T> base, std::size_t st, int w) const {
    double acc[W] = {};
    std::size_t r[tile_max_dims] = {};
    std::size_t off = 0;
    for (std::size_t e = 0; e < g.reduced; ++e) {
      const StoredPtr<T> p = base + off;
      if constexpr (W == columns) {
        for (int j = 0; j < W; ++j) acc[j] += static_cast<double>(p[j]);
      } else {
        for (int j = 0; j < w; ++j) acc[j] += static_cast<double>(p[j]);
      }
      g.next_reduced(r, off);
    }
    for (int j = 0; j < w; ++j) {
      const std::size_t c = st + j * g.run_state;
      s.count(c) += static_cast<std::int64_t>(g.reduced);
      s.sum_hi(c) += acc[j];
    }
  }
  KOKKOS_INLINE_FUNCTION void dense_columns(std::size_t lay, std::size_t st, int len) const {
    int j0 = 0;
    for (; j0 + columns <= len; j0 += columns) dense_column_block<columns>(raw + lay + j0, st + j0 * g.run_state, columns);
    if (j0 < len) dense_column_block<run_block>(raw + lay + j0, st + j0 * g.run_state, len - j0);
  }

  // Sums in the fast or split tier: vectorisable adds into per-run registers.
  KOKKOS_INLINE_FUNCTION void in_registers(std::size_t lay, std::size_t st, int len) const {
    std::int64_t k[run_block];
    double lo[run_block], hi[run_block], sh[run_block], sl[run_block], qh[run_block], ql[run_block];
    const double cs = s.sum.split_constant, cq = s.sq.split_constant;
    for (int j = 0; j < len; ++j) {
      k[j] = 0, sh[j] = 0, sl[j] = 0, qh[j] = 0, ql[j] = 0;
      if constexpr (MinMax) lo[j] = s.min(st + j * g.run_state), hi[j] = s.max(st + j * g.run_state);
    }
    auto run = [&](StoredPtr<T> p, std::size_t stride) {
      for (int j = 0; j < len; ++j) {
        [[maybe_unused]] double x;
        double v;
        [[maybe_unused]] std::uint64_t ok = ~std::uint64_t(0);
        if constexpr (Dense) {
          x = v = static_cast<double>(p[j * stride]);
        } else {
          ok = decode_masked(p[j * stride], x, v);
          k[j] += static_cast<std::int64_t>(ok & 1);
        }
        if constexpr (Sum) {
          if constexpr (Split) {
            const double top = (v + cs) - cs;  // v rounded to the split bit: exact pieces
            sh[j] += top;
            sl[j] += v - top;
          } else {
            sh[j] += v;
          }
        }
        if constexpr (Sq) {
          const double v2 = v * v;
          if constexpr (Split) {
            const double top = (v2 + cq) - cq;
            qh[j] += top;
            ql[j] += v2 - top;
          } else {
            qh[j] += v2;
          }
        }
        if constexpr (MinMax) {
          const std::uint64_t below = x < lo[j] ? ~std::uint64_t(0) : 0, above = x > hi[j] ? ~std::uint64_t(0) : 0;
          lo[j] = (ok & below) ? x : lo[j];
          hi[j] = (ok & above) ? x : hi[j];
        }
      }
      if constexpr (Sq)
        if (s.split_squares)  // fma's error term: below the quantum of v2, in the low double
          for (int j = 0; j < len; ++j) {
            double x, v;
            decode_masked(p[j * stride], x, v);
            const double e = fma(v, v, -(v * v));
            if constexpr (Split) ql[j] += e;
            else qh[j] += e;
          }
    };
    std::size_t r[tile_max_dims] = {};
    std::size_t off = 0;
    for (std::size_t e = 0; e < g.reduced; ++e) {
      const StoredPtr<T> p = raw + lay + off;
      if (g.run_lay == 1) run(p, 1);  // contiguous cells: the compiler sees stride 1
      else run(p, g.run_lay);
      g.next_reduced(r, off);
    }
    for (int j = 0; j < len; ++j) {
      const std::size_t c = st + j * g.run_state;
      s.count(c) += Dense ? static_cast<std::int64_t>(g.reduced) : k[j];
      if constexpr (Sum) {
        s.sum_hi(c) += sh[j];
        if constexpr (Split)
          if (s.sum.mode == ExactSum::Mode::split) s.sum_lo(c) += sl[j];
      }
      if constexpr (Sq) {
        s.sq_hi(c) += qh[j];
        if constexpr (Split)
          if (s.sq.mode == ExactSum::Mode::split) s.sq_lo(c) += ql[j];
      }
      if constexpr (MinMax) s.min(c) = lo[j], s.max(c) = hi[j];
    }
  }

  // Adds one value to a cell's exact sum in whatever tier the batch uses.
  KOKKOS_INLINE_FUNCTION static void add_to(const ExactSum::Batch& b, const Kokkos::View<double*>& h,
                                            const Kokkos::View<double*>& l, const Kokkos::View<WideSum*>& w,
                                            std::size_t c, double v) {
    if (b.mode == ExactSum::Mode::wide) {
      w(c).add(v, b.anchor);
    } else if (b.mode == ExactSum::Mode::split) {
      const double top = (v + b.split_constant) - b.split_constant;
      h(c) += top, l(c) += v - top;
    } else {
      h(c) += v;
    }
  }

  // Some sum needs the wide tier: element by element, straight into the cells.
  KOKKOS_INLINE_FUNCTION void element_wise(std::size_t lay, std::size_t st, int len) const {
    std::size_t r[tile_max_dims] = {};
    std::size_t off = 0;
    for (std::size_t e = 0; e < g.reduced; ++e) {
      const StoredPtr<T> p = raw + lay + off;
      for (int j = 0; j < len; ++j) {
        double x;
        if (!decode(p[j * g.run_lay], x)) continue;
        const std::size_t c = st + j * g.run_state;
        s.count(c) += 1;
        if constexpr (MinMax) {
          if (x < s.min(c)) s.min(c) = x;
          if (x > s.max(c)) s.max(c) = x;
        }
        if constexpr (Sum) add_to(s.sum, s.sum_hi, s.sum_lo, s.sum_wide, c, x);
        if constexpr (Sq) {
          const double p2 = x * x;
          add_to(s.sq, s.sq_hi, s.sq_lo, s.sq_wide, c, p2);
          if (s.split_squares) add_to(s.sq, s.sq_hi, s.sq_lo, s.sq_wide, c, fma(x, x, -p2));
        }
      }
      g.next_reduced(r, off);
    }
  }
};

// Weighted sums in one pass over stored values: sum of fl(w*x) into s.sum and sum of w into
// s.sq, over the valid x, each exact in its own tier. The weights are walked by `wg`, the same
// geometry over the weight array's strides (0 along axes the weights do not depend on). The
// product is rounded once per value, as the decoded path does, so the sums are the same.
template <class T, bool Split, int NM = 4>
struct WeightedAddKernel {
  StoredPtr<T> raw;
  const double* w;
  TileGeometry g, wg;
  Missing miss;
  StateViews s;
  Kokkos::View<std::int64_t*> count_w;  // the sum of weights' own count (same values)

  KOKKOS_INLINE_FUNCTION bool decode(T stored, double& x) const {
    x = static_cast<double>(stored);
    bool ok = x != miss.value[0];
    if constexpr (NM > 1) ok = ok & (x != miss.value[1]) & (x != miss.value[2]) & (x != miss.value[3]);
    if constexpr (std::is_floating_point_v<T>) ok = ok & is_valid(x);
    return ok;
  }

  // True where along_rows serves the geometry (the kernel picks it, and so can the one pass).
  static bool rows_apply(const TileGeometry& g, const TileGeometry& wg) {
    return g.run_lay != 1 && g.nred > 0 && g.rlay[g.nred - 1] == 1 && wg.rlay[g.nred - 1] <= 1;
  }

  KOKKOS_INLINE_FUNCTION static double masked(double x, std::uint64_t m) {
    std::uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    bits &= m;
    memcpy(&x, &bits, sizeof x);
    return x;
  }

  KOKKOS_INLINE_FUNCTION void operator()(std::size_t item) const {
    std::size_t lay, st, wlay, wst;
    int len, wlen;
    g.locate(item, lay, st, len);
    wg.locate(item, wlay, wst, wlen);
    if (s.sum.mode == ExactSum::Mode::wide || s.sq.mode == ExactSum::Mode::wide) element_wise(lay, wlay, st, len);
    else if (rows_apply(g, wg)) along_rows<false>(lay, wlay, st, len);  // cells far apart, reduced values contiguous: e.g. fldmean
    else in_registers(lay, wlay, st, len);
  }

  // The one pass (ReductionState::add_weighted_in_one_pass): along_rows with the batches in `s`
  // guessed from the regions before, each cell's sums into `out` (per cell of the region, in item
  // order: count, sum hi, sum lo, weights hi, weights lo) instead of the state, and the region's
  // statistics measured as region_stats does (over the valid values): the caller keeps the sums
  // when those statistics choose the very batches guessed.
  using Bits = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;
  static constexpr int measured_fields = 5;
  double* out = nullptr;
  static std::size_t region_cells(const TileGeometry& g) { return (g.items / g.blocks) * g.run_len; }
  KOKKOS_INLINE_FUNCTION double* measured(std::size_t item) const {
    return out + measured_fields * ((item / g.blocks) * g.run_len + (item % g.blocks) * run_block);
  }
  KOKKOS_INLINE_FUNCTION void operator()(std::size_t item, Bits& hi, Bits& lo, Bits& bad) const {
    std::size_t lay, st, wlay, wst;
    int len, wlen;
    g.locate(item, lay, st, len);
    wg.locate(item, wlay, wst, wlen);
    along_rows<true>(lay, wlay, st, len, measured(item), &hi, &lo, &bad);
  }

  // One cell at a time over contiguous rows of its reduced values, in `lanes` independent exact
  // partial sums (any partial sum is within the batch's bounds, so adding the lanes is exact).
  static constexpr int lanes = 8;
  template <bool Measure>
  KOKKOS_INLINE_FUNCTION void along_rows(std::size_t lay, std::size_t wlay, std::size_t st, int len,
                                         double* to = nullptr, Bits* hi_io = nullptr, Bits* lo_io = nullptr,
                                         Bits* bad_io = nullptr) const {
    const int last = g.nred - 1;
    const std::size_t n = g.rcount[last], rows = g.reduced / g.rcount[last];
    const double cs = s.sum.split_constant, cw = s.sq.split_constant;
    // Measure: per lane, the statistics of FlatStats::scan (tile_kernels.cpp) on the valid values,
    // kept as doubles (the largest and smallest non-zero magnitude, exact conversions of stored
    // values) so the lanes stay 64-bit wide like the sums (no shuffles to 32-bit masks).
    [[maybe_unused]] double mx[lanes], mn[lanes];
    [[maybe_unused]] std::uint64_t mb[lanes];
    if constexpr (Measure)
      for (int l = 0; l < lanes; ++l) mx[l] = 0, mn[l] = HUGE_VAL, mb[l] = 0;
    for (int j = 0; j < len; ++j) {
      std::int64_t k[lanes] = {};
      double sh[lanes] = {}, sl[lanes] = {}, wh[lanes] = {}, wl[lanes] = {};
      // with_weights false: the caller adds the weights' sum for the whole row (one weight).
      auto add = [&](T stored, double wv, int l, auto with_weights) {
        double x;
        const std::uint64_t ok = decode(stored, x) ? ~std::uint64_t(0) : 0;
        if constexpr (Measure) {
          const double ax = masked(fabs(x), ok), nz = ax == 0 ? HUGE_VAL : ax;
          mx[l] = ax > mx[l] ? ax : mx[l];
          mn[l] = nz < mn[l] ? nz : mn[l];
          mb[l] |= ~ok;
        }
        wv = masked(wv, ok);
        const double v = masked(x, ok) * wv;
        k[l] += static_cast<std::int64_t>(ok & 1);
        if constexpr (Split) {
          const double top = (v + cs) - cs;
          sh[l] += top, sl[l] += v - top;
          if constexpr (decltype(with_weights)::value) {
            const double wtop = (wv + cw) - cw;
            wh[l] += wtop, wl[l] += wv - wtop;
          }
        } else {
          sh[l] += v;
          if constexpr (decltype(with_weights)::value) wh[l] += wv;
        }
      };
      // wstride: 1, 0, or -1 for 0 with the weights' sum left to the caller.
      auto row = [&](StoredPtr<T> p, const double* q, auto wstride) {
        constexpr int ws = decltype(wstride)::value;
        constexpr std::size_t step = ws == 1 ? 1 : 0;
        const std::integral_constant<bool, ws >= 0> with_weights;
        std::size_t i = 0;
        for (; i + lanes <= n; i += lanes)
          for (int l = 0; l < lanes; ++l) add(p[i + l], q[(i + l) * step], l, with_weights);
        for (; i < n; ++i) add(p[i], q[i * step], 0, with_weights);
      };
      // One weight for the whole row (e.g. area weights along longitude): the weight's sum over
      // the row's valid values is k copies of the same split pieces, and k * piece is that exact
      // partial sum (every partial sum in the batch is exact, hence representable), so it is
      // added once per row instead of once per value: the same sums, bit for bit.
      auto row_one_weight = [&](StoredPtr<T> p, const double* q) {
        std::int64_t before = 0, after = 0;
        for (int l = 0; l < lanes; ++l) before += k[l];
        row(p, q, std::integral_constant<int, -1>());
        for (int l = 0; l < lanes; ++l) after += k[l];
        const double wv = q[0], wtop = Split ? (wv + cw) - cw : wv;
        wh[0] += static_cast<double>(after - before) * wtop;
        if constexpr (Split) wl[0] += static_cast<double>(after - before) * (wv - wtop);
      };
      std::size_t r[tile_max_dims] = {};
      std::size_t off = lay + j * g.run_lay, woff = wlay + j * wg.run_lay;
      for (std::size_t e = 0; e < rows; ++e) {
        if (wg.rlay[last] == 1) row(raw + off, w + woff, std::integral_constant<int, 1>());
        else row_one_weight(raw + off, w + woff);
        for (int a = last - 1; a >= 0; --a) {  // the odometer over the other reduced axes
          off += g.rlay[a], woff += wg.rlay[a];
          if (++r[a] < g.rcount[a]) break;
          off -= g.rcount[a] * g.rlay[a], woff -= g.rcount[a] * wg.rlay[a];
          r[a] = 0;
        }
      }
      const std::size_t c = st + j * g.run_state;
      if constexpr (Measure) {
        // Every partial sum of a batch is exact, so the lanes add up in any order.
        double* o = to + measured_fields * j;
        for (int f = 0; f < measured_fields; ++f) o[f] = 0;
        for (int l = 0; l < lanes; ++l) {
          o[0] += static_cast<double>(k[l]);
          o[1] += sh[l], o[2] += sl[l], o[3] += wh[l], o[4] += wl[l];
        }
        continue;
      }
      for (int l = 0; l < lanes; ++l) {
        s.count(c) += k[l];
        count_w(c) += k[l];
        s.sum_hi(c) += sh[l];
        s.sq_hi(c) += wh[l];
        if constexpr (Split) {
          if (s.sum.mode == ExactSum::Mode::split) s.sum_lo(c) += sl[l];
          if (s.sq.mode == ExactSum::Mode::split) s.sq_lo(c) += wl[l];
        }
      }
    }
    if constexpr (Measure)
      for (int l = 0; l < lanes; ++l) {
        // Back to the scan's integers: the magnitude's bits, (smallest non-zero's bits) - 1.
        const T big = static_cast<T>(mx[l]), small = static_cast<T>(mn[l]);
        Bits h, s1;
        memcpy(&h, &big, sizeof h);
        memcpy(&s1, &small, sizeof s1);
        const Bits lo = mn[l] == HUGE_VAL ? ~Bits(0) : s1 - 1;
        *hi_io = h > *hi_io ? h : *hi_io;
        *lo_io = lo < *lo_io ? lo : *lo_io;
        *bad_io |= mb[l] ? ~Bits(0) : Bits(0);
      }
  }

  // Adds what the one pass measured (`out`) to the state, cell by cell as along_rows would.
  struct Commit {
    WeightedAddKernel k;
    KOKKOS_INLINE_FUNCTION void operator()(std::size_t item) const {
      std::size_t lay, st;
      int len;
      k.g.locate(item, lay, st, len);
      for (int j = 0; j < len; ++j) {
        const std::size_t c = st + j * k.g.run_state;
        const double* o = k.measured(item) + measured_fields * j;
        const auto n = static_cast<std::int64_t>(o[0]);
        k.s.count(c) += n;
        k.count_w(c) += n;
        k.s.sum_hi(c) += o[1];
        k.s.sq_hi(c) += o[3];
        if (k.s.sum.mode == ExactSum::Mode::split) k.s.sum_lo(c) += o[2];
        if (k.s.sq.mode == ExactSum::Mode::split) k.s.sq_lo(c) += o[4];
      }
    }
  };

  KOKKOS_INLINE_FUNCTION void in_registers(std::size_t lay, std::size_t wlay, std::size_t st, int len) const {
    std::int64_t k[run_block];
    double sh[run_block], sl[run_block], wh[run_block], wl[run_block];
    const double cs = s.sum.split_constant, cw = s.sq.split_constant;
    for (int j = 0; j < len; ++j) k[j] = 0, sh[j] = 0, sl[j] = 0, wh[j] = 0, wl[j] = 0;
    auto run = [&](StoredPtr<T> p, std::size_t stride, const double* q, std::size_t wstride) {
      for (int j = 0; j < len; ++j) {
        double x;
        const std::uint64_t ok = decode(p[j * stride], x) ? ~std::uint64_t(0) : 0;
        const double wv = masked(q[j * wstride], ok), v = masked(x, ok) * wv;
        k[j] += static_cast<std::int64_t>(ok & 1);
        if constexpr (Split) {
          const double top = (v + cs) - cs, wtop = (wv + cw) - cw;
          sh[j] += top, sl[j] += v - top;
          wh[j] += wtop, wl[j] += wv - wtop;
        } else {
          sh[j] += v, wh[j] += wv;
        }
      }
    };
    std::size_t r[tile_max_dims] = {}, wr[tile_max_dims] = {};
    std::size_t off = 0, woff = 0;
    for (std::size_t e = 0; e < g.reduced; ++e) {
      const StoredPtr<T> p = raw + lay + off;
      const double* q = w + wlay + woff;
      if (g.run_lay == 1 && wg.run_lay == 1) run(p, 1, q, 1);  // both contiguous: stride 1 for the compiler
      else if (wg.run_lay == 0) run(p, g.run_lay, q, 0);      // one weight for the whole run
      else run(p, g.run_lay, q, wg.run_lay);
      g.next_reduced(r, off);
      wg.next_reduced(wr, woff);
    }
    for (int j = 0; j < len; ++j) {
      const std::size_t c = st + j * g.run_state;
      s.count(c) += k[j];
      count_w(c) += k[j];
      s.sum_hi(c) += sh[j];
      s.sq_hi(c) += wh[j];
      if constexpr (Split) {
        if (s.sum.mode == ExactSum::Mode::split) s.sum_lo(c) += sl[j];
        if (s.sq.mode == ExactSum::Mode::split) s.sq_lo(c) += wl[j];
      }
    }
  }

  KOKKOS_INLINE_FUNCTION void element_wise(std::size_t lay, std::size_t wlay, std::size_t st, int len) const {
    std::size_t r[tile_max_dims] = {}, wr[tile_max_dims] = {};
    std::size_t off = 0, woff = 0;
    for (std::size_t e = 0; e < g.reduced; ++e) {
      const StoredPtr<T> p = raw + lay + off;
      const double* q = w + wlay + woff;
      for (int j = 0; j < len; ++j) {
        double x;
        if (!decode(p[j * g.run_lay], x)) continue;
        const double wv = q[j * wg.run_lay];
        const std::size_t c = st + j * g.run_state;
        s.count(c) += 1;
        count_w(c) += 1;
        AddKernel<T, false, true, false, false>::add_to(s.sum, s.sum_hi, s.sum_lo, s.sum_wide, c, x * wv);
        AddKernel<T, false, true, false, false>::add_to(s.sq, s.sq_hi, s.sq_lo, s.sq_wide, c, wv);
      }
      g.next_reduced(r, off);
      wg.next_reduced(wr, woff);
    }
  }
};

}  // namespace tessera::detail
