#pragma once
// Element types Tessera reads and writes, independent of any file format library.
#include <cstddef>
#include <cstdint>
#include <string>

namespace tessera {

enum class DType { i8, u8, i16, u16, i32, u32, i64, u64, f32, f64 };

std::size_t dtype_size(DType t);
std::string dtype_name(DType t);          // "float", "short", ... (CDL names)
bool dtype_is_float(DType t);
// Bits of the significand below the leading one: values of this type are integer
// multiples of 2^(ilogb(x) - mantissa_bits). Integers are multiples of 1.
int dtype_mantissa_bits(DType t);
bool parse_dtype(const std::string& name, DType& out);  // "float", "double", "short", ...

}  // namespace tessera
