#pragma once
// Calls f(T{}) with the C++ type of a DType: one switch for every kernel that is templated on
// the stored element type.
#include <cstdint>
#include <utility>

#include "core/dtype.hpp"

namespace tessera {

template <class F>
decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::i8: return std::forward<F>(f)(std::int8_t{});
    case DType::u8: return std::forward<F>(f)(std::uint8_t{});
    case DType::i16: return std::forward<F>(f)(std::int16_t{});
    case DType::u16: return std::forward<F>(f)(std::uint16_t{});
    case DType::i32: return std::forward<F>(f)(std::int32_t{});
    case DType::u32: return std::forward<F>(f)(std::uint32_t{});
    case DType::i64: return std::forward<F>(f)(std::int64_t{});
    case DType::u64: return std::forward<F>(f)(std::uint64_t{});
    case DType::f32: return std::forward<F>(f)(float{});
    case DType::f64: break;
  }
  return std::forward<F>(f)(double{});
}

}  // namespace tessera
