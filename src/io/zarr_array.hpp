#pragma once
// One Zarr v2 array's metadata (.zarray + .zattrs), parsed from JSON text, and the geometry of
// its chunks. No I/O here: stores (local or remote) hand over the text.
#include <cstddef>
#include <string>
#include <vector>

#include "core/dtype.hpp"
#include "io/metadata.hpp"

namespace tessera {

struct ZarrArray {
  std::string name;
  std::vector<std::size_t> shape, chunks;
  DType type = DType::f32;
  bool big_endian = false;
  bool fortran_order = false;
  std::string compressor;          // "" (none), "zlib", "gzip", "zstd", "blosc"
  std::string compressor_text;     // e.g. "blosc(lz4, clevel 5, shuffle)", for inspect
  bool has_fill = false;
  double fill = 0;                 // may be NaN or infinite
  std::string separator = ".";     // dimension_separator
  std::vector<std::string> dims;   // _ARRAY_DIMENSIONS, else dim0, dim1, ...
  std::vector<Attribute> attrs;    // .zattrs without _ARRAY_DIMENSIONS, plus _FillValue from fill_value

  std::size_t chunk_elements() const;
  std::size_t chunk_bytes() const { return chunk_elements() * dtype_size(type); }
  // Key of one chunk relative to the array ("3.0.1" or "3/0/1"; "0" for a 0-d array).
  std::string chunk_key(const std::vector<std::size_t>& chunk_index) const;
  VariableInfo info() const;
};

// Parses .zarray and .zattrs JSON ("" when absent); InputError naming `what` on anything Tessera
// cannot read (filters, object or structured dtypes, unknown compressors, zarr v3 metadata).
ZarrArray parse_zarr_array(const std::string& name, const std::string& zarray, const std::string& zattrs,
                           const std::string& what);

// Group attributes from a .zattrs text (global attributes of the store).
std::vector<Attribute> parse_zarr_attributes(const std::string& zattrs, const std::string& what);

// The fill value as stored elements of the array's type (native byte order), for missing chunks.
std::vector<char> zarr_fill_bytes(const ZarrArray& a);

}  // namespace tessera
