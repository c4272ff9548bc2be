#pragma once
// Kernels over one tile: decode stored values to doubles (missing -> NaN) and measure what the
// exact-sum planner needs (largest magnitude, finest quantum).
#include <Kokkos_Core.hpp>

#include <cstdint>

#include "cf/decoding.hpp"
#include "core/dtype.hpp"
#include "decomp/box.hpp"

namespace tessera {

using TileValues = Kokkos::View<double*>;
using RawBytes = Kokkos::View<char*, Kokkos::HostSpace>;  // what readers fill (host memory)

// Decodes n stored values of type `type` from `raw` into `out` (first n entries).
void decode_tile(DType type, const RawBytes& raw, std::size_t n, const Decoding& dec, const TileValues& out);

struct TileStats {
  double max_abs = 0.0;  // over valid values
  int min_qexp;          // every valid value is a multiple of 2^min_qexp (INT_MAX: none non-zero)
  bool all_valid = false;  // measured: no missing or non-finite value (kernels skip the test)
};

TileStats tile_stats(const TileValues& v, std::size_t n, int mantissa_bits);

struct RawTile;
// The same measured on stored values of `region` inside a raw tile, decoded with `dec`.
TileStats region_stats(const RawTile& tile, const Box& region, const Decoding& dec);

// What region_stats returns for a non-empty region of stored floats (float32: 32-bit, double:
// 64-bit words), from its scan's integer results: the largest magnitude's bits, the smallest
// non-zero magnitude's bits minus one (all ones: none), and the OR of the "not valid" masks.
TileStats float_scan_stats(std::uint32_t hi, std::uint32_t lo, std::uint32_t bad, int mantissa_bits);
TileStats float_scan_stats(std::uint64_t hi, std::uint64_t lo, std::uint64_t bad, int mantissa_bits);

// Valid means finite: NaN marks missing values and infinities are not averaged.
KOKKOS_INLINE_FUNCTION bool is_valid(double x) { return (x - x) == 0.0; }

}  // namespace tessera
