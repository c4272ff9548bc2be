#pragma once
// Copying decoded chunks into a box: shared by the readers that decode chunks themselves
// (Zarr, chunk-indexed NetCDF-4/HDF5 over HTTP/S3).
#include <cstddef>
#include <string>
#include <vector>

#include "decomp/box.hpp"

namespace tessera {

// Copies the part of a C-order chunk of shape `chunk` at `origin` that lies inside `box` into
// dst (C order over `box`); with src == nullptr every element becomes `fill` (esize bytes).
void place_chunk(const char* src, const char* fill, const std::vector<std::size_t>& chunk, std::size_t esize,
                 const std::vector<std::size_t>& origin, const Box& box, char* dst);

// Grid indices of the chunks that intersect `box` (box must be non-empty), in C order.
std::vector<std::vector<std::size_t>> chunks_touching(const Box& box, const std::vector<std::size_t>& chunk);

// Reverses a byte order in place for elements of `esize` bytes.
void byteswap(char* p, std::size_t bytes, std::size_t esize);

}  // namespace tessera
