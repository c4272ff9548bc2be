#include "core/dtype.hpp"

namespace tessera {

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::i8: case DType::u8: return 1;
    case DType::i16: case DType::u16: return 2;
    case DType::i32: case DType::u32: case DType::f32: return 4;
    case DType::i64: case DType::u64: case DType::f64: return 8;
  }
  return 0;
}

std::string dtype_name(DType t) {
  switch (t) {
    case DType::i8: return "byte";
    case DType::u8: return "ubyte";
    case DType::i16: return "short";
    case DType::u16: return "ushort";
    case DType::i32: return "int";
    case DType::u32: return "uint";
    case DType::i64: return "int64";
    case DType::u64: return "uint64";
    case DType::f32: return "float";
    case DType::f64: return "double";
  }
  return "?";
}

bool dtype_is_float(DType t) { return t == DType::f32 || t == DType::f64; }

int dtype_mantissa_bits(DType t) {
  if (t == DType::f32) return 23;
  if (t == DType::f64) return 52;
  return 0;
}

bool parse_dtype(const std::string& name, DType& out) {
  static const struct { const char* n; DType t; } table[] = {
      {"byte", DType::i8},   {"ubyte", DType::u8},   {"short", DType::i16}, {"ushort", DType::u16},
      {"int", DType::i32},   {"uint", DType::u32},   {"int64", DType::i64}, {"uint64", DType::u64},
      {"float", DType::f32}, {"double", DType::f64}, {"float32", DType::f32}, {"float64", DType::f64}};
  for (const auto& e : table)
    if (name == e.n) { out = e.t; return true; }
  return false;
}

}  // namespace tessera
