#include "cf/decoding.hpp"

#include <cmath>

#include "core/error.hpp"

namespace tessera {
namespace {

const Attribute* numeric(const VariableInfo& v, const char* name, const std::string& where) {
  const Attribute* a = v.attr(name);
  if (!a) return nullptr;
  if (a->is_text || a->values.empty())
    throw InputError(where + ": attribute " + name + " of '" + v.name + "' must be numeric, found '" + a->text + "'");
  return a;
}

}  // namespace

Decoding decoding_for(const VariableInfo& var, const std::string& where) {
  Decoding d;
  d.unpacked = var.type;
  for (const char* name : {"_FillValue", "missing_value"}) {
    if (const Attribute* a = numeric(var, name, where))
      for (double x : a->values)
        if (!std::isnan(x) && d.n_missing < Decoding::max_missing) d.missing[d.n_missing++] = x;
  }
  const Attribute* sf = numeric(var, "scale_factor", where);
  const Attribute* ao = numeric(var, "add_offset", where);
  if (sf || ao) {
    d.packed = true;
    if (sf) {
      d.scale = sf->values[0];
      d.unpacked = sf->type;
      if (!std::isfinite(d.scale) || d.scale == 0.0)
        throw InputError(where + ": scale_factor of '" + var.name + "' is " + std::to_string(d.scale) +
                         "; it must be finite and non-zero");
    }
    if (ao) {
      d.offset = ao->values[0];
      if (!sf) d.unpacked = ao->type;
      if (!std::isfinite(d.offset))
        throw InputError(where + ": add_offset of '" + var.name + "' is not finite");
    }
    if (!dtype_is_float(d.unpacked)) d.unpacked = DType::f32;
  }
  // Reductions see stored values; packed ones are unpacked at the end (the map is affine).
  d.mantissa_bits = dtype_mantissa_bits(var.type);
  return d;
}

}  // namespace tessera
