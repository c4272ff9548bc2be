#include "reduce/tile_kernels.hpp"

#include "reduce/tile_geometry.hpp"

#include <climits>
#include <cmath>
#include <limits>
#include <cstring>

namespace tessera {
namespace {

template <class T>
void decode_typed(const RawBytes& raw, std::size_t n, const Decoding& dec, const TileValues& out) {
  // Raw bytes live on the host (readers fill them); values live in the default memory space.
  Kokkos::View<const T*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> src(
      reinterpret_cast<const T*>(raw.data()), n);
  auto dst = Kokkos::create_mirror_view(Kokkos::HostSpace(), out);
  const int nm = dec.n_missing;
  double miss[Decoding::max_missing];
  for (int i = 0; i < Decoding::max_missing; ++i) miss[i] = dec.missing[i];
  Kokkos::parallel_for("decode_tile", Kokkos::RangePolicy<Kokkos::DefaultHostExecutionSpace>(0, n),
                       KOKKOS_LAMBDA(std::size_t i) {
                         double x = static_cast<double>(src(i));
                         for (int k = 0; k < nm; ++k)
                           if (x == miss[k]) x = NAN;
                         dst(i) = x;
                       });
  Kokkos::deep_copy(out, dst);
}

}  // namespace

void decode_tile(DType type, const RawBytes& raw, std::size_t n, const Decoding& dec, const TileValues& out) {
  switch (type) {
    case DType::i8: return decode_typed<std::int8_t>(raw, n, dec, out);
    case DType::u8: return decode_typed<std::uint8_t>(raw, n, dec, out);
    case DType::i16: return decode_typed<std::int16_t>(raw, n, dec, out);
    case DType::u16: return decode_typed<std::uint16_t>(raw, n, dec, out);
    case DType::i32: return decode_typed<std::int32_t>(raw, n, dec, out);
    case DType::u32: return decode_typed<std::uint32_t>(raw, n, dec, out);
    case DType::i64: return decode_typed<std::int64_t>(raw, n, dec, out);
    case DType::u64: return decode_typed<std::uint64_t>(raw, n, dec, out);
    case DType::f32: return decode_typed<float>(raw, n, dec, out);
    case DType::f64: return decode_typed<double>(raw, n, dec, out);
  }
}

namespace {

KOKKOS_INLINE_FUNCTION int quantum_exponent(double x, int mantissa_bits) {
  std::uint64_t bits;
  memcpy(&bits, &x, sizeof bits);
  const int biased = static_cast<int>((bits >> 52) & 0x7ff);
  // Stored integers are multiples of 1; floats of 2^(exponent - mantissa bits).
  return mantissa_bits == 0 ? 0 : (biased ? biased - 1023 : -1074) - mantissa_bits;
}

// Largest and smallest non-zero magnitude of the valid values of a region, in runs like the
// accumulation kernel (per-lane extremes, folded at the end: element-wise selects vectorise).
template <class T>
struct StatsKernel {
  const T* raw;
  TileGeometry g;
  double m[Decoding::max_missing];  // unused slots are NaN: never equal

  KOKKOS_INLINE_FUNCTION void run(const T* p, std::size_t stride, int len, double* h, double* l) const {
    // Locals, not members: h and l could otherwise alias *this and block vectorisation.
    const double m0 = m[0], m1 = m[1], m2 = m[2], m3 = m[3];
    for (int j = 0; j < len; ++j) {
      const double x = static_cast<double>(p[j * stride]);
      const bool ok = is_valid(x) & (x != m0) & (x != m1) & (x != m2) & (x != m3);
      const double a = ok ? fabs(x) : 0.0;
      const double nz = a != 0.0 ? a : HUGE_VAL;  // zeros do not set the quantum
      h[j] = a > h[j] ? a : h[j];
      l[j] = nz < l[j] ? nz : l[j];
    }
  }

  KOKKOS_INLINE_FUNCTION void operator()(std::size_t item, double& hi, double& lo) const {
    std::size_t lay, st;
    int len;
    g.locate(item, lay, st, len);
    double h[run_block], l[run_block];
    for (int j = 0; j < len; ++j) h[j] = 0.0, l[j] = HUGE_VAL;
    std::size_t r[tile_max_dims] = {};
    std::size_t off = 0;
    for (std::size_t e = 0; e < g.reduced; ++e) {
      if (g.run_lay == 1) run(raw + lay + off, 1, len, h, l);
      else run(raw + lay + off, g.run_lay, len, h, l);
      g.next_reduced(r, off);
    }
    for (int j = 0; j < len; ++j) {
      hi = h[j] > hi ? h[j] : hi;
      lo = l[j] < lo ? l[j] : lo;
    }
  }
};

template <class T>
TileStats region_stats_typed(const RawTile& tile, const Box& region, const Decoding& dec) {
  // Runs along the region's last axis (contiguous in the tile); the other axes are walked.
  const std::size_t last = region.rank() - 1;
  AxisMap axes;
  axes.kept = {last};
  for (std::size_t i = 0; i < last; ++i) axes.reduced.push_back(i);
  StatsKernel<T> k{static_cast<const T*>(tile.data),
                   TileGeometry(tile.layout, region, Box({region.start[last]}, {region.count[last]}), axes),
                   {}};
  for (int i = 0; i < Decoding::max_missing; ++i) k.m[i] = i < dec.n_missing ? dec.missing[i] : NAN;
  double max_abs = 0.0, min_abs = HUGE_VAL;
  Kokkos::parallel_reduce("region_stats", k.g.items, k, Kokkos::Max<double>(max_abs), Kokkos::Min<double>(min_abs));
  // Kokkos starts Min/Max at the largest finite doubles: no valid non-zero value leaves them there.
  if (!(max_abs > 0.0)) max_abs = 0.0;
  // The finest quantum belongs to the smallest magnitude (the exponent is monotonic in |x|).
  const int q = min_abs >= std::numeric_limits<double>::max() ? INT_MAX : quantum_exponent(min_abs, dec.mantissa_bits);
  return {max_abs, q};
}

}  // namespace

TileStats tile_stats(const TileValues& v, std::size_t n, int mantissa_bits) {
  Decoding dec;
  dec.mantissa_bits = mantissa_bits;
  return region_stats(RawTile{DType::f64, v.data(), Box({0}, {n})}, Box({0}, {n}), dec);
}

TileStats region_stats(const RawTile& tile, const Box& region, const Decoding& dec) {
  switch (tile.type) {
    case DType::i8: return region_stats_typed<std::int8_t>(tile, region, dec);
    case DType::u8: return region_stats_typed<std::uint8_t>(tile, region, dec);
    case DType::i16: return region_stats_typed<std::int16_t>(tile, region, dec);
    case DType::u16: return region_stats_typed<std::uint16_t>(tile, region, dec);
    case DType::i32: return region_stats_typed<std::int32_t>(tile, region, dec);
    case DType::u32: return region_stats_typed<std::uint32_t>(tile, region, dec);
    case DType::i64: return region_stats_typed<std::int64_t>(tile, region, dec);
    case DType::u64: return region_stats_typed<std::uint64_t>(tile, region, dec);
    case DType::f32: return region_stats_typed<float>(tile, region, dec);
    case DType::f64: return region_stats_typed<double>(tile, region, dec);
  }
  return {};
}

}  // namespace tessera
