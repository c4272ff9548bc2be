#pragma once
// The accumulation kernel: decodes stored values on the fly (fill values, NaN) and adds them to
// the cells' counts, min/max and exact sums. Internal to reduce/ (included by reduction_state.cpp).
#include <Kokkos_Core.hpp>

#include <type_traits>

#include "reduce/exact_sum.hpp"
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
  Kokkos::View<double*> min, max, sum_fast, sq_fast;
  Kokkos::View<WideSum*> sum_wide, sq_wide;
  bool sum_is_fast = true, sq_is_fast = true;
  int sum_anchor = 0, sq_anchor = 0;
  bool split_squares = false;  // x*x not exact in double: add fma's error term too
};

// MinMax / Sum / Sq select what the state holds (count always).
template <class T, bool MinMax, bool Sum, bool Sq>
struct AddKernel {
  const T* raw;
  TileGeometry g;
  Missing miss;
  StateViews s;

  KOKKOS_INLINE_FUNCTION bool decode(T stored, double& x) const {
    x = static_cast<double>(stored);
    bool ok = (x != miss.value[0]) & (x != miss.value[1]) & (x != miss.value[2]) & (x != miss.value[3]);
    if constexpr (std::is_floating_point_v<T>) ok = ok & is_valid(x);
    return ok;
  }

  KOKKOS_INLINE_FUNCTION void operator()(std::size_t item) const {
    std::size_t lay, st;
    int len;
    g.locate(item, lay, st, len);
    if (s.sum_is_fast && s.sq_is_fast) {
      fast(lay, st, len);
    } else {
      wide(lay, st, len);
    }
  }

  // Every sum provably exact in double: plain, vectorisable adds into per-run registers.
  KOKKOS_INLINE_FUNCTION void fast(std::size_t lay, std::size_t st, int len) const {
    std::int64_t k[run_block];
    double lo[run_block], hi[run_block], sm[run_block], sq[run_block];
    for (int j = 0; j < len; ++j) {
      k[j] = 0, sm[j] = 0, sq[j] = 0;
      if constexpr (MinMax) lo[j] = s.min(st + j * g.run_state), hi[j] = s.max(st + j * g.run_state);
    }
    auto run = [&](const T* p, std::size_t stride) {
      for (int j = 0; j < len; ++j) {
        double x;
        const bool ok = decode(p[j * stride], x);
        const double v = ok ? x : 0.0;
        k[j] += ok;
        if constexpr (Sum) sm[j] += v;
        if constexpr (Sq) sq[j] += v * v;
        if constexpr (MinMax) {
          lo[j] = ok && x < lo[j] ? x : lo[j];
          hi[j] = ok && x > hi[j] ? x : hi[j];
        }
      }
      if constexpr (Sq)
        if (s.split_squares)
          for (int j = 0; j < len; ++j) {
            double x;
            const double v = decode(p[j * stride], x) ? x : 0.0;
            sq[j] += fma(v, v, -(v * v));
          }
    };
    std::size_t r[tile_max_dims] = {};
    std::size_t off = 0;
    for (std::size_t e = 0; e < g.reduced; ++e) {
      const T* p = raw + lay + off;
      if (g.run_lay == 1) run(p, 1);  // contiguous cells: the compiler sees stride 1
      else run(p, g.run_lay);
      g.next_reduced(r, off);
    }
    for (int j = 0; j < len; ++j) {
      const std::size_t c = st + j * g.run_state;
      s.count(c) += k[j];
      if constexpr (Sum) s.sum_fast(c) += sm[j];
      if constexpr (Sq) s.sq_fast(c) += sq[j];
      if constexpr (MinMax) s.min(c) = lo[j], s.max(c) = hi[j];
    }
  }

  // Some sum needs the 256-bit tier: element by element, straight into the cells.
  KOKKOS_INLINE_FUNCTION void wide(std::size_t lay, std::size_t st, int len) const {
    std::size_t r[tile_max_dims] = {};
    std::size_t off = 0;
    for (std::size_t e = 0; e < g.reduced; ++e) {
      const T* p = raw + lay + off;
      for (int j = 0; j < len; ++j) {
        double x;
        if (!decode(p[j * g.run_lay], x)) continue;
        const std::size_t c = st + j * g.run_state;
        s.count(c) += 1;
        if constexpr (MinMax) {
          if (x < s.min(c)) s.min(c) = x;
          if (x > s.max(c)) s.max(c) = x;
        }
        if constexpr (Sum) {
          if (s.sum_is_fast) s.sum_fast(c) += x;
          else s.sum_wide(c).add(x, s.sum_anchor);
        }
        if constexpr (Sq) {
          const double p2 = x * x, e2 = s.split_squares ? fma(x, x, -p2) : 0.0;
          if (s.sq_is_fast) s.sq_fast(c) += p2, s.sq_fast(c) += e2;
          else s.sq_wide(c).add(p2, s.sq_anchor), s.sq_wide(c).add(e2, s.sq_anchor);
        }
      }
      g.next_reduced(r, off);
    }
  }
};

}  // namespace tessera::detail
