// The NetCDF-3 header parser on arbitrary bytes: an InputError naming the file, or offsets
// whose end (data_end) is computed without wrapping around.
#include "core/error.hpp"
#include "fuzz.hpp"
#include "io/cdf_header.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tessera::CdfHeader h;
  try {
    h = tessera::parse_cdf_header("fuzz.nc", std::vector<unsigned char>(data, data + size));
  } catch (const tessera::InputError& e) {
    FUZZ_CHECK(std::string(e.what()).find("'fuzz.nc'") != std::string::npos);
    return 0;
  }
  FUZZ_CHECK(h.version == 1 || h.version == 2 || h.version == 5);
  const std::uint64_t end = h.data_end();
  for (const auto& v : h.vars) {
    // The end of every variable's data, in 128 bits: data_end() must cover it exactly.
    unsigned __int128 last = static_cast<unsigned __int128>(v.begin) + v.bytes;
    if (v.is_record && h.numrecs > 0) last += static_cast<unsigned __int128>(h.numrecs - 1) * h.record_size;
    if (!v.is_record || h.numrecs > 0) FUZZ_CHECK(last <= end);
  }
  return 0;
}
