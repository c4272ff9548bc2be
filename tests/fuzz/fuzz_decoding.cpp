// CF decoding (attributes -> Decoding) on attribute sets built from the input bytes: an
// InputError naming the variable, or a decoding whose unpacking map is finite and invertible.
#include <cmath>

#include "cf/decoding.hpp"
#include "core/error.hpp"
#include "fuzz.hpp"

namespace {
const char* const names[] = {"_FillValue", "missing_value", "scale_factor", "add_offset", "units", "valid_range"};
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteReader in(data, size);
  tessera::VariableInfo v;
  v.name = "tas";
  v.type = static_cast<tessera::DType>(in.take<std::uint8_t>() % 10);
  const int n_attrs = in.take<std::uint8_t>() % 8;
  for (int i = 0; i < n_attrs && in.left(); ++i) {
    const std::uint8_t head = in.take<std::uint8_t>();
    const char* name = names[head % 6];
    if (head & 0x80) {
      v.attrs.push_back(tessera::Attribute::make_text(name, std::string(1 + head % 3, 'x')));
      continue;
    }
    std::vector<double> values(in.take<std::uint8_t>() % 6);
    for (double& x : values) x = in.take<double>();
    v.attrs.push_back(tessera::Attribute::make_number(name, static_cast<tessera::DType>((head >> 3) % 10), values));
  }
  tessera::Decoding d;
  try {
    d = tessera::decoding_for(v, "input 'fuzz'");
  } catch (const tessera::InputError& e) {
    FUZZ_CHECK(std::string(e.what()).find("'tas'") != std::string::npos);
    return 0;
  }
  FUZZ_CHECK(d.n_missing >= 0 && d.n_missing <= tessera::Decoding::max_missing);
  for (int i = 0; i < d.n_missing; ++i) FUZZ_CHECK(!std::isnan(d.missing[i]));
  if (d.packed) {
    FUZZ_CHECK(std::isfinite(d.scale) && d.scale != 0.0 && std::isfinite(d.offset));
    FUZZ_CHECK(tessera::dtype_is_float(d.unpacked));
  }
  return 0;
}
