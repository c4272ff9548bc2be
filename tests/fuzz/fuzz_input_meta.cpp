// The metadata message rank 0 broadcasts (InputMeta as UBJSON) on arbitrary bytes, then the
// CF decoding of the variable it describes: a tessera::Error, or metadata that round-trips.
#include "cf/decoding.hpp"
#include "core/error.hpp"
#include "fuzz.hpp"
#include "io/metadata.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tessera::InputMeta m;
  try {
    m = tessera::input_meta_from_json(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const tessera::Error&) {
    return 0;
  }
  const tessera::InputMeta again = tessera::input_meta_from_json(tessera::to_json(m));
  FUZZ_CHECK(again.var.name == m.var.name && again.var.shape == m.var.shape && again.parts.size() == m.parts.size());
  FUZZ_CHECK(m.chunk_alignment().size() == m.var.shape.size());
  try {
    const tessera::Decoding d = tessera::decoding_for(m.var, "fuzz");
    FUZZ_CHECK(d.n_missing >= 0 && d.n_missing <= tessera::Decoding::max_missing);
  } catch (const tessera::InputError&) {
  }
  return 0;
}
