#include "reduce/tile_kernels.hpp"

#include "core/dtype_visit.hpp"
#include "core/error.hpp"
#include "reduce/stored_ptr.hpp"
#include "reduce/tile_geometry.hpp"

#include <climits>
#include <cmath>
#include <limits>
#include <type_traits>
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
  visit_dtype(type, [&](auto v) { decode_typed<decltype(v)>(raw, n, dec, out); });
}

namespace {

KOKKOS_INLINE_FUNCTION int quantum_exponent(double x, int mantissa_bits) {
  std::uint64_t bits;
  memcpy(&bits, &x, sizeof bits);
  const int biased = static_cast<int>((bits >> 52) & 0x7ff);
  // Stored integers are multiples of 1; floats of 2^(exponent - mantissa bits).
  return mantissa_bits == 0 ? 0 : (biased ? biased - 1023 : -1074) - mantissa_bits;
}

// The whole tile, flat: magnitudes compared as integers (the bits of a finite float or double
// without its sign order like its magnitude; stored integers are integers), so the max/min
// reductions vectorise without fast-math. Fill values are compared in the stored type; NM: how
// many of the fill slots are tested (1 for the usual lone _FillValue).
template <class T, int NM = Decoding::max_missing>
struct FlatStats {
  using Bits = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;
  static constexpr std::size_t chunk = 4096;
  detail::StoredPtr<T> raw;
  std::size_t n;
  T fill[Decoding::max_missing];
  Bits use[Decoding::max_missing];  // all ones where fill[k] is a missing value

  // Largest magnitude bits and (smallest non-zero magnitude bits) - 1 of x[0..len), as masks and
  // integer min/max over locals only: no branch, no bool logic, so GCC vectorises it.
  // b_out: all ones in any bit where some value was missing or not finite (0: all valid).
  KOKKOS_INLINE_FUNCTION void scan(detail::StoredPtr<T> x, std::size_t len, Bits& h_out, Bits& l_out, Bits& b_out) const {
    const Bits one = ~Bits(0);
    const T f0 = fill[0], f1 = fill[1], f2 = fill[2], f3 = fill[3];
    const Bits m0 = use[0], m1 = use[1], m2 = use[2], m3 = use[3];
    Bits h = 0, l = one, b = 0;
    for (std::size_t i = 0; i < len; ++i) {
      const T v = x[i];
      Bits a, ok;
      if constexpr (std::is_floating_point_v<T>) {
        memcpy(&a, &v, sizeof a);
        a &= one >> 1;  // drop the sign
        ok = a < (sizeof(T) == 8 ? Bits(0x7ff0000000000000ull) : Bits(0x7f800000u)) ? one : 0;  // finite
      } else if constexpr (std::is_signed_v<T>) {
        a = v < 0 ? Bits(0) - static_cast<Bits>(v) : static_cast<Bits>(v);  // |v| without overflow
        ok = one;
      } else {
        a = static_cast<Bits>(v);
        ok = one;
      }
      ok &= ~((v == f0 ? one : 0) & m0);
      if constexpr (NM > 1)
        ok &= ~((v == f1 ? one : 0) & m1) & ~((v == f2 ? one : 0) & m2) & ~((v == f3 ? one : 0) & m3);
      const Bits am = a & ok;
      const Bits an = am - 1;  // 0 (missing or zero) wraps to the largest value: never the minimum
      h = am > h ? am : h;
      l = an < l ? an : l;
      b |= ~ok;
    }
    h_out = h;
    l_out = l;
    b_out = b;
  }

  KOKKOS_INLINE_FUNCTION void operator()(std::size_t item, Bits& hi, Bits& lo, Bits& bad) const {
    const std::size_t b = item * chunk, e = b + chunk < n ? b + chunk : n;
    Bits h, l, m;
    scan(raw + b, e - b, h, l, m);
    hi = h > hi ? h : hi;
    lo = l < lo ? l : lo;
    bad |= m;
  }

  static double magnitude(Bits a) {
    if constexpr (std::is_floating_point_v<T>) {
      T v;
      memcpy(&v, &a, sizeof v);
      return static_cast<double>(v);
    } else {
      return static_cast<double>(a);
    }
  }
};

// Rows of a region (its extent along the tile's last axis, contiguous in memory), each scanned
// whole like the flat tile: called right before the region is reduced, it also brings the region
// into cache for the accumulation kernels.
template <class T, int NM>
struct RowStats {
  FlatStats<T, NM> flat;
  int nd = 0;  // axes before the last
  std::size_t count[tile_max_dims] = {}, stride[tile_max_dims] = {};
  std::size_t base = 0, len = 0;

