#pragma once
// The plain sum/mean of floating-point data in one pass: measures a region exactly as
// region_stats does (largest magnitude, smallest non-zero magnitude, any missing or non-finite
// value) while summing each cell's values in registers into a scratch array, so the region is
// read once instead of twice. The caller adds the sums to the state only when the measurement
// shows the region is dense and the exact sum stays in the fast tier: they are then the very
// sums the dense kernel would have added (the same values in the same order). Otherwise it runs
// the usual kernels with the measured statistics. Internal to reduce/ (reduction_state.cpp).
#include <Kokkos_Core.hpp>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "reduce/stored_ptr.hpp"
#include "reduce/tile_geometry.hpp"

namespace tessera::detail {

template <class T>
struct MeasuredSumKernel {
  static_assert(std::is_floating_point_v<T>, "stored floats only");
  using Bits = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;
  using Signed = std::make_signed_t<Bits>;
  // Cells summed at once, and lanes of the statistics (kept for a whole item, folded once):
  // few enough that sums, statistics and constants stay in the 16 AVX2 registers.
  static constexpr int columns = 8;

  StoredPtr<T> raw;
  TileGeometry g;
  T fill;         // the lone missing value in the stored type
  Bits use_fill;  // all ones when `fill` is a missing value (0: nothing is)
  double* sums;   // per cell of the region, in item order (see first_cell)

  KOKKOS_INLINE_FUNCTION std::size_t first_cell(std::size_t item) const {
    return (item / g.blocks) * g.run_len + (item % g.blocks) * run_block;
  }

  KOKKOS_INLINE_FUNCTION void operator()(std::size_t item, Bits& hi, Bits& lo, Bits& bad) const {
    std::size_t lay, st;
    int len;
    g.locate(item, lay, st, len);
    double* out = sums + first_cell(item);
    Bits h[columns], l[columns], b[columns];
    for (int j = 0; j < columns; ++j) h[j] = 0, l[j] = ~Bits(0), b[j] = 0;
    int j0 = 0;
    for (; j0 + columns <= len; j0 += columns) block<true>(raw + lay + j0, out + j0, columns, h, l, b);
    if (j0 < len) block<false>(raw + lay + j0, out + j0, len - j0, h, l, b);
    for (int j = 0; j < columns; ++j) {
      hi = h[j] > hi ? h[j] : hi;
      lo = l[j] < lo ? l[j] : lo;
      bad |= b[j];
    }
  }

  // Whole: w == columns, a constant trip count the compiler keeps in registers.
  template <bool Whole>
  KOKKOS_INLINE_FUNCTION void block(StoredPtr<T> base, double* out, int w, Bits* h_io, Bits* l_io, Bits* b_io) const {
    const Bits one = ~Bits(0);
    // Local copies of the lanes: through pointers GCC does not keep them in vector registers.
    Bits h[columns], l[columns], b[columns];
    for (int j = 0; j < columns; ++j) h[j] = h_io[j], l[j] = l_io[j], b[j] = b_io[j];
    const Signed finite = sizeof(T) == 8 ? Signed(0x7ff0000000000000ll) : Signed(0x7f800000);
    double acc[columns] = {};
    // The per-value statistics of FlatStats::scan (tile_kernels.cpp) with one fill slot; the
    // magnitude has no sign bit, so a signed compare (one instruction) tests finiteness.
    auto add = [&](StoredPtr<T> p, int j) {
      const T v = p[j];
      Bits a;
      memcpy(&a, &v, sizeof a);
      a &= one >> 1;
      Bits ok = static_cast<Signed>(a) < finite ? one : 0;
      ok &= ~((v == fill ? one : 0) & use_fill);
      const Bits am = a & ok, an = am - 1;
      h[j] = am > h[j] ? am : h[j];
      l[j] = an < l[j] ? an : l[j];
      b[j] |= ~ok;
      acc[j] += static_cast<double>(v);
    };
    std::size_t r[tile_max_dims] = {};
    std::size_t off = 0;
    // One reduced axis (the time mean): a plain stride instead of the odometer.
    const bool one_axis = g.nred == 1;
    const std::size_t stride = g.rlay[0];
    for (std::size_t e = 0; e < g.reduced; ++e) {
      const StoredPtr<T> p = base + off;
      if constexpr (Whole) {
        for (int j = 0; j < columns; ++j) add(p, j);
      } else {
        for (int j = 0; j < w; ++j) add(p, j);
      }
      if (one_axis) off += stride;
      else g.next_reduced(r, off);
    }
    for (int j = 0; j < w; ++j) out[j] = acc[j];
    for (int j = 0; j < columns; ++j) h_io[j] = h[j], l_io[j] = l[j], b_io[j] = b[j];
  }
};

// Adds the sums of MeasuredSumKernel to the state's cells (count: every reduced element).
struct CommitSumKernel {
  TileGeometry g;
  const double* sums;
  Kokkos::View<std::int64_t*> count;
  Kokkos::View<double*> sum_hi;

  KOKKOS_INLINE_FUNCTION void operator()(std::size_t item) const {
    std::size_t lay, st;
    int len;
    g.locate(item, lay, st, len);
    const double* in = sums + (item / g.blocks) * g.run_len + (item % g.blocks) * run_block;
    for (int j = 0; j < len; ++j) {
      const std::size_t c = st + j * g.run_state;
      count(c) += static_cast<std::int64_t>(g.reduced);
      sum_hi(c) += in[j];
    }
  }
};

}  // namespace tessera::detail
