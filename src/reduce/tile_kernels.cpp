#include "reduce/tile_kernels.hpp"

#include <climits>
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

TileStats tile_stats(const TileValues& v, std::size_t n, int mantissa_bits) {
  double max_abs = 0.0;
  int min_q = INT_MAX;
  Kokkos::parallel_reduce(
      "tile_stats", n,
      KOKKOS_LAMBDA(std::size_t i, double& mx, int& mq) {
        const double x = v(i);
        if (!is_valid(x) || x == 0.0) return;
        const double a = x < 0 ? -x : x;
        if (a > mx) mx = a;
        std::uint64_t bits;
        memcpy(&bits, &x, sizeof bits);
        const int biased = static_cast<int>((bits >> 52) & 0x7ff);
        // Stored integers are multiples of 1; floats of 2^(exponent - mantissa bits).
        const int q = mantissa_bits == 0 ? 0 : (biased ? biased - 1023 : -1074) - mantissa_bits;
        if (q < mq) mq = q;
      },
      Kokkos::Max<double>(max_abs), Kokkos::Min<int>(min_q));
  return {max_abs, min_q};
}

}  // namespace tessera