  using Bits = typename FlatStats<T, NM>::Bits;
  KOKKOS_INLINE_FUNCTION void operator()(std::size_t row, Bits& hi, Bits& lo, Bits& bad) const {
    std::size_t off = base;
    for (int a = nd - 1; a >= 0; --a) off += (row % count[a]) * stride[a], row /= count[a];
    Bits h, l, m;
    flat.scan(flat.raw + off, len, h, l, m);
    hi = h > hi ? h : hi;
    lo = l < lo ? l : lo;
    bad |= m;
  }
};

template <class T>
TileStats scan_result(typename FlatStats<T>::Bits hi, typename FlatStats<T>::Bits lo, typename FlatStats<T>::Bits bad,
                      bool nonempty, int mantissa_bits) {
  using Bits = typename FlatStats<T>::Bits;
  // lo holds (smallest non-zero magnitude) - 1; all ones: no valid non-zero value.
  const int q = lo == ~Bits(0) ? INT_MAX : quantum_exponent(FlatStats<T>::magnitude(lo + 1), mantissa_bits);
  return {FlatStats<T>::magnitude(hi), q, nonempty && bad == 0};
}

template <class T, int NM>
TileStats region_stats_typed(const RawTile& tile, const Box& region, const Decoding& dec) {
  using K = FlatStats<T, NM>;
  using Bits = typename K::Bits;
  K flat{detail::StoredPtr<T>(tile.data), 0, {}, {}};
  // A fill value that the stored type cannot hold matches nothing.
  for (int i = 0; i < dec.n_missing; ++i) {
    const double f = dec.missing[i];
    const T t = static_cast<T>(f);
    if (static_cast<double>(t) == f) flat.fill[i] = t, flat.use[i] = ~Bits(0);
  }
  Bits hi = 0, lo = ~Bits(0), bad = 0;
  if (region == tile.layout) {
    flat.n = static_cast<std::size_t>(volume(tile.layout));
    Kokkos::parallel_reduce("tile_stats", (flat.n + K::chunk - 1) / K::chunk, flat, Kokkos::Max<Bits>(hi),
                            Kokkos::Min<Bits>(lo), Kokkos::BOr<Bits>(bad));
  } else if (!empty(region)) {
    // Merge trailing axes the region spans whole into longer contiguous rows.
    const auto ls = row_major_strides(tile.layout.count);
    std::size_t last = region.rank() - 1, len = region.count[last];
    while (last > 0 && region.count[last] == tile.layout.count[last]) len *= region.count[--last];
    if (last > tile_max_dims) throw InputError("variables with more than 8 dimensions are not supported");
    RowStats<T, NM> rows{flat};
    rows.nd = static_cast<int>(last);
    rows.len = len;
    std::size_t n = 1;
    for (std::size_t a = 0; a < region.rank(); ++a) rows.base += (region.start[a] - tile.layout.start[a]) * ls[a];
    for (std::size_t a = 0; a < last; ++a) rows.count[a] = region.count[a], rows.stride[a] = ls[a], n *= region.count[a];
    Kokkos::parallel_reduce("region_stats", n, rows, Kokkos::Max<Bits>(hi), Kokkos::Min<Bits>(lo),
                            Kokkos::BOr<Bits>(bad));
  }
  return scan_result<T>(hi, lo, bad, !empty(region), dec.mantissa_bits);
}

}  // namespace

TileStats tile_stats(const TileValues& v, std::size_t n, int mantissa_bits) {
  Decoding dec;
  dec.mantissa_bits = mantissa_bits;
  return region_stats(RawTile{DType::f64, v.data(), Box({0}, {n})}, Box({0}, {n}), dec);
}

TileStats float_scan_stats(std::uint32_t hi, std::uint32_t lo, std::uint32_t bad, int mantissa_bits) {
  return scan_result<float>(hi, lo, bad, true, mantissa_bits);
}
TileStats float_scan_stats(std::uint64_t hi, std::uint64_t lo, std::uint64_t bad, int mantissa_bits) {
  return scan_result<double>(hi, lo, bad, true, mantissa_bits);
}

TileStats region_stats(const RawTile& tile, const Box& region, const Decoding& dec) {
  return visit_dtype(tile.type, [&](auto v) {
    return dec.n_missing <= 1 ? region_stats_typed<decltype(v), 1>(tile, region, dec)
                              : region_stats_typed<decltype(v), Decoding::max_missing>(tile, region, dec);
  });
}

}  // namespace tessera
