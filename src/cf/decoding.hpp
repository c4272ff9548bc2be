#pragma once
// CF decoding of a variable's stored values: which are missing (_FillValue, missing_value, NaN)
// and how packed integers map to physical values (scale_factor, add_offset).
#include <string>
#include <vector>

#include "core/dtype.hpp"
#include "io/metadata.hpp"

namespace tessera {

struct Decoding {
  static constexpr int max_missing = 4;
  int n_missing = 0;
  double missing[max_missing] = {};  // stored values that mean "missing" (before unpacking)
  bool packed = false;               // scale_factor/add_offset present
  double scale = 1.0;
  double offset = 0.0;
  DType unpacked = DType::f32;       // CF: the type of scale_factor/add_offset, else the stored type
  int mantissa_bits = 23;            // of the values handed to reductions (see dtype_mantissa_bits)

  // Physical value of a stored value x (after the missing check).
  double unpack(double x) const { return packed ? x * scale + offset : x; }
};

// Throws InputError naming the variable when the attributes are unusable (non-finite or zero
// scale_factor, text-valued numbers).
Decoding decoding_for(const VariableInfo& var, const std::string& where);

}  // namespace tessera
