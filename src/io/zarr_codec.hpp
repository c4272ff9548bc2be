#pragma once
// Zarr v2 chunk codecs: none, zlib, gzip, zstd and blosc (every inner codec libblosc has).
#include <cstddef>
#include <string>

namespace tessera {

// InputError naming `what` unless `compressor_id` ("" = none) is one this build decodes.
void check_zarr_compressor(const std::string& compressor_id, const std::string& what);

// Decodes one stored chunk into exactly `out_bytes` bytes at `out`; a chunk that decodes to a
// different size is corrupt (InputError naming `what`).
void decode_zarr_chunk(const std::string& compressor_id, const std::string& stored, char* out, std::size_t out_bytes,
                       const std::string& what);

}  // namespace tessera
